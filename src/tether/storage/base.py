"""One database as the composition root sees it: every store, opened (migrations applied) and closed together.

Each store's interface lives beside its domain (inventory/store.py, telemetry/store.py, ...); domain services
import their own store only. Implementations live in storage/sql (SQLite, PostgreSQL).
"""

from __future__ import annotations

from typing import Protocol

from tether.adapters.smartrest.store import SmartRestTemplateStore
from tether.broker.storage import BrokerStore
from tether.credentials.store import (
    AclRuleStore,
    ApiKeyStore,
    BanStore,
    MqttUserStore,
    TrustedCertificateStore,
)
from tether.fleets.job_store import JobStore
from tether.identity.store import ExternalIdStore
from tether.inventory.store import ManagedObjectStore
from tether.operations.store import OperationStore
from tether.presence.store import PresenceStore
from tether.registration.store import DeviceRequestStore, XyteStore
from tether.telemetry.store import AlarmStore, EventStore, MeasurementStore
from tether.tenants.store import GroupStore, OperatorTokenStore, TenantStore, UserStore


class Storage(Protocol):
    """One database: its stores, opened (migrations applied) and closed together."""

    tenants: TenantStore
    users: UserStore
    groups: GroupStore
    managed_objects: ManagedObjectStore
    external_ids: ExternalIdStore
    operations: OperationStore
    device_requests: DeviceRequestStore
    measurements: MeasurementStore
    events: EventStore
    alarms: AlarmStore
    broker_state: BrokerStore
    xyte: XyteStore
    api_keys: ApiKeyStore
    mqtt_users: MqttUserStore
    acl_rules: AclRuleStore
    trusted_certificates: TrustedCertificateStore
    smartrest_templates: SmartRestTemplateStore
    bans: BanStore
    operator_tokens: OperatorTokenStore
    presence: PresenceStore
    jobs: JobStore

    async def open(self) -> None: ...
    async def close(self) -> None: ...
