"""Cumulocity JSON via MQTT: the REST documents on <api>/<resource>/<action>[/<id>], the source always the
ClientId's device, processing modes under t/ and q/, errors as JSON on `error`."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import orjson
import pytest
from tests.mqtt_device import V5, V311, Device, ServerMqtt

from tether.core.events import DomainEvent


def _mo(admin: httpx.Client, xid: str) -> str:
    return str(admin.get(f"/identity/externalIds/c8y_Serial/{xid}").json()["managedObject"]["id"])


@pytest.mark.parametrize("protocol", [V5, V311], ids=["mqtt5", "mqtt311"])
def test_create_update_and_errors(connect: Callable[..., Device], admin: httpx.Client, protocol: int) -> None:
    device = connect(protocol=protocol, subscribe=("error",))
    serial = device.client_id
    event = {"type": "TestEvent", "text": "sensor was triggered", "time": "2014-03-03T12:03:27.845Z"}
    # The source in the payload is ignored: always the ClientId's device (created on the fly).
    assert device.publish("event/events/create", orjson.dumps({**event, "source": {"id": "1"}})) == 0
    mo_id = _mo(admin, serial)
    bulk = {"events": [{**event, "type": "TestEvent1"}, {**event, "type": "TestEvent2"}]}
    device.publish("event/events/createBulk", orjson.dumps(bulk))
    events = admin.get("/event/events", params={"source": mo_id, "pageSize": 10}).json()["events"]
    assert sorted(e["type"] for e in events) == ["TestEvent", "TestEvent1", "TestEvent2"]
    first = next(e for e in events if e["type"] == "TestEvent")
    device.publish(f"event/events/update/{first['id']}", orjson.dumps({"text": "new text"}))
    assert admin.get(f"/event/events/{first['id']}").json()["text"] == "new text"

    measurement = {
        "type": "c8y_TemperatureMeasurement",
        "time": "2021-09-06T17:35:14.000+02:00",
        "c8y_TemperatureMeasurement": {"T": {"value": 20, "unit": "C"}},
    }
    device.publish("measurement/measurements/create", orjson.dumps(measurement))
    device.publish("measurement/measurements/createBulk", orjson.dumps({"measurements": [measurement] * 3}))
    found = admin.get("/measurement/measurements", params={"source": mo_id}).json()["measurements"]
    assert len(found) == 4 and found[0]["c8y_TemperatureMeasurement"]["T"] == {"value": 20, "unit": "C"}

    alarm = {"type": "c8y_A", "text": "t", "severity": "MINOR", "time": "2021-09-06T17:35:14.000Z"}
    device.publish("alarm/alarms/create", orjson.dumps(alarm))
    [raised] = admin.get("/alarm/alarms", params={"source": mo_id}).json()["alarms"]
    device.publish(f"alarm/alarms/update/{raised['id']}", orjson.dumps({"status": "ACKNOWLEDGED"}))
    assert admin.get(f"/alarm/alarms/{raised['id']}").json()["status"] == "ACKNOWLEDGED"

    device.publish(
        f"inventory/managedObjects/update/{mo_id}", orjson.dumps({"c8y_Firmware": {"version": "2"}})
    )
    assert admin.get(f"/inventory/managedObjects/{mo_id}").json()["c8y_Firmware"] == {"version": "2"}
    assert device.none_within(topic="error")

    # Errors: JSON on `error`; MQTT 5 also sees a reason code.
    v5 = protocol == V5
    assert device.publish("alarm/alarms/create", orjson.dumps({"type": "c8y_A"})) == (0x99 if v5 else 0)
    error = orjson.loads(device.text("error"))
    assert error["error"] == "alarm/validationError" and "'text' is mandatory" in error["message"]
    mid = device.send("event/events/create", b"{not json")
    assert device.ack(mid) == (0x99 if v5 else 0)
    # messageId: the Packet Identifier of the message that failed; QoS 0 has none.
    error = orjson.loads(device.text("error"))
    assert error["error"] == "event/validationError" and error["messageId"] == mid
    device.publish("event/events/create", b"{not json", qos=0)
    assert "messageId" not in orjson.loads(device.text("error"))
    device.publish("event/events/frobnicate", b"{}")
    assert orjson.loads(device.text("error"))["error"] == "event/notSupported"
    device.publish("inventory/managedObjects/update/999999999", b"{}")
    assert orjson.loads(device.text("error"))["error"] == "inventory/Not Found"


def test_processing_modes(
    connect: Callable[..., Device], admin: httpx.Client, mqtt_server: ServerMqtt
) -> None:
    device = connect()
    serial = device.client_id
    device.publish("s/us", "100")
    mo_id = _mo(admin, serial)
    announced: list[tuple[str, str | None]] = []

    def listen(event: DomainEvent) -> None:
        if event.source_id == int(mo_id) and event.resource == "measurements":
            announced.append((getattr(event.payload, "type", ""), None if event.id is None else "stored"))

    unsubscribe = mqtt_server.server.platform.services.events.subscribe(listen)
    try:
        # t/: processed (announced to real-time listeners) but not stored; q/: stored, not announced;
        # c/: as s/.
        device.publish("t/us", "200,c8y_Transient,T,1")
        device.publish("q/us", "200,c8y_Quiescent,T,2")
        device.publish("c/us", "200,c8y_Cep,T,3")
        transient = {"type": "c8y_TransientJson", "time": "2024-01-01T00:00:00Z"}
        device.publish("t/measurement/measurements/create", orjson.dumps(transient))
        quiet = {"type": "q", "text": "stored", "time": "2024-01-01T00:00:00Z"}
        device.publish("q/event/events/create", orjson.dumps(quiet))
    finally:
        unsubscribe()
    assert sorted(announced) == [("c8y_Cep", "stored"), ("c8y_Transient", None), ("c8y_TransientJson", None)]
    stored = admin.get("/measurement/measurements", params={"source": mo_id}).json()["measurements"]
    assert {m["type"] for m in stored} == {"c8y_Quiescent", "c8y_Cep"}
    assert [e["type"] for e in admin.get("/event/events", params={"source": mo_id}).json()["events"]] == ["q"]
    assert device.none_within(topic="s/e")
