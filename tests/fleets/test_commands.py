"""Fleets commands on a real server (paho MQTT 5.0 and 3.1.1, httpx), both storage backends: the request on
$emqx/commands/things/<name>/executions/<id>/request, the device's answer, ttl, cancel, and each command as
a Cumulocity operation of the same device."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from tests.fleets.conftest import ThingLogin, make_thing
from tests.mqtt_device import NOT_AUTHORIZED, PROTOCOL_IDS, PROTOCOLS, V5, Device, ServerMqtt

THINGS = "/api/v1/things"
COMMANDS = "/api/v1/commands"


def connect(make: Callable[..., Device], mqtt: ServerMqtt, thing: ThingLogin, protocol: int) -> Device:
    device = make(mqtt.port, thing.client_id, protocol, username=thing.username, password=thing.password)
    assert device.connect() == 0
    assert device.subscribe(f"$emqx/commands/things/{thing.name}/executions/+/request") == 1
    return device


def send(admin: httpx.Client, thing: ThingLogin, **body: Any) -> dict[str, Any]:
    response = admin.post(f"{THINGS}/{thing.id}/commands", json={"action": "reboot", **body})
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def topic(thing: ThingLogin, execution_id: str, suffix: str) -> str:
    return f"$emqx/commands/things/{thing.name}/executions/{execution_id}/{suffix}"


def eventually(read: Callable[[], Any], want: Any) -> Any:
    """What `read` returns once it is `want` (statuses follow timers and events); the last value otherwise."""
    value = read()
    for _ in range(200):
        if value == want:
            break
        time.sleep(0.05)
        value = read()
    return value


@pytest.mark.parametrize("protocol", PROTOCOLS, ids=PROTOCOL_IDS)
def test_command_answered(
    protocol: int, admin: httpx.Client, mqtt_server: ServerMqtt, mqtt_devices: Callable[..., Device]
) -> None:
    thing = make_thing(admin)
    device = connect(mqtt_devices, mqtt_server, thing, protocol)
    created = send(admin, thing, params={"delay": 5}, ttl=30)
    execution = created["executionId"]
    assert created["status"] == "SENT" and created["action"] == "reboot" and created["ttl"] == 30
    message = device.get(topic(thing, execution, "request"))
    request = json.loads(message.payload)
    assert request == {
        "commandId": execution,
        "action": "reboot",
        "params": {"delay": 5},
        "timestamp": request["timestamp"],
        "ttl": 30,
    }
    assert message.qos == 1
    if protocol == V5:
        assert message.properties.ResponseTopic == topic(thing, execution, "response")
        assert 0 < message.properties.MessageExpiryInterval <= 30
    # The command is a PENDING operation of the thing's device.
    op = admin.get(f"/devicecontrol/operations/{execution}").json()
    assert op["status"] == "PENDING" and op["deviceId"] == thing.device_id
    assert op["fleets_Command"]["action"] == "reboot"
    answer = {"status": "SUCCEEDED", "result": {"uptime": 0}}
    assert device.publish(topic(thing, execution, "response"), json.dumps(answer)) == 0
    done = admin.get(f"{COMMANDS}/{execution}").json()
    assert done["status"] == "SUCCEEDED" and done["result"] == {"uptime": 0}
    assert admin.get(f"/devicecontrol/operations/{execution}").json()["status"] == "SUCCESSFUL"
    listed = admin.get(f"{THINGS}/{thing.id}/commands").json()
    assert [c["executionId"] for c in listed["data"]] == [execution] and listed["meta"]["count"] == 1
    # A second answer is refused: the command is finished (MQTT 5: 0x83).
    again = device.publish(topic(thing, execution, "response"), json.dumps({"status": "FAILED"}))
    assert again == (0x83 if protocol == V5 else 0)
    assert admin.get(f"{COMMANDS}/{execution}").json()["status"] == "SUCCEEDED"


@pytest.mark.parametrize("protocol", PROTOCOLS, ids=PROTOCOL_IDS)
def test_failed_rejected_and_bad_answers(
    protocol: int, admin: httpx.Client, mqtt_server: ServerMqtt, mqtt_devices: Callable[..., Device]
) -> None:
    thing, other = make_thing(admin), make_thing(admin)
    device = connect(mqtt_devices, mqtt_server, thing, protocol)
    failed, rejected = send(admin, thing)["executionId"], send(admin, thing)["executionId"]
    theirs = send(admin, other)["executionId"]
    v5 = protocol == V5
    for payload, code in ((b"{", 0x99), (b'{"status": "DONE"}', 0x99), (b"[]", 0x99)):
        assert device.publish(topic(thing, failed, "response"), payload) == (code if v5 else 0)
    # Unknown execution ids, and another thing's command named under its own topic.
    for execution in ("999999999", "x", theirs):
        assert device.publish(topic(thing, execution, "response"), b'{"status": "SUCCEEDED"}') == (
            0x83 if v5 else 0
        )
    # Another thing's topic: not its to use.
    code = device.publish(topic(other, theirs, "response"), b'{"status": "SUCCEEDED"}')
    assert code == (NOT_AUTHORIZED if v5 else 0)
    assert admin.get(f"{COMMANDS}/{theirs}").json()["status"] == "SENT"
    answer = {"status": "FAILED", "result": "disk full"}
    assert device.publish(topic(thing, failed, "response"), json.dumps(answer)) == 0
    assert device.publish(topic(thing, rejected, "response"), b'{"status": "REJECTED"}') == 0
    assert admin.get(f"{COMMANDS}/{failed}").json()["status"] == "FAILED"
    op = admin.get(f"/devicecontrol/operations/{failed}").json()
    assert op["status"] == "FAILED" and op["failureReason"] == "FAILED: disk full"
    assert admin.get(f"{COMMANDS}/{rejected}").json()["status"] == "REJECTED"
    assert admin.get(f"/devicecontrol/operations/{rejected}").json()["failureReason"] == "REJECTED"


def test_ttl_and_cancel(
    admin: httpx.Client, mqtt_server: ServerMqtt, mqtt_devices: Callable[..., Device]
) -> None:
    thing = make_thing(admin)
    # Offline: the command times out when its ttl passes (the timer, seen through the operation).
    late = send(admin, thing, ttl=1)["executionId"]
    op_status = eventually(lambda: admin.get(f"/devicecontrol/operations/{late}").json()["status"], "FAILED")
    assert op_status == "FAILED"
    assert admin.get(f"/devicecontrol/operations/{late}").json()["failureReason"] == "TIMED_OUT"
    assert admin.get(f"{COMMANDS}/{late}").json()["status"] == "TIMED_OUT"
    # The device connecting later does not get it (it expired), and its answer is refused.
    device = connect(mqtt_devices, mqtt_server, thing, V5)
    assert device.none_within(0.3)
    assert device.publish(topic(thing, late, "response"), b'{"status": "SUCCEEDED"}') == 0x83
    # Cancel: only a SENT command.
    pending = send(admin, thing, ttl=600)["executionId"]
    device.get(topic(thing, pending, "request"))
    canceled = admin.post(f"{COMMANDS}/{pending}/cancel")
    assert canceled.status_code == 200 and canceled.json()["status"] == "CANCELED"
    assert admin.get(f"/devicecontrol/operations/{pending}").json()["failureReason"] == "CANCELED"
    again = admin.post(f"{COMMANDS}/{pending}/cancel")
    assert again.status_code == 409 and again.json()["code"] == "ALREADY_EXISTS"
    assert device.publish(topic(thing, pending, "response"), b'{"status": "SUCCEEDED"}') == 0x83


def test_a_cumulocity_operation_for_a_thing_is_a_command(
    admin: httpx.Client, mqtt_server: ServerMqtt, mqtt_devices: Callable[..., Device]
) -> None:
    thing = make_thing(admin)
    device = connect(mqtt_devices, mqtt_server, thing, V5)
    body = {"deviceId": thing.device_id, "description": "Restart", "c8y_Restart": {"soft": True}}
    op = admin.post("/devicecontrol/operations", json=body)
    assert op.status_code == 201, op.text
    execution = op.json()["id"]
    request = json.loads(device.get(topic(thing, execution, "request")).payload)
    assert request["action"] == "c8y_Restart" and request["params"] == {"soft": True}
    assert device.publish(topic(thing, execution, "response"), b'{"status": "SUCCEEDED"}') == 0
    assert admin.get(f"/devicecontrol/operations/{execution}").json()["status"] == "SUCCESSFUL"
    assert admin.get(f"{COMMANDS}/{execution}").json()["status"] == "SUCCEEDED"
    # An operation finished by a Cumulocity operator shows as CANCELED in Fleets.
    other = send(admin, thing, ttl=600)["executionId"]
    failed = admin.put(f"/devicecontrol/operations/{other}", json={"status": "FAILED", "failureReason": "no"})
    assert failed.status_code == 200
    assert admin.get(f"{COMMANDS}/{other}").json()["status"] == "CANCELED"


def test_bad_requests(admin: httpx.Client) -> None:
    thing = make_thing(admin)
    for body in ({}, {"action": ""}, {"action": 3}, {"action": "a", "ttl": 0}, {"action": "a", "params": []}):
        response = admin.post(f"{THINGS}/{thing.id}/commands", json=body)
        assert response.status_code == 400, (body, response.text)
    assert admin.post(f"{THINGS}/nope/commands", json={"action": "a"}).status_code == 404
    for execution in ("abc", "0", "-1", "99999999999"):
        assert admin.get(f"{COMMANDS}/{execution}").status_code == 404
    # An operation that is not a command is no command.
    plain = admin.post("/inventory/managedObjects", json={"name": "d", "c8y_IsDevice": {}}).json()
    body = {"deviceId": plain["id"], "c8y_Restart": {}}
    op = admin.post("/devicecontrol/operations", json=body).json()
    assert admin.get(f"{COMMANDS}/{op['id']}").status_code == 404
