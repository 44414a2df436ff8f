"""The Xyte flow over MQTT with paho-mqtt (docs/protocols.md section 9): telemetry stored as measurements
before the PUBACK, operations delivered on v1/device/<id>/command, their status reported on
v1/device/<id>/commands/update."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import orjson
import paho.mqtt.client as mqtt
import pytest
from tests.support import ServerThread
from tests.xyte.helpers import create_model, managed_object_id, register
from tests.xyte.mqtt_support import XyteDevice

SUCCESS = 0x00
NOT_AUTHORIZED = 0x87
PAYLOAD_FORMAT_INVALID = 0x99
IMPLEMENTATION_SPECIFIC_ERROR = 0x83


@pytest.fixture
def devices(
    server: ServerThread, admin: httpx.Client, mqtt_port: int
) -> Iterator[Callable[..., tuple[XyteDevice, dict[str, Any]]]]:
    """Register a device of an MQTT model and connect it: returns (client, registration + mo_id)."""
    made: list[XyteDevice] = []

    def make(model: dict[str, Any] | None = None, **kwargs: Any) -> tuple[XyteDevice, dict[str, Any]]:
        registered = register(server.url, model or create_model(admin))
        registered["mo_id"] = managed_object_id(admin, registered["id"]) if model is None else None
        client = XyteDevice(mqtt_port, registered, **kwargs)
        made.append(client)
        assert client.connect() == SUCCESS
        return client, registered

    yield make
    for client in made:
        client.close()


def measurements(admin: httpx.Client, mo_id: int) -> list[dict[str, Any]]:
    response = admin.get("/measurement/measurements", params={"source": mo_id, "pageSize": 1000})
    found: list[dict[str, Any]] = response.json()["measurements"]
    return found


def operation(admin: httpx.Client, op_id: str) -> dict[str, Any]:
    body: dict[str, Any] = admin.get(f"/devicecontrol/operations/{op_id}").json()
    return body


def create_operation(admin: httpx.Client, mo_id: int, **fragments: Any) -> dict[str, Any]:
    response = admin.post("/devicecontrol/operations", json={"deviceId": str(mo_id), **fragments})
    assert response.status_code == 201, response.text
    op: dict[str, Any] = response.json()
    return op


def test_telemetry_is_stored_before_the_puback(admin: httpx.Client, devices: Any) -> None:
    client, device = devices()
    payload = {"status": "online", "telemetries": {"fan_speed": 5.5, "temp": 30, "input": "hdmi"}}
    assert client.report("telemetry", payload) == SUCCESS
    # Acknowledged means stored: readable at once, through the Cumulocity API.
    [stored] = measurements(admin, device["mo_id"])
    assert stored["type"] == "xyte_Telemetry"
    assert stored["xyte_Telemetry"] == {"fan_speed": {"value": 5.5}, "temp": {"value": 30}}
    assert stored["xyte_State"] == {"status": "online", "input": "hdmi"}


def test_mqtt_311_telemetry_is_stored_too(admin: httpx.Client, devices: Any) -> None:
    client, device = devices(protocol=mqtt.MQTTv311)
    assert client.report("telemetry", {"status": "online", "telemetries": {"t": 1}}) == SUCCESS
    assert len(measurements(admin, device["mo_id"])) == 1


def test_bad_credentials_are_refused(server: ServerThread, admin: httpx.Client, mqtt_port: int) -> None:
    device = register(server.url, create_model(admin))
    client = XyteDevice(mqtt_port, device, password="wrong-key")
    try:
        assert client.connect() == 0x86
    finally:
        client.paho.loop_stop()


def test_bad_telemetry_is_refused_and_not_stored(admin: httpx.Client, devices: Any) -> None:
    client, device = devices()
    assert client.report("telemetry", b"{not json") == PAYLOAD_FORMAT_INVALID
    assert client.report("telemetry", {"telemetries": [1, 2]}) == PAYLOAD_FORMAT_INVALID
    assert client.report("telemetry", {"status": "dozing"}) == PAYLOAD_FORMAT_INVALID
    assert measurements(admin, device["mo_id"]) == []
    # The connection is still good.
    assert client.report("telemetry", {"status": "online"}) == SUCCESS


def test_a_device_may_not_publish_for_another(admin: httpx.Client, devices: Any) -> None:
    client, _ = devices()
    _, victim = devices()
    assert client.report("telemetry", {"status": "online"}, device_id=victim["id"]) == NOT_AUTHORIZED
    update = {"id": "1", "status": "done"}
    assert client.report("commands/update", update, device_id=victim["id"]) == NOT_AUTHORIZED
    assert measurements(admin, victim["mo_id"]) == []


def test_commands_are_delivered_and_their_status_reported(admin: httpx.Client, devices: Any) -> None:
    client, device = devices()
    assert client.subscribe() == 1
    op = create_operation(admin, device["mo_id"], xyte_Command={"name": "reboot", "parameters": {"delay": 5}})
    message = client.get()
    assert message.topic == f"v1/device/{device['id']}/command"
    assert message.qos == 1
    assert orjson.loads(message.payload) == {
        "id": op["id"],
        "device_id": device["id"],
        "status": "pending",
        "name": "reboot",
        "parameters": {"delay": 5},
    }
    assert message.properties.ResponseTopic == f"v1/device/{device['id']}/commands/update"

    assert client.report("commands/update", {"id": op["id"], "status": "in_progress"}) == SUCCESS
    assert operation(admin, op["id"])["status"] == "EXECUTING"
    assert client.report("commands/update", {"id": op["id"], "status": "done", "message": "ok"}) == SUCCESS
    finished = operation(admin, op["id"])
    assert finished["status"] == "SUCCESSFUL" and finished["xyte_Message"] == "ok"

    other = create_operation(admin, device["mo_id"], c8y_Restart={})
    assert orjson.loads(client.get().payload)["name"] == "c8y_Restart"
    report = {"id": other["id"], "status": "error", "message": "no power"}
    assert client.report("commands/update", report) == SUCCESS
    failed = operation(admin, other["id"])
    assert failed["status"] == "FAILED" and failed["failureReason"] == "no power"


def test_bad_command_updates(admin: httpx.Client, devices: Any) -> None:
    client, device = devices()
    op = create_operation(admin, device["mo_id"], xyte_Command={"name": "dump"})
    assert client.report("commands/update", {"id": op["id"], "status": "later"}) == PAYLOAD_FORMAT_INVALID
    assert (
        client.report("commands/update", {"id": "99999999", "status": "done"})
        == IMPLEMENTATION_SPECIFIC_ERROR
    )
    assert client.report("commands/update", {"id": op["id"], "status": "done"}) == SUCCESS
    assert (
        client.report("commands/update", {"id": op["id"], "status": "error"}) == IMPLEMENTATION_SPECIFIC_ERROR
    )
    assert operation(admin, op["id"])["status"] == "SUCCESSFUL"


def test_a_device_that_connects_later_gets_its_pending_commands(
    server: ServerThread, admin: httpx.Client, mqtt_port: int
) -> None:
    device = register(server.url, create_model(admin))
    mo_id = managed_object_id(admin, device["id"])
    first = create_operation(admin, mo_id, xyte_Command={"name": "a"})
    done = create_operation(admin, mo_id, xyte_Command={"name": "b"})
    second = create_operation(admin, mo_id, xyte_Command={"name": "c"})
    admin.put(f"/devicecontrol/operations/{done['id']}", json={"status": "EXECUTING"})
    admin.put(f"/devicecontrol/operations/{done['id']}", json={"status": "SUCCESSFUL"})
    admin.put(f"/devicecontrol/operations/{second['id']}", json={"status": "EXECUTING"})
    client = XyteDevice(mqtt_port, device)
    try:
        assert client.connect() == SUCCESS
        client.subscribe(f"v1/device/{device['id']}/#")
        received = [orjson.loads(client.get().payload) for _ in range(2)]
        # In progress first, then pending; the finished one is not sent again.
        assert [(c["id"], c["status"]) for c in received] == [
            (second["id"], "in_progress"),
            (first["id"], "pending"),
        ]
        assert client.none_within(0.3)
    finally:
        client.close()


def test_commands_stay_in_their_tenant(
    server: ServerThread, admin: httpx.Client, other_admin: httpx.Client, devices: Any
) -> None:
    mine, device = devices()
    theirs, _ = devices(create_model(other_admin))
    mine.subscribe()
    # The other tenant's device listens to every command topic it may: its own tenant's only.
    theirs.subscribe(f"v1/device/{theirs.id}/command")
    create_operation(admin, device["mo_id"], xyte_Command={"name": "ping"})
    assert orjson.loads(mine.get().payload)["name"] == "ping"
    assert theirs.none_within(0.3)


def test_concurrent_devices_are_all_stored_and_acknowledged(admin: httpx.Client, devices: Any) -> None:
    fleet = [devices() for _ in range(5)]
    per_device = 20

    def burst(entry: tuple[XyteDevice, dict[str, Any]]) -> list[int]:
        client, _ = entry
        mids = [
            client.send(f"v1/device/{client.id}/telemetry", {"telemetries": {"n": n}})
            for n in range(per_device)
        ]
        return [client.ack(mid) for mid in mids]

    with ThreadPoolExecutor(len(fleet)) as pool:
        codes = [code for result in pool.map(burst, fleet) for code in result]
    assert codes == [SUCCESS] * (len(fleet) * per_device)
    for _, device in fleet:
        values = sorted(m["xyte_Telemetry"]["n"]["value"] for m in measurements(admin, device["mo_id"]))
        assert values == list(range(per_device))
