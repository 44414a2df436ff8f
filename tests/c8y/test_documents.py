"""Cumulocity documents in (c8y/documents.py): drafts and changes, server fields ignored, bad content
InvalidInput; processing modes; exact times."""

from __future__ import annotations

import random

import pytest

from tether.c8y import documents
from tether.core.clock import parse_iso, to_iso
from tether.core.errors import InvalidInput
from tether.core.processing import ProcessingMode
from tether.operations.models import OperationStatus
from tether.telemetry.models import AlarmSeverity, AlarmStatus

TIME = "2020-03-19T12:03:27.845Z"


def test_a_measurement_keeps_its_fragments_and_drops_server_fields() -> None:
    draft = documents.measurement(
        {
            "source": {"id": "251982", "self": "ignored"},
            "type": "c8y_Steam",
            "time": "2020-03-19T13:03:27.845+01:00",
            "c8y_Steam": {"Temperature": {"unit": "C", "value": 100}},
            "id": "7",
            "self": "x",
            "empty": None,
        }
    )
    assert draft.source_id == 251982 and draft.type == "c8y_Steam"
    assert draft.time == parse_iso(TIME)
    assert draft.fragments == {"c8y_Steam": {"Temperature": {"unit": "C", "value": 100}}}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"source": None}, "'source' is mandatory"),
        ({"source": "1"}, "'source' must be an object"),
        ({"source": {"id": True}}, "'source' must be an object"),
        ({"source": {"id": "abc"}}, "'source.id' must be a managed object id"),
        ({"source": {"id": "9" * 20}}, "'source.id' must be a managed object id"),
        ({"type": None}, "'type' is mandatory"),
        ({"type": 5}, "'type' must be a string"),
        ({"type": " "}, "'type' must not be empty"),
        ({"type": "x" * 256}, "longer than 255"),
        ({"time": None}, "'time' is mandatory"),
        ({"time": 1584619407845}, "'time' must be a string"),
        ({"time": "yesterday"}, "Invalid date for 'time'"),
        ({"time": "2024-02-30T00:00:00.000Z"}, "Invalid date for 'time'"),
        ({"time": "0000-01-01T00:00:00.000Z"}, "Invalid date for 'time'"),
        ({"type": "a\x00b"}, "NUL"),
    ],
)
def test_bad_measurements(change: dict[str, object], message: str) -> None:
    """The same errors from one document and from a collection's one-pass reading of it."""
    document: dict[str, object] = {"source": {"id": "1"}, "type": "t", "time": TIME, **change}
    document = {k: v for k, v in document.items() if v is not None}
    for read in (documents.measurement, lambda d: documents.measurements([d])[0]):
        with pytest.raises(InvalidInput, match=message) as caught:
            read(document)
        assert caught.value.resource == "measurement"


def test_a_collection_reads_times_as_one_document_does() -> None:
    times = [
        TIME,
        "1969-12-31T23:59:59.500Z",
        "0001-01-01T00:00:00.000Z",
        "9999-12-31T23:59:59.999Z",
        "2020-03-19T13:03:27.845+01:00",
        "2020-03-19T12:03:27Z",
        "2020-03-19 12:03:27.845Z",
    ]
    docs = [{"source": {"id": "7"}, "type": "t", "time": t, "f": {"v": 1}, "id": "x"} for t in times]
    assert documents.measurements(docs) == [documents.measurement(d) for d in docs]


def test_events_need_text() -> None:
    document: dict[str, object] = {"source": {"id": 1}, "type": "t", "time": TIME}
    with pytest.raises(InvalidInput, match="'text' is mandatory"):
        documents.event(document)
    with pytest.raises(InvalidInput, match="'text' must be a string"):
        documents.event({**document, "text": ["no"]})
    assert documents.event({**document, "text": ""}).text == ""


def test_alarms_severity_and_status() -> None:
    document: dict[str, object] = {"source": {"id": 1}, "type": "t", "time": TIME, "text": "x"}
    with pytest.raises(InvalidInput, match="'severity' must be one of CRITICAL, MAJOR, MINOR, WARNING"):
        documents.alarm(document)
    for bad in ("major", "FATAL", 3):
        with pytest.raises(InvalidInput, match="'severity' must be one of"):
            documents.alarm({**document, "severity": bad})
    with pytest.raises(InvalidInput, match="'status' must be one of ACTIVE, ACKNOWLEDGED, CLEARED"):
        documents.alarm({**document, "severity": "MAJOR", "status": "OPEN"})
    draft = documents.alarm({**document, "severity": "MINOR", "c8y_Extra": {"a": 1}})
    assert draft.status is AlarmStatus.ACTIVE and draft.severity is AlarmSeverity.MINOR
    assert draft.fragments == {"c8y_Extra": {"a": 1}}
    change = documents.alarm_change({"status": "CLEARED", "gone": None, "count": 99, "time": "ignored"})
    assert change.status is AlarmStatus.CLEARED and change.severity is None and change.text is None
    assert change.fragments == {"gone": None}


def test_a_managed_object_ignores_server_fields_and_keeps_the_owner_asked_for() -> None:
    draft = documents.managed_object(
        {
            "id": "9",
            "self": "x",
            "owner": "someone",
            "creationTime": "2020-01-01T00:00:00Z",
            "childDevices": {"references": []},
            "deviceParents": {"references": []},
            "name": "Pi",
            "type": "c8y_Linux",
            "c8y_IsDevice": {},
            "gone": None,
        }
    )
    assert (draft.owner, draft.name, draft.type) == ("someone", "Pi", "c8y_Linux")
    assert draft.fragments == {"c8y_IsDevice": {}}
    assert documents.managed_object({"owner": ""}).owner is None
    assert documents.managed_object({"owner": 5}).owner is None


def test_a_managed_object_change_clears_and_removes() -> None:
    change = documents.managed_object_change({"id": "1", "name": None, "c8y_Old": None, "c8y_New": {"a": 1}})
    assert change.columns == {"name": None}
    assert change.fragments == {"c8y_Old": None, "c8y_New": {"a": 1}}
    assert documents.managed_object_change({"type": "t"}).columns == {"type": "t"}


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ({"name": 5}, "'name' must be a string"),
        ({"type": ["t"]}, "'type' must be a string"),
        ({"type": "x" * 256}, "longer than 255"),
        ({"name": "a\x00b"}, "NUL"),
    ],
)
def test_bad_managed_objects(document: dict[str, object], message: str) -> None:
    for parse in (documents.managed_object, documents.managed_object_change):
        with pytest.raises(InvalidInput, match=message) as caught:
            parse(document)
        assert caught.value.resource == "inventory"


def test_a_measurement_collection_names_the_bad_item() -> None:
    good = {"source": {"id": 1}, "type": "t", "time": TIME}
    assert [d.source_id for d in documents.measurements([good, good])] == [1, 1]
    with pytest.raises(InvalidInput, match="Measurement 1 must be a JSON object"):
        documents.measurements([good, "no"])


def test_event_change_keeps_text_and_removals_only() -> None:
    change = documents.event_change({"text": "t2", "type": "ignored", "time": "x", "gone": None})
    assert change.text == "t2" and change.fragments == {"gone": None}
    with pytest.raises(InvalidInput, match="'text' must be a string"):
        documents.event_change({"text": 1})


def test_bulk_alarm_status() -> None:
    assert documents.alarm_status({"status": "CLEARED", "text": "x"}) is AlarmStatus.CLEARED
    with pytest.raises(InvalidInput, match="'status' is mandatory"):
        documents.alarm_status({"text": "x"})
    with pytest.raises(InvalidInput, match="'status' must be one of"):
        documents.alarm_status({"status": "DONE"})


def test_operations() -> None:
    document = {"deviceId": "12", "status": "PENDING", "id": "3", "description": "Restart", "c8y_Restart": {}}
    assert documents.operation_device_id(document) == 12
    assert documents.operation_fragments(document) == {"description": "Restart", "c8y_Restart": {}}
    with pytest.raises(InvalidInput, match="'deviceId' is required"):
        documents.operation_device_id({})
    with pytest.raises(InvalidInput, match="no managed object for id 'x'"):
        documents.operation_device_id({"deviceId": "x"})
    with pytest.raises(InvalidInput, match="'description' must be a string"):
        documents.operation_fragments({"description": 1})
    update = documents.operation_update({"status": "FAILED", "failureReason": "no", "c8y_X": None})
    assert (update.status, update.failure_reason, update.fragments) == (
        OperationStatus.FAILED,
        "no",
        {"c8y_X": None},
    )
    assert documents.operation_update({}).status is None
    with pytest.raises(InvalidInput, match="Invalid status 'DONE'; expected one of PENDING"):
        documents.operation_update({"status": "DONE"})
    with pytest.raises(InvalidInput, match="'failureReason' must be a string"):
        documents.operation_update({"failureReason": 5})


def test_processing_modes() -> None:
    stores = {mode: mode.stores for mode in ProcessingMode}
    announces = {mode: mode.announces for mode in ProcessingMode}
    assert stores == {"PERSISTENT": True, "TRANSIENT": False, "QUIESCENT": True, "CEP": True}
    assert announces == {"PERSISTENT": True, "TRANSIENT": True, "QUIESCENT": False, "CEP": True}


def test_times_round_trip_to_the_millisecond() -> None:
    # Regression: float arithmetic in parse_iso lost a millisecond for about 0.6% of times.
    rng = random.Random(7)
    for ms in [273896924553, 0, -1, *(rng.randint(-(10**12), 4 * 10**12) for _ in range(20_000))]:
        assert parse_iso(to_iso(ms)) == ms
    assert parse_iso("2020-03-19T13:03:27.845999+01:00") == parse_iso(TIME)
