"""The rule engine's sinks against real servers the tests start (sink_servers.py): a webhook receiver,
PostgreSQL (the server of TETHER_TEST_DATABASE_URL, a database of its own), MariaDB, Redis and mosquitto.
Each is fed by MQTT messages from paho-mqtt and by a platform event (a REST measurement) and checked by
reading the server. A sink that is down holds its outputs and delivers them when it is back, while the
broker and other rules go on."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import asyncpg
import httpx
import pymysql
import pytest
import redis
from tests.management.conftest import two_tenant_server
from tests.management.sink_servers import MariaDb, Mosquitto, Redis, Webhook, postgres_database
from tests.management.sinks_support import (
    ACTIONS,
    CONNECTORS,
    MEASUREMENT_SQL,
    RULES,
    action_metrics,
    admin,
    clients,
    new_device,
    post_measurement,
    sink,
    wait_for,
)
from tests.mqtt_device import V5, Device, unique
from tests.support import ServerThread, backends

__all__ = ["admin", "clients"]


@pytest.fixture(scope="module", params=backends())
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServerThread]:
    yield from two_tenant_server(request.param, tmp_path_factory.mktemp("tether"))


@pytest.fixture(scope="module")
def webhook_server() -> Iterator[Webhook]:
    receiver = Webhook()
    receiver.start()
    yield receiver
    receiver.stop()


@pytest.fixture
def webhook(webhook_server: Webhook) -> Webhook:
    """The module's receiver with nothing recorded yet (the module runs once per backend)."""
    with webhook_server.lock:
        webhook_server.requests.clear()
        webhook_server.statuses.clear()
    return webhook_server


@pytest.fixture(scope="module")
def pg_sink() -> Iterator[dict[str, Any]]:
    """A database of its own on the PostgreSQL server of the tests, for the PostgreSQL sink."""
    with postgres_database("tether_sink_") as (name, admin_url):
        parts = urlsplit(admin_url)
        url = admin_url.rsplit("/", 1)[0] + "/" + name

        async def run(sql: str) -> None:
            conn = await asyncpg.connect(url)
            try:
                await conn.execute(sql)
            finally:
                await conn.close()

        yield {
            "server": f"{parts.hostname}:{parts.port or 5432}",
            "database": name,
            "username": parts.username,
            "password": parts.password,
            "url": url,
            "run": lambda sql: asyncio.run(run(sql)),
        }


def pg_rows(url: str, sql: str) -> list[tuple[Any, ...]]:
    async def fetch() -> list[tuple[Any, ...]]:
        conn = await asyncpg.connect(url)
        try:
            return [tuple(r) for r in await conn.fetch(sql)]
        finally:
            await conn.close()

    return asyncio.run(fetch())


def publish(device: Device, topic: str, payload: str, qos: int = 1) -> None:
    """Accepted: 0, or 16 (MQTT 5 No matching subscribers: rules are no subscribers)."""
    assert device.publish(topic, payload, qos=qos) in (0, 16)


# ------------------------------------------------------------------------------------------- webhook


def test_webhook_from_messages_and_a_measurement(
    admin: httpx.Client, clients: Callable[..., Device], webhook: Webhook
) -> None:
    action_id = sink(
        admin,
        "http",
        "hook",
        {"url": webhook.url, "headers": {"x-from": "tether"}},
        {
            "path": "/msg/${clientid}",
            "method": "post",
            "headers": {"x-topic": "${topic}"},
            "body": '{"temp": ${temp}, "client": "${clientid}"}',
        },
        'SELECT payload.temp AS temp, clientid, topic FROM "sensors/#"',
    )
    measured = {"type": "http", "name": "measured", "connector": "hook", "parameters": {"path": "/measured"}}
    assert admin.post(ACTIONS, json=measured).status_code == 201
    rule = {"id": "measured", "sql": MEASUREMENT_SQL, "actions": ["http:measured"]}
    assert admin.post(RULES, json=rule).status_code == 201
    device = clients(client_id="hooked")
    for i in range(5):
        publish(device, f"sensors/{i}", json.dumps({"temp": 20 + i}))
    device_id = new_device(admin)
    post_measurement(admin, device_id, 33.5)

    wait_for(lambda: len(webhook.bodies("/msg/hooked")) == 5, "five webhook requests")
    assert webhook.bodies("/msg/hooked") == [{"temp": 20 + i, "client": "hooked"} for i in range(5)]
    first = next(r for r in webhook.requests if r["path"] == "/msg/hooked")
    assert first["headers"]["x-from"] == "tether" and first["headers"]["x-topic"] == "sensors/0"
    # The measurement: an empty body template is the whole output as JSON.
    found = wait_for(lambda: webhook.bodies("/measured"), "the measurement's request")
    assert found == [{"value": 33.5, "device": device_id, "type": "c8y_Temperature"}]
    metrics = wait_for(lambda: (m := action_metrics(admin, action_id))["success"] == 5 and m, "metrics")
    assert metrics["failed"] == 0 and metrics["queuing"] == 0 and metrics["matched"] == 5
    connector = admin.get(f"{CONNECTORS}/http:hook").json()
    assert connector["status"] == "connected" and connector["actions"] == ["hook", "measured"]


def test_offline_webhook(admin: httpx.Client, clients: Callable[..., Device], webhook: Webhook) -> None:
    """The seed's recipe: a client going offline is posted to a local HTTP server."""
    sink(
        admin,
        "http",
        "offline",
        {"url": webhook.url},
        {"path": "/offline", "body": '{"clientid": "${clientid}", "reason": "${reason}"}'},
        'SELECT clientid, reason FROM "$events/client_disconnected"',
    )
    client_id = unique("goes")
    clients(client_id=client_id).close()
    found = wait_for(
        lambda: [b for b in webhook.bodies("/offline") if b["clientid"] == client_id], "the offline request"
    )
    assert found == [{"clientid": client_id, "reason": "normal"}]


def test_webhook_5xx_is_retried(
    admin: httpx.Client, clients: Callable[..., Device], webhook: Webhook
) -> None:
    action_id = sink(
        admin,
        "http",
        "flaky",
        {"url": webhook.url},
        {"path": "/flaky", "body": "${payload}", "max_retries": 3},
        'SELECT payload FROM "flaky"',
    )
    webhook.statuses[:] = [503, 500]
    publish(clients(), "flaky", '{"n": 1}')
    wait_for(lambda: webhook.bodies("/flaky") == [{"n": 1}], "the request after two 5xx answers")
    assert [r["status"] for r in webhook.requests if r["path"] == "/flaky"] == [503, 500, 200]
    wait_for(lambda: action_metrics(admin, action_id)["success"] == 1, "success counted once")


def test_webhook_down_holds_outputs_until_it_is_back(
    admin: httpx.Client, clients: Callable[..., Device], webhook: Webhook
) -> None:
    """While the receiver is stopped, outputs wait (queuing), the connector says why it is disconnected, and
    another rule (republish) goes on; once it is back every output arrives, in order."""
    action_id = sink(
        admin,
        "http",
        "later",
        {"url": webhook.url},
        {"path": "/later", "body": "${payload}"},
        'SELECT payload FROM "later/#"',
    )
    republish = {"function": "republish", "args": {"topic": "echo/${topic}", "payload": "${payload}"}}
    assert (
        admin.post(
            RULES, json={"id": "echo", "sql": 'SELECT * FROM "later/#"', "actions": [republish]}
        ).status_code
        == 201
    )
    watcher = clients()
    assert watcher.subscribe("echo/#") == 1
    publisher = clients()
    webhook.stop()
    try:
        for i in range(20):
            publish(publisher, "later/x", json.dumps({"n": i}))
        for _ in range(20):  # the broker and the other rule are not held up
            assert watcher.get().topic == "echo/later/x"
        wait_for(lambda: action_metrics(admin, action_id)["queuing"] >= 19, "outputs queuing")
        down = wait_for(
            lambda: (c := admin.get(f"{CONNECTORS}/http:later").json())["status"] == "disconnected" and c,
            "the connector disconnected",
        )
        assert down["status_reason"]  # the reason in words (connection refused)
        assert admin.get(f"{ACTIONS}/http:later").json()["status"] == "disconnected"
    finally:
        webhook.start()
    wait_for(lambda: len(webhook.bodies("/later")) == 20, "all twenty requests after the restart")
    assert webhook.bodies("/later") == [{"n": i} for i in range(20)]
    metrics = wait_for(lambda: (m := action_metrics(admin, action_id))["success"] == 20 and m, "metrics")
    assert metrics["queuing"] == 0 and metrics["dropped"] == 0 and metrics["retried"] > 0
    wait_for(lambda: admin.get(f"{CONNECTORS}/http:later").json()["status"] == "connected", "connected again")


def test_a_buffer_spills_to_the_data_dir(
    server: ServerThread, admin: httpx.Client, clients: Callable[..., Device], webhook: Webhook
) -> None:
    """EMQX's buffer_mode volatile_offload: beyond buffer_seg_bytes in memory, outputs wait in a file of the
    data directory, and come back from it in order."""
    action_id = sink(
        admin,
        "http",
        "spill",
        {"url": webhook.url},
        {"path": "/spill", "body": "${payload}"},
        'SELECT payload FROM "spill"',
        buffer_mode="volatile_offload",
        buffer_seg_bytes="1KB",
        batch_size=7,
    )
    spill_file = server.server.settings.data_dir / "sinks" / "t1" / "http_spill.buf"
    device = clients()
    webhook.stop()
    try:
        for i in range(60):
            publish(device, "spill", json.dumps({"n": i, "pad": "p" * 80}))
        wait_for(lambda: action_metrics(admin, action_id)["matched"] == 60, "sixty matched")
        assert spill_file.stat().st_size > 0
    finally:
        webhook.start()
    wait_for(lambda: len(webhook.bodies("/spill")) == 60, "sixty requests from memory and file")
    assert [b["n"] for b in webhook.bodies("/spill")] == list(range(60))
    wait_for(lambda: not spill_file.exists(), "the file removed once read back")
    assert action_metrics(admin, action_id)["dropped"] == 0


def test_a_full_buffer_drops_and_counts(
    admin: httpx.Client, clients: Callable[..., Device], webhook: Webhook
) -> None:
    action_id = sink(
        admin,
        "http",
        "small",
        {"url": "http://127.0.0.1:9"},
        {"path": "/x"},
        'SELECT payload FROM "small"',
        max_buffer_bytes="1KB",
    )
    device = clients()
    for _ in range(30):
        publish(device, "small", "x" * 100)
    metrics = wait_for(
        lambda: (m := action_metrics(admin, action_id))["matched"] == 30 and m, "thirty matched"
    )
    assert (
        metrics["dropped.queue_full"] > 0
        and metrics["queuing"] + metrics["dropped"] + metrics["inflight"] >= 30
    )
    rule = admin.get(f"{RULES}/to_small/metrics").json()["metrics"]
    assert rule["actions.failed.out_of_service"] == metrics["dropped.queue_full"]


# ------------------------------------------------------------------------------------------- PostgreSQL

CLIENT_EVENTS_TABLE = (
    "CREATE TABLE emqx_client_events(id SERIAL PRIMARY KEY, clientid VARCHAR(255), event VARCHAR(255), "
    "created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP)"
)
CLIENT_EVENTS_INSERT = (
    "INSERT INTO emqx_client_events(clientid, event, created_at) "
    "VALUES (${clientid}, ${event}, TO_TIMESTAMP((${timestamp} :: bigint)/1000))"
)


def test_postgresql_online_offline_history(
    admin: httpx.Client, clients: Callable[..., Device], pg_sink: dict[str, Any]
) -> None:
    """The EMQX docs' recipe verbatim: the table, the rule and the INSERT template."""
    pg_sink["run"]("DROP TABLE IF EXISTS emqx_client_events; " + CLIENT_EVENTS_TABLE)
    config = {k: pg_sink[k] for k in ("server", "database", "username", "password")}
    sink(
        admin,
        "pgsql",
        "history",
        config,
        {"sql": CLIENT_EVENTS_INSERT},
        'SELECT * FROM "$events/client_connected", "$events/client_disconnected"',
    )
    client_id = unique("online")
    clients(client_id=client_id).close()
    wait_for(
        lambda: (
            len(pg_rows(pg_sink["url"], f"SELECT 1 FROM emqx_client_events WHERE clientid = '{client_id}'"))
            == 2
        ),
        "two rows",
    )
    rows = pg_rows(
        pg_sink["url"],
        f"SELECT event, created_at FROM emqx_client_events WHERE clientid = '{client_id}' ORDER BY id",
    )
    assert [r[0] for r in rows] == ["client.connected", "client.disconnected"]
    assert rows[0][1].year >= 2026


def test_postgresql_messages_batched_and_a_measurement(
    admin: httpx.Client, clients: Callable[..., Device], pg_sink: dict[str, Any]
) -> None:
    pg_sink["run"](
        "DROP TABLE IF EXISTS readings; CREATE TABLE readings(id SERIAL PRIMARY KEY, clientid TEXT, "
        "temp DOUBLE PRECISION, note TEXT, doc JSONB)"
    )
    config = {k: pg_sink[k] for k in ("server", "database", "username", "password")}
    action_id = sink(
        admin,
        "pgsql",
        "readings",
        config,
        {
            "sql": "INSERT INTO readings(clientid, temp, note, doc) "
            "VALUES (${clientid}, ${temp}, '${note}', ${doc})"
        },
        'SELECT clientid, payload.temp AS temp, payload.note AS note, payload AS doc FROM "r/#"',
        batch_size=50,
    )
    sql = (
        "SELECT 'rest' AS clientid, c8y_Temperature.T.value AS temp, type AS note, payload AS doc "
        'FROM "$events/tether/measurement_created"'
    )
    measured = {"id": "m", "sql": sql, "actions": [action_id]}
    assert admin.post(RULES, json=measured).status_code == 201
    device = clients(client_id="pg_writer")
    hostile = "'); DROP TABLE readings; --"
    for i in range(200):
        assert (
            device.publish("r/a", json.dumps({"temp": i / 2, "note": hostile if i == 7 else f"n{i}"}), qos=0)
            == 0
        )
    post_measurement(admin, new_device(admin), 41.25)
    wait_for(lambda: pg_rows(pg_sink["url"], "SELECT count(*) FROM readings")[0][0] == 201, "201 rows")
    rows = pg_rows(pg_sink["url"], "SELECT clientid, temp, note, doc FROM readings ORDER BY id")
    mqtt_rows = [r for r in rows if r[0] == "pg_writer"]
    assert [r[1] for r in mqtt_rows] == [i / 2 for i in range(200)]  # in order
    assert mqtt_rows[7][2] == hostile  # a parameter, never SQL
    assert json.loads(mqtt_rows[3][3]) == {"temp": 1.5, "note": "n3"}
    assert ("rest", 41.25, "c8y_Temperature") in [r[:3] for r in rows]
    metrics = wait_for(lambda: (m := action_metrics(admin, action_id))["success"] == 201 and m, "metrics")
    assert metrics["failed"] == 0


def test_postgresql_a_refused_row_fails_alone(
    admin: httpx.Client, clients: Callable[..., Device], pg_sink: dict[str, Any]
) -> None:
    pg_sink["run"]("DROP TABLE IF EXISTS strict_rows; CREATE TABLE strict_rows(n INTEGER NOT NULL)")
    config = {k: pg_sink[k] for k in ("server", "database", "username", "password")}
    action_id = sink(
        admin,
        "pgsql",
        "strict",
        config,
        {"sql": "INSERT INTO strict_rows(n) VALUES (${n})"},
        'SELECT payload.n AS n FROM "strict"',
    )
    device = clients()
    for payload in ('{"n": 1}', '{"n": "two"}', "{}", '{"n": 4}'):
        publish(device, "strict", payload)
    metrics = wait_for(
        lambda: (m := action_metrics(admin, action_id))["success"] + m["failed"] == 4 and m, "four"
    )
    assert metrics["failed"] == 2
    assert pg_rows(pg_sink["url"], "SELECT n FROM strict_rows ORDER BY n") == [(1,), (4,)]


# ------------------------------------------------------------------------------------------- MariaDB


def test_mysql_messages_and_a_measurement(
    admin: httpx.Client, clients: Callable[..., Device], mariadb: MariaDb
) -> None:
    mariadb.sql(
        "DROP TABLE IF EXISTS msgs; CREATE TABLE msgs(id INT AUTO_INCREMENT PRIMARY KEY, "
        "clientid VARCHAR(255), topic VARCHAR(255), payload TEXT, pct VARCHAR(20))"
    )
    config = {
        "server": f"127.0.0.1:{mariadb.port}",
        "database": mariadb.database,
        "username": mariadb.user,
        "password": mariadb.password,
    }
    action_id = sink(
        admin,
        "mysql",
        "msgs",
        config,
        {
            "sql": "INSERT INTO msgs(clientid, topic, payload, pct) "
            "VALUES (${clientid}, ${topic}, ${payload}, '100%')"
        },
        'SELECT clientid, topic, payload FROM "m/#"',
    )
    sql = (
        "SELECT 'rest' AS clientid, type AS topic, c8y_Temperature.T.value AS payload "
        'FROM "$events/tether/measurement_created"'
    )
    measured = {"id": "m", "actions": [action_id], "sql": sql}
    assert admin.post(RULES, json=measured).status_code == 201
    device = clients(client_id="maria")
    hostile = "x'); DROP TABLE msgs; -- \\"
    for i in range(50):
        publish(device, f"m/{i}", hostile if i == 3 else f"p{i}")
    post_measurement(admin, new_device(admin), 12.5)
    connect = {
        "host": "127.0.0.1",
        "port": mariadb.port,
        "user": mariadb.user,
        "password": mariadb.password,
        "database": mariadb.database,
        "autocommit": True,
    }

    def rows() -> list[tuple[Any, ...]]:
        with pymysql.connect(**connect) as conn, conn.cursor() as cursor:
            cursor.execute("SELECT clientid, topic, payload, pct FROM msgs ORDER BY id")
            return list(cursor.fetchall())

    wait_for(lambda: len(rows()) == 51, "51 rows")
    found = rows()
    maria = [r for r in found if r[0] == "maria"]
    assert [r[1] for r in maria] == [f"m/{i}" for i in range(50)]
    assert maria[3][2] == hostile and maria[0][3] == "100%"
    assert ("rest", "c8y_Temperature", "12.5") in [r[:3] for r in found]
    assert admin.get(f"{CONNECTORS}/mysql:msgs").json()["password"] == "******"
    wait_for(lambda: action_metrics(admin, action_id)["success"] == 51, "metrics")


# ------------------------------------------------------------------------------------------- Redis


def test_redis_commands_and_a_restart(
    admin: httpx.Client, clients: Callable[..., Device], redis_server: Redis
) -> None:
    action_id = sink(
        admin,
        "redis",
        "cache",
        {"server": f"127.0.0.1:{redis_server.port}"},
        {"command_template": ["RPUSH", "msgs:${clientid}", "${payload}"]},
        'SELECT * FROM "rd/#"',
    )
    last = {
        "type": "redis",
        "name": "last",
        "connector": "cache",
        "parameters": {"command_template": ["SET", "last:${device}", "${value}"]},
    }
    assert admin.post(ACTIONS, json=last).status_code == 201
    assert (
        admin.post(RULES, json={"id": "m", "sql": MEASUREMENT_SQL, "actions": ["redis:last"]}).status_code
        == 201
    )
    store = redis.Redis(port=redis_server.port)
    store.flushall()  # the module runs once per backend
    device = clients(client_id="rd")
    for i in range(10):
        publish(device, "rd/x", f"v{i}")
    device_id = new_device(admin)
    post_measurement(admin, device_id, 7.5)
    wait_for(lambda: store.llen("msgs:rd") == 10, "ten list items")
    assert store.lrange("msgs:rd", 0, -1) == [f"v{i}".encode() for i in range(10)]
    assert wait_for(lambda: store.get(f"last:{device_id}"), "the measurement") == b"7.5"

    # Down: outputs wait; back (an empty server: --save ''): all of them arrive.
    store.close()
    redis_server.stop()
    try:
        for i in range(10, 25):
            publish(device, "rd/x", f"v{i}")
        wait_for(lambda: action_metrics(admin, action_id)["queuing"] >= 14, "queuing while redis is down")
        wait_for(
            lambda: admin.get(f"{CONNECTORS}/redis:cache").json()["status"] == "disconnected", "disconnected"
        )
    finally:
        redis_server.start()
    store = redis.Redis(port=redis_server.port)
    wait_for(lambda: store.llen("msgs:rd") == 15, "fifteen items after the restart")
    assert store.lrange("msgs:rd", 0, -1) == [f"v{i}".encode() for i in range(10, 25)]
    assert action_metrics(admin, action_id)["dropped"] == 0
    store.close()


# ------------------------------------------------------------------------------------------- MQTT bridge


def test_mqtt_bridge_to_mosquitto(
    admin: httpx.Client, clients: Callable[..., Device], mosquitto: Mosquitto, tmp_path: Path
) -> None:
    remote = Device(mosquitto.port, unique("remote"), V5)
    assert remote.connect() == 0
    try:
        assert remote.subscribe("bridged/#") == 1
        action_id = sink(
            admin,
            "mqtt",
            "bridge",
            {"server": f"127.0.0.1:{mosquitto.port}", "proto_ver": "v5"},
            {"remote": {"topic": "bridged/${clientid}/${topic}", "qos": 1, "payload": "${payload}"}},
            'SELECT * FROM "up/#"',
        )
        measured = {
            "type": "mqtt",
            "name": "measured",
            "connector": "bridge",
            "parameters": {"remote": {"topic": "bridged/measurements/${device}", "qos": 0}},
        }
        assert admin.post(ACTIONS, json=measured).status_code == 201
        assert (
            admin.post(
                RULES, json={"id": "m", "sql": MEASUREMENT_SQL, "actions": ["mqtt:measured"]}
            ).status_code
            == 201
        )
        device = clients(client_id="up1")
        for i in range(5):
            publish(device, "up/t", f"hello {i}")
        got = [remote.get() for _ in range(5)]
        assert [(m.topic, m.payload) for m in got] == [
            ("bridged/up1/up/t", f"hello {i}".encode()) for i in range(5)
        ]
        device_id = new_device(admin)
        post_measurement(admin, device_id, 9.0)
        message = remote.get()
        assert message.topic == f"bridged/measurements/{device_id}"
        assert json.loads(message.payload) == {"value": 9.0, "device": device_id, "type": "c8y_Temperature"}
        wait_for(lambda: action_metrics(admin, action_id)["success"] == 5, "five published")
        assert admin.get(f"{CONNECTORS}/mqtt:bridge").json()["status"] == "connected"
    finally:
        remote.close()
