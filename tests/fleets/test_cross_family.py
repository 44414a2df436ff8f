"""One model: a device of another family (SmartREST over MQTT) is made a thing by naming it and gets a shadow
with the credential it has; every thing is a managed object of /inventory/managedObjects."""

from __future__ import annotations

import json
from collections.abc import Callable

import httpx
import pytest
from tests.adapters.conftest import Users
from tests.mqtt_device import PROTOCOL_IDS, PROTOCOLS, Device, ServerMqtt
from tests.support import unique


@pytest.mark.parametrize("protocol", PROTOCOLS, ids=PROTOCOL_IDS)
def test_a_smartrest_device_made_a_thing_gets_a_shadow(
    protocol: int,
    admin: httpx.Client,
    accounts: Users,
    mqtt_server: ServerMqtt,
    mqtt_devices: Callable[..., Device],
) -> None:
    serial, login, password = accounts.device()
    device = mqtt_devices(mqtt_server.port, serial, protocol, username=login, password=password)
    assert device.connect() == 0
    assert device.publish("s/us", "100,Pump,c8y_Pump") == 0
    found = admin.get(f"/identity/externalIds/c8y_Serial/{serial}")
    assert found.status_code == 200, found.text
    mo_id = found.json()["managedObject"]["id"]
    name = unique("pump-")
    # Not a thing yet: no Fleets namespace.
    assert device.subscribe(f"$emqx/things/{name}/#") != 1
    device.close()
    made = admin.post("/api/v1/things", json={"name": name, "deviceId": mo_id})
    assert made.status_code == 201, made.text
    thing = made.json()
    assert thing["clientId"] == serial and thing["deviceId"] == mo_id
    # Its credential from SmartREST serves: no new one is issued for it.
    assert admin.post(f"/api/v1/things/{thing['id']}/credentials").status_code == 409
    # Reconnected, it uses its thing's shadow, and still speaks SmartREST.
    again = mqtt_devices(mqtt_server.port, serial, protocol, username=login, password=password)
    assert again.connect() == 0
    shadow = f"$emqx/things/{name}/shadow"
    assert again.subscribe(f"{shadow}/update/accepted") == 1
    assert again.publish(f"{shadow}/update", json.dumps({"state": {"reported": {"rpm": 1200}}})) == 0
    assert json.loads(again.get(f"{shadow}/update/accepted").payload)["version"] == 1
    assert again.publish("s/us", "200,c8y_Speed,rpm,1200") == 0
    assert admin.get(f"/api/v1/things/{thing['id']}/shadow").json()["state"]["reported"] == {"rpm": 1200}
    # The same device in the inventory: the SmartREST data and the thing's fragment on one object.
    things = admin.get("/inventory/managedObjects", params={"fragmentType": "fleets_Thing", "pageSize": 2000})
    listed = {mo["id"]: mo for mo in things.json()["managedObjects"]}
    assert listed[mo_id]["name"] == "Pump" and listed[mo_id]["fleets_Thing"]["name"] == name
    measurements = admin.get("/measurement/measurements", params={"source": mo_id}).json()["measurements"]
    assert measurements and measurements[0]["c8y_Speed"]["rpm"]["value"] == 1200
    # Deleting the thing deletes the device: the one object, its shadow, its data.
    assert admin.delete(f"/api/v1/things/{thing['id']}").status_code == 204
    assert admin.get(f"/inventory/managedObjects/{mo_id}").status_code == 404
