"""A Xyte device with a persistent session is told each pending command once per connection (README, Xyte).

The broker keeps what a persistent session (MQTT 5 Clean Start 0 and Session Expiry Interval > 0, MQTT 3.1.1
Clean Session 0) was sent while the device was away; the adapter sends pending commands again when the device
subscribes. Both used to reach the device. Every check waits for a later command as a sentinel: messages of a
session arrive in order, so anything sent twice would have arrived before it.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import httpx
import orjson
import pytest
from tests.mqtt_device import PROTOCOL_IDS, PROTOCOLS, V5
from tests.support import ServerThread
from tests.xyte.helpers import create_model, managed_object_id, register
from tests.xyte.mqtt_support import XyteDevice

SUCCESS = 0


def create_operation(admin: httpx.Client, mo_id: int, name: str) -> str:
    response = admin.post(
        "/devicecontrol/operations", json={"deviceId": str(mo_id), "xyte_Command": {"name": name}}
    )
    assert response.status_code == 201, response.text
    op_id: str = response.json()["id"]
    return op_id


def told_until(client: XyteDevice, op_id: str) -> list[str]:
    """The command ids the device receives up to and including `op_id`."""
    seen: list[str] = []
    while not seen or seen[-1] != op_id:
        message = client.get()
        assert message.topic == f"v1/device/{client.id}/command"
        seen.append(orjson.loads(message.payload)["id"])
    return seen


def connect(port: int, device: dict[str, Any], protocol: int) -> XyteDevice:
    client = XyteDevice(port, device, protocol=protocol, session_expiry=600)
    assert client.connect() == SUCCESS
    return client


@pytest.fixture
def device(server: ServerThread, admin: httpx.Client) -> dict[str, Any]:
    registered = register(server.url, create_model(admin))
    registered["mo_id"] = managed_object_id(admin, registered["id"])
    return registered


@pytest.mark.parametrize("protocol", PROTOCOLS, ids=PROTOCOL_IDS)
def test_a_device_subscribing_again_is_told_each_command_once(
    admin: httpx.Client, mqtt_port: int, device: dict[str, Any], protocol: int
) -> None:
    mo_id = device["mo_id"]
    first = connect(mqtt_port, device, protocol)
    try:
        assert not first.session_present()
        assert first.subscribe() == 1
        told = create_operation(admin, mo_id, "told")
        assert told_until(first, told) == [told]
    finally:
        first.close()  # a normal DISCONNECT: the session stays (expiry 600 s; 3.1.1 until cleaned)
    queued = create_operation(admin, mo_id, "queued")  # the offline session holds it

    second = connect(mqtt_port, device, protocol)
    try:
        assert second.session_present()
        assert second.subscribe() == 1  # what devices do in their on_connect, session or not
        live = create_operation(admin, mo_id, "live")
        received = told_until(second, live)
        sentinel = create_operation(admin, mo_id, "sentinel")
        received += told_until(second, sentinel)
        # `told` is still pending and was acknowledged in the last connection: told again, once; `queued`
        # came from the session only.
        assert Counter(received) == {told: 1, queued: 1, live: 1, sentinel: 1}
        # Another subscription matching the command topic tells nothing again in this connection.
        assert second.subscribe(f"v1/device/{device['id']}/#") == 1
        last = create_operation(admin, mo_id, "last")
        assert told_until(second, last) == [last]
    finally:
        second.close()


@pytest.mark.parametrize("protocol", PROTOCOLS, ids=PROTOCOL_IDS)
def test_a_resumed_session_is_told_its_pending_commands_without_subscribing(
    admin: httpx.Client, mqtt_port: int, device: dict[str, Any], protocol: int
) -> None:
    mo_id = device["mo_id"]
    first = connect(mqtt_port, device, protocol)
    try:
        assert first.subscribe() == 1
        told = create_operation(admin, mo_id, "told")
        assert told_until(first, told) == [told]
    finally:
        first.close()
    queued = create_operation(admin, mo_id, "queued")
    second = connect(mqtt_port, device, protocol)
    try:
        assert second.session_present()  # still subscribed from the last connection
        sentinel = create_operation(admin, mo_id, "sentinel")
        assert Counter(told_until(second, sentinel)) == {told: 1, queued: 1, sentinel: 1}
    finally:
        second.close()


def test_a_clean_connection_is_told_pending_commands_on_subscribe(
    admin: httpx.Client, mqtt_port: int, device: dict[str, Any]
) -> None:
    """Without a session nothing is held: the re-send on subscribe is the only way, once."""
    mo_id = device["mo_id"]
    pending = create_operation(admin, mo_id, "pending")
    client = XyteDevice(mqtt_port, device, protocol=V5)
    try:
        assert client.connect() == SUCCESS and not client.session_present()
        assert client.subscribe() == 1
        assert client.subscribe(f"v1/device/{device['id']}/+") == 1
        sentinel = create_operation(admin, mo_id, "sentinel")
        assert Counter(told_until(client, sentinel)) == {pending: 1, sentinel: 1}
    finally:
        client.close()
