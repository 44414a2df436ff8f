"""XyteService over fake stores: device models, device registration (object, external ids, parent reference),
authentication with the access key, commands delivered to the device."""

from __future__ import annotations

import pytest
from tests.unit.conftest import ADMIN, OTHER_ADMIN, World, device_user

from tether.core.errors import Conflict, Forbidden, InvalidInput, NotFound, Unauthorized
from tether.inventory.models import ChildKind
from tether.operations.models import OperationStatus
from tether.registration.xyte_models import (
    CommunicationProtocol,
    DeviceModel,
    DeviceRegistration,
    parse_protocol,
    parse_registration,
)

pytestmark = pytest.mark.anyio
MQTT = CommunicationProtocol.MQTT


async def _model(world: World, name: str = "Thermo") -> DeviceModel:
    return await world.xyte.create_model(ADMIN, name, MQTT)


def _registration(
    model: DeviceModel,
    sn: str = "SN-1",
    *,
    mac: str | None = None,
    cloud_id: str | None = None,
    parent_id: str | None = None,
) -> DeviceRegistration:
    return DeviceRegistration(model.hardware_key, sn, "1.0", mac=mac, cloud_id=cloud_id, parent_id=parent_id)


async def test_models_are_per_tenant_named_once_and_keep_their_protocol(world: World) -> None:
    model = await _model(world)
    assert await world.xyte.list_models(ADMIN) == [model]
    assert await world.xyte.list_models(OTHER_ADMIN) == []
    with pytest.raises(NotFound):
        await world.xyte.get_model(OTHER_ADMIN, model.id)
    with pytest.raises(Conflict):
        await _model(world)
    await world.xyte.create_model(OTHER_ADMIN, "Thermo", MQTT)  # the same name in another tenant

    renamed = await world.xyte.update_model(ADMIN, model.id, name="  Thermo 2 ", protocol=MQTT)
    assert (renamed.name, renamed.hardware_key) == ("Thermo 2", model.hardware_key)
    with pytest.raises(InvalidInput, match="cannot be changed"):
        await world.xyte.update_model(ADMIN, model.id, name=None, protocol=CommunicationProtocol.HTTPS)
    with pytest.raises(InvalidInput):
        await world.xyte.create_model(ADMIN, "   ", MQTT)
    with pytest.raises(Forbidden):
        await world.xyte.create_model(device_user("device_a"), "X", MQTT)


async def test_registration_makes_the_device_object_its_external_ids_and_its_parent_link(
    world: World,
) -> None:
    model = await _model(world)
    registered = await world.xyte.register(_registration(model, mac="8E:00:00:00:00:06"))
    device = registered.device
    assert (device.tenant_id, device.model_id, device.sn) == ("t1", model.id, "SN-1")
    mo = await world.mos.get("t1", device.mo_id)
    assert mo is not None
    assert mo.owner == device.username == f"xyte_{device.id}"
    assert mo.name == "Thermo SN-1" and mo.type == "Thermo"
    assert mo.fragments["c8y_Hardware"] == {"serialNumber": "SN-1", "model": "Thermo"}
    assert mo.fragments["xyte_Device"]["mac"] == "8E:00:00:00:00:06"
    assert (await world.xids.get("t1", "xyte_id", device.id)) is not None
    assert (await world.xids.get("t1", "c8y_Serial", "SN-1")) is not None

    child = await world.xyte.register(_registration(model, "SN-2", cloud_id="c-2", parent_id=device.id))
    relations = await world.mos.relations("t1", [device.mo_id])
    assert [r.id for r in relations[device.mo_id].children[ChildKind.DEVICE]] == [child.device.mo_id]


async def test_a_device_registers_once_and_an_unknown_key_is_unauthorized(world: World) -> None:
    model = await _model(world)
    await world.xyte.register(_registration(model, mac="8E:00:00:00:00:06", cloud_id="c-1"))
    for duplicate in (
        _registration(model),  # same model and serial number
        _registration(model, "SN-2", mac="8E:00:00:00:00:06"),
        _registration(model, "SN-3", cloud_id="c-1"),
    ):
        with pytest.raises(Conflict):
            await world.xyte.register(duplicate)
    assert len(world.mos.objects) == 1 and len(world.xyte_store.devices) == 1
    with pytest.raises(Unauthorized):
        await world.xyte.register(DeviceRegistration(hardware_key="nope", sn="SN-9", firmware_version="1"))
    with pytest.raises(InvalidInput, match="parent_id"):
        await world.xyte.register(_registration(model, "SN-4", parent_id="not-a-device"))


async def test_a_lost_registration_race_leaves_no_object_behind(world: World) -> None:
    model = await _model(world)
    await world.xyte.register(_registration(model))
    objects_before = set(world.mos.objects)

    async def no_duplicate_yet(*_: str | None) -> str | None:
        return None  # the check ran before a concurrent registration of the same device was stored

    world.xyte_store.find_duplicate = no_duplicate_yet  # type: ignore[method-assign,assignment]
    with pytest.raises(Conflict):  # the store's unique constraint decides
        await world.xyte.register(_registration(model))
    assert set(world.mos.objects) == objects_before


async def test_authentication_with_the_access_key(world: World) -> None:
    model = await _model(world)
    registered = await world.xyte.register(_registration(model))
    device_id = registered.device.id
    assert await world.xyte.authenticate(device_id, registered.access_key) == registered.device
    assert await world.xyte.authenticate(device_id, "wrong") is None
    assert await world.xyte.authenticate("not-a-uuid", registered.access_key) is None
    assert await world.xyte.get_device(device_id) == registered.device
    assert await world.xyte.device_for_object("t1", registered.device.mo_id) == registered.device
    assert await world.xyte.device_for_object("t2", registered.device.mo_id) is None


async def test_a_deleted_device_object_takes_the_device_with_it(world: World) -> None:
    model = await _model(world)
    registered = await world.xyte.register(_registration(model))
    assert await world.xyte.authenticate(registered.device.id, registered.access_key) is not None
    await world.inventory.delete(ADMIN, registered.device.mo_id)
    assert await world.xyte.authenticate(registered.device.id, registered.access_key) is None
    assert await world.xyte.get_device(registered.device.id) is None


async def test_commands_are_delivered_in_progress_first_and_may_finish_at_once(world: World) -> None:
    model = await _model(world)
    device = (await world.xyte.register(_registration(model))).device
    first = await world.operations.create(ADMIN, device.mo_id, {"xyte_Command": {"name": "a"}})
    second = await world.operations.create(ADMIN, device.mo_id, {"xyte_Command": {"name": "b"}})
    await world.xyte.update_command(device, second.id, OperationStatus.EXECUTING, "started")
    assert [op.id for op in await world.xyte.pending_commands(device)] == [second.id, first.id]
    assert [op.id for op in await world.xyte.pending_commands(device, limit=1)] == [second.id]

    done = await world.xyte.update_command(device, first.id, OperationStatus.SUCCESSFUL, "ok")
    assert (done.status, done.fragments["xyte_Message"]) == (OperationStatus.SUCCESSFUL, "ok")
    failed = await world.xyte.update_command(device, second.id, OperationStatus.FAILED, "broken")
    assert (failed.status, failed.failure_reason) == (OperationStatus.FAILED, "broken")
    assert await world.xyte.pending_commands(device) == []

    other = (await world.xyte.register(_registration(model, "SN-2", cloud_id="c-2"))).device
    foreign = await world.operations.create(ADMIN, other.mo_id, {"xyte_Command": {}})
    with pytest.raises(NotFound):
        await world.xyte.update_command(device, foreign.id, OperationStatus.SUCCESSFUL)


def test_parse_registration_checks_and_normalizes() -> None:
    parsed = parse_registration(
        {"hardware_key": " k ", "sn": "SN", "firmware_version": "1", "mac": "8e-00-00-00-00-06"}
    )
    assert (parsed.hardware_key, parsed.mac, parsed.cloud_id) == ("k", "8E:00:00:00:00:06", None)
    for bad in (
        {"sn": "SN", "firmware_version": "1", "mac": "8e0000000006"},
        {"hardware_key": "k", "sn": "SN", "firmware_version": "1"},
        {"hardware_key": "k", "sn": "SN", "firmware_version": "1", "mac": "zz"},
        {"hardware_key": "k", "sn": "", "firmware_version": "1", "cloud_id": "c"},
        {"hardware_key": "k", "sn": "S\x00N", "firmware_version": "1", "cloud_id": "c"},
        {"hardware_key": "k", "sn": "SN", "firmware_version": "1", "cloud_id": "c", "details": []},
    ):
        with pytest.raises(InvalidInput):
            parse_registration(bad)
    assert parse_protocol(" HTTPS ") is CommunicationProtocol.HTTPS
    with pytest.raises(InvalidInput):
        parse_protocol("coap")
