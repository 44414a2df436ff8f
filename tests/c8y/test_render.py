"""Domain objects out as Cumulocity JSON (c8y/render.py), and back in through c8y/documents.py."""

from __future__ import annotations

from tether.c8y import documents, render
from tether.core.clock import parse_iso
from tether.inventory.models import ChildKind, ManagedObject, Reference, Relations
from tether.operations.models import Operation, OperationStatus
from tether.telemetry.models import Alarm, AlarmSeverity, AlarmStatus, Event, Measurement

BASE = "https://t1.example"
TIME = "2020-03-19T12:03:27.845Z"
MS = parse_iso(TIME)


def test_a_managed_object_round_trips_through_the_codec() -> None:
    mo = ManagedObject(7, "t1", "device_a", MS, MS, "Pi", "c8y_Linux", {"c8y_IsDevice": {}, "c8y_X": [1]})
    relations = Relations(
        children={ChildKind.DEVICE: [Reference(ChildKind.DEVICE, 8, "child")]},
        parents={ChildKind.ASSET: [Reference(ChildKind.ASSET, 2, None)]},
    )
    body = render.managed_object(BASE, mo, relations)
    assert body["id"] == "7" and body["self"] == f"{BASE}/inventory/managedObjects/7"
    assert (body["owner"], body["creationTime"], body["lastUpdated"]) == ("device_a", TIME, TIME)
    assert body["childDevices"]["references"] == [
        {
            "managedObject": {"id": "8", "self": f"{BASE}/inventory/managedObjects/8", "name": "child"},
            "self": f"{BASE}/inventory/managedObjects/7/childDevices/8",
        }
    ]
    assert body["assetParents"]["references"][0]["self"] == f"{BASE}/inventory/managedObjects/2/childAssets/7"
    # A client echoing the document back changes nothing the server owns.
    draft = documents.managed_object(body)
    assert (draft.name, draft.type, draft.owner) == ("Pi", "c8y_Linux", "device_a")
    assert draft.fragments == mo.fragments
    assert documents.managed_object_change(body).fragments == mo.fragments


def test_measurement_event_alarm_round_trip() -> None:
    m = Measurement(5, "t1", 7, "c8y_T", MS, MS, {"c8y_T": {"T": {"value": 1}}, "type": "shadow"})
    body = render.measurement(BASE, m)
    assert body == {
        "id": "5",
        "self": f"{BASE}/measurement/measurements/5",
        "source": {"id": "7", "self": f"{BASE}/inventory/managedObjects/7"},
        "type": "c8y_T",
        "time": TIME,
        "c8y_T": {"T": {"value": 1}},
    }
    assert documents.measurement(body).fragments == {"c8y_T": {"T": {"value": 1}}}
    transient = render.measurement(BASE, Measurement(None, "t1", 7, "c8y_T", MS, MS))
    assert "id" not in transient and "self" not in transient

    e = Event(6, "t1", 7, "c8y_E", "text", MS, MS, MS, {"c8y_P": {"lat": 1}})
    event = documents.event(render.event(BASE, e))
    assert (event.source_id, event.type, event.text, event.time, event.fragments) == (
        7,
        "c8y_E",
        "text",
        MS,
        {"c8y_P": {"lat": 1}},
    )

    a = Alarm(
        9, "t1", 7, "c8y_A", "hot", AlarmStatus.ACTIVE, AlarmSeverity.MAJOR, 2, MS, MS - 1, MS, MS, {}, "Pi"
    )
    body = render.alarm(BASE, a)
    assert body["source"]["name"] == "Pi" and body["count"] == 2 and "firstOccurrenceTime" in body
    assert "firstOccurrenceTime" not in render.alarm(
        BASE, Alarm(9, "t1", 7, "t", "x", a.status, a.severity, 1, 0, 0, 0, 0)
    )
    alarm = documents.alarm(body)
    assert (alarm.severity, alarm.status, alarm.fragments) == (AlarmSeverity.MAJOR, AlarmStatus.ACTIVE, {})


def test_one_operation_two_views() -> None:
    op = Operation(
        id=4,
        tenant_id="t1",
        device_id=7,
        agent_id=3,
        status=OperationStatus.FAILED,
        failure_reason="no",
        creation_time=MS,
        last_updated=MS,
        fragments={"description": "Restart", "c8y_Restart": {}, "status": "shadow"},
        bulk_operation_id=11,
    )
    rest = render.operation(BASE, op)
    assert rest == {
        "id": "4",
        "self": f"{BASE}/devicecontrol/operations/4",
        "deviceId": "7",
        "status": "FAILED",
        "creationTime": TIME,
        "failureReason": "no",
        "bulkOperationId": "11",
        "description": "Restart",
        "c8y_Restart": {},
    }
    device = render.device_operation(op, "serial-7")
    assert device == {
        "id": "4",
        "deviceId": "7",
        "status": "FAILED",
        "creationTime": TIME,
        "externalSource": {"externalId": "serial-7", "type": "c8y_Serial"},
        "agentId": "3",
        "description": "Restart",
        "c8y_Restart": {},
    }
    assert documents.operation_fragments(rest) == {"description": "Restart", "c8y_Restart": {}}
