"""The users page in a real browser: a user created in the `readers` group can then read over REST and not
write; disabled, it cannot log in; deleted, it is gone. The broker page's API keys and built-in MQTT users,
used by real clients. The retention page's rules, and an inventory role assigned on the users page."""

from __future__ import annotations

import httpx
from selenium.webdriver.support.ui import Select
from tests.api.users_support import make_user
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


def test_retention_rules_and_an_inventory_role_assignment(console: Console, server: ServerThread) -> None:
    admin = httpx.Client(base_url=server.url, auth=("t1/admin", ADMIN_PASSWORD), timeout=30)
    console.open("/ui/retention")
    Select(console.find("select[name=rule-data-type]")).select_by_value("MEASUREMENT")
    console.fill("input[name=rule-maximum-age]", "7")
    console.fill("input[name=rule-type]", "c8y_Console")
    console.button("Create rule").click()
    row = console.wait_text("#rule-table tbody tr", "c8y_Console")
    [rule] = [
        r for r in admin.get("/retention/retentions").json()["retentionRules"] if r["type"] == "c8y_Console"
    ]
    assert rule["dataType"] == "MEASUREMENT" and rule["maximumAge"] == 7 and "7 days" in row.text
    console.screenshot("retention")
    console.button(f"Delete rule {rule['id']}").click()
    console.until(lambda: admin.get(f"/retention/retentions/{rule['id']}").status_code == 404, "rule deleted")

    group = admin.post(
        "/inventory/managedObjects", json={"name": unique("grp"), "c8y_IsDeviceGroup": {}}
    ).json()["id"]
    device = admin.post("/inventory/managedObjects", json={"name": unique("dev"), "c8y_IsDevice": {}}).json()[
        "id"
    ]
    admin.post(f"/inventory/managedObjects/{group}/childAssets", json={"managedObject": {"id": device}})
    login, password = make_user(admin)
    username = login.split("/", 1)[1]
    console.open("/ui/users")
    console.wait_text("#user-table", username)
    Select(console.find("select[name=assign-user]")).select_by_value(username)
    Select(console.find("select[name=assign-group]")).select_by_value(group)
    Select(console.find("select[name=assign-role]")).select_by_visible_text("Reader")
    console.button("Assign role").click()
    console.wait_text(f"#user-table tr[data-user='{username}']", f"Reader on {group}")
    mine = httpx.get(server.url + "/inventory/managedObjects", auth=(login, password)).json()[
        "managedObjects"
    ]
    assert {mo["id"] for mo in mine} == {group, device}
    [assignment] = admin.get(f"/user/t1/users/{username}/roles/inventory").json()["inventoryAssignments"]
    console.button(f"Remove assignment {assignment['id']} of {username}").click()
    console.until(
        lambda: (
            httpx.get(server.url + "/inventory/managedObjects", auth=(login, password)).status_code == 403
        ),
        "no rights left",
    )
    admin.close()
