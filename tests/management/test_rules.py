"""The rule engine through /api/v5 (EMQX 5 shapes) against the real server: rules created with httpx, fed by
paho-mqtt clients, SmartREST devices and REST, their republished messages received by paho; metrics; tenant
isolation; SQL errors with their position, on both backends (restarts: test_rules_restart.py)."""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from tests.management.conftest import two_tenant_server
from tests.mqtt_device import PROTOCOL_IDS, PROTOCOLS, V5, Device, ServerMqtt, unique
from tests.support import ADMIN_PASSWORD, ServerThread, backends
from tests.xyte.helpers import create_model, device_call, register

from tether.tenants.models import Role

RULES = "/api/v5/rules"
protocols = pytest.mark.parametrize("protocol", PROTOCOLS, ids=PROTOCOL_IDS)


@pytest.fixture(scope="module", params=backends())
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServerThread]:
    yield from two_tenant_server(request.param, tmp_path_factory.mktemp("tether"))


@pytest.fixture
def admin(server: ServerThread) -> Iterator[httpx.Client]:
    """t1's operator; every rule of t1 is deleted after each test."""
    with httpx.Client(base_url=server.url, auth=("t1/admin", ADMIN_PASSWORD), timeout=30) as client:
        yield client
        for rule in client.get(RULES, params={"limit": 1000}).json()["data"]:
            assert client.delete(f"{RULES}/{rule['id']}").status_code == 204


@pytest.fixture
def admin2(server: ServerThread) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, auth=("t2/admin", ADMIN_PASSWORD), timeout=30) as client:
        yield client
        for rule in client.get(RULES, params={"limit": 1000}).json()["data"]:
            assert client.delete(f"{RULES}/{rule['id']}").status_code == 204


@pytest.fixture
def clients(mqtt_server: ServerMqtt) -> Iterator[Callable[..., Device]]:
    made: list[Device] = []

    def make(username: str, password: str, protocol: int = V5, client_id: str | None = None) -> Device:
        device = Device(
            mqtt_server.port, client_id or unique("c"), protocol, username=username, password=password
        )
        made.append(device)
        assert device.connect() == 0
        return device

    yield make
    for device in made:
        with contextlib.suppress(Exception):
            device.close()


def device_user(server: ServerThread, tenant: str = "t1") -> tuple[str, str, str]:
    serial, password = unique("SER"), "device-pw-1"
    server.call(
        server.platform.services.tenants.create_user(tenant, f"device_{serial}", password, {Role.DEVICE})
    )
    return serial, f"{tenant}/device_{serial}", password


def metrics(admin: httpx.Client, rule_id: str, **expected: int) -> dict[str, Any]:
    """The rule's metrics once they show `expected` (the engine runs after the acknowledgement)."""
    for _ in range(500):
        found = admin.get(f"{RULES}/{rule_id}/metrics").json()
        if all(found["metrics"][name.replace("__", ".")] == value for name, value in expected.items()):
            return dict(found)
        time.sleep(0.02)
    raise AssertionError(f"metrics never reached {expected}: {found}")


# ------------------------------------------------------------------------------------------- API shapes


def test_create_get_update_delete(admin: httpx.Client) -> None:
    body = {
        "id": "hot",
        "name": "hot sensors",
        "sql": 'SELECT payload.temp AS t FROM "sensors/#" WHERE t > 30',
        "actions": [
            {"function": "republish", "args": {"topic": "alerts/${clientid}", "qos": 1, "payload": "${t}"}},
            {"function": "console"},
        ],
        "description": "too hot",
        "metadata": {"owner": "ops"},
    }
    created = admin.post(RULES, json=body)
    assert created.status_code == 201, created.text
    rule = created.json()
    assert rule["id"] == "hot" and rule["from"] == ["sensors/#"] and rule["enable"] is True
    assert (
        rule["actions"][0]["args"]["topic"] == "alerts/${clientid}" and rule["actions"][0]["args"]["qos"] == 1
    )
    assert rule["actions"][1] == {"function": "console", "args": {}}
    assert {"created_at", "last_modified_at"} <= set(rule)
    assert admin.get(f"{RULES}/hot").json() == rule
    listed = admin.get(RULES).json()
    assert listed["data"] == [rule] and listed["meta"]["count"] == 1
    assert admin.get(RULES, params={"enable": "false"}).json()["data"] == []
    assert admin.get(RULES, params={"match_from": "sensors/a"}).json()["meta"]["count"] == 1
    assert admin.get(RULES, params={"like_from": "other"}).json()["meta"]["count"] == 0

    changed = admin.put(f"{RULES}/hot", json={"enable": False, "sql": 'SELECT * FROM "x/#"'})
    assert changed.status_code == 200
    assert changed.json()["enable"] is False and changed.json()["from"] == ["x/#"]
    assert changed.json()["name"] == "hot sensors"  # what PUT does not name stays

    assert admin.post(RULES, json=body).json() == {"code": "BAD_REQUEST", "message": "rule id already exists"}
    assert admin.delete(f"{RULES}/hot").status_code == 204
    missing = admin.get(f"{RULES}/hot")
    assert missing.status_code == 404 and missing.json()["code"] == "NOT_FOUND"
    assert admin.delete(f"{RULES}/hot").status_code == 404
    generated = admin.post(RULES, json={"sql": 'SELECT * FROM "t/#"'}).json()
    assert generated["id"].startswith("rule_")


@pytest.mark.parametrize(
    ("sql", "position"),
    [
        ("SELECT FROM 't/#'", "line 1, column 8"),
        ('SELECT a\nFROM "t/#"\nWHERE a >', "line 3, column 10"),
        ("SELECT nope(a) FROM 't/#'", "line 1, column 8"),
        ("SELECT a FROM 't/#/x'", "line 1, column 15"),
    ],
)
def test_invalid_sql_is_400_with_its_position(admin: httpx.Client, sql: str, position: str) -> None:
    answer = admin.post(RULES, json={"sql": sql})
    assert answer.status_code == 400
    assert answer.json()["code"] == "BAD_REQUEST" and position in answer.json()["message"]
    tested = admin.post("/api/v5/rule_test", json={"sql": sql, "context": {}})
    assert tested.status_code == 400 and position in tested.json()["message"]


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"sql": 1},
        {"sql": "SELECT * FROM 't'", "actions": [{"function": "http:hook"}]},
        {"sql": "SELECT * FROM 't'", "actions": ["mysql:db"]},
        {"sql": "SELECT * FROM 't'", "actions": [{"function": "republish", "args": {}}]},
        {
            "sql": "SELECT * FROM 't'",
            "actions": [{"function": "republish", "args": {"topic": "a", "qos": 3}}],
        },
        {"sql": "SELECT * FROM 't'", "actions": [{"function": "republish", "args": {"topic": "${"}}]},
        {"sql": "SELECT * FROM 't'", "actions": {"function": "console"}},
        {"sql": "SELECT * FROM 't'", "enable": "yes"},
        {"sql": "SELECT * FROM 't'", "colour": "red"},
        {"sql": "SELECT * FROM 't'", "id": "has space"},
        {"sql": "SELECT * FROM 't'", "metadata": []},
    ],
)
def test_invalid_rules_are_400(admin: httpx.Client, body: dict[str, Any]) -> None:
    answer = admin.post(RULES, json=body)
    assert answer.status_code == 400, answer.text
    assert answer.json()["code"] == "BAD_REQUEST"


def test_rule_test(admin: httpx.Client) -> None:
    sql = "SELECT payload.msg AS msg, clientid FROM \"t/#\" WHERE msg = 'hello'"
    context = {"clientid": "c_emqx", "topic": "t/a", "payload": '{"msg": "hello"}', "qos": 1}
    answer = admin.post("/api/v5/rule_test", json={"sql": sql, "context": context})
    assert answer.status_code == 200 and answer.json() == {"msg": "hello", "clientid": "c_emqx"}
    other = admin.post(
        "/api/v5/rule_test", json={"sql": sql, "context": {**context, "payload": '{"msg": 1}'}}
    )
    assert other.status_code == 412 and other.json() == {"code": "NOT_MATCH", "message": "SQL Not Match"}
    wrong_topic = admin.post("/api/v5/rule_test", json={"sql": sql, "context": {**context, "topic": "x/y"}})
    assert wrong_topic.status_code == 412
    event = {
        "sql": 'SELECT clientid, event FROM "$events/client_connected"',
        "context": {"event_type": "client_connected", "clientid": "c1"},
    }
    assert admin.post("/api/v5/rule_test", json=event).json() == {
        "clientid": "c1",
        "event": "client.connected",
    }
    foreach = {
        "sql": 'FOREACH payload.v AS v DO v * 2 AS d FROM "t/#"',
        "context": {"payload": '{"v": [1, 2]}'},
    }
    assert admin.post("/api/v5/rule_test", json=foreach).json() == [{"d": 2}, {"d": 4}]
    failing = admin.post("/api/v5/rule_test", json={"sql": 'SELECT 1 / 0 AS x FROM "t/#"', "context": {}})
    assert failing.status_code == 400


def test_a_stored_rule_is_tested(admin: httpx.Client) -> None:
    """POST /rules/{id}/test: the stored rule's SQL on a context; its actions not run, metrics kept."""
    rule = {
        "id": "hot",
        "sql": 'SELECT payload.t AS t, clientid FROM "s/+" WHERE t > 30',
        "actions": [{"function": "republish", "args": {"topic": "alerts", "payload": "${t}"}}],
    }
    assert admin.post(RULES, json=rule).status_code == 201
    context = {"clientid": "c1", "topic": "s/1", "payload": '{"t": 35}'}
    answer = admin.post(f"{RULES}/hot/test", json={"context": context})
    assert answer.status_code == 200 and answer.json() == {"t": 35, "clientid": "c1"}
    cool = admin.post(f"{RULES}/hot/test", json={"context": {**context, "payload": '{"t": 20}'}})
    assert cool.status_code == 412 and cool.json()["code"] == "NOT_MATCH"
    elsewhere = admin.post(f"{RULES}/hot/test", json={"context": {**context, "topic": "x/1"}})
    assert elsewhere.status_code == 412
    event = admin.post(f"{RULES}/hot/test", json={"context": {"event_type": "client_connected"}})
    assert event.status_code == 412  # the rule's FROM does not take that event
    assert admin.get(f"{RULES}/hot/metrics").json()["metrics"]["matched"] == 0
    unknown = admin.post(f"{RULES}/nope/test", json={"context": context})
    assert unknown.status_code == 404 and unknown.json()["code"] == "NOT_FOUND"
    malformed = admin.post(
        f"{RULES}/hot/test", content=b'{"context": {"topic": }', headers={"content-type": "application/json"}
    )
    assert malformed.status_code == 400 and "column" in malformed.json()["message"]
    for body in ({"context": []}, {"context": {"topic": "a/+"}}, {"sql": "SELECT 1"}):
        bad = admin.post(f"{RULES}/hot/test", json=body)
        assert bad.status_code == 400 and bad.json()["code"] == "BAD_REQUEST", body
    failing = {"id": "div", "sql": 'SELECT 1 / payload.n AS q FROM "s/+"'}
    assert admin.post(RULES, json=failing).status_code == 201
    divided = admin.post(f"{RULES}/div/test", json={"context": {**context, "payload": '{"n": 0}'}})
    assert divided.status_code == 400 and "failed" in divided.json()["message"]


def test_rule_events(admin: httpx.Client) -> None:
    events = {e["event"]: e for e in admin.get("/api/v5/rule_events").json()}
    assert "reason" in events["$events/client_disconnected"]["columns"]
    assert {
        "$events/tether/measurement_created",
        "$events/session_subscribed",
        "$events/delivery_dropped",
    } <= set(events)


# ------------------------------------------------------------------------------------------- running


@protocols
def test_hot_temperature_is_republished(
    server: ServerThread, admin: httpx.Client, clients: Callable[..., Device], protocol: int
) -> None:
    rule = {
        "id": "hot",
        "sql": 'SELECT payload.temp AS t, clientid FROM "sensors/#" WHERE t > 30',
        "actions": [
            {
                "function": "republish",
                "args": {
                    "topic": "alerts/${clientid}",
                    "qos": 1,
                    "payload": '{"temperature": ${t}, "from": "${clientid}"}',
                    "mqtt_properties": {"Content-Type": "application/json"},
                    "user_properties": "${props}",
                },
            }
        ],
    }
    assert admin.post(RULES, json=rule).status_code == 201
    serial = unique("sensor")
    sensor = clients("t1/admin", ADMIN_PASSWORD, protocol, client_id=serial)
    watcher = clients("t1/admin", ADMIN_PASSWORD, protocol)
    assert watcher.subscribe("alerts/#") == 1
    assert sensor.publish("sensors/1", json.dumps({"temp": 25})) in (0, 16)
    assert sensor.publish("sensors/1", json.dumps({"temp": 31})) in (0, 16)
    message = watcher.get()
    assert message.topic == f"alerts/{serial}"
    assert json.loads(message.payload) == {"temperature": 31, "from": serial}
    assert message.qos == 1
    if protocol == V5:
        assert message.properties.ContentType == "application/json"
    assert watcher.none_within(0.3)  # 25 did not pass
    found = metrics(admin, "hot", matched=2, passed=1, failed=1, failed__no_result=1, actions__success=1)
    assert found["metrics"]["actions.total"] == 1 and found["node_metrics"][0]["metrics"] == found["metrics"]
    assert admin.put(f"{RULES}/hot/metrics/reset").status_code == 204
    assert admin.get(f"{RULES}/hot/metrics").json()["metrics"]["matched"] == 0


def test_rules_are_tenant_scoped(
    server: ServerThread, admin: httpx.Client, admin2: httpx.Client, clients: Callable[..., Device]
) -> None:
    rule = {
        "id": "copy",
        "sql": 'SELECT * FROM "in/#"',
        "actions": [{"function": "republish", "args": {"topic": "out/x"}}],
    }
    assert admin.post(RULES, json=rule).status_code == 201
    assert admin2.get(RULES).json()["data"] == []
    assert admin2.get(f"{RULES}/copy").status_code == 404
    assert admin2.delete(f"{RULES}/copy").status_code == 404
    assert admin2.put(f"{RULES}/copy", json={"enable": False}).status_code == 404
    assert admin2.get(f"{RULES}/copy/metrics").status_code == 404
    # t2 may use the same id for a rule of its own.
    assert admin2.post(RULES, json={**rule, "actions": []}).status_code == 201

    t1_watcher = clients("t1/admin", ADMIN_PASSWORD)
    assert t1_watcher.subscribe("out/#") == 1
    t2_watcher = clients("t2/admin", ADMIN_PASSWORD)
    assert t2_watcher.subscribe("#") == 1
    t2_sender = clients("t2/admin", ADMIN_PASSWORD)
    assert t2_sender.publish("in/a", "from t2") in (0, 16)
    assert t2_watcher.get("in/a").payload == b"from t2"
    assert t1_watcher.none_within(0.5)  # t1's rule did not see t2's message
    metrics(admin2, "copy", matched=1, passed=1)
    assert admin.get(f"{RULES}/copy/metrics").json()["metrics"]["matched"] == 0
    t1_sender = clients("t1/admin", ADMIN_PASSWORD)
    assert t1_sender.publish("in/a", "from t1") in (0, 16)
    copied = t1_watcher.get("out/x")
    assert json.loads(copied.payload)["payload"] == "from t1"
    assert t2_watcher.none_within(0.3, "out/x")


def test_a_rule_does_not_see_its_own_republish(admin: httpx.Client, clients: Callable[..., Device]) -> None:
    rule = {
        "id": "echo",
        "sql": 'SELECT payload FROM "loop/#"',
        "actions": [{"function": "republish", "args": {"topic": "loop/again", "payload": "${payload}"}}],
    }
    assert admin.post(RULES, json=rule).status_code == 201
    watcher = clients("t1/admin", ADMIN_PASSWORD)
    assert watcher.subscribe("loop/#") == 1
    assert watcher.publish("loop/start", "x") == 0
    assert watcher.get("loop/start").payload == b"x"
    assert watcher.get("loop/again").payload == b"x"
    assert watcher.none_within(0.5)
    assert metrics(admin, "echo", matched=1)["metrics"]["actions.success"] == 1


def test_disabled_rules_and_failures(admin: httpx.Client, clients: Callable[..., Device]) -> None:
    rule = {
        "id": "div",
        "sql": 'SELECT 10 / payload.n AS q FROM "calc"',
        "enable": False,
        "actions": [{"function": "republish", "args": {"topic": "calc/out", "payload": "${q}"}}],
    }
    assert admin.post(RULES, json=rule).status_code == 201
    watcher = clients("t1/admin", ADMIN_PASSWORD)
    assert watcher.subscribe("calc/out") == 1
    assert watcher.publish("calc", '{"n": 2}') in (0, 16)
    assert watcher.none_within(0.3)
    assert admin.get(f"{RULES}/div/metrics").json()["metrics"]["matched"] == 0
    assert admin.put(f"{RULES}/div", json={"enable": True}).status_code == 200
    assert watcher.publish("calc", '{"n": 0}') in (0, 16)  # division by zero: failed.exception
    assert watcher.publish("calc", '{"n": 4}') in (0, 16)
    assert watcher.get("calc/out").payload == b"2.5"
    metrics(admin, "div", matched=2, passed=1, failed__exception=1)
    # A topic template that gives an invalid topic fails the action, not the broker.
    bad = {"topic": "calc/${nothing}/+", "payload": "x"}
    assert (
        admin.put(f"{RULES}/div", json={"actions": [{"function": "republish", "args": bad}]}).status_code
        == 200
    )
    assert watcher.publish("calc", '{"n": 1}') in (0, 16)
    metrics(admin, "div", matched=3, passed=2, actions__failed=1)


def test_a_flood_beyond_the_queue_is_counted_and_order_is_kept(
    server: ServerThread, admin: httpx.Client, clients: Callable[..., Device]
) -> None:
    """Inputs the engine's full queue drops are counted per rule (matched, failed.dropped) and in the
    Prometheus figures; what it takes is handled in the order each client published it."""
    rule = {
        "id": "seq",
        "sql": 'SELECT payload.n AS n FROM "seq/#"',
        "actions": [{"function": "republish", "args": {"topic": "seq_out", "payload": "${n}", "qos": 1}}],
    }
    assert admin.post(RULES, json=rule).status_code == 201
    watcher = clients("t1/admin", ADMIN_PASSWORD)
    assert watcher.subscribe("seq_out") == 1
    engine = server.platform.services.rule_engine
    engine.max_queue = 0  # the queue is full: every input is dropped (as in a flood that outruns the worker)
    try:
        for n in range(5):
            assert watcher.publish("seq/a", json.dumps({"n": n})) in (0, 16)
        found = metrics(admin, "seq", matched=5, failed__dropped=5)["metrics"]
        assert found["failed"] == 5 and found["passed"] == 0 and found["actions.total"] == 0
        text = admin.get("/api/v5/prometheus/stats").text
        assert 'tether_rule_total{metric="failed.dropped",rule="seq",tenant="t1"} 5.0' in text
        assert "tether_rule_engine_dropped_total" in text
    finally:
        engine.max_queue = 100_000
    assert watcher.none_within(0.2, "seq_out")
    for n in range(200):
        assert watcher.publish("seq/a", json.dumps({"n": n}), qos=0) == 0
    assert [int(watcher.get("seq_out").payload) for _ in range(200)] == list(range(200))
    metrics(admin, "seq", matched=205, passed=200)


def test_foreach_republishes_each_element(admin: httpx.Client, clients: Callable[..., Device]) -> None:
    rule = {
        "sql": 'FOREACH payload.sensors AS s DO s.name AS name, s.v AS v INCASE s.v > 1 FROM "batch"',
        "actions": [{"function": "republish", "args": {"topic": "each/${name}", "payload": "${v}"}}],
    }
    assert admin.post(RULES, json=rule).status_code == 201
    watcher = clients("t1/admin", ADMIN_PASSWORD)
    assert watcher.subscribe("each/#") == 1
    payload = {"sensors": [{"name": "a", "v": 1}, {"name": "b", "v": 2}, {"name": "c", "v": 3}]}
    assert watcher.publish("batch", json.dumps(payload)) in (0, 16)
    got = [watcher.get(), watcher.get()]
    assert [(m.topic, m.payload) for m in got] == [("each/b", b"2"), ("each/c", b"3")]
    assert watcher.none_within(0.3)


def test_measurements_of_every_protocol_reach_one_rule(
    server: ServerThread, admin: httpx.Client, clients: Callable[..., Device]
) -> None:
    """A SmartREST measurement and a REST one are the same `$events/tether/measurement_created`."""
    rule = {
        "id": "temps",
        "sql": (
            "SELECT c8y_Temperature.T.value AS value, source.id AS device "
            "FROM \"$events/tether/measurement_created\" WHERE type = 'c8y_Temperature'"
        ),
        "actions": [{"function": "republish", "args": {"topic": "temps/${device}", "payload": "${value}"}}],
    }
    assert admin.post(RULES, json=rule).status_code == 201
    watcher = clients("t1/admin", ADMIN_PASSWORD)
    assert watcher.subscribe("temps/#") == 1

    serial, login, password = device_user(server)
    device = clients(login, password, V5, client_id=serial)
    assert device.publish("s/us", "200,c8y_Temperature,T,21.5,C") == 0  # SmartREST 200: a measurement
    from_smartrest = watcher.get()
    assert from_smartrest.payload == b"21.5"
    device_id = from_smartrest.topic.removeprefix("temps/")

    measurement = {
        "source": {"id": device_id},
        "type": "c8y_Temperature",
        "time": "2026-01-01T00:00:00.000Z",
        "c8y_Temperature": {"T": {"value": 33.5, "unit": "C"}},
    }
    created = admin.post("/measurement/measurements", json=measurement)
    assert created.status_code == 201, created.text
    from_rest = watcher.get()
    assert (from_rest.topic, from_rest.payload) == (f"temps/{device_id}", b"33.5")
    # Another type does not pass the WHERE.
    other = {**measurement, "type": "c8y_Other"}
    assert admin.post("/measurement/measurements", json=other).status_code == 201
    metrics(admin, "temps", matched=3, passed=2)
    assert watcher.none_within(0.3)


def test_client_events_enter_through_emit(
    server: ServerThread, admin: httpx.Client, clients: Callable[..., Device]
) -> None:
    """The seam for the broker's connection facts: RuleEngine.emit(tenant, `$events/...`, EMQX's columns)."""
    rule = {
        "id": "offline",
        "sql": "SELECT clientid, reason, event FROM \"$events/client_disconnected\" WHERE reason = 'kicked'",
        "actions": [
            {"function": "republish", "args": {"topic": "offline/${clientid}", "payload": "${event}"}}
        ],
    }
    assert admin.post(RULES, json=rule).status_code == 201
    watcher = clients("t1/admin", ADMIN_PASSWORD)
    assert watcher.subscribe("offline/#") == 1
    engine = server.platform.services.rule_engine
    assert server.loop is not None
    columns = {"clientid": "dev-1", "reason": "kicked", "username": None}
    server.loop.call_soon_threadsafe(engine.emit, "t1", "$events/client_disconnected", columns)
    server.loop.call_soon_threadsafe(engine.emit, "t2", "$events/client_disconnected", columns)
    message = watcher.get("offline/dev-1")
    assert message.payload == b"client.disconnected"
    metrics(admin, "offline", matched=1, passed=1)


def test_a_xyte_telemetry_is_a_measurement_too(
    server: ServerThread, admin: httpx.Client, clients: Callable[..., Device]
) -> None:
    """Xyte telemetry (HTTPS here) reaches the rule a SmartREST or REST measurement reaches."""
    rule = {
        "id": "any-measurement",
        "sql": (
            "SELECT type, source.id AS device, xyte_Telemetry.temp.value AS temp "
            'FROM "$events/tether/measurement_created"'
        ),
        "actions": [{"function": "republish", "args": {"topic": "measured/${type}", "payload": "${temp}"}}],
    }
    assert admin.post(RULES, json=rule).status_code == 201
    watcher = clients("t1/admin", ADMIN_PASSWORD)
    assert watcher.subscribe("measured/#") == 1
    device = register(server.url, create_model(admin))
    telemetry = {"status": "online", "telemetries": {"temp": 42}}
    assert device_call(server.url, "POST", device, "/telemetry", json=telemetry).status_code == 200
    message = watcher.get("measured/xyte_Telemetry")
    assert message.payload == b"42"
    metrics(admin, "any-measurement", matched=1, passed=1, actions__success=1)


@protocols
def test_online_offline_history(
    server: ServerThread, admin: httpx.Client, clients: Callable[..., Device], protocol: int
) -> None:
    """EMQX's online/offline recipe, `SELECT * FROM "$events/client_connected",
    "$events/client_disconnected"`, fed by the presence service's connection facts (their one source)."""
    rule = {
        "id": "history",
        "sql": 'SELECT * FROM "$events/client_connected", "$events/client_disconnected"',
        "actions": [
            {
                "function": "republish",
                "args": {"topic": "history/${clientid}", "payload": "${event} ${reason} ${proto_ver}"},
            }
        ],
    }
    assert admin.post(RULES, json=rule).status_code == 201
    watcher = clients("t1/admin", ADMIN_PASSWORD)
    assert watcher.subscribe("history/#") == 1
    serial, login, password = device_user(server)
    device = Device(ServerMqtt(server).port, serial, protocol, username=login, password=password)
    assert device.connect() == 0
    connected = watcher.get(f"history/{serial}")
    assert connected.payload == f"client.connected undefined {protocol}".encode()
    device.close()
    disconnected = watcher.get(f"history/{serial}")
    assert disconnected.payload == f"client.disconnected normal {protocol}".encode()
    # The watcher's own connection was the first.
    metrics(admin, "history", matched=3, passed=3, actions__success=3)
