"""The operator's journeys on a device, in a real browser against a real `tether serve` and real paho-mqtt
SmartREST devices: a measurement appears on the chart live, an alarm raised by the device is acknowledged, an
operation is created and its status follows the device live, one is cancelled, a registration is accepted
and the device appears when it connects, a client is kicked. "Live" means without reloading the page
(`Console.mark`)."""

from __future__ import annotations

import httpx
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select
from tests.console.browser import Console
from tests.console.conftest import SmartRestDevice, smartrest_device
from tests.mqtt_device import Device, ServerMqtt
from tests.support import BOOTSTRAP_PASSWORD, unique

__all__ = ["smartrest_device"]
REQUESTS = "/devicecontrol/newDeviceRequests"


def _points(console: Console) -> int:
    lines = console.all("#chart polyline.series")
    return int(lines[0].get_attribute("data-points") or 0) if lines else 0


def test_a_measurement_arrives_on_the_chart_live(console: Console, smartrest_device) -> None:
    device: SmartRestDevice = smartrest_device()
    assert device.mqtt.publish("s/us", "200,c8y_Temperature,T,21.5,C") == 0
    console.open(f"/ui/devices/{device.id}?tab=measurements")
    console.wait_text("#latest", "21.5 C")
    console.until(lambda: _points(console) == 1, "one point on the chart")
    assert console.find("fieldset.picker").text.endswith("c8y_Temperature.T")
    console.mark()
    assert device.mqtt.publish("s/us", "200,c8y_Temperature,T,22.75,C") == 0
    console.wait_text("#latest", "22.75 C")
    console.until(lambda: _points(console) == 2, "the new point on the chart")
    # A series the chart did not have yet joins it and its picker.
    assert device.mqtt.publish("s/us", "200,c8y_Humidity,H,40,%") == 0
    console.wait_text("fieldset.picker", "c8y_Humidity.H")
    assert len(console.all("#chart polyline.series")) == 2
    assert console.unreloaded()
    console.screenshot("device-measurements")
    # A long range asks for aggregates: the note says which.
    Select(console.find("select[name=range]")).select_by_visible_text("Last 7 days")
    console.wait_text("#chart-note", "minutely minimum and maximum")


def test_an_alarm_from_the_device_is_acknowledged_then_cleared(
    console: Console, smartrest_device, admin: httpx.Client
) -> None:
    device: SmartRestDevice = smartrest_device()
    console.open(f"/ui/devices/{device.id}?tab=alarms")
    console.wait_text("#alarms", "No alarms with this status")
    console.mark()
    assert device.mqtt.publish("s/us", "302,c8y_TemperatureAlarm,Too hot in the cabinet") == 0
    row = console.wait_text("#alarms tbody tr", "Too hot in the cabinet")
    assert "MAJOR" in row.text and "ACTIVE" in row.text
    console.button("Acknowledge c8y_TemperatureAlarm").click()
    console.until(lambda: console.find("#alarms tbody tr").get_attribute("data-status") == "ACKNOWLEDGED")
    alarms = admin.get("/alarm/alarms", params={"source": device.id}).json()["alarms"]
    assert [a["status"] for a in alarms] == ["ACKNOWLEDGED"]
    console.screenshot("device-alarms")
    console.button("Clear c8y_TemperatureAlarm").click()
    console.wait_text("#alarms", "No alarms with this status")
    alarms = admin.get("/alarm/alarms", params={"source": device.id}).json()["alarms"]
    assert [a["status"] for a in alarms] == ["CLEARED"]
    assert console.unreloaded()


def test_events_and_child_devices_appear_live(console: Console, smartrest_device) -> None:
    device: SmartRestDevice = smartrest_device()
    console.open(f"/ui/devices/{device.id}?tab=events")
    console.wait_text("#events", "No events yet")
    console.mark()
    assert device.mqtt.publish("s/us", "400,c8y_DoorOpen,Door opened") == 0
    console.wait_text("#events tbody tr", "Door opened")
    console.find("#tab-children").click()
    console.wait_text("#tab-panel", "No child devices")
    child = unique("child")
    assert device.mqtt.publish("s/us", f"101,{child},Pump {child},c8y_Pump") == 0
    console.wait_text("#tab-panel .children a", f"Pump {child}").click()
    console.wait_text("#device-name", f"Pump {child}")
    assert console.unreloaded()


def test_an_operation_follows_the_device_live(
    console: Console, smartrest_device, admin: httpx.Client
) -> None:
    device: SmartRestDevice = smartrest_device("c8y_Restart", "c8y_Message")
    console.open(f"/ui/devices/{device.id}?tab=operations")
    console.wait_text("#operations", "No operations yet")
    console.mark()
    Select(console.find("select[name=fragment]")).select_by_visible_text("c8y_Restart")
    console.fill("input[name=description]", "Restart from the console")
    console.button("Create operation").click()
    row = console.wait_text("#operations tbody tr", "Restart from the console")
    assert row.get_attribute("data-status") == "PENDING"
    assert device.mqtt.text("s/ds") == f"510,{device.serial}"
    assert device.mqtt.publish("s/us", "501,c8y_Restart") == 0
    console.until(lambda: console.find("#operations tbody tr").get_attribute("data-status") == "EXECUTING")
    assert device.mqtt.publish("s/us", "503,c8y_Restart") == 0
    console.until(lambda: console.find("#operations tbody tr").get_attribute("data-status") == "SUCCESSFUL")
    assert "SUCCESSFUL" in console.find("#operations tbody tr td.op-status").text
    console.screenshot("device-operations")
    # A pending operation is cancelled (FAILED with the console's reason).
    device.mqtt.close()  # offline: the operation stays PENDING
    Select(console.find("select[name=fragment]")).select_by_visible_text("c8y_Message")
    console.fill("textarea[name=parameters]", '{"text": "hello"}')
    console.fill("input[name=description]", "Message to cancel")
    console.button("Create operation").click()
    row = console.wait_text("#operations tbody tr", "Message to cancel")
    op_id = row.get_attribute("data-id")
    console.button(f"Cancel operation {op_id}").click()
    console.until(
        lambda: (
            "Cancelled by the operator" in console.wait_text("#operations tbody tr", "Message to cancel").text
        )
    )
    stored = admin.get(f"/devicecontrol/operations/{op_id}").json()
    assert stored["status"] == "FAILED" and stored["c8y_Message"] == {"text": "hello"}
    # Parameters that are no JSON object are refused in words before any request.
    console.fill("textarea[name=parameters]", "[1, 2")
    console.button("Create operation").click()
    console.wait_text(".op-form .error", "The parameters are not JSON")
    assert console.unreloaded()


def test_a_registration_is_accepted_and_the_device_appears(
    console: Console, mqtt_server: ServerMqtt, admin: httpx.Client
) -> None:
    serial = unique("REG")
    console.open("/ui/registration")
    console.fill("input[name=request-id]", serial)
    console.button("Register").click()
    console.wait_text("#request-table", serial)
    booting = Device(
        mqtt_server.port, serial, username="management/devicebootstrap", password=BOOTSTRAP_PASSWORD
    )
    try:
        assert booting.connect() == 0
        assert booting.subscribe("s/dcr") == 1
        while admin.get(f"{REQUESTS}/{serial}").json()["status"] != "PENDING_ACCEPTANCE":
            assert booting.publish("s/ucr") == 0
        # The page polls the requests: the Accept button appears.
        console.button(f"Accept {serial}").click()  # the page polls the requests every 5 s
        console.until(lambda: admin.get(f"{REQUESTS}/{serial}").json()["status"] == "ACCEPTED", "accepted")
        console.screenshot("registration")
        assert booting.publish("s/ucr") == 0
        code, tenant, username, password = booting.text("s/dcr").split(",")
        assert code == "70"
    finally:
        booting.close()
    # Xyte models beside the requests: created here, its hardware key shown as the API has it.
    model = unique("model")
    console.fill("input[name=model-name]", model)
    console.button("Create model").click()
    row = console.wait_text("#model-table tbody tr", model)
    (stored,) = [m for m in admin.get("/v1/models").json() if m["name"] == model]
    assert stored["hardware_key"] in row.text
    own = Device(mqtt_server.port, serial, username=f"{tenant}/{username}", password=password)
    try:
        assert own.connect() == 0
        assert own.publish("s/us", f"100,{serial},c8y_Registered") == 0
        console.open(f"/ui/devices?name={serial}")
        link = console.wait_text("#device-table a", serial)
        assert "connected" in console.find("#device-table td.status").text
        link.click()
        console.wait_text("#device-name", serial)
    finally:
        own.close()


def test_a_client_is_kicked_from_the_broker_page(console: Console, smartrest_device) -> None:
    device: SmartRestDevice = smartrest_device()
    console.open("/ui/broker")
    console.wait_text("#client-table", device.serial)
    # Its subscriptions, and a proxy subscription made for it (a refused one says why).
    console.button(f"Subscriptions of {device.serial}").click()
    console.wait_text("#client-subscriptions", "s/ds")
    console.fill("input[name=proxy-topic]", "s/e")
    console.button("Subscribe client").click()
    console.wait_text("#client-subscriptions li", "s/e")
    console.fill("input[name=proxy-topic]", "someone/else/#")
    console.button("Subscribe client").click()
    console.find("main .error")
    console.screenshot("broker")
    console.button(f"Kick {device.serial}").click()
    assert device.mqtt.wait_closed() is not None
    console.until(
        lambda: all(device.serial not in row.text for row in console.all("#client-table tbody tr")),
        "the kicked client leaves the list",
    )
    # The device page shows the connection history, with its end.
    console.open(f"/ui/devices/{device.id}?tab=connections")
    console.wait_text("#tab-panel table", device.serial)
    console.screenshot("device-connections")
    assert (
        console.driver.find_element(By.CSS_SELECTOR, "#tab-panel tbody tr td:nth-child(2)").text
        != "still connected"
    )


def test_a_device_is_retired_after_a_confirmation(
    console: Console, smartrest_device, admin: httpx.Client
) -> None:
    device: SmartRestDevice = smartrest_device()
    console.open(f"/ui/devices/{device.id}")
    console.button("Retire device…").click()
    console.wait_text("#retire-confirm", "its device user are deleted")
    console.button("Keep it").click()  # nothing happens
    assert admin.get(f"/inventory/managedObjects/{device.id}").status_code == 200
    console.button("Retire device…").click()
    console.screenshot("device-retire")
    console.button("Retire").click()
    console.until(lambda: console.driver.current_url.endswith("/ui/devices"), "back to the list")
    assert admin.get(f"/inventory/managedObjects/{device.id}").status_code == 404
    assert device.mqtt.wait_closed() is not None  # its credentials stopped working, its connection closed
