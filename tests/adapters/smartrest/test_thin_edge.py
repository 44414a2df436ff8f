"""What thin-edge.io does (its Cumulocity mapper; docs/protocols.md sections 1-5): ClientId = device id, 100
and 101 on every start, children with colons, `500` after every reconnect, 501-503 and 504-506 by id, 123 ->
124, and a last will on s/us."""

from __future__ import annotations

from collections.abc import Callable

import httpx
from tests.mqtt_device import Device


def _mo(admin: httpx.Client, xid: str) -> str:
    response = admin.get(f"/identity/externalIds/c8y_Serial/{xid}")
    assert response.status_code == 200, response.text
    return str(response.json()["managedObject"]["id"])


def test_children_with_colons_and_nested_children(
    connect: Callable[..., Device], admin: httpx.Client
) -> None:
    device = connect()
    serial = device.client_id
    device.publish("s/us", f"100,{serial},thin-edge.io")
    child, grandchild = f"{serial}:device:child", f"{serial}:device:grandchild"
    device.publish("s/us", f"101,{child},child,thin-edge.io-child")
    # Deeper children: 101 on the parent child's topic.
    device.publish(f"s/us/{child}", f"101,{grandchild},grandchild,thin-edge.io-child")
    device.publish(f"s/us/{grandchild}", "211,19.5")
    # A first-level child named only by its topic is created on the fly.
    auto = f"{serial}:device:auto"
    device.publish(f"s/us/{auto}", "212,50")
    assert device.none_within(topic="s/e")
    root_id, child_id, grandchild_id, auto_id = (_mo(admin, x) for x in (serial, child, grandchild, auto))
    kids = {
        r["managedObject"]["id"]
        for r in admin.get(f"/inventory/managedObjects/{root_id}/childDevices").json()["references"]
    }
    assert kids == {child_id, auto_id}
    nested = admin.get(f"/inventory/managedObjects/{child_id}/childDevices").json()["references"]
    assert [r["managedObject"]["id"] for r in nested] == [grandchild_id]
    temperature = admin.get("/measurement/measurements", params={"source": grandchild_id}).json()[
        "measurements"
    ]
    assert temperature[0]["c8y_TemperatureMeasurement"]["T"]["value"] == 19.5
    # 105: the children's external ids on s/ds.
    device.publish("s/us", "105")
    assert sorted(device.text("s/ds").split(",")[1:]) == sorted([child, auto])
    # 123 -> 124 on the device's and on a child's topic.
    device.publish("s/us", "123")
    assert device.text("s/ds") == f"124,{root_id}"
    device.publish(f"s/us/{grandchild}", "123")
    assert device.text("s/ds") == f"124,{grandchild_id}"
    # An operation for the grandchild goes to the agent's connection, named by the grandchild's id.
    admin.post("/devicecontrol/operations", json={"deviceId": grandchild_id, "c8y_Restart": {}})
    assert device.text("s/ds") == f"510,{grandchild}"


def test_operations_created_offline_arrive_after_reconnect(
    connect: Callable[..., Device], admin: httpx.Client
) -> None:
    device = connect()
    serial = device.client_id
    device.publish("s/us", f"100,{serial},thin-edge.io")
    mo_id = _mo(admin, serial)
    device.close()
    first = admin.post("/devicecontrol/operations", json={"deviceId": mo_id, "c8y_Restart": {}}).json()
    second = admin.post(
        "/devicecontrol/operations", json={"deviceId": mo_id, "c8y_Command": {"text": "ls"}}
    ).json()

    # Subscribing again delivers what was not forwarded yet, once.
    device = connect(serial)
    assert device.lines("s/ds", 2) == [f"510,{serial}", f"511,{serial},ls"]
    assert device.none_within(topic="s/ds")
    # 500 resends every PENDING operation, forwarded or not (thin-edge sends it after every reconnect).
    device.publish("s/us", "500")
    assert device.lines("s/ds", 2) == [f"510,{serial}", f"511,{serial},ls"]
    # 504-506 by id.
    device.publish("s/us", f"504,{first['id']}")
    device.publish("s/us", f"506,{first['id']}")
    device.publish("s/us", f"504,{second['id']}")
    device.publish("s/us", f'505,{second["id"]},"command failed: exit 1"')
    assert device.none_within(topic="s/e")
    assert admin.get(f"/devicecontrol/operations/{first['id']}").json()["status"] == "SUCCESSFUL"
    failed = admin.get(f"/devicecontrol/operations/{second['id']}").json()
    assert (failed["status"], failed["failureReason"]) == ("FAILED", "command failed: exit 1")
    # 500 with nothing pending sends nothing; another device's operation id is refused.
    device.publish("s/us", "500")
    assert device.none_within(topic="s/ds")
    other = connect()
    other_serial = other.client_id
    other.publish("s/us", "100")
    foreign = admin.post(
        "/devicecontrol/operations", json={"deviceId": _mo(admin, other_serial), "c8y_Restart": {}}
    ).json()
    device.publish("s/us", f"504,{foreign['id']}")
    assert device.text("s/e").startswith("45,504,")
    assert admin.get(f"/devicecontrol/operations/{foreign['id']}").json()["status"] == "PENDING"


def test_operation_reaches_a_connected_device_at_once(
    connect: Callable[..., Device], admin: httpx.Client
) -> None:
    device = connect()
    serial = device.client_id
    device.publish("s/us", "100")
    mo_id = _mo(admin, serial)
    cases = [
        ({"c8y_Configuration": {"config": "a=1\nb=2"}}, f'513,{serial},"a=1\nb=2"'),
        (
            {"c8y_Firmware": {"name": "fw", "version": "1.0", "url": "http://x/fw"}},
            f"515,{serial},fw,1.0,http://x/fw",
        ),
        (
            {"c8y_SoftwareUpdate": [{"name": "a", "version": "1", "url": "", "action": "install"}]},
            f"528,{serial},a,1,,install",
        ),
        ({"c8y_Relay": {"relayState": "OPEN"}}, f"518,{serial},OPEN"),
        (
            {"c8y_DownloadConfigFile": {"url": "http://x/c", "type": "modbus"}},
            f"524,{serial},http://x/c,modbus",
        ),
        (
            {
                "c8y_LogfileRequest": {
                    "logFile": "syslog",
                    "dateFrom": "a",
                    "dateTo": "b",
                    "searchText": "",
                    "maximumLines": 10,
                }
            },
            f"522,{serial},syslog,a,b,,10",
        ),
    ]
    for fragments, line in cases:
        admin.post("/devicecontrol/operations", json={"deviceId": mo_id, **fragments})
        assert device.text("s/ds") == line


def test_operations_without_static_template_come_as_json(
    connect: Callable[..., Device], admin: httpx.Client
) -> None:
    import orjson

    device = connect(subscribe=("s/ds", "devicecontrol/notifications"))
    serial = device.client_id
    device.publish("s/us", "100")
    mo_id = _mo(admin, serial)
    op = admin.post(
        "/devicecontrol/operations", json={"deviceId": mo_id, "my_Custom": {"x": 1}, "description": "d"}
    ).json()
    notification = orjson.loads(device.text("devicecontrol/notifications"))
    assert notification["id"] == op["id"]
    assert notification["my_Custom"] == {"x": 1}
    assert notification["externalSource"] == {"externalId": serial, "type": "c8y_Serial"}
    assert device.none_within(topic="s/ds")


def test_last_will_is_an_event(connect: Callable[..., Device], admin: httpx.Client) -> None:
    device = connect(will=("s/us", "400,c8y_ConnectionLost,Device connection was lost"))
    serial = device.client_id
    device.publish("s/us", "100")
    mo_id = _mo(admin, serial)
    device.drop()
    import time

    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        events = admin.get("/event/events", params={"source": mo_id, "type": "c8y_ConnectionLost"}).json()[
            "events"
        ]
        if events:
            break
        time.sleep(0.05)
    assert [e["text"] for e in events] == ["Device connection was lost"]
