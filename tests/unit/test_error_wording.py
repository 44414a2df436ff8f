"""The services say what is missing (core/errors.py `Missing`) in neutral words; the Cumulocity codec
(c8y/errors.py) turns that into the sentences its REST API, SmartREST and JSON via MQTT show."""

from __future__ import annotations

from collections.abc import Awaitable

import pytest
from tests.fakes.telemetry import FakeAlarmStore, FakeEventStore, FakeMeasurementStore
from tests.unit.conftest import ADMIN, BOOTSTRAP, World, device_user

from tether.c8y import errors as c8y
from tether.core.errors import DomainError, InvalidInput, Missing, NotFound
from tether.inventory.models import ChildKind
from tether.telemetry.alarms import AlarmService
from tether.telemetry.events import EventService
from tether.telemetry.measurements import MeasurementService
from tether.telemetry.models import NewEvent

pytestmark = pytest.mark.anyio


async def _refused(call: Awaitable[object], error: type[DomainError] = NotFound) -> DomainError:
    with pytest.raises(error) as refused:
        await call
    return refused.value


async def test_inventory_and_identity(world: World) -> None:
    parent = await world.add_object()
    child = await world.add_object()
    missing = await _refused(world.inventory.get(ADMIN, 99))
    assert missing.missing == Missing("managed object", ("99",))
    assert missing.message == "managed object '99' not found"
    assert c8y.message(missing) == "Finding device data from database failed : No managedObject for id '99'!"

    reference = await _refused(world.inventory.get_child(ADMIN, parent.id, ChildKind.DEVICE, child.id))
    assert reference.missing == Missing("managed object", (str(child.id),), "childDevices", str(parent.id))
    assert reference.message == (
        f"managed object '{child.id}' is not a childDevices reference of managed object '{parent.id}'"
    )
    assert c8y.message(reference) == f"Managed object {parent.id} has no childDevices reference to {child.id}"

    xid = await _refused(world.identity.resolve(ADMIN, "c8y_Serial", "SN-9"))
    assert xid.missing == Missing("external id", ("c8y_Serial", "SN-9"))
    assert c8y.message(xid) == "External id not found; external id = ID [type=c8y_Serial, value=SN-9]"


async def test_operations(world: World) -> None:
    operation = await _refused(world.operations.get(ADMIN, 7))
    assert c8y.message(operation) == "Finding operation from database failed : No operation for id '7'!"

    theirs = await world.add_object(owner="someone")
    no_device = await _refused(world.operations.create(device_user("me"), theirs.id, {}), InvalidInput)
    assert no_device.missing == Missing("managed object", (str(theirs.id),), "device")
    assert no_device.message == f"device managed object '{theirs.id}' not found"
    assert c8y.message(no_device) == f"Cannot create operation: no managed object for id '{theirs.id}'!"


async def test_telemetry(world: World) -> None:
    events = EventService(FakeEventStore(world.mos), world.inventory, world.events)
    alarms = AlarmService(FakeAlarmStore(world.mos), world.inventory, world.events)
    measurements = MeasurementService(FakeMeasurementStore(world.mos), world.inventory, world.events)
    source = await _refused(events.create(ADMIN, NewEvent(42, "t", "text", 1_000, {})))
    assert source.missing == Missing("managed object", ("42",), "source")
    assert source.message == "source managed object '42' not found"
    assert c8y.message(source) == "Finding source managed object failed: No managedObject for id '42'!"
    assert c8y.message(await _refused(events.get(ADMIN, 5))) == "No event for id '5'!"
    assert c8y.message(await _refused(alarms.get(ADMIN, 5))) == "No alarm for id '5'!"
    assert c8y.message(await _refused(measurements.get(ADMIN, 5))) == "No measurement for id '5'!"


async def test_registration(world: World) -> None:
    unknown = await _refused(world.registration.get_request(ADMIN, "SN-2"))
    assert c8y.message(unknown) == "No newDeviceRequest for id 'SN-2'!"
    await world.registration.create_request(ADMIN, "SN-1")
    waiting = await _refused(world.registration.device_credentials(BOOTSTRAP, "SN-1"))
    assert waiting.message == "device request 'SN-1' has not been accepted yet"
    assert c8y.message(waiting) == "newDeviceRequest 'SN-1' has not been accepted yet"


def test_other_errors_keep_their_message() -> None:
    assert c8y.message(InvalidInput("'type' is required")) == "'type' is required"
    # A missing thing the codec has no sentence for is said in the neutral words.
    odd = NotFound(missing=Missing.of("rule", 3))
    assert c8y.message(odd) == odd.message == "rule '3' not found"
    # A given message wins over the neutral one.
    assert NotFound("gone", missing=Missing.of("event", 1)).message == "gone"
