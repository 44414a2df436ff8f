"""Xyte-style registration over the one domain model (docs/architecture.md section 1; docs/protocols.md
section 9).

Operators (tenant admins) create device models; a device registers itself with its model's hardware_key and
receives a platform-wide unique id (UUID) and an access key, stored only as a fast hash (bench/README.md,
mqtt_connect.py). Registration creates the device's managed object (c8y_IsDevice, c8y_Hardware, c8y_Firmware,
xyte_Device), its external ids (`xyte_id` = id, `c8y_Serial` = sn when free) and, with parent_id, the
childDevices reference. Its telemetry is stored as measurements and its commands are operations: the protocol
adapters (HTTP api/xyte, MQTT adapters/xyte) call MeasurementService and OperationService with
:attr:`XyteDevice.principal`, the device acting as the owner of its own managed object.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import uuid

from tether.core.clock import now_ms
from tether.core.errors import Conflict, DomainError, Forbidden, InvalidInput, NotFound, Unauthorized
from tether.core.events import DomainEvent, EventBus
from tether.core.paging import PageRequest
from tether.identity.service import IdentityService
from tether.inventory.models import ChildKind, NewManagedObject
from tether.inventory.service import InventoryService
from tether.operations.models import Operation, OperationCriteria, OperationStatus
from tether.operations.service import OperationService
from tether.registration.store import XyteStore
from tether.registration.xyte_models import (
    DEVICE_FRAGMENT,
    MAX_NAME_LENGTH,
    SERIAL_ID_TYPE,
    XYTE_ID_TYPE,
    CommunicationProtocol,
    DeviceModel,
    DeviceRegistration,
    Registered,
    XyteDevice,
)
from tether.tenants.models import Principal, Role
from tether.tenants.passwords import generate_password, hash_secret, verify_password

log = logging.getLogger(__name__)
R = "xyte"
#: Commands handed to a device at once (pending and in progress); more wait for the next call.
MAX_COMMANDS = 100
_CACHE_LIMIT = 100_000


def _model_name(name: str) -> str:
    name = name.strip()
    if not name or len(name) > MAX_NAME_LENGTH:
        raise InvalidInput(f"'name' must be 1 to {MAX_NAME_LENGTH} characters long", resource=R)
    return name


def _is_uuid(value: str) -> bool:
    try:
        return str(uuid.UUID(value)) == value.lower()
    except ValueError:
        return False


class XyteService:
    def __init__(
        self,
        store: XyteStore,
        inventory: InventoryService,
        identity: IdentityService,
        operations: OperationService,
        events: EventBus,
    ) -> None:
        self._store = store
        self._inventory = inventory
        self._identity = identity
        self._operations = operations
        # Devices found by authenticate(), so that a connect storm costs no database read per CONNECT;
        # a device leaves the cache when its managed object is deleted (which deletes its record too).
        self._cache: dict[str, XyteDevice] = {}
        self._by_mo: dict[tuple[str, int], str] = {}
        self._not_xyte: set[tuple[str, int]] = set()  # managed objects known not to be Xyte devices
        self._decoy = hash_secret(generate_password())
        events.subscribe(self._forget_deleted, resources={"managedobjects"}, cluster=True)

    # -- device models (tenant admins) ------------------------------------------------------------

    async def create_model(self, who: Principal, name: str, protocol: CommunicationProtocol) -> DeviceModel:
        self._require_admin(who)
        now = now_ms()
        model = DeviceModel(
            id=str(uuid.uuid4()),
            tenant_id=who.tenant_id,
            name=_model_name(name),
            communication_protocol=protocol,
            hardware_key=str(uuid.uuid4()),
            creation_time=now,
            last_updated=now,
        )
        await self._store.create_model(model)
        log.info("tenant %s created Xyte model %s (%s)", who.tenant_id, model.id, protocol.value)
        return model

    async def list_models(self, who: Principal) -> list[DeviceModel]:
        self._require_admin(who)
        return await self._store.list_models(who.tenant_id)

    async def get_model(self, who: Principal, model_id: str) -> DeviceModel:
        self._require_admin(who)
        model = await self._store.get_model(who.tenant_id, model_id)
        if model is None:
            raise NotFound(f"No device model for id '{model_id}'", resource=R)
        return model

    async def update_model(
        self, who: Principal, model_id: str, *, name: str | None, protocol: CommunicationProtocol | None
    ) -> DeviceModel:
        """Rename a model. Its communication protocol is fixed at creation (docs/protocols.md section 9):
        naming the same one again is accepted, another one is refused."""
        model = await self.get_model(who, model_id)
        if protocol is not None and protocol is not model.communication_protocol:
            raise InvalidInput(
                "'communication_protocol' cannot be changed after the model was created "
                f"(it is '{model.communication_protocol.value}')",
                resource=R,
            )
        if name is None:
            return model
        updated = await self._store.rename_model(who.tenant_id, model_id, _model_name(name), now_ms())
        if updated is None:
            raise NotFound(f"No device model for id '{model_id}'", resource=R)
        return updated

    # -- registration (the device, with its model's hardware key) --------------------------------

    async def register(self, request: DeviceRegistration) -> Registered:
        """Register a device of the model whose hardware_key it presents (which selects the tenant).

        An unknown hardware key is Unauthorized; a device registered before (same model and serial
        number, or same MAC or cloud id in the tenant) is a Conflict.
        """
        model = await self._store.model_by_hardware_key(request.hardware_key)
        if model is None:
            raise Unauthorized("Invalid hardware key", resource=R)
        duplicate = await self._store.find_duplicate(
            model.tenant_id, model.id, request.sn, request.mac, request.cloud_id
        )
        if duplicate is not None:
            raise Conflict(f"Device already registered ({duplicate})", resource=R)
        system = Principal(model.tenant_id, "xyte-registration", frozenset({Role.ADMIN}))
        parent = await self._parent(model.tenant_id, request.parent_id)
        device_id = str(uuid.uuid4())
        access_key = generate_password()
        device = XyteDevice(
            id=device_id,
            tenant_id=model.tenant_id,
            model_id=model.id,
            mo_id=0,
            sn=request.sn,
            mac=request.mac,
            cloud_id=request.cloud_id,
            access_key_hash=hash_secret(access_key),
            creation_time=now_ms(),
        )
        mo = await self._inventory.create(system, self._managed_object(model, request, device))
        device = dataclasses.replace(device, mo_id=mo.id)
        try:
            await self._store.create_device(device)
        except BaseException:
            # Lost a race with a concurrent registration of the same device (or the write failed):
            # the managed object made for it must not stay behind.
            with contextlib.suppress(Exception):
                await self._inventory.delete(system, mo.id)
            raise
        self._not_xyte.discard((model.tenant_id, mo.id))  # an operation may have asked meanwhile
        await self._identity.register(system, mo.id, XYTE_ID_TYPE, device_id)
        with contextlib.suppress(Conflict):  # c8y_Serial only when no other object of the tenant has it
            await self._identity.register(system, mo.id, SERIAL_ID_TYPE, request.sn)
        if parent is not None:
            await self._inventory.add_child(system, parent.mo_id, ChildKind.DEVICE, mo.id)
        log.info(
            "registered Xyte device %s (model %s) in tenant %s as object %s",
            device_id,
            model.id,
            model.tenant_id,
            mo.id,
        )
        return Registered(device, access_key)

    async def _parent(self, tenant_id: str, parent_id: str | None) -> XyteDevice | None:
        if parent_id is None:
            return None
        parent = await self._store.get_device(parent_id) if _is_uuid(parent_id) else None
        if parent is None or parent.tenant_id != tenant_id:
            raise InvalidInput(f"'parent_id': no registered device '{parent_id}'", resource=R)
        return parent

    @staticmethod
    def _managed_object(
        model: DeviceModel, request: DeviceRegistration, device: XyteDevice
    ) -> NewManagedObject:
        """The device's managed object, owned by the device (its user name)."""
        xyte: dict[str, object] = {"id": device.id, "model_id": model.id, "model": model.name}
        for key, value in (
            ("mac", request.mac),
            ("cloud_id", request.cloud_id),
            ("sub_model", request.sub_model),
            ("parent_id", request.parent_id),
            ("details", None if request.details is None else dict(request.details)),
        ):
            if value is not None:
                xyte[key] = value
        return NewManagedObject(
            owner=device.username,
            name=request.name or f"{model.name} {request.sn}",
            type=model.name,
            fragments={
                "c8y_IsDevice": {},
                "c8y_Hardware": {"serialNumber": request.sn, "model": model.name},
                "c8y_Firmware": {"version": request.firmware_version},
                DEVICE_FRAGMENT: xyte,
            },
        )

    # -- authentication ----------------------------------------------------------------------------

    async def authenticate(self, device_id: str, access_key: str) -> XyteDevice | None:
        """The device whose id and access key these are, or None. Constant time in the key (a salted
        SHA-256 compared with hmac.compare_digest); an unknown id is checked against a decoy hash, so it
        costs the same as a wrong key."""
        device = self._cache.get(device_id)
        if device is None and _is_uuid(device_id):
            device = await self._store.get_device(device_id)
            if device is not None:
                self._remember(device)
        stored = device.access_key_hash if device is not None else self._decoy
        if not verify_password(stored, access_key) or device is None:
            return None
        return device

    async def get_device(self, device_id: str) -> XyteDevice | None:
        """The registered device with this id, or None (no credential check: for deciding whose a ClientId
        is)."""
        device = self._cache.get(device_id)
        if device is None and _is_uuid(device_id):
            device = await self._store.get_device(device_id)
            if device is not None:
                self._remember(device)
        return device

    async def device_for_object(self, tenant_id: str, mo_id: int) -> XyteDevice | None:
        """The Xyte device whose managed object this is, if any."""
        key = (tenant_id, mo_id)
        cached = self._by_mo.get(key)
        if cached is not None and cached in self._cache:
            return self._cache[cached]
        if key in self._not_xyte:
            return None
        device = await self._store.device_for_object(tenant_id, mo_id)
        if device is not None:
            self._remember(device)
        else:
            # Operations of other devices cost no read the next time. Registration always makes a new
            # object (and forgets the key), so the answer cannot go stale.
            if len(self._not_xyte) >= _CACHE_LIMIT:
                self._not_xyte.clear()
            self._not_xyte.add(key)
        return device

    def _remember(self, device: XyteDevice) -> None:
        if len(self._cache) >= _CACHE_LIMIT:
            self._cache.clear()
            self._by_mo.clear()
        self._cache[device.id] = device
        self._by_mo[(device.tenant_id, device.mo_id)] = device.id

    def _forget_deleted(self, event: DomainEvent) -> None:
        if event.resource == "managedobjects" and event.action == "DELETE" and event.id is not None:
            device_id = self._by_mo.pop((event.tenant_id, event.id), None)
            if device_id is not None:
                self._cache.pop(device_id, None)

    # -- commands (operations delivered to the device) ----------------------------------------------

    async def pending_commands(self, device: XyteDevice, *, limit: int = MAX_COMMANDS) -> list[Operation]:
        """The operations the device has to execute: those in progress first, then the pending ones,
        each oldest first."""
        found: list[Operation] = []
        for status in (OperationStatus.EXECUTING, OperationStatus.PENDING):
            criteria = OperationCriteria(agent_id=device.mo_id, status=status)
            page = await self._operations.find(device.principal, criteria, PageRequest(page_size=limit))
            found.extend(page.items)
        return found[:limit]

    async def update_command(
        self, device: XyteDevice, op_id: int, status: OperationStatus, message: str | None = None
    ) -> Operation:
        """Report the progress of an operation. A Xyte device may report `done` or `error` without
        reporting `in_progress` first: the operation then passes through EXECUTING on its way, as the
        lifecycle (operations.models.TRANSITIONS) requires. `message` is the failure reason of FAILED,
        else kept as the fragment `xyte_Message`."""
        who = device.principal
        op = await self._operations.get(who, op_id)
        if op.delivered_to != device.mo_id:
            raise NotFound(f"No command '{op_id}' for this device", resource=R)
        final = status in (OperationStatus.SUCCESSFUL, OperationStatus.FAILED)
        if final and op.status is OperationStatus.PENDING:
            with contextlib.suppress(DomainError):  # a concurrent update moved it on: checked again below
                op = await self._operations.update(who, op_id, status=OperationStatus.EXECUTING)
        if status is OperationStatus.FAILED:
            return await self._operations.update(who, op_id, status=status, failure_reason=message)
        fragments = None if message is None else {"xyte_Message": message}
        return await self._operations.update(who, op_id, status=status, fragments=fragments)

    @staticmethod
    def _require_admin(who: Principal) -> None:
        if not who.is_admin:
            raise Forbidden("Access is denied", resource="security")
