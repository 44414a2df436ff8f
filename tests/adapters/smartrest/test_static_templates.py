"""The upstream static templates (docs/protocols.md section 4) and their effect through the REST API."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
from tests.mqtt_device import Device


def _mo(admin: httpx.Client, xid: str) -> str:
    return str(admin.get(f"/identity/externalIds/c8y_Serial/{xid}").json()["managedObject"]["id"])


def _device(admin: httpx.Client, mo_id: str) -> dict[str, Any]:
    document: dict[str, Any] = admin.get(f"/inventory/managedObjects/{mo_id}").json()
    return document


def test_inventory_templates(connect: Callable[..., Device], admin: httpx.Client) -> None:
    device = connect()
    serial = device.client_id
    device.publish("s/us", "100")  # defaults: name and type
    mo_id = _mo(admin, serial)
    mo = _device(admin, mo_id)
    assert (mo["name"], mo["type"]) == (f"MQTT Device {serial}", "c8y_MQTTDevice")
    rows = [
        "110,,ModelY",
        "111,356938035643809,8991101200003204510,,262,01",
        "112,50.323423,6.423423,,5",
        '113,"val1=1\\nval2=2"',
        "114,c8y_Restart,c8y_Configuration,c8y_SoftwareList",
        "115,fw,1.2.3,http://x/fw",
        "116,software1,version1,url1,software2,,url2,software3,version3",
        "117,60",
        "118,ntcagent,dmesg",
        "119,modbus,system",
        "121,true,8473",
        "122,thin-edge.io,0.6,https://thin-edge.io,Cumulocity",
        "125",
        "143,yum,docker",
    ]
    assert device.publish("s/us", "\n".join(rows)) == 0
    assert device.none_within(topic="s/e")
    mo = _device(admin, mo_id)
    assert mo["c8y_Hardware"] == {"model": "ModelY"}
    assert mo["c8y_Mobile"] == {
        "imei": "356938035643809",
        "iccid": "8991101200003204510",
        "mcc": "262",
        "mnc": "01",
    }
    assert mo["c8y_Position"] == {"lat": 50.323423, "lng": 6.423423, "accuracy": 5}
    assert mo["c8y_Configuration"] == {"config": "val1=1\\nval2=2"}
    assert mo["c8y_SupportedOperations"] == ["c8y_Restart", "c8y_Configuration", "c8y_SoftwareList"]
    assert mo["c8y_Firmware"] == {"name": "fw", "version": "1.2.3", "url": "http://x/fw"}
    assert mo["c8y_SoftwareList"] == [
        {"name": "software1", "version": "version1", "url": "url1"},
        {"name": "software2", "version": "", "url": "url2"},
        {"name": "software3", "version": "version3", "url": ""},
    ]
    assert mo["c8y_RequiredAvailability"] == {"responseInterval": 60}
    assert mo["c8y_SupportedLogs"] == ["ntcagent", "dmesg"]
    assert mo["c8y_SupportedConfigurations"] == ["modbus", "system"]
    assert mo["c8y_Profile"] == {"profileExecuted": True, "profileId": "8473"}
    assert mo["c8y_Agent"] == {
        "name": "thin-edge.io",
        "version": "0.6",
        "url": "https://thin-edge.io",
        "maintainer": "Cumulocity",
    }
    assert mo["c8y_Availability"]["status"] == "AVAILABLE"
    assert mo["c8y_SupportedSoftwareTypes"] == ["yum", "docker"]
    # 117 only sets an interval that is absent; 107 removes fragments; 143 without types removes them.
    device.publish("s/us", "117,5\n107,c8y_Position,c8y_Mobile\n143")
    mo = _device(admin, mo_id)
    assert mo["c8y_RequiredAvailability"] == {"responseInterval": 60}
    assert "c8y_Position" not in mo and "c8y_Mobile" not in mo and "c8y_SupportedSoftwareTypes" not in mo
    # Advanced software: set, append (replacing the same name and version), remove.
    device.publish("s/us", "140,docker,3.2.1,systemd,https://www.docker.com/,nginx,1.6,container,")
    device.publish("s/us", "141,nginx,1.6,container,https://nginx.org,redis,7,container,")
    device.publish("s/us", "142,docker,3.2.1")
    software = _device(admin, mo_id)["c8y_SoftwareList"]
    assert software == [
        {"name": "nginx", "version": "1.6", "softwareType": "container", "url": "https://nginx.org"},
        {"name": "redis", "version": "7", "softwareType": "container", "url": ""},
    ]
    # 102/104: a service (child addition) created once, its status updated.
    service = f"{serial}:service:db"
    device.publish("s/us", f"102,{service},systemd,DatabaseService,up")
    device.publish("s/us", f"102,{service},systemd,DatabaseService,down")
    service_id = _mo(admin, service)
    additions = admin.get(f"/inventory/managedObjects/{mo_id}/childAdditions").json()["references"]
    assert [r["managedObject"]["id"] for r in additions] == [service_id]
    device.publish(f"s/us/{service}", "104,restarting")
    svc = _device(admin, service_id)
    assert (svc["type"], svc["name"], svc["serviceType"], svc["status"]) == (
        "c8y_Service",
        "DatabaseService",
        "systemd",
        "restarting",
    )
    assert device.none_within(topic="s/e")


def test_measurement_alarm_and_event_templates(connect: Callable[..., Device], admin: httpx.Client) -> None:
    device = connect()
    serial = device.client_id
    rows = [
        "201,KamstrupA220Reading,2022-03-19T12:03:27.845Z,c8y_SinglePhaseEnergyMeasurement,A+:1,1234,kWh,"
        "c8y_SinglePhaseEnergyMeasurement,A-:1,2345,kWh,c8y_ThreePhaseEnergyMeasurement,A+:1,123,kWh",
        "210,-90,23,2016-06-22T17:03:14.000+02:00",
        "210,,5",
    ]
    assert device.publish("s/us", "\n".join(rows)) == 0
    mo_id = _mo(admin, serial)
    found = {
        m["type"]: m
        for m in admin.get("/measurement/measurements", params={"source": mo_id}).json()["measurements"]
    }
    reading = found["KamstrupA220Reading"]
    assert reading["c8y_SinglePhaseEnergyMeasurement"] == {
        "A+:1": {"value": 1234, "unit": "kWh"},
        "A-:1": {"value": 2345, "unit": "kWh"},
    }
    assert reading["time"] == "2022-03-19T12:03:27.845Z"
    signals = admin.get(
        "/measurement/measurements", params={"source": mo_id, "type": "c8y_SignalStrength"}
    ).json()
    assert [m["c8y_SignalStrength"] for m in signals["measurements"]] == [
        {"rssi": {"value": -90, "unit": "dBm"}, "ber": {"value": 23, "unit": "%"}},
        {"ber": {"value": 5, "unit": "%"}},
    ]

    device.publish(
        "s/us", '302,c8y_TemperatureAlarm,"This is an alarm"\n304,c8y_Warn,,2013-06-22T17:03:14.000+02:00'
    )
    device.publish("s/us", "305,c8y_TemperatureAlarm,critical")
    alarms = {a["type"]: a for a in admin.get("/alarm/alarms", params={"source": mo_id}).json()["alarms"]}
    assert (alarms["c8y_TemperatureAlarm"]["severity"], alarms["c8y_TemperatureAlarm"]["text"]) == (
        "CRITICAL",
        "This is an alarm",
    )
    assert alarms["c8y_Warn"]["time"] == "2013-06-22T15:03:14.000Z"
    admin.put(
        f"/alarm/alarms/{alarms['c8y_Warn']['id']}", json={"status": "ACKNOWLEDGED", "c8y_Note": {"a": 1}}
    )
    device.publish(
        "s/us", "307,c8y_Warn,c8y_Note\n306,c8y_Warn\n306,c8y_TemperatureAlarm\n306,c8y_NoSuchAlarm"
    )
    warn = admin.get(f"/alarm/alarms/{alarms['c8y_Warn']['id']}").json()
    assert warn["status"] == "CLEARED" and "c8y_Note" not in warn
    assert admin.get(f"/alarm/alarms/{alarms['c8y_TemperatureAlarm']['id']}").json()["status"] == "CLEARED"

    device.publish("s/us", "401,51.151977,6.95173,67\n402,52.5,13.4,,10")
    device.publish("s/us", "400,c8y_MyEvent,with fragment")
    events = admin.get("/event/events", params={"source": mo_id, "pageSize": 10}).json()["events"]
    locations = [e["c8y_Position"] for e in events if e["type"] == "c8y_LocationUpdate"]
    assert sorted(locations, key=str) == sorted(
        [{"lat": 51.151977, "lng": 6.95173, "alt": 67}, {"lat": 52.5, "lng": 13.4, "accuracy": 10}], key=str
    )
    assert _device(admin, mo_id)["c8y_Position"] == {"lat": 52.5, "lng": 13.4, "accuracy": 10}
    mine = next(e for e in events if e["type"] == "c8y_MyEvent")
    admin.put(f"/event/events/{mine['id']}", json={"c8y_Extra": {"x": 1}, "c8y_Keep": {}})
    device.publish("s/us", "407,c8y_MyEvent,c8y_Extra")
    kept = admin.get(f"/event/events/{mine['id']}").json()
    assert "c8y_Extra" not in kept and "c8y_Keep" in kept
    assert device.none_within(topic="s/e")


def test_operation_templates(connect: Callable[..., Device], admin: httpx.Client) -> None:
    device = connect()
    serial = device.client_id
    device.publish("s/us", "100")
    mo_id = _mo(admin, serial)

    def create(**fragments: Any) -> str:
        op = admin.post("/devicecontrol/operations", json={"deviceId": mo_id, **fragments}).json()
        device.text("s/ds")
        return str(op["id"])

    def status(op_id: str) -> dict[str, Any]:
        body: dict[str, Any] = admin.get(f"/devicecontrol/operations/{op_id}").json()
        return body

    older, newer = create(c8y_Restart={}), create(c8y_Restart={})
    device.publish("s/us", "501,c8y_Restart")  # the oldest PENDING one
    assert (status(older)["status"], status(newer)["status"]) == ("EXECUTING", "PENDING")
    device.publish("s/us", '502,c8y_Restart,"Could not restart"')
    assert (status(older)["status"], status(older)["failureReason"]) == ("FAILED", "Could not restart")
    # 503 on a PENDING one passes through EXECUTING.
    device.publish("s/us", "503,c8y_Restart")
    assert status(newer)["status"] == "SUCCESSFUL"
    device.publish("s/us", "501,c8y_Restart")
    assert device.text("s/e") == "45,501,No PENDING operation with fragment c8y_Restart"

    relays = create(c8y_RelayArray=["OPEN", "OPEN"])
    device.publish("s/us", f"504,{relays}\n506,{relays},CLOSED,OPEN")
    assert _device(admin, mo_id)["c8y_RelayArray"] == ["CLOSED", "OPEN"]
    logs = create(c8y_LogfileRequest={"logFile": "syslog"})
    device.publish("s/us", f"506,{logs},http://x/log.txt")
    assert status(logs)["c8y_LogfileRequest"] == {"logFile": "syslog", "file": "http://x/log.txt"}
    mode = create(c8y_CommunicationMode={"mode": "SMS"})
    device.publish("s/us", f"506,{mode}")
    assert _device(admin, mo_id)["c8y_CommunicationMode"] == {"mode": "SMS"}

    first, second, other = (
        create(c8y_Command={"text": "a"}),
        create(c8y_Command={"text": "b"}),
        create(c8y_Restart={}),
    )
    device.publish("s/us", f"504,{first}\n504,{second}\n504,{other}")
    device.publish("s/us", '507,c8y_Command,"Unexpected device restart"')
    assert [status(i)["status"] for i in (first, second, other)] == ["FAILED", "FAILED", "EXECUTING"]
    device.publish("s/us", "507")  # every EXECUTING one
    assert status(other)["status"] == "FAILED"
    assert device.none_within(topic="s/e")
