"""The users page in a real browser: a user created in the `readers` group can then read over REST and not
write; disabled, it cannot log in; deleted, it is gone. The broker page's API keys and built-in MQTT users,
used by real clients."""

from __future__ import annotations

import httpx
from selenium.webdriver.support.ui import Select
from tests.console.browser import Console
from tests.mqtt_device import Device, ServerMqtt
from tests.support import ADMIN_PASSWORD, ServerThread, unique


def test_a_user_is_created_in_a_group_disabled_and_deleted(console: Console, server: ServerThread) -> None:
    name = unique("reader")
    password = unique("Pw-") + "x9!"
    console.open("/ui/users")
    console.wait_text("#user-table", "admin")
    console.fill("input[name=user-name]", name)
    console.fill("input[name=user-password]", password)
    console.fill("input[name=user-email]", f"{name}@example.org")
    Select(console.find("select[name=user-group]")).select_by_visible_text("readers")
    console.button("Create user").click()
    row = console.wait_text("#user-table tbody tr", name)
    console.until(lambda: "readers" in row.text, "its group")
    console.screenshot("users")
    auth = (f"t1/{name}", password)
    assert httpx.get(server.url + "/inventory/managedObjects", auth=auth).status_code == 200
    device = {"name": "x", "c8y_IsDevice": {}}
    assert httpx.post(server.url + "/inventory/managedObjects", auth=auth, json=device).status_code == 403
    console.button(f"Disable {name}").click()
    console.wait_text(f"#user-table tr[data-user='{name}']", "disabled")
    assert httpx.get(server.url + "/inventory/managedObjects", auth=auth).status_code == 401
    console.button(f"Delete {name}").click()
    console.until(lambda: not console.all(f"#user-table tr[data-user='{name}']"), "gone from the list")


def test_an_api_key_and_an_mqtt_user_made_on_the_broker_page_work(
    console: Console, server: ServerThread
) -> None:
    console.open("/ui/broker")
    key_name = unique("key")
    console.fill("input[name=key-name]", key_name)
    Select(console.find("select[name=key-role]")).select_by_visible_text("viewer (read only)")
    console.button("Create key").click()
    shown = console.wait_text("main .notice code", ":").text
    key, secret = shown.split(":", 1)
    assert httpx.get(server.url + "/inventory/managedObjects", auth=(key, secret)).status_code == 200
    refused = httpx.post(server.url + "/inventory/managedObjects", auth=(key, secret), json={"name": "x"})
    assert refused.status_code == 403  # a viewer key only reads
    console.wait_text("#api-keys", key_name)
    # A built-in MQTT user: added here, it logs in over MQTT.
    user = unique("mqttuser")
    console.fill("input[name=authn-user]", user)
    console.fill("input[name=authn-password]", "mqtt-secret-1")
    console.button("Add user").click()
    console.wait_text("#authn-users", user)
    mqtt = ServerMqtt(server)
    client = Device(mqtt.port, unique("c"), username=user, password="mqtt-secret-1")
    try:
        assert client.connect() == 0
    finally:
        client.close()
    console.screenshot("broker-keys")
    console.button(f"Delete key {key_name}").click()
    console.until(lambda: key_name not in console.find("#api-keys").text, "key gone")
    assert httpx.get(server.url + "/inventory/managedObjects", auth=(key, secret)).status_code == 401


def test_a_bulk_operation_is_created_for_a_group_and_cancelled(
    console: Console, server: ServerThread
) -> None:
    """The bulk operations page: created for a group from a prototype, its progress shown, cancelled."""
    group_name = unique("fleet")
    with httpx.Client(base_url=server.url, auth=("t1/admin", ADMIN_PASSWORD), timeout=30) as admin:
        mo = "/inventory/managedObjects"
        group = admin.post(mo, json={"name": group_name, "c8y_IsDeviceGroup": {}}).json()["id"]
        for i in range(2):
            device = admin.post(mo, json={"name": f"{group_name}-{i}", "c8y_IsDevice": {}}).json()["id"]
            admin.post(f"{mo}/{group}/childAssets", json={"managedObject": {"id": device}})
    console.open("/ui/bulk")
    select = console.until(
        lambda: next(
            (o for o in console.all("select[name=bulk-group] option") if o.text == group_name), None
        ),
        "the group offered",
    )
    Select(console.find("select[name=bulk-group]")).select_by_visible_text(select.text)
    console.fill("textarea[name=bulk-prototype]", '{"description": "Reboot all", "c8y_Restart": {}}')
    console.fill("input[name=bulk-ramp]", "3600")
    console.button("Create bulk operation").click()
    row = console.wait_text("#bulk-table tbody tr", "Reboot all")
    console.until(
        lambda: "pending of 2" in row.text or "pending of 2" in console.text_of("#bulk-table"), "progress"
    )
    console.screenshot("bulk-operations")
    bulk_id = console.find("#bulk-table tbody tr").get_attribute("data-bulk")
    console.button(f"Cancel bulk operation {bulk_id}").click()
    console.wait_text(f"#bulk-table tr[data-bulk='{bulk_id}']", "CANCELED")
