"""Cumulocity's REST device integration (c8y-docs `device-integration-rest`) steps 0-11 end to end, exactly as
a device walks them: bootstrap credentials, identity check, inventory create/register/update, child devices,
operations through /devicecontrol/notifications (Bayeux over HTTP long-polling), then measurements, events and
alarms."""

from __future__ import annotations

import itertools
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
from tests.support import ADMIN_PASSWORD, BOOTSTRAP_PASSWORD, ServerThread

VENDOR = "application/vnd.com.nsn.cumulocity."
MO = f"{VENDOR}managedObject+json"
XID = f"{VENDOR}externalId+json"
CREDENTIALS = f"{VENDOR}deviceCredentials+json"
REFERENCE = f"{VENDOR}managedObjectReference+json"
MEASUREMENT = f"{VENDOR}measurement+json"
EVENT = f"{VENDOR}event+json"
ALARM = f"{VENDOR}alarm+json"
OPERATION = f"{VENDOR}operation+json"
NOTIFICATIONS = "/devicecontrol/notifications"
_runs = itertools.count()


def ok(response: httpx.Response, status: int) -> Any:
    assert response.status_code == status, (response.request.method, response.request.url, response.text)
    return response.json() if response.content else None


def bayeux(client: httpx.Client, *messages: dict[str, Any]) -> list[dict[str, Any]]:
    replies: list[dict[str, Any]] = ok(
        client.post(NOTIFICATIONS, json=list(messages), headers={"Content-Type": "application/json"}), 200
    )
    return replies


def operations(client: httpx.Client, **params: str) -> list[dict[str, Any]]:
    body = ok(client.get("/devicecontrol/operations", params={"pageSize": "100", **params}), 200)
    found: list[dict[str, Any]] = body["operations"]
    return found


def test_device_integration_life_cycle(server: ServerThread) -> None:
    serial = f"0000000017b769d5{next(_runs)}"
    xid = f"raspi-{serial}"
    base = server.url
    admin = httpx.Client(base_url=base, auth=("t1/admin", ADMIN_PASSWORD), timeout=60)
    bootstrap = httpx.Client(
        base_url=base, auth=("management/devicebootstrap", BOOTSTRAP_PASSWORD), timeout=60
    )
    with admin, bootstrap:
        # ---- Step 0: request device credentials.
        ok(admin.post("/devicecontrol/newDeviceRequests", json={"id": serial}), 201)

        def ask() -> httpx.Response:
            return bootstrap.post(
                "/devicecontrol/deviceCredentials",
                json={"id": serial},
                headers={"Content-Type": CREDENTIALS, "Accept": CREDENTIALS},
            )

        for _ in range(2):  # the device asks repeatedly; 404 until the operator accepts
            waiting = ask()
            assert waiting.status_code == 404, waiting.text
            assert waiting.json()["error"] == "devicecontrol/Not Found"
        request = ok(admin.get(f"/devicecontrol/newDeviceRequests/{serial}"), 200)
        assert request["status"] == "PENDING_ACCEPTANCE"
        accepted = ok(
            admin.put(f"/devicecontrol/newDeviceRequests/{serial}", json={"status": "ACCEPTED"}), 200
        )
        assert accepted["status"] == "ACCEPTED"
        issued = ask()
        credentials = ok(issued, 201)
        assert issued.headers["content-type"].startswith(CREDENTIALS)
        assert credentials["id"] == serial and credentials["tenantId"] == "t1"
        assert credentials["username"] == f"device_{serial}" and credentials["password"]
        assert ask().status_code == 404  # issued exactly once

        auth = (f"{credentials['tenantId']}/{credentials['username']}", credentials["password"])
        device = httpx.Client(base_url=base, auth=auth, timeout=60)
        listener = httpx.Client(base_url=base, auth=auth, timeout=None)  # the long-poll connection
        with device, listener:
            # ---- Step 1: not registered yet.
            missing = device.get(f"/identity/externalIds/c8y_Serial/{xid}")
            assert missing.status_code == 404
            assert missing.headers["content-type"].startswith(f"{VENDOR}error+json")
            assert missing.json() == {
                "error": "identity/Not Found",
                "info": missing.json()["info"],
                "message": f"External id not found; external id = ID [type=c8y_Serial, value={xid}]",
            }

            # ---- Step 2: create the device in the inventory.
            document = {
                "name": f"RaspPi BCM2708 {serial}",
                "type": "c8y_Linux",
                "c8y_IsDevice": {},
                "com_cumulocity_model_Agent": {},
                "c8y_SupportedOperations": [
                    "c8y_Restart",
                    "c8y_Configuration",
                    "c8y_Software",
                    "c8y_Firmware",
                ],
                "c8y_Hardware": {"revision": "000e", "model": "RaspPi BCM2708", "serialNumber": serial},
                "c8y_Configuration": {"config": "#Fri Aug 30 09:13:56 BST 2013\nc8y.log.eventLevel=INFO\n"},
                "c8y_Mobile": {
                    "imei": "861145013087177",
                    "cellId": "4904-A496",
                    "iccid": "89490200000876620613",
                },
                "c8y_Firmware": {"name": "raspberrypi-bootloader", "version": "1.20130207-1"},
                "c8y_Software": {
                    "pi-driver": "pi-driver-3.4.5.jar",
                    "pi4j-gpio-extension": "pi4j-gpio-extension-0.0.5.jar",
                },
            }
            response = device.post(
                "/inventory/managedObjects", json=document, headers={"Content-Type": MO, "Accept": MO}
            )
            agent = ok(response, 201)
            assert response.headers["content-type"].startswith(MO)
            agent_id = agent["id"]
            agent_self = f"{base}/inventory/managedObjects/{agent_id}"
            assert agent["self"] == agent_self and response.headers["location"] == agent_self
            assert agent["owner"] == credentials["username"] and agent["lastUpdated"]
            assert {k: agent[k] for k in document} == document
            for collection in ("assetParents", "childAssets", "childDevices", "deviceParents"):
                assert agent[collection] == {"references": [], "self": f"{agent_self}/{collection}"}

            # ---- Step 3: register the device under its serial.
            response = device.post(
                f"/identity/globalIds/{agent_id}/externalIds",
                json={"type": "c8y_Serial", "externalId": xid},
                headers={"Content-Type": XID, "Accept": XID},
            )
            registered = ok(response, 201)
            assert response.headers["content-type"].startswith(XID)
            assert registered == {
                "externalId": xid,
                "managedObject": {"id": agent_id, "self": agent_self},
                "self": f"{base}/identity/externalIds/c8y_Serial/{xid}",
                "type": "c8y_Serial",
            }
            # Step 1 after the next power-up: the device finds itself.
            found = device.get(f"/identity/externalIds/c8y_Serial/{xid}", headers={"Accept": XID})
            assert ok(found, 200) == registered
            assert found.headers["content-type"].startswith(XID)

            # ---- Step 4: bring the software list up to date.
            software = {
                "pi-driver": "pi-driver-3.4.6.jar",
                "pi4j-gpio-extension": "pi4j-gpio-extension-0.0.5.jar",
            }
            updated = ok(
                device.put(
                    f"/inventory/managedObjects/{agent_id}",
                    json={"c8y_Software": software},
                    headers={"Content-Type": MO},
                ),
                200,
            )
            assert updated["c8y_Software"] == software and updated["name"] == document["name"]
            assert updated["c8y_Hardware"] == document["c8y_Hardware"]

            # ---- Step 5: a child device, linked through the childDevices URL of step 2.
            child = ok(
                device.post(
                    "/inventory/managedObjects",
                    json={"name": f"Sensor of {serial}", "type": "c8y_Sensor", "c8y_IsDevice": {}},
                    headers={"Content-Type": MO, "Accept": MO},
                ),
                201,
            )
            assert "com_cumulocity_model_Agent" not in child
            link = ok(
                device.post(
                    f"/inventory/managedObjects/{agent_id}/childDevices",
                    json={"managedObject": {"self": child["self"]}},
                    headers={"Content-Type": REFERENCE},
                ),
                201,
            )
            assert link["managedObject"]["id"] == child["id"]
            children = ok(device.get(f"/inventory/managedObjects/{agent_id}/childDevices"), 200)
            assert [r["managedObject"]["id"] for r in children["references"]] == [child["id"]]

            # ---- Step 6: finish the operation that needed a restart, then subscribe.
            # Before the "restart" the operator had queued a restart that the device began executing.
            restart = ok(
                admin.post(
                    "/devicecontrol/operations",
                    json={"deviceId": agent_id, "description": "Restart", "c8y_Restart": {}},
                    headers={"Content-Type": OPERATION, "Accept": OPERATION},
                ),
                201,
            )
            assert restart["status"] == "PENDING"
            restart_url = f"/devicecontrol/operations/{restart['id']}"
            assert ok(admin.put(restart_url, json={"status": "EXECUTING"}), 200)["status"] == "EXECUTING"
            executing = operations(device, agentId=agent_id, status="EXECUTING")
            assert [(o["id"], o["status"]) for o in executing] == [(restart["id"], "EXECUTING")]
            done = ok(
                device.put(restart_url, json={"status": "SUCCESSFUL"}, headers={"Content-Type": OPERATION}),
                200,
            )
            assert done["status"] == "SUCCESSFUL"
            assert operations(device, agentId=agent_id, status="EXECUTING") == []

            [shake] = bayeux(
                device,
                {
                    "id": "1",
                    "supportedConnectionTypes": ["long-polling"],
                    "channel": "/meta/handshake",
                    "version": "1.0",
                },
            )
            assert shake["successful"] is True and shake["channel"] == "/meta/handshake"
            assert shake["id"] == "1" and "long-polling" in shake["supportedConnectionTypes"]
            client_id = shake["clientId"]
            [subscribed] = bayeux(
                device,
                {
                    "id": "2",
                    "channel": "/meta/subscribe",
                    "subscription": f"/{agent_id}",
                    "clientId": client_id,
                },
            )
            assert subscribed["successful"] is True
            assert subscribed["subscription"] == f"/{agent_id}" and subscribed["id"] == "2"
            # Operations queued before the subscription: none left.
            assert operations(device, agentId=agent_id, status="PENDING") == []

            # ---- Step 7: the long-poll connect is held; the operator queues an operation for the child.
            connect = {
                "id": "3",
                "connectionType": "long-polling",
                "channel": "/meta/connect",
                "clientId": client_id,
                "advice": {"timeout": 600_000},  # hold it until the operation arrives, however long
            }
            session = server.platform.services.realtime._sessions[client_id]
            with ThreadPoolExecutor(max_workers=1) as pool:
                held = pool.submit(bayeux, listener, connect)
                while not session.waiting:  # the server now holds the connect
                    assert not held.done(), held.result()
                    time.sleep(0.01)
                assert not held.done()
                configuration = ok(
                    admin.post(
                        "/devicecontrol/operations",
                        json={
                            "deviceId": child["id"],
                            "description": "Configuration update",
                            "c8y_Configuration": {"config": "#Wed Sep 04 10:54:06 CEST 2013\n"},
                        },
                        headers={"Content-Type": OPERATION, "Accept": OPERATION},
                    ),
                    201,
                )
                replies = held.result()
            assert configuration["status"] == "PENDING" and configuration["deviceId"] == child["id"]
            assert len(replies) == 2, replies
            delivered, connected = replies
            assert delivered["channel"] == f"/{agent_id}"
            assert delivered["data"] == configuration
            assert delivered["data"]["self"] == f"{base}/devicecontrol/operations/{configuration['id']}"
            assert connected["channel"] == "/meta/connect" and connected["successful"] is True
            assert connected["id"] == "3"
            pending = operations(device, agentId=agent_id, status="PENDING")
            assert [o["id"] for o in pending] == [configuration["id"]]
            operation_url = f"/devicecontrol/operations/{configuration['id']}"
            for status in ("EXECUTING", "SUCCESSFUL"):
                moved = ok(
                    device.put(operation_url, json={"status": status}, headers={"Content-Type": OPERATION}),
                    200,
                )
                assert moved["status"] == status and moved["id"] == configuration["id"]

            # ---- Step 8: update the inventory (the device's location).
            position = {"alt": 73.9, "lng": 6.151782, "lat": 51.211971}
            moved_device = ok(
                device.put(
                    f"/inventory/managedObjects/{agent_id}",
                    json={"c8y_Position": position},
                    headers={"Content-Type": MO},
                ),
                200,
            )
            assert moved_device["c8y_Position"] == position
            assert moved_device["c8y_Software"] == software  # fragments not sent are kept

            # ---- Step 9: a measurement.
            response = device.post(
                "/measurement/measurements",
                json={
                    "source": {"id": agent_id},
                    "time": "2013-07-02T16:32:30.152+02:00",
                    "type": "huawei_E3131SignalStrength",
                    "c8y_SignalStrength": {
                        "rssi": {"value": -53, "unit": "dBm"},
                        "ber": {"value": 0.14, "unit": "%"},
                    },
                },
                headers={"Content-Type": MEASUREMENT, "Accept": MEASUREMENT},
            )
            measurement = ok(response, 201)
            assert measurement["source"]["id"] == agent_id
            assert measurement["type"] == "huawei_E3131SignalStrength"
            assert measurement["c8y_SignalStrength"]["rssi"] == {"value": -53, "unit": "dBm"}

            # ---- Step 10: an event (a location update).
            response = device.post(
                "/event/events",
                json={
                    "source": {"id": agent_id},
                    "text": "Location updated",
                    "time": "2013-07-19T09:07:22.598+02:00",
                    "type": "queclink_GV200LocationUpdate",
                    "c8y_Position": position,
                },
                headers={"Content-Type": EVENT, "Accept": EVENT},
            )
            event = ok(response, 201)
            assert event["source"]["id"] == agent_id and event["text"] == "Location updated"
            assert event["c8y_Position"] == position

            # ---- Step 11: an alarm, raised twice while active: one alarm, counted.
            raised = {
                "source": {"id": agent_id},
                "text": "Tracker lost power",
                "time": "2013-08-19T21:31:22.740+02:00",
                "type": "c8y_PowerAlarm",
                "status": "ACTIVE",
                "severity": "MAJOR",
            }
            response = device.post(
                "/alarm/alarms", json=raised, headers={"Content-Type": ALARM, "Accept": ALARM}
            )
            alarm = ok(response, 201)
            assert response.headers["content-type"].startswith(ALARM)
            assert alarm["self"] == f"{base}/alarm/alarms/{alarm['id']}"
            assert alarm["status"] == "ACTIVE" and alarm["severity"] == "MAJOR" and alarm["count"] == 1
            active = ok(device.get("/alarm/alarms", params={"source": agent_id, "status": "ACTIVE"}), 200)
            assert [a["id"] for a in active["alarms"]] == [alarm["id"]]
            again = ok(
                device.post(
                    "/alarm/alarms",
                    json={**raised, "time": "2013-08-19T21:41:22.740+02:00"},
                    headers={"Content-Type": ALARM, "Accept": ALARM},
                ),
                201,
            )
            assert again["id"] == alarm["id"] and again["count"] == 2

        # ---- Everything read back by the operator.
        measurements = ok(admin.get("/measurement/measurements", params={"source": agent_id}), 200)
        assert [m["id"] for m in measurements["measurements"]] == [measurement["id"]]
        assert measurements["measurements"][0]["c8y_SignalStrength"]["ber"] == {"value": 0.14, "unit": "%"}
        stored_event = ok(admin.get(f"/event/events/{event['id']}"), 200)
        assert stored_event["type"] == "queclink_GV200LocationUpdate"
        assert stored_event["c8y_Position"] == position
        events = ok(admin.get("/event/events", params={"source": agent_id}), 200)
        assert [e["id"] for e in events["events"]] == [event["id"]]
        stored_alarm = ok(admin.get(f"/alarm/alarms/{alarm['id']}"), 200)
        assert stored_alarm["count"] == 2 and stored_alarm["status"] == "ACTIVE"
        assert stored_alarm["text"] == "Tracker lost power"
        assert ok(admin.get("/alarm/alarms/count", params={"source": agent_id}), 200) == 1
        statuses = {o["id"]: o["status"] for o in operations(admin, agentId=agent_id)}
        assert statuses == {restart["id"]: "SUCCESSFUL", configuration["id"]: "SUCCESSFUL"}
        assert (
            ok(admin.get(f"/devicecontrol/operations/{configuration['id']}"), 200)["deviceId"] == child["id"]
        )
        stored = ok(admin.get(f"/inventory/managedObjects/{agent_id}"), 200)
        assert stored["c8y_Software"] == software and stored["c8y_Position"] == position
        assert stored["owner"] == credentials["username"]
        assert [r["managedObject"]["id"] for r in stored["childDevices"]["references"]] == [child["id"]]
        assert (
            ok(admin.get(f"/identity/externalIds/c8y_Serial/{xid}"), 200)["managedObject"]["id"] == agent_id
        )
