"""Xyte devices log in with MQTT 5 (docs/protocols.md section 9): user name = client id = the
device id, password = its access key; they may use v1/device/<their id>/... and nothing of another device."""

from __future__ import annotations

import httpx
import pytest
from tests.mqtt_device import (
    BAD_CREDENTIALS,
    NOT_AUTHORIZED,
    PROTOCOL_IDS,
    PROTOCOLS,
    V5,
    ServerMqtt,
    unique,
)

from tether.adapters.login import Login, login_of


def register(admin: httpx.Client) -> tuple[str, str]:
    model = admin.post("/v1/models", json={"name": unique("model"), "communication_protocol": "mqtt"})
    assert model.status_code == 201, model.text
    body = {
        "hardware_key": model.json()["hardware_key"],
        "sn": unique("sn"),
        "firmware_version": "1.0",
        "cloud_id": unique("cloud"),
    }
    device = httpx.post(f"{admin.base_url}/v1/devices", json=body)
    assert device.status_code == 201, device.text
    return device.json()["id"], device.json()["access_key"]


@pytest.mark.parametrize("protocol", PROTOCOLS, ids=PROTOCOL_IDS)
def test_xyte_device_login_and_namespace(
    mqtt_server: ServerMqtt, mqtt_devices, admin: httpx.Client, protocol: int
) -> None:
    device_id, access_key = register(admin)
    other_id, _ = register(admin)
    device = mqtt_devices(mqtt_server.port, device_id, protocol, username=device_id, password=access_key)
    assert device.connect() == 0
    assert device.subscribe(f"v1/device/{device_id}/command") == 1
    assert device.subscribe(f"v1/device/{other_id}/command") == (NOT_AUTHORIZED if protocol == V5 else 0x80)
    assert device.subscribe("v1/device/+/command") == (NOT_AUTHORIZED if protocol == V5 else 0x80)
    assert device.publish(f"v1/device/{other_id}/telemetry", b"{}") == (
        NOT_AUTHORIZED if protocol == V5 else 0
    )
    wrong = mqtt_devices(mqtt_server.port, device_id, protocol, username=device_id, password=access_key + "x")
    assert wrong.connect() == BAD_CREDENTIALS
    unknown = unique("x")
    assert (
        mqtt_devices(
            mqtt_server.port,
            unknown,
            protocol,
            username="00000000-0000-4000-8000-000000000000",
            password="k",
        ).connect()
        == BAD_CREDENTIALS
    )


def test_xyte_login_record(mqtt_server: ServerMqtt, mqtt_devices, admin: httpx.Client) -> None:
    device_id, access_key = register(admin)
    device = mqtt_devices(mqtt_server.port, device_id, username=device_id, password=access_key)
    assert device.connect() == 0

    async def login() -> Login | None:
        for connection in mqtt_server.broker.connections:
            if connection.client is not None and connection.client.client_id == device_id:
                return login_of(connection.client)
        raise AssertionError(device_id)

    found = mqtt_server.server.call(login())
    assert found is not None and found.kind == "xyte"
    assert found.xyte is not None and found.xyte.id == device_id
    assert found.mo_id == found.xyte.mo_id
    assert found.principal.tenant_id == "t1"
    assert found.serial == device_id and found.certificate is False
