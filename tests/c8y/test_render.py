"""Domain objects out as Cumulocity JSON (c8y/render.py), and back in through c8y/documents.py."""

from __future__ import annotations

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from tether.c8y import documents, render
from tether.core.clock import MAX_MS, MIN_MS, parse_iso
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


# -- a collection of measurements written straight to JSON text ---------------------------------------

_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=8,
)
_KEYS = st.sampled_from(
    ["c8y_T", "c8y_Battery", "id", "self", "source", "type", "time", "creationTime", 'é"\\']
)
_MEASUREMENTS = st.lists(
    st.builds(
        Measurement,
        st.none() | st.integers(min_value=1, max_value=2**53),
        st.just("t1"),
        st.integers(min_value=1, max_value=5),
        st.none() | st.text(max_size=6),
        st.integers(min_value=MIN_MS - 5000, max_value=MAX_MS + 5000) | st.integers(MS - 3000, MS + 3000),
        st.just(MS),
        st.dictionaries(_KEYS | st.text(max_size=6), _VALUES, max_size=3),
    ),
    max_size=6,
)


@settings(max_examples=150, deadline=None, database=None)
@given(items=_MEASUREMENTS, base=st.sampled_from([BASE, "http://127.0.0.1:8080", 'http://h"\\\u2028x']))
def test_measurements_json_is_the_encoded_documents(items: list[Measurement], base: str) -> None:
    # byte for byte what encoding render.measurements gives: same fields, order, escaping and fallbacks
    assert render.measurements_json(base, items) == orjson.dumps(render.measurements(base, items))


def test_measurements_json_of_a_created_collection() -> None:
    items = [
        Measurement(10 + i, "t1", 7, "c8y_T", MS + i, MS, {"c8y_T": {"T": {"value": i, "unit": "C"}}})
        for i in range(3)
    ] + [Measurement(13, "t1", 8, "c8y_T", MS, MS, {})]
    documents_ = orjson.loads(render.measurements_json(BASE, items))
    assert documents_[0] == {
        "id": "10",
        "self": f"{BASE}/measurement/measurements/10",
        "source": {"id": "7", "self": f"{BASE}/inventory/managedObjects/7"},
        "type": "c8y_T",
        "time": TIME,
        "c8y_T": {"T": {"value": 0, "unit": "C"}},
    }
    assert documents_[2]["time"] == "2020-03-19T12:03:27.847Z"
    assert documents_[3] == {
        "id": "13",
        "self": f"{BASE}/measurement/measurements/13",
        "source": {"id": "8", "self": f"{BASE}/inventory/managedObjects/8"},
        "type": "c8y_T",
        "time": TIME,
    }
