"""/api/v5/connectors and /api/v5/actions (EMQX 5 shapes) on both backends: create, read, update, delete;
secrets never shown; status in words; dependencies (an action's connector, a rule's action); checks of bad
input as 400; tenants apart; probes. Sinks at work: test_sinks.py."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from tests.management.conftest import two_tenant_server
from tests.management.sink_servers import Redis, Webhook
from tests.management.sinks_support import ACTIONS, CONNECTORS, RULES, admin, clean
from tests.support import ADMIN_PASSWORD, ServerThread, backends

__all__ = ["admin"]


@pytest.fixture(scope="module", params=backends())
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServerThread]:
    yield from two_tenant_server(request.param, tmp_path_factory.mktemp("tether"))


@pytest.fixture
def admin2(server: ServerThread) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, auth=("t2/admin", ADMIN_PASSWORD), timeout=60) as client:
        yield client
        clean(client)


def test_connector_crud_and_secrets(admin: httpx.Client, redis_server: Redis) -> None:
    body = {
        "type": "redis",
        "name": "cache",
        "server": f"127.0.0.1:{redis_server.port}",
        "password": "",
        "description": "the cache",
    }
    created = admin.post(CONNECTORS, json=body)
    assert created.status_code == 201, created.text
    connector = created.json()
    assert connector["type"] == "redis" and connector["name"] == "cache" and connector["enable"] is True
    assert connector["status"] == "connected" and connector["status_reason"] == ""
    assert connector["node_status"][0]["status"] == "connected"
    assert connector["database"] == 0 and connector["redis_type"] == "single"  # EMQX's defaults
    assert admin.get(f"{CONNECTORS}/redis:cache").json()["name"] == "cache"
    assert [c["name"] for c in admin.get(CONNECTORS).json()] == ["cache"]
    assert admin.post(CONNECTORS, json=body).status_code == 400  # the name is taken

    # A secret is never shown; sent back as ****** it is kept, sent as text it is replaced.
    secret = {
        "type": "pgsql",
        "name": "db",
        "server": "127.0.0.1:9",
        "database": "d",
        "username": "u",
        "password": "s3cret",
    }
    shown = admin.post(CONNECTORS, json=secret).json()
    assert shown["password"] == "******" and "s3cret" not in str(admin.get(CONNECTORS).json())
    assert shown["status"] == "disconnected" and shown["status_reason"]  # nothing listens on port 9
    kept = admin.put(f"{CONNECTORS}/pgsql:db", json={**shown, "username": "v"})
    assert kept.status_code == 200 and kept.json()["username"] == "v" and kept.json()["password"] == "******"
    assert "s3cret" not in kept.text

    # Disabled: stays, and says so.
    off = admin.put(f"{CONNECTORS}/redis:cache", json={"server": body["server"], "enable": False}).json()
    assert off["enable"] is False and off["status"] == "disconnected"
    started = admin.post(f"{CONNECTORS}/redis:cache/start")
    assert started.status_code == 400
    on = admin.put(f"{CONNECTORS}/redis:cache", json={"server": body["server"], "enable": True}).json()
    assert on["status"] == "connected"
    assert admin.post(f"{CONNECTORS}/redis:cache/start").status_code == 204
    down = admin.post(f"{CONNECTORS}/pgsql:db/start")
    assert down.status_code == 503 and down.json()["code"] == "SERVICE_UNAVAILABLE"

    assert admin.delete(f"{CONNECTORS}/pgsql:db").status_code == 204
    assert admin.get(f"{CONNECTORS}/pgsql:db").status_code == 404
    assert admin.delete(f"{CONNECTORS}/pgsql:db").json()["code"] == "NOT_FOUND"


def test_probe(admin: httpx.Client, redis_server: Redis) -> None:
    good = {"type": "redis", "name": "p", "server": f"127.0.0.1:{redis_server.port}"}
    assert admin.post("/api/v5/connectors_probe", json=good).status_code == 204
    bad = admin.post("/api/v5/connectors_probe", json={**good, "server": "127.0.0.1:9"})
    assert bad.status_code == 400 and bad.json()["code"] == "TEST_FAILED" and bad.json()["message"]
    assert admin.get(CONNECTORS).json() == []  # a probe saves nothing


def test_actions_and_their_dependencies(admin: httpx.Client) -> None:
    webhook = Webhook()
    webhook.start()
    try:
        assert (
            admin.post(CONNECTORS, json={"type": "http", "name": "hook", "url": webhook.url}).status_code
            == 201
        )
        action = {
            "type": "http",
            "name": "alert",
            "connector": "hook",
            "parameters": {"path": "/a/${clientid}", "method": "put", "body": "${payload}"},
            "resource_opts": {"batch_size": 10, "max_buffer_bytes": "1MB", "request_ttl": "1h"},
        }
        created = admin.post(ACTIONS, json=action)
        assert created.status_code == 201, created.text
        shown = created.json()
        assert shown["parameters"]["method"] == "put" and shown["parameters"]["max_retries"] == 2
        assert shown["resource_opts"]["batch_size"] == 10 and shown["status"] == "connected"
        assert admin.get(f"{ACTIONS}/http:alert").json()["rules"] == []
        assert admin.get("/api/v5/action_types").json() == ["http", "pgsql", "mysql", "redis", "mqtt"]

        rule = {"id": "r1", "sql": 'SELECT * FROM "t/#"', "actions": ["http:alert", {"function": "console"}]}
        made = admin.post(RULES, json=rule)
        assert made.status_code == 201 and made.json()["actions"][0] == "http:alert"
        assert admin.get(f"{ACTIONS}/http:alert").json()["rules"] == ["r1"]
        refused = admin.delete(f"{ACTIONS}/http:alert")
        assert refused.status_code == 400 and "r1" in refused.json()["message"]
        in_use = admin.delete(f"{CONNECTORS}/http:hook")
        assert in_use.status_code == 400 and "http:alert" in in_use.json()["message"]
        unknown = admin.post(RULES, json={"sql": 'SELECT * FROM "t"', "actions": ["http:nope"]})
        assert unknown.status_code == 400 and "http:nope" in unknown.json()["message"]

        changed = admin.put(f"{ACTIONS}/http:alert", json={"parameters": {"path": "/b"}, "enable": False})
        assert changed.status_code == 200 and changed.json()["parameters"]["path"] == "/b"
        assert changed.json()["enable"] is False and changed.json()["status"] == "disconnected"
        metrics = admin.get(f"{ACTIONS}/http:alert/metrics").json()
        assert {"matched", "success", "failed", "dropped", "queuing", "inflight"} <= set(metrics["metrics"])
        assert admin.put(f"{ACTIONS}/http:alert/metrics/reset").status_code == 204

        assert admin.delete(f"{RULES}/r1").status_code == 204
        assert admin.delete(f"{ACTIONS}/http:alert").status_code == 204
        assert admin.get(f"{ACTIONS}/http:alert").status_code == 404
        assert admin.delete(f"{CONNECTORS}/http:hook").status_code == 204
    finally:
        webhook.stop()


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"type": "kafka", "name": "k", "server": "h:1"},
        {"type": "http", "name": "bad name", "url": "http://h"},
        {"type": "http", "name": "h"},
        {"type": "http", "name": "h", "url": "ftp://h"},
        {"type": "http", "name": "h", "url": "http://h", "headers": {"a": 1}},
        {"type": "http", "name": "h", "url": "http://h", "colour": "red"},
        {"type": "pgsql", "name": "p", "server": "h:99999", "database": "d"},
        {"type": "pgsql", "name": "p", "server": "h"},
        {"type": "redis", "name": "r", "server": "h", "redis_type": "cluster"},
        {"type": "mqtt", "name": "m", "server": "h", "proto_ver": "v9"},
        {"type": "mqtt", "name": "m", "server": "h", "ssl": {"enable": True, "verify": "maybe"}},
        {"type": "http", "name": "h", "url": "http://h", "connect_timeout": "soon"},
        {"type": "http", "name": "h", "url": "http://h", "enable": "yes"},
    ],
)
def test_invalid_connectors_are_400(admin: httpx.Client, body: dict[str, Any]) -> None:
    answer = admin.post(CONNECTORS, json=body)
    assert answer.status_code == 400, answer.text
    assert answer.json()["code"] == "BAD_REQUEST"


@pytest.mark.parametrize(
    "action",
    [
        {
            "type": "redis",
            "name": "a",
            "connector": "missing",
            "parameters": {"command_template": ["GET", "k"]},
        },
        {"type": "redis", "name": "a", "connector": "r", "parameters": {}},
        {"type": "redis", "name": "a", "connector": "r", "parameters": {"command_template": []}},
        {"type": "redis", "name": "a", "connector": "r", "parameters": {"command_template": ["SET", "${"]}},
        {
            "type": "redis",
            "name": "a",
            "connector": "r",
            "parameters": {"command_template": ["GET", "k"]},
            "resource_opts": {"batch_size": 0},
        },
        {
            "type": "redis",
            "name": "a",
            "connector": "r",
            "parameters": {"command_template": ["GET", "k"]},
            "resource_opts": {"max_buffer_bytes": "lots"},
        },
        {
            "type": "redis",
            "name": "a",
            "connector": "r",
            "parameters": {"command_template": ["GET", "k"], "x": 1},
        },
        {"type": "pgsql", "name": "a", "connector": "r", "parameters": {"sql": "SELECT 1"}},
    ],
)
def test_invalid_actions_are_400(admin: httpx.Client, action: dict[str, Any]) -> None:
    assert (
        admin.post(CONNECTORS, json={"type": "redis", "name": "r", "server": "127.0.0.1:9"}).status_code
        == 201
    )
    answer = admin.post(ACTIONS, json=action)
    assert answer.status_code == 400, answer.text
    assert answer.json()["code"] == "BAD_REQUEST"


def test_sql_placeholder_inside_a_literal_is_400(admin: httpx.Client) -> None:
    assert (
        admin.post(
            CONNECTORS, json={"type": "pgsql", "name": "p", "server": "127.0.0.1:9", "database": "d"}
        ).status_code
        == 201
    )
    action = {
        "type": "pgsql",
        "name": "a",
        "connector": "p",
        "parameters": {"sql": "INSERT INTO t(v) VALUES ('id-${clientid}')"},
    }
    answer = admin.post(ACTIONS, json=action)
    assert answer.status_code == 400 and "string literal" in answer.json()["message"]


def test_tenants_do_not_see_each_others_sinks(admin: httpx.Client, admin2: httpx.Client) -> None:
    assert (
        admin.post(CONNECTORS, json={"type": "redis", "name": "r", "server": "127.0.0.1:9"}).status_code
        == 201
    )
    assert admin2.get(CONNECTORS).json() == []
    assert admin2.get(f"{CONNECTORS}/redis:r").status_code == 404
    assert admin2.delete(f"{CONNECTORS}/redis:r").status_code == 404
    # The same name in another tenant is another connector.
    assert (
        admin2.post(CONNECTORS, json={"type": "redis", "name": "r", "server": "127.0.0.1:8"}).status_code
        == 201
    )
    assert admin.get(f"{CONNECTORS}/redis:r").json()["server"] == "127.0.0.1:9"
    action = {
        "type": "redis",
        "name": "a",
        "connector": "r",
        "parameters": {"command_template": ["GET", "k"]},
    }
    assert admin.post(ACTIONS, json=action).status_code == 201
    rule = admin2.post(RULES, json={"sql": 'SELECT * FROM "t"', "actions": ["redis:a"]})
    assert rule.status_code == 400  # t2 has no such action


def test_non_administrators_are_refused(server: ServerThread) -> None:
    with httpx.Client(base_url=server.url, timeout=30) as anonymous:
        assert anonymous.get(CONNECTORS).status_code == 401
        assert anonymous.get(ACTIONS).status_code == 401
