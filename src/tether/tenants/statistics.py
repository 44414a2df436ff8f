"""Usage of a tenant (Cumulocity /tenant/statistics/summary), counted from what the platform stores.

What each figure means in Tether (docs: README, "Tenant administration"):
- deviceCount: managed objects with `c8y_IsDevice` now; deviceWithChildrenCount: those of them with child
  devices; deviceEndpointCount: the others.
- inventoriesCreatedCount, measurementsCreatedCount, eventsCreatedCount, alarmsCreatedCount: stored rows
  created within [dateFrom, dateTo) (deleted rows are no longer counted).
- storageSize: an estimate in bytes: the tenant's rows of those tables times their average size (a
  sample of the newest rows' documents plus a fixed row overhead).
- requestCount, deviceRequestCount: authenticated HTTP requests of the tenant (by devices) that this server
  answered since it started (not persisted; per server).
Cumulocity's *UpdatedCount figures are not kept by Tether and are not reported.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from tether.core.errors import Forbidden, NotFound
from tether.tenants.models import Principal, TenantStatus
from tether.tenants.store import TenantStore


@dataclass(frozen=True, slots=True)
class StoredUsage:
    device_count: int
    devices_with_children: int
    inventories_created: int
    measurements_created: int
    events_created: int
    alarms_created: int
    storage_size: int


@dataclass(frozen=True, slots=True)
class Usage:
    tenant_id: str
    date_from: int
    date_to: int
    stored: StoredUsage
    requests: int
    device_requests: int


class UsageStore(Protocol):
    async def usage(self, tenant_id: str, date_from: int, date_to: int) -> StoredUsage: ...


class RequestCounts(Protocol):
    """Authenticated HTTP requests per tenant: tenant -> [requests, device requests]."""

    @property
    def tenants(self) -> dict[str, list[int]]: ...


class UsageStatistics:
    def __init__(
        self, store: UsageStore, tenants: TenantStore, requests: RequestCounts, management_tenant: str
    ) -> None:
        self._store = store
        self._tenants = tenants
        self._requests = requests
        self._management = management_tenant

    async def summary(self, who: Principal, tenant_id: str | None, date_from: int, date_to: int) -> Usage:
        """Of the caller's tenant, or (`tenant`) of another one for the management tenant's callers.
        Cumulocity: ROLE_TENANT_STATISTICS_READ or ROLE_INVENTORY_READ."""
        if not (who.may("INVENTORY", False) or who.may("TENANT_MANAGEMENT", False)):
            raise Forbidden("Access is denied", resource="security")
        target = tenant_id or who.tenant_id
        if target != who.tenant_id:
            if who.tenant_id != self._management or not who.may("TENANT_MANAGEMENT", False):
                raise Forbidden("Access is denied", resource="security")
            tenant = await self._tenants.get(target)
            if tenant is None or tenant.status is TenantStatus.DELETED:
                raise NotFound(f"Tenant {target} not found", resource="tenant")
        stored = await self._store.usage(target, date_from, date_to)
        requests, device_requests = self._requests.tenants.get(target, [0, 0])
        return Usage(target, date_from, date_to, stored, requests, device_requests)
