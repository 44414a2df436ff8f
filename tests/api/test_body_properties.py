"""No body gets a 5xx on /v1 and /api/v5 (docs/security.md, HTTP input limits): hypothesis builds bodies with
the fields each endpoint reads, each holding any JSON value (huge integers, deep nesting, NUL and other odd
text, wrong types), and every answer must be below 500, on both storage backends."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.support import ADMIN_PASSWORD, ServerThread

SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=40)
    | st.sampled_from(["", "\x00", "mqtt", "http", "allow", "deny", "publish", "all", "#", "a/+/b", "9" * 30])
)
JSON = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=10), inner, max_size=3),
)


def body(*keys: str) -> st.SearchStrategy[Any]:
    """An object with any subset of `keys` (each any JSON value), sometimes not an object at all."""
    fields = st.fixed_dictionaries({}, optional={key: JSON for key in keys})
    return st.one_of(fields, fields, fields, JSON)


RULE = body("topic", "permission", "action", "qos", "retain")
RULES = st.one_of(st.lists(RULE, max_size=3), JSON)
USERS = "/api/v5/authentication/password_based:built_in_database/users"
AUTHZ = "/api/v5/authorization/sources/built_in_database/rules"
SETTINGS = settings(max_examples=60, deadline=None, database=None, suppress_health_check=list(HealthCheck))


@pytest.fixture(scope="module")
def client(server: ServerThread) -> Any:
    with httpx.Client(base_url=server.url, auth=("t1/admin", ADMIN_PASSWORD), timeout=30) as admin:
        yield admin


def no_server_error(response: httpx.Response) -> None:
    assert response.status_code < 500, f"{response.request.method} {response.request.url}: {response.text}"


def test_v1_model_bodies(client: httpx.Client) -> None:
    model = client.post("/v1/models", json={"name": "props-model", "communication_protocol": "mqtt"}).json()

    @SETTINGS
    @given(create=body("name", "communication_protocol"), update=body("name", "communication_protocol"))
    def run(create: Any, update: Any) -> None:
        no_server_error(client.post("/v1/models", json=create))
        no_server_error(client.put(f"/v1/models/{model['id']}", json=update))

    run()


def test_v1_device_bodies(client: httpx.Client) -> None:
    model = client.post("/v1/models", json={"name": "props-devices", "communication_protocol": "mqtt"}).json()
    device = client.post(
        "/v1/devices",
        json={
            "hardware_key": model["hardware_key"],
            "sn": "props-1",
            "mac": "00:00:00:00:00:01",
            "firmware_version": "1.0",
        },
    ).json()
    key = {"Authorization": device["access_key"]}
    fields = ("hardware_key", "sn", "mac", "firmware_version", "cloud_id", "parent_id", "name")

    @SETTINGS
    @given(
        register=body(*fields),
        hardware_key=st.booleans(),
        telemetry=body("status", "telemetries", "timestamp"),
        update=body("id", "status", "message"),
    )
    def run(register: Any, hardware_key: bool, telemetry: Any, update: Any) -> None:
        if hardware_key and isinstance(register, dict):
            register = {**register, "hardware_key": model["hardware_key"]}
        no_server_error(client.post("/v1/devices", json=register))
        no_server_error(client.post(f"/v1/devices/{device['id']}/telemetry", json=telemetry, headers=key))
        no_server_error(client.post(f"/v1/devices/{device['id']}/command", json=update, headers=key))

    run()


def test_api_v5_bodies(client: httpx.Client) -> None:
    @SETTINGS
    @given(
        user=body("user_id", "password", "is_superuser"),
        change=body("password", "is_superuser"),
        by_user=st.one_of(st.lists(body("username", "rules").map(lambda b: b), max_size=2), JSON),
        by_client=st.one_of(st.lists(body("clientid", "rules"), max_size=2), JSON),
        for_all=st.one_of(st.fixed_dictionaries({"rules": RULES}), JSON),
        key=body("name", "expired_at", "desc", "enable", "role"),
    )
    def run(user: Any, change: Any, by_user: Any, by_client: Any, for_all: Any, key: Any) -> None:
        no_server_error(client.post(USERS, json=user))
        no_server_error(client.put(f"{USERS}/props-user", json=change))
        no_server_error(client.post(f"{AUTHZ}/users", json=by_user))
        no_server_error(client.post(f"{AUTHZ}/clients", json=by_client))
        no_server_error(client.post(f"{AUTHZ}/all", json=for_all))
        no_server_error(client.post("/api/v5/api_key", json=key))
        no_server_error(client.put("/api/v5/api_key/props-key", json=key))

    client.post(USERS, json={"user_id": "props-user", "password": "props-pw"})
    client.post("/api/v5/api_key", json={"name": "props-key"})
    run()


def test_api_v5_rule_bodies(client: httpx.Client) -> None:
    sql = st.one_of(
        JSON,
        st.sampled_from(["SELECT * FROM 't/#'", 'SELECT payload.x AS x FROM "t/#" WHERE x > 1', "SELECT"]),
        st.text(max_size=60).map(lambda t: f"SELECT {t} FROM 't/#'"),
    )
    args = body("topic", "qos", "retain", "payload", "user_properties", "mqtt_properties", "direct_dispatch")
    action = st.one_of(
        st.fixed_dictionaries({"function": st.sampled_from(["republish", "console"]), "args": args}), JSON
    )
    fields = {"id": JSON, "name": JSON, "sql": sql, "actions": st.one_of(st.lists(action, max_size=2), JSON),
              "enable": JSON, "description": JSON, "metadata": JSON}  # fmt: skip
    rule = st.one_of(st.fixed_dictionaries({}, optional=fields), JSON)
    context = st.one_of(body("event_type", "topic", "payload", "clientid", "qos"), JSON)

    @SETTINGS
    @given(create=rule, change=rule, test_sql=sql, test_context=context)
    def run(create: Any, change: Any, test_sql: Any, test_context: Any) -> None:
        no_server_error(client.post("/api/v5/rules", json=create))
        no_server_error(client.put("/api/v5/rules/props-rule", json=change))
        no_server_error(client.post("/api/v5/rule_test", json={"sql": test_sql, "context": test_context}))
        no_server_error(client.post("/api/v5/rules/props-rule/test", json={"context": test_context}))

    client.post("/api/v5/rules", json={"id": "props-rule", "sql": "SELECT * FROM 't/#'"})
    run()
    for found in client.get("/api/v5/rules", params={"limit": 10000}).json()["data"]:
        client.delete(f"/api/v5/rules/{found['id']}")


def test_api_v5_connector_and_action_bodies(client: httpx.Client) -> None:
    """Connectors and actions: any field, any value. The servers named are unreachable loopback ports (9):
    a connector that is created answers with its status, disconnected."""
    kind = st.one_of(st.sampled_from(["http", "pgsql", "mysql", "redis", "mqtt", "kafka"]), JSON)
    config = ("url", "server", "database", "username", "password", "headers", "pool_size",
              "connect_timeout", "proto_ver", "ssl", "resource_opts", "enable", "description", "redis_type",
              "keepalive")  # fmt: skip
    connector = st.one_of(
        st.fixed_dictionaries(
            {"type": kind, "name": st.sampled_from(["props-c", "p2"])},
            optional={
                **{name: JSON for name in config},
                "url": st.sampled_from(["http://127.0.0.1:9", "https://x", "ftp://x"]) | JSON,
                "server": st.sampled_from(["127.0.0.1:9", "127.0.0.1:99999", "h"]) | JSON,
            },
        ),
        JSON,
    )
    parameters = body("path", "method", "headers", "body", "max_retries", "request_timeout", "sql",
                      "command_template", "remote")  # fmt: skip
    opts = body("batch_size", "max_buffer_bytes", "request_ttl", "buffer_mode", "buffer_seg_bytes")
    action = st.one_of(
        st.fixed_dictionaries(
            {"type": kind, "name": JSON | st.just("props-a"), "connector": st.just("props-c") | JSON},
            optional={"parameters": parameters, "resource_opts": opts, "enable": JSON, "description": JSON},
        ),
        JSON,
    )

    @SETTINGS
    @given(create=connector, change=connector, new_action=action, probe=connector)
    def run(create: Any, change: Any, new_action: Any, probe: Any) -> None:
        no_server_error(client.post("/api/v5/connectors", json=create))
        no_server_error(client.put("/api/v5/connectors/redis:props-c", json=change))
        no_server_error(client.post("/api/v5/actions", json=new_action))
        no_server_error(client.put("/api/v5/actions/redis:props-a", json=new_action))
        no_server_error(client.post("/api/v5/connectors_probe", json=probe))

    client.post("/api/v5/connectors", json={"type": "redis", "name": "props-c", "server": "127.0.0.1:9"})
    client.post("/api/v5/actions", json={"type": "redis", "name": "props-a", "connector": "props-c",
                                         "parameters": {"command_template": ["GET", "k"]}})  # fmt: skip
    run()
    for found in client.get("/api/v5/actions").json():
        client.delete(f"/api/v5/actions/{found['type']}:{found['name']}")
    for found in client.get("/api/v5/connectors").json():
        client.delete(f"/api/v5/connectors/{found['type']}:{found['name']}")
