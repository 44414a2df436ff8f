"""Fleets events (paho MQTT 5.0 and 3.1.1, httpx; both storage backends): `$emqx/things/<name>/events/<type>`
and the ThingDatas API make Cumulocity events of the thing, seen in /event/events, the thing's events and
real-time notifications' source (the one model)."""

from __future__ import annotations

import json
from collections.abc import Callable

import httpx
import pytest
from tests.fleets.conftest import make_thing
from tests.mqtt_device import NOT_AUTHORIZED, PROTOCOL_IDS, PROTOCOLS, V5, Device, ServerMqtt
from tests.support import ServerThread, unique


@pytest.mark.parametrize("protocol", PROTOCOLS, ids=PROTOCOL_IDS)
def test_mqtt_events(
    protocol: int, admin: httpx.Client, mqtt_server: ServerMqtt, mqtt_devices: Callable[..., Device]
) -> None:
    thing, other = make_thing(admin), make_thing(admin)
    device = mqtt_devices(
        mqtt_server.port, thing.client_id, protocol, username=thing.username, password=thing.password
    )
    assert device.connect() == 0
    events = f"$emqx/things/{thing.name}/events"
    payload = {
        "message": "too hot",
        "severity": "major",
        "outputData": {"t": 81.5},
        "timestamp": 1_700_000_000,
    }
    assert device.publish(f"{events}/overheat", json.dumps(payload)) == 0
    # Stored before the PUBACK: a Cumulocity event of the thing's device, its fields kept.
    found = admin.get("/event/events", params={"source": thing.device_id, "type": "overheat"}).json()[
        "events"
    ]
    assert len(found) == 1
    event = found[0]
    assert event["text"] == "too hot" and event["time"] == "2023-11-14T22:13:20.000Z"
    assert event["severity"] == "major" and event["outputData"] == {"t": 81.5}
    assert event["timestamp"] == 1_700_000_000 and event["fleets_Event"] == {"thingName": thing.name}
    # ...and one of the thing's events in the Fleets API.
    listed = admin.get(f"/api/v1/things/{thing.id}/events").json()
    assert [e["id"] for e in listed["data"]] == [event["id"]] and listed["meta"]["count"] == 1
    assert listed["data"][0]["data"]["severity"] == "major"
    # Fields named like the event's own go into fleets_Event.
    assert (
        device.publish(f"{events}/boot", json.dumps({"type": "x", "id": 5, "time": "2024-01-01T00:00:00Z"}))
        == 0
    )
    boot = admin.get("/event/events", params={"source": thing.device_id, "type": "boot"}).json()["events"][0]
    assert boot["text"] == "boot" and boot["time"] == "2024-01-01T00:00:00.000Z"
    assert boot["fleets_Event"] == {
        "thingName": thing.name,
        "type": "x",
        "id": 5,
        "time": "2024-01-01T00:00:00Z",
    }
    v5 = protocol == V5
    for bad in (b"{", b"[1]", b'"text"', json.dumps({"timestamp": "soon"}).encode()):
        assert device.publish(f"{events}/bad", bad) == (0x99 if v5 else 0), bad
    assert (
        admin.get("/event/events", params={"source": thing.device_id, "type": "bad"}).json()["events"] == []
    )
    # Another thing's events: not its to send.
    refused = device.publish(f"$emqx/things/{other.name}/events/x", b"{}")
    assert refused == (NOT_AUTHORIZED if v5 else 0)
    assert admin.get(f"/api/v1/things/{other.id}/events").json()["meta"]["count"] == 0


def test_thing_datas_events(admin: httpx.Client, server: ServerThread) -> None:
    thing = make_thing(admin)
    key = admin.post("/api/v5/api_key", json={"name": unique("dev")}).json()
    with httpx.Client(base_url=server.url, auth=(key["api_key"], key["api_secret"])) as device:
        body = {"thingName": thing.name, "type": "door", "message": "opened", "open": True}
        created = device.post("/api/v1/thing-datas/events", json=body)
        assert created.status_code == 201, created.text
        assert created.json()["type"] == "door" and created.json()["data"]["open"] is True
        for bad in ({**body, "type": 3}, {**body, "thingName": "nobody-here"}, {**body, "type": ""}):
            assert device.post("/api/v1/thing-datas/events", json=bad).status_code in (400, 404), bad
    event = admin.get(f"/event/events/{created.json()['id']}").json()
    assert event["source"]["id"] == thing.device_id and event["text"] == "opened" and event["open"] is True
