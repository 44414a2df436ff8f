"""A live Xyte device whose managed object is deleted never writes to, or receives for, an object it no
longer owns (README, Telemetry: deleting a device). Its registration went with the object, so the connection's
record (from its CONNECT) no longer counts: every message is refused with 0x87 Not authorized (MQTT 3.1.1:
acknowledged and dropped), it gets no commands, and a new connection is refused (adapters/xyte.py).

The old id is handed to another object on purpose (tests/forced_reuse.py): the store no longer reuses ids,
but a connection must not depend on that."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import httpx
import paho.mqtt.client as mqtt
import pytest
from tests.forced_reuse import reuse_id
from tests.support import ServerThread
from tests.xyte.helpers import create_model, managed_object_id, register
from tests.xyte.mqtt_support import XyteDevice

SUCCESS = 0x00
NOT_AUTHORIZED = 0x87
AGENT = {"com_cumulocity_model_Agent": {}, "c8y_IsDevice": {}}


@pytest.fixture
def zombie(
    server: ServerThread, admin: httpx.Client, mqtt_port: int
) -> Iterator[Callable[..., tuple[XyteDevice, dict[str, Any]]]]:
    """A connected Xyte device whose managed object is then deleted and its id handed to another object:
    (client, registration + mo_id)."""
    made: list[XyteDevice] = []

    def make(**kwargs: Any) -> tuple[XyteDevice, dict[str, Any]]:
        registered = register(server.url, create_model(admin))
        registered["mo_id"] = managed_object_id(admin, registered["id"])
        client = XyteDevice(mqtt_port, registered, **kwargs)
        made.append(client)
        assert client.connect() == SUCCESS
        assert client.report("telemetry", {"status": "online"}) == SUCCESS  # the connection knows its device
        response = admin.delete(f"/inventory/managedObjects/{registered['mo_id']}")
        assert response.status_code == 204, response.text
        reuse_id(server, registered["mo_id"], AGENT)
        return client, registered

    yield make
    for client in made:
        client.close()


def _measurements(admin: httpx.Client, mo_id: int) -> list[dict[str, Any]]:
    response = admin.get("/measurement/measurements", params={"source": mo_id, "pageSize": 100})
    found: list[dict[str, Any]] = response.json()["measurements"]
    return found


def _operation(admin: httpx.Client, mo_id: int) -> dict[str, Any]:
    response = admin.post("/devicecontrol/operations", json={"deviceId": str(mo_id), "c8y_Restart": {}})
    assert response.status_code == 201, response.text
    op: dict[str, Any] = response.json()
    return op


def test_telemetry_is_refused_and_stored_nowhere(admin: httpx.Client, zombie: Any) -> None:
    client, device = zombie()
    assert client.report("telemetry", {"status": "online", "telemetries": {"t": 1}}) == NOT_AUTHORIZED
    assert _measurements(admin, device["mo_id"]) == []


def test_mqtt_311_telemetry_is_dropped(admin: httpx.Client, zombie: Any) -> None:
    client, device = zombie(protocol=mqtt.MQTTv311)
    assert client.report("telemetry", {"status": "online", "telemetries": {"t": 1}}) == SUCCESS
    assert _measurements(admin, device["mo_id"]) == []


def test_command_updates_of_the_new_object_are_refused(admin: httpx.Client, zombie: Any) -> None:
    client, device = zombie()
    op = _operation(admin, device["mo_id"])
    assert client.report("commands/update", {"id": op["id"], "status": "done"}) == NOT_AUTHORIZED
    assert admin.get(f"/devicecontrol/operations/{op['id']}").json()["status"] == "PENDING"


def test_a_new_connection_is_refused(server: ServerThread, mqtt_port: int, zombie: Any) -> None:
    """The rest of the chosen behaviour (held before this issue too): the access key died with the object."""
    _, device = zombie()
    again = XyteDevice(mqtt_port, device)
    try:
        assert again.connect() == 0x86  # Bad user name or password: the registration is gone
    finally:
        again.paho.loop_stop()
