"""The unmodified `c8y-api` client from PyPI creating and reading measurements, events and alarms."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from c8y_api import CumulocityApi
from c8y_api.model import Alarm, Device, Event, Measurement
from tests.support import ADMIN_PASSWORD, ServerThread

START = datetime(2024, 5, 1, 10, 0, tzinfo=UTC)


@pytest.fixture
def c8y(server: ServerThread) -> CumulocityApi:
    return CumulocityApi(base_url=server.url, tenant_id="t1", username="admin", password=ADMIN_PASSWORD)


def test_measurements(c8y: CumulocityApi) -> None:
    device = Device(c8y, type="c8y_Sensor", name="client-measurements").create()
    one = Measurement(
        c8y,
        type="c8y_TemperatureMeasurement",
        source=device.id,
        time=START,
        c8y_Temperature={"T": {"value": 21.5, "unit": "C"}},
    ).create()
    assert one.id and one.source == device.id and one.type == "c8y_TemperatureMeasurement"
    fetched = c8y.measurements.get(one.id)
    assert fetched.c8y_Temperature.T.value == 21.5 and fetched.datetime == START
    batch = [
        Measurement(
            c8y,
            type="c8y_TemperatureMeasurement",
            source=device.id,
            time=START + timedelta(seconds=30 * i),
            c8y_Temperature={"T": {"value": 20 + i, "unit": "C"}},
        )
        for i in range(1, 6)
    ]
    c8y.measurements.create(*batch)  # one POST of a measurementCollection
    listed = c8y.measurements.get_all(source=device.id, page_size=2)
    assert [m.c8y_Temperature.T.value for m in listed] == [21.5, 21, 22, 23, 24, 25]
    assert c8y.measurements.get_count(source=device.id) == 6
    by_series = c8y.measurements.get_all(source=device.id, series="c8y_Temperature.T")
    assert len(by_series) == 6 and c8y.measurements.get_all(source=device.id, series="c8y_Other.T") == []
    last = c8y.measurements.get_last(source=device.id)
    assert last is not None and last.c8y_Temperature.T.value == 25

    series = c8y.measurements.get_series(
        source=device.id, series="c8y_Temperature.T", after=START, before=START + timedelta(hours=1)
    )
    assert series.truncated is False and [s.series for s in series.specs] == ["c8y_Temperature.T"]
    assert series.collect(series="c8y_Temperature.T", value="max") == [21.5, 21, 22, 23, 24, 25]
    minutely = c8y.measurements.get_series(
        source=device.id,
        series="c8y_Temperature.T",
        aggregation="MINUTELY",
        after=START,
        before=START + timedelta(hours=1),
    )
    assert minutely.collect(series="c8y_Temperature.T", value="min") == [21, 22, 24]
    assert minutely.collect(series="c8y_Temperature.T", value="max") == [21.5, 23, 25]

    c8y.measurements.delete(one.id)
    with pytest.raises(KeyError):
        c8y.measurements.get(one.id)
    c8y.measurements.delete_by(source=device.id)
    assert c8y.measurements.get_count(source=device.id) == 0


def test_events(c8y: CumulocityApi) -> None:
    device = Device(c8y, type="c8y_Tracker", name="client-events").create()
    position = {"lat": 51.151977, "lng": 6.95173, "alt": 67}
    event = Event(
        c8y,
        type="c8y_LocationUpdate",
        source=device.id,
        text="Location update.",
        time="now",
        c8y_Position=position,
    ).create()
    assert event.id and event.source == device.id and event.text == "Location update."
    assert event.creation_time and event.updated_time
    fetched = c8y.events.get(event.id)
    assert fetched.c8y_Position.lat == 51.151977 and fetched.type == "c8y_LocationUpdate"
    fetched.text = "Location corrected."
    updated = fetched.update()  # PUT of the changed fields only
    assert updated.text == "Location corrected." and updated.c8y_Position.lng == 6.95173
    Event(c8y, type="c8y_Other", source=device.id, text="other", time="now").create()
    assert [e.type for e in c8y.events.get_all(source=device.id, fragment="c8y_Position")] == [
        "c8y_LocationUpdate"
    ]
    assert c8y.events.get_count(source=device.id) == 2
    last = c8y.events.get_last(source=device.id)
    assert last is not None and last.type == "c8y_Other"  # newest first
    c8y.events.delete(event.id)
    assert [e.type for e in c8y.events.get_all(source=device.id)] == ["c8y_Other"]
    c8y.events.delete_by(source=device.id)
    assert c8y.events.get_count(source=device.id) == 0


def test_alarms(c8y: CumulocityApi) -> None:
    device = Device(c8y, type="c8y_Pump", name="client-alarms").create()
    first = Alarm(
        c8y,
        type="c8y_PressureAlarm",
        source=device.id,
        text="Pressure too high",
        severity=Alarm.Severity.MAJOR,
        time=START,
    ).create()  # POST /alarm/alarms/ (with the slash)
    assert first.id and first.status == Alarm.Status.ACTIVE and first.count == 1
    again = Alarm(
        c8y,
        type="c8y_PressureAlarm",
        source=device.id,
        text="Pressure still too high",
        severity=Alarm.Severity.MAJOR,
        time=START + timedelta(minutes=5),
    ).create()
    assert again.id == first.id and again.count == 2
    assert again.first_occurrence == "2024-05-01T10:00:00.000Z"  # the client parses it under this name
    assert c8y.alarms.count(source=device.id, status=Alarm.Status.ACTIVE) == 1

    again.status = Alarm.Status.ACKNOWLEDGED
    acknowledged = again.update()  # PUT /alarm/alarms//{id} (the client doubles the slash)
    assert acknowledged.status == Alarm.Status.ACKNOWLEDGED and acknowledged.count == 2
    assert c8y.alarms.get(first.id).status == Alarm.Status.ACKNOWLEDGED

    Alarm(
        c8y,
        type="c8y_TemperatureAlarm",
        source=device.id,
        text="Hot",
        severity=Alarm.Severity.MINOR,
        time=START,
    ).create()
    assert c8y.alarms.count(source=device.id, resolved="false") == 2
    assert [a.type for a in c8y.alarms.get_all(source=device.id, severity=Alarm.Severity.MINOR)] == [
        "c8y_TemperatureAlarm"
    ]
    c8y.alarms.apply_by(Alarm(status=Alarm.Status.CLEARED), source=device.id)  # bulk PUT by query
    assert c8y.alarms.count(source=device.id, status=Alarm.Status.CLEARED) == 2
    assert c8y.alarms.count(source=device.id, resolved="false") == 0
    c8y.alarms.delete_by(source=device.id)
    assert c8y.alarms.count(source=device.id) == 0
