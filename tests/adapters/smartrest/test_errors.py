"""Every SmartREST error code on s/e (docs/protocols.md section 6), the rows around a bad one still
processed, MQTT 5 reason codes in the PUBACK, and the 16184-byte limit."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest
from tests.mqtt_device import CLIENT_ID_NOT_VALID, V5, V311, Device, ServerMqtt

from tether.adapters.smartrest.csv import parse_rows

PAYLOAD_FORMAT_INVALID = 0x99
IMPLEMENTATION_SPECIFIC_ERROR = 0x83
UNSPECIFIED_ERROR = 0x80


def _measurements(admin: httpx.Client, serial: str) -> list[dict[str, object]]:
    mo_id = admin.get(f"/identity/externalIds/c8y_Serial/{serial}").json()["managedObject"]["id"]
    found: list[dict[str, object]] = admin.get(
        "/measurement/measurements", params={"source": mo_id, "pageSize": 100}
    ).json()["measurements"]
    return found


@pytest.mark.parametrize("protocol", [V5, V311], ids=["mqtt5", "mqtt311"])
def test_each_code_once_per_bad_row(
    connect: Callable[..., Device], admin: httpx.Client, protocol: int
) -> None:
    device = connect(protocol=protocol)
    serial = device.client_id
    v5 = protocol == V5
    assert device.publish("s/us", "999,a,b") == (IMPLEMENTATION_SPECIFIC_ERROR if v5 else 0)
    assert device.text("s/e") == "40,999,No static template for this message id"
    # 45: a mandatory field missing, a number that is none, a bad date.
    assert device.publish("s/us", "400,c8y_Event") == (PAYLOAD_FORMAT_INVALID if v5 else 0)
    assert device.text("s/e") == "45,400,Mandatory field 'text' (position 2) is missing"
    device.publish("s/us", "200,c8y_T,T,warm")
    assert device.text("s/e") == "45,200,'value' must be a number (got 'warm')"
    device.publish("s/us", "211,20,yesterday")
    assert device.text("s/e") == "45,211,Invalid date 'yesterday'; expected ISO-8601"
    device.publish("s/us", "305,c8y_A,SEVERE")
    device.publish("s/us", "301,c8y_A")
    device.publish("s/us", "305,c8y_A,SEVERE")
    assert parse_rows(device.text("s/e")) == [
        ["45", "305", "'severity' must be one of CRITICAL, MAJOR, MINOR, WARNING, got 'SEVERE'"]
    ]
    # 42: malformed CSV (an unterminated quote; text after a closing quote), and bytes that are not UTF-8.
    assert device.publish("s/us", '400,c8y_E,"open') == (PAYLOAD_FORMAT_INVALID if v5 else 0)
    assert device.text("s/e") == "42,400,Malformed line: unterminated quoted field"
    device.publish("s/us", b"\xff\xfe200")
    assert device.text("s/e") == ",".join(["42", "", "Message is not UTF-8 text"])
    # 41: the device exists.
    assert device.publish("s/us", "100") == 0
    assert device.text("s/e") == "41,100,Device already existing"
    # The good rows around a bad one are stored; one line per bad row.
    # (MQTT 5: the reason code of the worst problem, 45 > 40.)
    assert device.publish("s/us", "200,c8y_T,T,1\n999\n200,c8y_T,T,oops\n200,c8y_T,T,2") == (
        PAYLOAD_FORMAT_INVALID if v5 else 0
    )
    assert device.lines("s/e", 2) == [
        "40,999,No static template for this message id",
        "45,200,'value' must be a number (got 'oops')",
    ]
    values = sorted(m["c8y_T"]["T"]["value"] for m in _measurements(admin, serial))  # type: ignore[index]
    assert values == [1, 2]
    assert device.none_within(topic="s/e")


def test_another_device_user_may_not_use_the_serial(
    connect: Callable[..., Device],
    mqtt_devices: Callable[..., Device],
    mqtt_server: ServerMqtt,
    accounts: object,
) -> None:
    """The device comes from the credential (docs/security.md, Identity and ClientIds): another device user's
    ClientId is refused at CONNECT (0x85), before the SmartREST adapter could act on the serial (its error 50
    is no longer reachable)."""
    owner = connect()
    serial = owner.client_id
    owner.publish("s/us", "100")
    owner.close()
    _, login, password = accounts.device()  # type: ignore[attr-defined]
    intruder = mqtt_devices(mqtt_server.port, serial, V5, username=login, password=password)
    assert intruder.connect() == CLIENT_ID_NOT_VALID


@pytest.mark.parametrize("protocol", [V5, V311], ids=["mqtt5", "mqtt311"])
def test_messages_over_16184_bytes_get_an_error(
    connect: Callable[..., Device], admin: httpx.Client, protocol: int
) -> None:
    device = connect(protocol=protocol)
    serial = device.client_id
    rows = "\n".join(f"200,c8y_T,T,{i}" for i in range(1300))
    assert len(rows) > 16184
    code = device.publish("s/us", rows)
    assert code == (IMPLEMENTATION_SPECIFIC_ERROR if protocol == V5 else 0)
    line = device.text("s/e")
    assert line.startswith("42,200,Message too long: ") and line.endswith("the limit is 16184 bytes")
    # Just under the limit is fine.
    fits = "\n".join(f"200,c8y_T,T,{i}" for i in range(1000))
    assert device.publish("s/us", fits) == 0
    assert len(_measurements(admin, serial)) == 100  # a page of the 1000
    assert device.none_within(topic="s/e")
