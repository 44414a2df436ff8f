"""The Cumulocity MQTT device life cycle (bootstrap, create, measure, operate; c8y-docs
`device-integration/mqtt`, docs/protocols.md sections 1-7), walked end to end with paho-mqtt on both backends.

Startup phase: step 0 request credentials (s/ucr -> s/dcr `70,...`), step 1 verify the device (100),
step 2 verify children (101), step 3 subscribe. Cycle phase: step A send CSV data, step B receive CSV
operations (and report them back).
"""

from __future__ import annotations

import time

import httpx
import pytest
from tests.mqtt_device import V5, V311, Device, ServerMqtt, unique
from tests.support import BOOTSTRAP_PASSWORD


def _credentials(mqtt_server: ServerMqtt, admin: httpx.Client, serial: str, protocol: int) -> tuple[str, str]:
    """Step 0: the operator registers the serial; the device polls s/ucr until it gets 70,tenant,user,pw."""
    assert admin.post("/devicecontrol/newDeviceRequests", json={"id": serial}).status_code == 201
    bootstrap = Device(
        mqtt_server.port, serial, protocol, username="management/devicebootstrap", password=BOOTSTRAP_PASSWORD
    )
    try:
        assert bootstrap.connect() == 0
        assert bootstrap.subscribe("s/dcr") == 1
        accepted = False
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            bootstrap.publish("s/ucr", "")
            if not bootstrap.none_within(0.3, "s/dcr"):
                pytest.fail("credentials before acceptance")
            status = admin.get(f"/devicecontrol/newDeviceRequests/{serial}").json()["status"]
            if status == "PENDING_ACCEPTANCE" and not accepted:
                response = admin.put(
                    f"/devicecontrol/newDeviceRequests/{serial}", json={"status": "ACCEPTED"}
                )
                assert response.status_code == 200
                accepted = True
                break
        assert accepted
        bootstrap.publish("s/ucr", "")
        code, tenant, username, password = bootstrap.text("s/dcr").split(",")
        assert (code, tenant, username) == ("70", "t1", f"device_{serial}")
        return f"{tenant}/{username}", password
    finally:
        bootstrap.close()


@pytest.mark.parametrize("protocol", [V5, V311], ids=["mqtt5", "mqtt311"])
def test_startup_and_cycle_phases(mqtt_server: ServerMqtt, admin: httpx.Client, protocol: int) -> None:
    serial = unique("life")
    login, password = _credentials(mqtt_server, admin, serial, protocol)

    device = Device(mqtt_server.port, f"d:{serial}", protocol, username=login, password=password)
    try:
        assert device.connect() == 0
        # Step 3 first as a real agent does: subscribe, then verify the device and its children.
        assert device.subscribe("s/ds") == 1 and device.subscribe("s/e") == 1
        # Step 1: create the device if missing (blindly on every boot), linked to the ClientId's serial.
        assert device.publish("s/us", "100,Seed Device,c8y_SeedType") == 0
        assert device.none_within(topic="s/e")
        found = admin.get(f"/identity/externalIds/c8y_Serial/{serial}").json()
        mo_id = found["managedObject"]["id"]
        mo = admin.get(f"/inventory/managedObjects/{mo_id}").json()
        assert (mo["name"], mo["type"], mo["owner"]) == ("Seed Device", "c8y_SeedType", f"device_{serial}")
        assert "c8y_IsDevice" in mo
        device.publish("s/us", "100,Seed Device,c8y_SeedType")  # next boot: it exists
        assert device.text("s/e") == "41,100,Device already existing"

        # Step 2: the child, created only if missing.
        child = f"{serial}-child"
        device.publish("s/us", f"101,{child},Child Name,Child Type")
        device.publish("s/us", f"101,{child},Child Name,Child Type")
        child_id = admin.get(f"/identity/externalIds/c8y_Serial/{child}").json()["managedObject"]["id"]
        children = admin.get(f"/inventory/managedObjects/{mo_id}/childDevices").json()["references"]
        assert [ref["managedObject"]["id"] for ref in children] == [child_id]
        assert admin.get(f"/inventory/managedObjects/{child_id}").json()["type"] == "Child Type"

        # Step A: CSV data, several rows per publish, for the device and for the child.
        rows = "\n".join(
            [
                "200,c8y_Temperature,T,21.5,C,2024-05-01T10:00:00.000Z",
                "211,22",
                '400,c8y_DoorEvent,"Door opened, then closed"',
                "301,c8y_TemperatureAlarm",
                "110,SN-1,ModelX,1.0",
            ]
        )
        assert device.publish("s/us", rows) == 0
        assert device.publish(f"s/us/{child}", "212,77") == 0
        assert device.none_within(topic="s/e")
        temperature = admin.get(
            "/measurement/measurements", params={"source": mo_id, "type": "c8y_Temperature"}
        )
        [measurement] = temperature.json()["measurements"]
        assert measurement["c8y_Temperature"]["T"] == {"value": 21.5, "unit": "C"}
        assert measurement["time"] == "2024-05-01T10:00:00.000Z"
        [battery] = admin.get("/measurement/measurements", params={"source": child_id}).json()["measurements"]
        assert battery["c8y_Battery"]["level"] == {"value": 77, "unit": "%"}
        [event] = admin.get("/event/events", params={"source": mo_id}).json()["events"]
        assert (event["type"], event["text"]) == ("c8y_DoorEvent", "Door opened, then closed")
        [alarm] = admin.get("/alarm/alarms", params={"source": mo_id}).json()["alarms"]
        assert (alarm["severity"], alarm["text"]) == ("CRITICAL", "Alarm of type c8y_TemperatureAlarm raised")
        hardware = admin.get(f"/inventory/managedObjects/{mo_id}").json()["c8y_Hardware"]
        assert hardware == {"serialNumber": "SN-1", "model": "ModelX", "revision": "1.0"}

        # Step B: operations for the device and for the child arrive on the one s/ds subscription.
        restart = admin.post("/devicecontrol/operations", json={"deviceId": mo_id, "c8y_Restart": {}}).json()
        assert device.text("s/ds") == f"510,{serial}"
        command = {"deviceId": child_id, "c8y_Command": {"text": 'echo "hi", there'}}
        admin.post("/devicecontrol/operations", json=command)
        assert device.text("s/ds") == f'511,{child},"echo \\"hi\\", there"'
        device.publish("s/us", "501,c8y_Restart")
        device.publish("s/us", "503,c8y_Restart")
        device.publish(f"s/us/{child}", "501,c8y_Command")
        device.publish(f"s/us/{child}", "503,c8y_Command,hi there")
        assert device.none_within(topic="s/e")
        assert admin.get(f"/devicecontrol/operations/{restart['id']}").json()["status"] == "SUCCESSFUL"
        [done] = admin.get("/devicecontrol/operations", params={"deviceId": child_id}).json()["operations"]
        assert done["status"] == "SUCCESSFUL"
        assert done["c8y_Command"] == {"text": 'echo "hi", there', "result": "hi there"}

        # A bulk operation for a group holding the device reaches it the same way.
        group = {"name": f"g-{serial}", "type": "c8y_DeviceGroup", "c8y_IsDeviceGroup": {}}
        group_id = admin.post("/inventory/managedObjects", json=group).json()["id"]
        ref = {"managedObject": {"id": mo_id}}
        assert admin.post(f"/inventory/managedObjects/{group_id}/childAssets", json=ref).status_code == 201
        bulk = {"groupId": group_id, "creationRamp": 0, "operationPrototype": {"c8y_Restart": {}}}
        bulk_id = admin.post("/devicecontrol/bulkoperations", json=bulk).json()["id"]
        assert device.text("s/ds") == f"510,{serial}"
        device.publish("s/us", "501,c8y_Restart")
        device.publish("s/us", "503,c8y_Restart")
        deadline = time.monotonic() + 30
        while (
            admin.get(f"/devicecontrol/bulkoperations/{bulk_id}").json()["generalStatus"] != "SUCCESSFUL"
            and time.monotonic() < deadline
        ):
            time.sleep(0.05)
        progress = admin.get(f"/devicecontrol/bulkoperations/{bulk_id}").json()["progress"]
        assert (progress["successful"], progress["all"]) == (1, 1)
    finally:
        device.close()
