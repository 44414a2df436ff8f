"""The stores of new-device requests and of Xyte models and devices.
Implementations: storage/sql (SQLite, PostgreSQL).

Every method that reads or writes a tenant's data takes the tenant id first: no store answers across tenants.
"""

from __future__ import annotations

from typing import Protocol

from tether.core.paging import Page, PageRequest
from tether.registration.models import DeviceRequest, RequestStatus
from tether.registration.xyte_models import DeviceModel, XyteDevice


class DeviceRequestStore(Protocol):
    """New-device requests. Their ids are unique across tenants: the bootstrap user, who belongs to no
    device tenant, finds a request by id alone (`lookup`, `advance`, `claim`)."""

    async def create(self, request: DeviceRequest) -> None:
        """Raises Conflict when the id is already requested (in any tenant)."""
        ...

    async def get(self, tenant_id: str, request_id: str) -> DeviceRequest | None: ...
    async def find(self, tenant_id: str, page: PageRequest) -> Page[DeviceRequest]: ...
    async def delete(self, tenant_id: str, request_id: str) -> bool: ...
    async def lookup(self, request_id: str) -> DeviceRequest | None: ...
    async def advance(
        self, request_id: str, expected: RequestStatus, status: RequestStatus, now: int
    ) -> DeviceRequest | None:
        """Set `status` only if the request is in `expected` (compare-and-set); None otherwise."""
        ...

    async def claim(self, request_id: str) -> DeviceRequest | None:
        """Remove the request if it is ACCEPTED and return it; of concurrent callers exactly one wins."""
        ...


class XyteStore(Protocol):
    """Xyte device models and registered devices. Hardware keys and device ids are unique platform-wide:
    registration and device authentication find them without a tenant."""

    async def create_model(self, model: DeviceModel) -> None:
        """Raises Conflict when the tenant has a model of that name."""
        ...

    async def get_model(self, tenant_id: str, model_id: str) -> DeviceModel | None: ...
    async def list_models(self, tenant_id: str) -> list[DeviceModel]: ...
    async def rename_model(
        self, tenant_id: str, model_id: str, name: str, now: int
    ) -> DeviceModel | None: ...
    async def model_by_hardware_key(self, hardware_key: str) -> DeviceModel | None: ...
    async def find_duplicate(
        self, tenant_id: str, model_id: str, sn: str, mac: str | None, cloud_id: str | None
    ) -> str | None:
        """What an already registered device shares with these (model and sn, MAC or cloud id), or None."""
        ...

    async def create_device(self, device: XyteDevice) -> None:
        """Raises Conflict when the device is registered already (a unique constraint decides)."""
        ...

    async def get_device(self, device_id: str) -> XyteDevice | None: ...
    async def device_for_object(self, tenant_id: str, mo_id: int) -> XyteDevice | None: ...
