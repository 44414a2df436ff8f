"""The server, MQTT side and paho clients of tests/adapters, and the things these suites make."""

from __future__ import annotations

from dataclasses import dataclass

import httpx
import pytest
from tests.adapters.conftest import accounts, mqtt_devices, mqtt_server, server
from tests.support import unique

__all__ = ["accounts", "mqtt_devices", "mqtt_server", "server"]


@dataclass(frozen=True)
class ThingLogin:
    id: str
    name: str
    client_id: str
    username: str
    password: str
    device_id: str


def make_thing(admin: httpx.Client, **fields: object) -> ThingLogin:
    """A thing made through /api/v1/things, with its device credential."""
    name = str(fields.pop("name", unique("thing-")))
    created = admin.post("/api/v1/things", json={"name": name, **fields})
    assert created.status_code == 201, created.text
    thing = created.json()
    credential = admin.post(f"/api/v1/things/{thing['id']}/credentials")
    assert credential.status_code == 201, credential.text
    secret = credential.json()
    return ThingLogin(
        thing["id"], name, secret["clientId"], secret["username"], secret["password"], thing["deviceId"]
    )


@pytest.fixture
def thing(admin: httpx.Client) -> ThingLogin:
    return make_thing(admin)
