"""What the sink tests share: a t1 operator that deletes every rule, action and connector after each test,
paho clients, and helpers to create a connector + action + rule and to wait on metrics."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from tests.mqtt_device import V5, Device, ServerMqtt, unique
from tests.support import ADMIN_PASSWORD, ServerThread

RULES, CONNECTORS, ACTIONS = "/api/v5/rules", "/api/v5/connectors", "/api/v5/actions"


def clean(client: httpx.Client) -> None:
    for rule in client.get(RULES, params={"limit": 1000}).json()["data"]:
        assert client.delete(f"{RULES}/{rule['id']}").status_code == 204
    for action in client.get(ACTIONS).json():
        assert client.delete(f"{ACTIONS}/{action['type']}:{action['name']}").status_code == 204
    for connector in client.get(CONNECTORS).json():
        assert client.delete(f"{CONNECTORS}/{connector['type']}:{connector['name']}").status_code == 204


@pytest.fixture
def admin(server: ServerThread) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, auth=("t1/admin", ADMIN_PASSWORD), timeout=60) as client:
        yield client
        clean(client)


@pytest.fixture
def clients(mqtt_server: ServerMqtt) -> Iterator[Callable[..., Device]]:
    made: list[Device] = []

    def make(
        username: str = "t1/admin",
        password: str = ADMIN_PASSWORD,
        client_id: str | None = None,
        port: int | None = None,
    ) -> Device:
        device = Device(
            port or mqtt_server.port, client_id or unique("c"), V5, username=username, password=password
        )
        made.append(device)
        assert device.connect() == 0
        return device

    yield make
    for device in made:
        with contextlib.suppress(Exception):
            device.close()


def sink(
    admin: httpx.Client,
    kind: str,
    name: str,
    config: dict[str, Any],
    parameters: dict[str, Any],
    sql: str,
    **resource_opts: Any,
) -> str:
    """A connector, an action on it and a rule sending to it; the action's id."""
    created = admin.post(CONNECTORS, json={"type": kind, "name": name, **config})
    assert created.status_code == 201, created.text
    action = {"type": kind, "name": name, "connector": name, "parameters": parameters}
    if resource_opts:
        action["resource_opts"] = resource_opts
    answer = admin.post(ACTIONS, json=action)
    assert answer.status_code == 201, answer.text
    rule = admin.post(RULES, json={"id": f"to_{name}", "sql": sql, "actions": [f"{kind}:{name}"]})
    assert rule.status_code == 201, rule.text
    return f"{kind}:{name}"


def wait_for(condition: Callable[[], Any], what: str, timeout: float = 60.0) -> Any:
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = condition()
        if last:
            return last
        time.sleep(0.05)
    raise AssertionError(f"{what}: never true (last: {last!r})")


def action_metrics(admin: httpx.Client, action_id: str) -> dict[str, Any]:
    return dict(admin.get(f"{ACTIONS}/{action_id}/metrics").json()["metrics"])


def new_device(admin: httpx.Client) -> str:
    """A device made through REST (its id): platform events need a source."""
    answer = admin.post("/inventory/managedObjects", json={"name": unique("dev"), "c8y_IsDevice": {}})
    assert answer.status_code == 201, answer.text
    return str(answer.json()["id"])


def post_measurement(admin: httpx.Client, device_id: str, value: float) -> None:
    measurement = {
        "source": {"id": device_id},
        "type": "c8y_Temperature",
        "time": "2026-01-01T00:00:00.000Z",
        "c8y_Temperature": {"T": {"value": value, "unit": "C"}},
    }
    answer = admin.post("/measurement/measurements", json=measurement)
    assert answer.status_code == 201, answer.text


MEASUREMENT_SQL = (
    "SELECT c8y_Temperature.T.value AS value, source.id AS device, type "
    'FROM "$events/tether/measurement_created"'
)
