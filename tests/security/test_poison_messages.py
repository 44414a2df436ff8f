"""Poison input (docs/security.md): one bad message never fails another's.

A row the stores or the JSON encoder cannot take (an integer beyond what a float holds, a time outside the
years 1..9999 in UTC, fragments nested too deep) used to raise inside the ingest batch that SmartREST and
JSON via MQTT share across devices: every message of that write failed, MQTT 3.1.1 senders were
disconnected and resent the poison forever. Here the poison travels among many innocent devices' messages
(paho-mqtt 3.1.1 and 5.0 against a real `tether serve`, SQLite and PostgreSQL): the innocent ones are all
acknowledged and stored, the offender is answered in its own protocol, nobody is disconnected. Over REST
(httpx) the same times are a 422 and stored rows outside the range still list. A hypothesis property test
covers the one validator (core/values.py, core/clock.py).
"""

from __future__ import annotations

import asyncio
import inspect
import json
import math
import time
from collections.abc import Callable, Iterator
from datetime import timedelta, timezone
from typing import Any

import httpx
import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.adapters.conftest import Users
from tests.adapters.smartrest.conftest import connect  # noqa: F401  (the fixture, reused)
from tests.broker import raw
from tests.broker.conftest import BrokerFactory
from tests.broker.test_handlers import Mounted, Recorder, _connect
from tests.mqtt_device import TIMEOUT, V5, V311, Device, ServerMqtt
from tests.support import ADMIN_PASSWORD, ServerThread
from tests.xyte.helpers import create_model, managed_object_id, register
from tests.xyte.mqtt_support import XyteDevice

from tether.adapters.smartrest.adapter import SmartRestAdapter
from tether.core.clock import MAX_MS, MIN_MS, parse_iso, to_iso
from tether.core.errors import BadRequest, InvalidInput
from tether.core.values import MAX_DEPTH, MAX_INT, MIN_INT, clean, clean_fields
from tether.inventory.models import NewManagedObject
from tether.mqtt import ReasonCode
from tether.telemetry import measurements as measurement_rules
from tether.telemetry.measurements import ingest_row
from tether.telemetry.models import NewEvent
from tether.tenants.models import Principal, Role

PAYLOAD_FORMAT_INVALID = 0x99
ADMIN = Principal("t1", "admin", frozenset({Role.ADMIN}))
HUGE = "9" * 400  # an integer no float holds: refused
BIG = "99999999999999999999"  # the reported one: beyond 64 bits, stored as the nearest float
LATE = "9999-12-31T23:59:59-14:00"  # year 10000 in UTC
EARLY = "0001-01-01T00:00:00+14:00"  # year 0 in UTC


# -- fixtures: the MQTT side of tests/conftest.py's server (tests/adapters' fixtures, reused) ---------------


@pytest.fixture(scope="module")
def mqtt_server(server: ServerThread) -> ServerMqtt:
    mqtt = ServerMqtt(server)
    mqtt.lenient_logins()
    return mqtt


@pytest.fixture(scope="module")
def accounts(server: ServerThread) -> Users:
    return Users(server)


@pytest.fixture
def adapter(mqtt_server: ServerMqtt) -> SmartRestAdapter:
    handler: Any = mqtt_server.broker.handlers["s"]
    found = inspect.unwrap(handler).__self__  # the monitoring counter wraps the adapter's handler
    assert isinstance(found, SmartRestAdapter)
    return found


class Paused:
    """Holds the shared ingest batch (as a write in flight does), so that every message sent meanwhile
    joins ONE write with the others: the poison is certainly in the innocent messages' batch."""

    def __init__(self, server: ServerThread, adapter: SmartRestAdapter) -> None:
        self.server = server
        self.batcher = adapter.batcher

    def __enter__(self) -> Paused:
        async def hold() -> None:
            self.batcher._in_flight += self.batcher._max_in_flight

        self.server.call(hold())
        return self

    def wait_rows(self, rows: int) -> None:
        async def pending() -> int:
            return self.batcher._pending_rows

        deadline = time.monotonic() + TIMEOUT
        while self.server.call(pending()) < rows:
            assert time.monotonic() < deadline, "the messages did not reach the ingest batch"
            time.sleep(0.02)

    def __exit__(self, *exc: object) -> None:
        async def release() -> None:
            self.batcher._in_flight -= self.batcher._max_in_flight
            self.batcher._flush()

        self.server.call(release())


@pytest.fixture
def admin_client(server: ServerThread) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, auth=("t1/admin", ADMIN_PASSWORD), timeout=30) as client:
        yield client


def _source(client: httpx.Client, serial: str) -> str:
    response = client.get(f"/identity/externalIds/c8y_Serial/{serial}")
    assert response.status_code == 200, response.text
    mo_id: str = response.json()["managedObject"]["id"]
    return mo_id


def _measurements(client: httpx.Client, source: str) -> list[dict[str, Any]]:
    response = client.get("/measurement/measurements", params={"source": source, "pageSize": 2000})
    assert response.status_code == 200, response.text
    found: list[dict[str, Any]] = response.json()["measurements"]
    return found


def _still_connected(device: Device) -> None:
    assert device.paho.is_connected(), f"{device.client_id} was disconnected"
    assert device._connacks == [0], f"{device.client_id} was disconnected"


def _nested(depth: int) -> Any:
    value: Any = {"value": 1}
    for _ in range(depth - 1):
        value = {"n": value}
    return value


# -- SmartREST --------------------------------------------------------------------------------------------


def test_smartrest_poison_rows_fail_alone_among_many_devices(
    connect: Callable[..., Device],  # noqa: F811
    server: ServerThread,
    adapter: SmartRestAdapter,
    admin_client: httpx.Client,
) -> None:
    innocent = [connect(protocol=V5 if i % 2 else V311) for i in range(16)]
    offenders = [connect(protocol=V5), connect(protocol=V311)]
    for device in innocent + offenders:  # the devices exist, the fast path knows them
        assert device.publish("s/us", "200,c8y_Warmup,W,1") == 0
    poison = [
        f"200,c8y_C,C,{HUGE}",
        f"200,c8y_C,C,1,C,{LATE}",
        f"200,c8y_C,C,1,C,{EARLY}",
        f"201,c8y_M,2024-01-01T00:00:00Z,c8y_C,C,{HUGE},C",
        f"211,{HUGE}",
        f"210,-{HUGE}",
        f"400,c8y_E,text,{LATE}",
        f"301,c8y_A,text,{LATE}",
    ]
    with Paused(server, adapter) as paused:
        sent = [
            (device, device.send("s/us", f"200,c8y_C,C,{i}\n211,{i}.5")) for i, device in enumerate(innocent)
        ]
        # Refused rows never join the batch: their messages are answered while the batch still waits.
        for device in offenders:
            for row in poison:
                assert device.publish("s/us", row) == (PAYLOAD_FORMAT_INVALID if device.protocol == V5 else 0)
        # The reported message is not poison any more: beyond 64 bits it is stored as the nearest float.
        sent += [(device, device.send("s/us", f"200,c8y_Big,B,{BIG}")) for device in offenders]
        # Rows are processed one by one: the good row of a message with bad ones is stored.
        mixed = [(device, device.send("s/us", "\n".join(["200,c8y_C,C,7", *poison]))) for device in offenders]
        paused.wait_rows(2 * len(innocent) + 2 * len(offenders))
    for device, mid in sent:
        assert device.ack(mid) == 0
    for device, mid in mixed:
        assert device.ack(mid) == (PAYLOAD_FORMAT_INVALID if device.protocol == V5 else 0)
    for device in offenders:
        lines = device.lines("s/e", 2 * len(poison))
        assert all(line.startswith("45,") for line in lines), lines
        templates = [row.split(",", 1)[0] for row in poison]
        assert [line.split(",", 2)[1] for line in lines] == templates * 2
        assert "outside the years 1..9999 in UTC" in lines[1]
        assert device.none_within(0.3, "s/e")
    for device in innocent + offenders:
        _still_connected(device)
        assert device.publish("s/us", "200,c8y_After,A,1") == 0  # and the connection still works

    for i, device in enumerate(innocent):
        stored = _measurements(admin_client, _source(admin_client, device.client_id))
        values = {
            (m["type"], json.dumps(m.get("c8y_C") or m.get("c8y_TemperatureMeasurement"), sort_keys=True))
            for m in stored
        }
        assert ("c8y_C", json.dumps({"C": {"value": i}})) in values
        assert ("c8y_TemperatureMeasurement", json.dumps({"T": {"unit": "C", "value": i + 0.5}})) in values
    for device in offenders:
        stored = _measurements(admin_client, _source(admin_client, device.client_id))
        big = [m for m in stored if m["type"] == "c8y_Big"]
        assert [m["c8y_Big"]["B"]["value"] for m in big] == [float(BIG)]
        assert [m["c8y_C"] for m in stored if m["type"] == "c8y_C"] == [{"C": {"value": 7}}]
        assert all(m["time"] < "9999" for m in stored)


def test_a_row_refused_by_the_store_fails_alone(
    connect: Callable[..., Device],  # noqa: F811
    server: ServerThread,
    adapter: SmartRestAdapter,
    admin_client: httpx.Client,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The last line of defence: a row that passed the checks (here they are switched off) but that the
    store refuses fails a shared write; the batch is retried row by row, so only that message fails
    (JSON via MQTT: its error, MQTT 5 0x99, MQTT 3.1.1 acknowledged), the others are stored."""
    innocent = [connect(protocol=V5 if i % 2 else V311, subscribe=("error",)) for i in range(8)]
    offenders = [connect(protocol=V5, subscribe=("error",)), connect(protocol=V311, subscribe=("error",))]
    for device in innocent + offenders:
        assert device.publish("s/us", "200,c8y_Warmup,W,1") == 0
    monkeypatch.setattr(measurement_rules, "clean_fields", lambda fields, **_: dict(fields))

    def body(value: Any) -> bytes:  # the standard library's encoder: orjson would refuse 300 levels
        return json.dumps({"type": "c8y_J", "time": "2024-05-01T00:00:00Z", "c8y_J": {"J": value}}).encode()

    with Paused(server, adapter) as paused:
        sent = [
            (device, device.send("measurement/measurements/create", body({"value": i})))
            for i, device in enumerate(innocent)
        ]
        # 300 levels: orjson refuses to encode more than 254, inside the shared write.
        refused = [
            (device, device.send("measurement/measurements/create", body(_nested(300))))
            for device in offenders
        ]
        paused.wait_rows(len(sent) + len(refused))
    for device, mid in sent:
        assert device.ack(mid) == 0
    for device, mid in refused:
        assert device.ack(mid) == (PAYLOAD_FORMAT_INVALID if device.protocol == V5 else 0)
        error = orjson.loads(device.get("error").payload)
        assert error["error"] == "measurement/validationError"
        assert error["messageId"] == mid
        assert "cannot be stored" in error["message"]
    for device in innocent + offenders:
        _still_connected(device)
        assert device.none_within(0.2, "error")
    for i, device in enumerate(innocent):
        assert _stored_j(admin_client, device) == [{"J": {"value": i}}]
    for device in offenders:
        assert not _stored_j(admin_client, device)


def _stored_j(admin_client: httpx.Client, device: Device) -> list[Any]:
    """The c8y_J fragments stored for the device (the JSON-via-MQTT tests' measurements)."""
    stored = _measurements(admin_client, _source(admin_client, device.client_id))
    return [m["c8y_J"] for m in stored if m["type"] == "c8y_J"]


# -- JSON via MQTT ----------------------------------------------------------------------------------------


def test_json_via_mqtt_poison_is_answered_on_error(
    connect: Callable[..., Device],  # noqa: F811
    server: ServerThread,
    adapter: SmartRestAdapter,
    admin_client: httpx.Client,
) -> None:
    innocent = [connect(protocol=V5 if i % 2 else V311, subscribe=("error",)) for i in range(10)]
    offenders = [connect(protocol=V5, subscribe=("error",)), connect(protocol=V311, subscribe=("error",))]
    for device in innocent + offenders:
        assert device.publish("s/us", "200,c8y_Warmup,W,1") == 0

    def body(value: Any, at: str = "2024-05-01T00:00:00Z") -> bytes:
        return orjson.dumps({"type": "c8y_J", "time": at, "c8y_J": {"J": value}})

    poison = [
        ("measurement/measurements/create", body(_nested(MAX_DEPTH + 5))),
        ("measurement/measurements/create", body({"value": 1}, LATE)),
        ("measurement/measurements/create", body({"value": 1}, EARLY)),
        ("event/events/create", orjson.dumps({"type": "e", "text": "t", "time": LATE})),
        ("alarm/alarms/create", orjson.dumps({"type": "a", "text": "t", "severity": "MAJOR", "time": LATE})),
        ("inventory/managedObjects/create", orjson.dumps({"name": "x", "deep": _nested(MAX_DEPTH + 5)})),
        ("measurement/measurements/create", b'{"type":"c8y_J","time":"2024-05-01T00:00:00Z","c8y_J":1e999}'),
    ]
    with Paused(server, adapter) as paused:
        sent = [
            (device, device.send("measurement/measurements/create", body({"value": i})))
            for i, device in enumerate(innocent)
        ]
        # Refused before they join the batch: answered while it still waits.
        for topic, payload in poison:
            for device in offenders:
                mid = device.send(topic, payload)
                assert device.ack(mid) == (PAYLOAD_FORMAT_INVALID if device.protocol == V5 else 0), topic
                error = orjson.loads(device.get("error").payload)
                assert error["error"] == f"{topic.split('/')[0]}/validationError", error
                assert error["messageId"] == mid
        # Beyond 64 bits: the nearest float.
        big = body({"value": 1}).replace(b'"value":1', b'"value":' + str(2**64).encode())
        sent += [(device, device.send("measurement/measurements/create", big)) for device in offenders]
        paused.wait_rows(len(sent))
    for device, mid in sent:
        assert device.ack(mid) == 0
    for device in innocent + offenders:
        _still_connected(device)
        assert device.none_within(0.2, "error")
    for i, device in enumerate(innocent):
        assert _stored_j(admin_client, device) == [{"J": {"value": i}}]
    for device in offenders:
        assert _stored_j(admin_client, device) == [{"J": {"value": float(2**64)}}]


# -- REST -------------------------------------------------------------------------------------------------


def _device(client: httpx.Client) -> str:
    response = client.post("/inventory/managedObjects", json={"name": "poison", "c8y_IsDevice": {}})
    assert response.status_code == 201, response.text
    mo_id: str = response.json()["id"]
    return mo_id


def _unprocessable(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 422, response.text
    error: dict[str, Any] = response.json()
    assert set(error) >= {"error", "message", "info"}
    assert error["error"].endswith("/Unprocessable Entity")
    return error


@pytest.mark.parametrize("at", [LATE, EARLY, "10000-01-01T00:00:00Z"])
def test_rest_times_outside_the_years_1_to_9999_are_422_and_nothing_is_stored(
    admin_client: httpx.Client, at: str
) -> None:
    source = _device(admin_client)
    ref = {"id": source}
    posts = {
        "/measurement/measurements": {"source": ref, "type": "m", "time": at, "c8y_M": {"M": {"value": 1}}},
        "/event/events": {"source": ref, "type": "e", "text": "t", "time": at},
        "/alarm/alarms": {"source": ref, "type": "a", "text": "t", "severity": "MAJOR", "time": at},
    }
    for path, document in posts.items():
        _unprocessable(admin_client.post(path, json=document))
        listing = admin_client.get(path, params={"source": source})
        assert listing.status_code == 200, listing.text
        key = path.rsplit("/", 1)[1]
        assert listing.json()[key] == []
    # A query date outside the range is a 400, not a 500.
    for path in ("/measurement/measurements", "/event/events", "/alarm/alarms", "/devicecontrol/operations"):
        response = admin_client.get(path, params={"dateFrom": at, "dateTo": at})
        assert response.status_code == 400, (path, response.text)
    bulk = {
        "measurements": [
            posts["/measurement/measurements"] | {"time": "2024-01-01T00:00:00Z"},
            posts["/measurement/measurements"],
        ]
    }
    response = admin_client.post(
        "/measurement/measurements",
        json=bulk,
        headers={"Content-Type": "application/vnd.com.nsn.cumulocity.measurementcollection+json"},
    )
    _unprocessable(response)
    assert (
        admin_client.get("/measurement/measurements", params={"source": source}).json()["measurements"] == []
    )


def test_rest_numbers_and_nesting(admin_client: httpx.Client) -> None:
    source = _device(admin_client)
    ref = {"id": source}
    at = "2024-01-01T00:00:00Z"

    def measurement(value: Any) -> dict[str, Any]:
        return {"source": ref, "type": "m", "time": at, "c8y_M": {"M": value}}

    # Beyond 64 bits: the nearest float (what orjson's parser does beyond 64 bits, here also up to 2**64).
    created = admin_client.post(
        "/measurement/measurements",
        content=b'{"source":{"id":"%s"},"type":"m",'
        b'"time":"2024-01-01T00:00:00Z","c8y_M":{"M":{"value":18446744073709551615}}}' % source.encode(),
        headers={"Content-Type": "application/json"},
    )
    assert created.status_code == 201, created.text
    assert created.json()["c8y_M"]["M"]["value"] == float(2**64 - 1)
    deep = _nested(MAX_DEPTH + 1)
    assert (
        "nested deeper"
        in _unprocessable(admin_client.post("/measurement/measurements", json=measurement(deep)))["message"]
    )
    ok = admin_client.post("/measurement/measurements", json=measurement(_nested(MAX_DEPTH - 1)))
    assert ok.status_code == 201, ok.text
    # The same check for every document the stores encode: events, alarms, managed objects, operations.
    _unprocessable(
        admin_client.post(
            "/event/events", json={"source": ref, "type": "e", "text": "t", "time": at, "x": _nested(300)}
        )
    )
    _unprocessable(
        admin_client.post(
            "/alarm/alarms",
            json={
                "source": ref,
                "type": "a",
                "text": "t",
                "severity": "MINOR",
                "time": at,
                "x": _nested(300),
            },
        )
    )
    _unprocessable(admin_client.post("/inventory/managedObjects", json={"name": "n", "x": _nested(300)}))
    _unprocessable(admin_client.put(f"/inventory/managedObjects/{source}", json={"x": _nested(300)}))
    agent = admin_client.put(f"/inventory/managedObjects/{source}", json={"com_cumulocity_model_Agent": {}})
    assert agent.status_code == 200, agent.text
    _unprocessable(
        admin_client.post("/devicecontrol/operations", json={"deviceId": source, "x": _nested(300)})
    )
    listing = admin_client.get("/measurement/measurements", params={"source": source})
    assert listing.status_code == 200
    assert len(listing.json()["measurements"]) == 2


def test_rows_stored_before_the_check_still_list(server: ServerThread, admin_client: httpx.Client) -> None:
    """A database may already hold a time outside the range (stored before the check): listing it does not
    fail, the time is shown as the nearest bound, and it can be deleted."""
    source = int(_device(admin_client))
    platform = server.platform

    async def legacy() -> None:
        grant = await platform.services.measurements.grant(ADMIN, source)
        await platform.services.measurements.create_many(
            [(grant, "old", MAX_MS + 50_400_000, {"c8y_O": {"O": {"value": 1}}})]
        )
        event = NewEvent(source, "old", "stored before", MIN_MS - 1000, {})
        await platform.storage.events.create("t1", event, MAX_MS + 1)

    server.call(legacy())
    measurements = admin_client.get("/measurement/measurements", params={"source": source})
    assert measurements.status_code == 200, measurements.text
    assert [m["time"] for m in measurements.json()["measurements"]] == ["9999-12-31T23:59:59.999Z"]
    events = admin_client.get("/event/events", params={"source": source})
    assert events.status_code == 200, events.text
    (event,) = events.json()["events"]
    assert (event["time"], event["creationTime"]) == ("0001-01-01T00:00:00.000Z", "9999-12-31T23:59:59.999Z")
    assert admin_client.get(f"/event/events/{event['id']}").status_code == 200
    assert admin_client.delete(f"/event/events/{event['id']}").status_code == 204


# -- the validator: a property test -----------------------------------------------------------------------

_numbers = st.one_of(
    st.integers(),
    st.integers(min_value=MIN_INT - 10, max_value=MAX_INT + 10),
    st.integers(min_value=-(10**400), max_value=10**400),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
    st.none(),
)
_scalars = st.one_of(
    _numbers,
    st.text(max_size=8),
    st.text(st.characters(codec=None, categories=["Cs", "Cc", "Lo"]), max_size=3),  # lone surrogates too
    st.sampled_from(["a\x00", "\x00", "\ud800"]),
    st.binary(max_size=2),
)
_json = st.recursive(
    _scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.tuples(inner),
        st.dictionaries(
            st.one_of(st.text(max_size=4), st.sampled_from(["k\x00"]), st.integers()), inner, max_size=3
        ),
    ),
    max_leaves=20,
)


def _deep(depth: int, leaf: Any) -> Any:
    value = leaf
    for level in range(depth):
        value = [value] if level % 2 else {"d": value}
    return value


_values = st.one_of(_json, st.builds(_deep, st.integers(min_value=0, max_value=400), _json))


def _same(stored: Any, accepted: Any) -> bool:
    """JSON equality; tuples are lists."""
    if isinstance(accepted, tuple | list):
        return isinstance(stored, list) and len(stored) == len(accepted) and all(map(_same, stored, accepted))
    if isinstance(accepted, dict):
        return (
            isinstance(stored, dict)
            and stored.keys() == accepted.keys()
            and all(_same(stored[k], accepted[k]) for k in accepted)
        )
    if isinstance(accepted, float) and isinstance(stored, float | int):
        return float(stored) == accepted
    return bool(stored == accepted and type(stored) is type(accepted))


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_values)
def test_property_the_validator_raises_only_its_error_and_what_it_accepts_encodes(value: Any) -> None:
    try:
        accepted = clean(value)
    except InvalidInput:
        return
    encoded = orjson.dumps({"measurements": [{"f": {"g": accepted}}]})  # the answers' envelope levels
    decoded = orjson.loads(encoded)["measurements"][0]["f"]["g"]
    assert _same(decoded, accepted)
    for number in _walk(accepted):
        assert isinstance(number, bool) or (
            MIN_INT <= number <= MAX_INT if isinstance(number, int) else math.isfinite(number)
        )


def _walk(value: Any) -> Iterator[Any]:
    if isinstance(value, dict):
        for item in value.values():
            yield from _walk(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _walk(item)
    elif isinstance(value, int | float):
        yield value


_zones = st.builds(
    timezone,
    st.timedeltas(min_value=timedelta(hours=-23, minutes=-59), max_value=timedelta(hours=23, minutes=59)),
)
_iso = st.one_of(
    st.datetimes(timezones=_zones).map(lambda dt: dt.isoformat()),
    st.builds(
        lambda year, tz: f"{year:04d}-12-31T23:59:59{tz}",
        st.sampled_from([1, 2, 1969, 1970, 9998, 9999]),
        st.sampled_from(["Z", "+14:00", "-14:00", "-23:59", "+23:59", ""]),
    ),
    st.text(max_size=30),
)


@settings(max_examples=600, deadline=None)
@given(_iso, st.integers(min_value=-(2**70), max_value=2**70))
def test_property_times_parse_within_the_years_1_to_9999_or_fail_cleanly(text: str, ms: int) -> None:
    try:
        parsed = parse_iso(text)
    except BadRequest:
        parsed = None
    if parsed is not None:
        assert MIN_MS <= parsed <= MAX_MS
        assert parse_iso(to_iso(parsed)) == parsed
    rendered = to_iso(ms)  # rendering never fails, even for a row stored before the check
    assert MIN_MS <= parse_iso(rendered) <= MAX_MS


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    fragments=st.dictionaries(st.text(min_size=1, max_size=5), _values, min_size=1, max_size=3),
    ms=st.integers(min_value=MIN_MS - 10, max_value=MAX_MS + 10),
)
def test_property_accepted_rows_round_trip_through_the_store(
    server: ServerThread, stored_source: int, fragments: dict[str, Any], ms: int
) -> None:
    platform = server.platform

    async def run() -> None:
        grant = await platform.services.measurements.grant(ADMIN, stored_source)
        try:
            row = ingest_row(grant, "prop", ms, fragments)
        except InvalidInput:
            return
        (measurement_id,) = await platform.services.measurements.create_many([row])
        assert measurement_id is not None
        stored = await platform.services.measurements.get(ADMIN, measurement_id)
        assert stored.time == ms
        assert _same(stored.fragments, row[3])
        assert clean_fields(stored.fragments) is not None

    server.call(run())


@pytest.fixture(scope="module")
def stored_source(server: ServerThread) -> int:
    async def make() -> int:
        mo_id: int = (
            await server.platform.services.inventory.create(
                ADMIN, NewManagedObject(None, "prop", None, {"c8y_IsDevice": {}})
            )
        ).id
        return mo_id

    return server.call(make())


def test_nothing_else_is_pending(adapter: SmartRestAdapter, server: ServerThread) -> None:
    """The batcher is idle again after the tests above (nothing left waiting for a lost release)."""

    async def drain() -> tuple[int, int]:
        await adapter.batcher.drain()
        await asyncio.sleep(0)
        return adapter.batcher._pending_rows, adapter.batcher._in_flight

    assert server.call(drain()) == (0, 0)


# -- the broker: a 3.1.1 message refused for its content is acknowledged, not retried for ever -------------


def test_broker_acknowledges_a_refused_payload_to_an_mqtt311_client(
    make_broker: BrokerFactory,
) -> None:
    """An adapter answering 0x99 Payload format invalid (Xyte does for any client) must not make the broker
    close a 3.1.1 connection unacknowledged: the client would resend the same poison for ever."""
    b = make_broker(hooks=Mounted())
    handler = Recorder(b)
    b.run(lambda: b.broker.add_handler("s", handler))
    with _connect(b, version=4) as c:
        c.send(raw.publish("s/us", b"poison", qos=1, packet_id=1, version=4))
        handler.resolve(handler.pending.get(timeout=5), ReasonCode.PAYLOAD_FORMAT_INVALID)
        assert c.expect(4).body == b"\x00\x01"  # PUBACK (3.1.1 has no reason code)
        c.send(raw.publish("s/us", b"fine", qos=1, packet_id=2, version=4))
        handler.resolve(handler.pending.get(timeout=5))
        assert c.expect(4).body == b"\x00\x02"  # still connected


# -- Xyte -------------------------------------------------------------------------------------------------


def test_xyte_poison_telemetry_fails_alone(
    server: ServerThread, admin_client: httpx.Client, mqtt_server: ServerMqtt
) -> None:
    model = create_model(admin_client)
    made: list[tuple[XyteDevice, dict[str, Any]]] = []
    try:
        for i in range(10):
            registered = register(server.url, model)
            registered["mo_id"] = managed_object_id(admin_client, registered["id"])
            client = XyteDevice(mqtt_server.port, registered, protocol=V5 if i % 2 else V311)
            made.append((client, registered))
            assert client.connect() == 0
        innocent, offenders = made[:8], made[8:]
        poison: list[Any] = [
            {"telemetries": {"deep": _nested(300)}},
            {"telemetries": {"t": 1}, "timestamp": LATE},
            {"telemetries": {"t": 1}, "timestamp": EARLY},
            b'{"telemetries": {"t": 1e999}}',
        ]
        sent = [
            (client, client.send(f"v1/device/{client.id}/telemetry", {"telemetries": {"t": i}}))
            for i, (client, _) in enumerate(innocent)
        ]
        refused = [
            (
                client,
                client.send(
                    f"v1/device/{client.id}/telemetry",
                    payload if isinstance(payload, bytes) else json.dumps(payload).encode(),
                ),
            )
            for payload in poison
            for client, _ in offenders
        ]
        for client, mid in sent:
            assert client.ack(mid) == 0
        for client, mid in refused:
            assert client.ack(mid) == (PAYLOAD_FORMAT_INVALID if client.protocol == V5 else 0)
        for client, _ in made:
            _still_connected(client)
        for i, (_, registered) in enumerate(innocent):
            stored = _measurements(admin_client, str(registered["mo_id"]))
            assert [m["xyte_Telemetry"] for m in stored] == [{"t": {"value": i}}]
        for _, registered in offenders:
            assert _measurements(admin_client, str(registered["mo_id"])) == []
    finally:
        for client, _ in made:
            client.close()
