"""In-memory DeviceRequestStore and XyteStore (tether.registration.store)."""

from __future__ import annotations

import dataclasses

from tests.fakes.inventory import FakeManagedObjectStore
from tests.fakes.paging import page_of

from tether.core.errors import Conflict
from tether.core.paging import Page, PageRequest
from tether.registration.models import DeviceRequest, RequestStatus
from tether.registration.xyte_models import DeviceModel, XyteDevice


class FakeDeviceRequestStore:
    """Request ids are unique across tenants, as the Protocol says."""

    def __init__(self) -> None:
        self.requests: dict[str, DeviceRequest] = {}

    async def create(self, request: DeviceRequest) -> None:
        if request.id in self.requests:
            raise Conflict(
                f"A new device request for id '{request.id}' already exists", resource="devicecontrol"
            )
        self.requests[request.id] = request

    async def get(self, tenant_id: str, request_id: str) -> DeviceRequest | None:
        request = self.requests.get(request_id)
        return request if request is not None and request.tenant_id == tenant_id else None

    async def find(self, tenant_id: str, page: PageRequest) -> Page[DeviceRequest]:
        found = sorted(
            (r for r in self.requests.values() if r.tenant_id == tenant_id),
            key=lambda r: (r.creation_time, r.id),
        )
        return page_of(found, page)

    async def delete(self, tenant_id: str, request_id: str) -> bool:
        if await self.get(tenant_id, request_id) is None:
            return False
        del self.requests[request_id]
        return True

    async def lookup(self, request_id: str) -> DeviceRequest | None:
        return self.requests.get(request_id)

    async def advance(
        self, request_id: str, expected: RequestStatus, status: RequestStatus, now: int
    ) -> DeviceRequest | None:
        request = self.requests.get(request_id)
        if request is None or request.status is not expected:
            return None
        advanced = dataclasses.replace(request, status=status, last_updated=now)
        self.requests[request_id] = advanced
        return advanced

    async def claim(self, request_id: str) -> DeviceRequest | None:
        request = self.requests.get(request_id)
        if request is None or request.status is not RequestStatus.ACCEPTED:
            return None
        return self.requests.pop(request_id)


class FakeXyteStore:
    """Model names are unique per tenant; hardware keys, device ids, (model, sn) pairs and, per tenant, MACs
    and cloud ids platform-wide unique, as the SQL schema's constraints make them."""

    def __init__(self, managed_objects: FakeManagedObjectStore | None = None) -> None:
        self.models: dict[str, DeviceModel] = {}
        self.devices: dict[str, XyteDevice] = {}
        if managed_objects is not None:  # a device record goes with its object (ON DELETE CASCADE)
            managed_objects.on_delete.append(self._cascade)

    def _cascade(self, tenant_id: str, mo_id: int) -> None:
        for device_id in [
            i for i, d in self.devices.items() if d.tenant_id == tenant_id and d.mo_id == mo_id
        ]:
            del self.devices[device_id]

    def _name_taken(self, tenant_id: str, name: str, other_than: str | None = None) -> bool:
        return any(
            m.tenant_id == tenant_id and m.name == name and m.id != other_than for m in self.models.values()
        )

    async def create_model(self, model: DeviceModel) -> None:
        if self._name_taken(model.tenant_id, model.name) or model.id in self.models:
            raise Conflict(f"A device model named '{model.name}' already exists", resource="xyte")
        self.models[model.id] = model

    async def get_model(self, tenant_id: str, model_id: str) -> DeviceModel | None:
        model = self.models.get(model_id)
        return model if model is not None and model.tenant_id == tenant_id else None

    async def list_models(self, tenant_id: str) -> list[DeviceModel]:
        return sorted(
            (m for m in self.models.values() if m.tenant_id == tenant_id),
            key=lambda m: (m.creation_time, m.id),
        )

    async def rename_model(self, tenant_id: str, model_id: str, name: str, now: int) -> DeviceModel | None:
        model = await self.get_model(tenant_id, model_id)
        if model is None:
            return None
        if self._name_taken(tenant_id, name, other_than=model_id):
            raise Conflict(f"A device model named '{name}' already exists", resource="xyte")
        renamed = dataclasses.replace(model, name=name, last_updated=now)
        self.models[model_id] = renamed
        return renamed

    async def model_by_hardware_key(self, hardware_key: str) -> DeviceModel | None:
        return next((m for m in self.models.values() if m.hardware_key == hardware_key), None)

    async def find_duplicate(
        self, tenant_id: str, model_id: str, sn: str, mac: str | None, cloud_id: str | None
    ) -> str | None:
        return self._duplicate(tenant_id, model_id, sn, mac, cloud_id)

    def _duplicate(
        self, tenant_id: str, model_id: str, sn: str, mac: str | None, cloud_id: str | None
    ) -> str | None:
        for d in self.devices.values():
            if d.model_id == model_id and d.sn == sn:
                return f"serial number '{sn}' of this model"
            if mac is not None and d.tenant_id == tenant_id and d.mac == mac:
                return f"MAC address '{mac}'"
            if cloud_id is not None and d.tenant_id == tenant_id and d.cloud_id == cloud_id:
                return f"cloud id '{cloud_id}'"
        return None

    async def create_device(self, device: XyteDevice) -> None:
        if device.id in self.devices or any(d.mo_id == device.mo_id for d in self.devices.values()):
            raise Conflict("Device already registered", resource="xyte")
        if self._duplicate(  # the unique constraints, whatever find_duplicate answered before
            device.tenant_id, device.model_id, device.sn, device.mac, device.cloud_id
        ):
            raise Conflict("Device already registered", resource="xyte")
        self.devices[device.id] = device

    async def get_device(self, device_id: str) -> XyteDevice | None:
        return self.devices.get(device_id)

    async def device_for_object(self, tenant_id: str, mo_id: int) -> XyteDevice | None:
        return next((d for d in self.devices.values() if d.tenant_id == tenant_id and d.mo_id == mo_id), None)
