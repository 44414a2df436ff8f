"""MQTT device bootstrap (docs/protocols.md section 7), with paho-mqtt at 5.0 and 3.1.1: a device connected as
the bootstrap user polls s/ucr and receives nothing until an operator accepts its request; then
`70,<tenant>,<user>,<pw>` once, and those credentials log in."""

from __future__ import annotations

import httpx
import pytest
from tests.mqtt_device import PROTOCOL_IDS, PROTOCOLS, ServerMqtt, unique
from tests.support import BOOTSTRAP_PASSWORD

REQUESTS = "/devicecontrol/newDeviceRequests"


def _poll_until_status(device, admin: httpx.Client, serial: str, status: str) -> None:
    for _ in range(200):
        assert device.publish("s/ucr") < 0x80
        if admin.get(f"{REQUESTS}/{serial}").json()["status"] == status:
            return
    raise AssertionError(f"request {serial} never reached {status}")


@pytest.mark.parametrize("protocol", PROTOCOLS, ids=PROTOCOL_IDS)
def test_bootstrap_over_mqtt(
    mqtt_server: ServerMqtt, mqtt_devices, admin: httpx.Client, protocol: int
) -> None:
    serial = unique("BOOT")
    assert admin.post(REQUESTS, json={"id": serial}).status_code == 201
    device = mqtt_devices(
        mqtt_server.port,
        serial,
        protocol,
        username="management/devicebootstrap",
        password=BOOTSTRAP_PASSWORD,
    )
    assert device.connect() == 0
    assert device.subscribe("s/dcr") == 1
    # The first polls move the request to PENDING_ACCEPTANCE; nothing is sent before the operator accepts.
    _poll_until_status(device, admin, serial, "PENDING_ACCEPTANCE")
    assert device.publish("s/ucr") < 0x80
    assert device.none_within(0.5)
    assert admin.put(f"{REQUESTS}/{serial}", json={"status": "ACCEPTED"}).status_code == 200
    assert device.publish("s/ucr") < 0x80
    message = device.get()
    assert message.topic == "s/dcr"
    code, tenant, username, password = message.payload.decode().split(",")
    assert (code, tenant, username) == ("70", "t1", f"device_{serial}")
    assert len(password) >= 20
    # A generated secret is stored as a fast hash (a connect storm must not be CPU-bound), never argon2.
    server = mqtt_server.server
    stored = server.call(server.platform.services.tenants.get_user(tenant, username)).password_hash
    assert stored.startswith("sha256$")
    # Once: the request is gone, further polls get nothing.
    assert device.publish("s/ucr") < 0x80
    assert device.none_within(0.5)
    assert admin.get(f"{REQUESTS}/{serial}").status_code == 404
    device.close()
    # The device reconnects with its own credentials.
    own = mqtt_devices(mqtt_server.port, serial, protocol, username=f"{tenant}/{username}", password=password)
    assert own.connect() == 0
    assert own.subscribe("s/ds") == 1


def test_devices_polling_at_once_get_only_their_own(
    mqtt_server: ServerMqtt, mqtt_devices, admin: httpx.Client
) -> None:
    serials = [unique("BOOT") for _ in range(3)]
    clients = []
    for serial in serials:
        assert admin.post(REQUESTS, json={"id": serial}).status_code == 201
        client = mqtt_devices(
            mqtt_server.port, serial, username="management/devicebootstrap", password=BOOTSTRAP_PASSWORD
        )
        assert client.connect() == 0
        assert client.subscribe("s/dcr") == 1
        _poll_until_status(client, admin, serial, "PENDING_ACCEPTANCE")
        clients.append(client)
    for serial in serials:
        assert admin.put(f"{REQUESTS}/{serial}", json={"status": "ACCEPTED"}).status_code == 200
    for client in clients:
        for _ in range(3):
            assert client.publish("s/ucr") < 0x80
    for serial, client in zip(serials, clients, strict=True):
        assert client.get().payload.decode().split(",")[2] == f"device_{serial}"
        assert client.none_within(0.3)


def test_unknown_device_gets_nothing(mqtt_server: ServerMqtt, mqtt_devices) -> None:
    client = mqtt_devices(
        mqtt_server.port,
        unique("NOREQ"),
        username="management/devicebootstrap",
        password=BOOTSTRAP_PASSWORD,
    )
    assert client.connect() == 0
    assert client.subscribe("s/dcr") == 1
    for _ in range(3):
        assert client.publish("s/ucr") < 0x80
    assert client.none_within(0.5)
