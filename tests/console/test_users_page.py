"""The administration pages in a real browser: groups and their roles, users (edit, password, groups,
disable, delete), the broker page's API keys, built-in MQTT users and ACL rules used by real clients,
tenants and options, the audit trail, retention rules and inventory roles; and a reader who logs in and sees
only what its roles open."""

from __future__ import annotations

import httpx
from selenium.webdriver.support.ui import Select
from tests.api.users_support import make_user
from tests.console.browser import Console
from tests.mqtt_device import Device, ServerMqtt
from tests.support import ADMIN_PASSWORD, ServerThread, unique


def test_a_group_gets_roles_and_a_user_in_it_is_edited_disabled_and_deleted(
    console: Console, server: ServerThread, admin: httpx.Client
) -> None:
    # Groups page: a new group, granted ROLE_INVENTORY_READ by ticking it.
    group = unique("grp")
    console.open("/ui/groups")
    console.wait_text("#group-table", "readers")
    console.fill("input[name=group-name]", group)
    console.button("Create group").click()
    console.find("#group-roles")  # opened on the new group
    console.find("#group-roles input[value=ROLE_INVENTORY_READ]").click()
    console.wait_text(f"#group-table tr[data-group='{group}']", "1 of")
    console.screenshot("groups")
    # Users page: a user created in that group reads and may not write.
    name = unique("reader")
    password = unique("Pw-") + "x9!"
    console.open("/ui/users")
    console.wait_text("#user-table", "admin")
    console.fill("input[name=user-name]", name)
    console.fill("input[name=user-password]", password)
    console.fill("input[name=user-email]", f"{name}@example.org")
    Select(console.find("select[name=user-group]")).select_by_visible_text(group)
    console.button("Create user").click()
    console.fill("input[name=user-search]", name)  # paged on the server: find it by name
    console.find("form[role=search] button[type=submit]").click()
    # The row found again at each try: the search's answer may render the table anew (a stale row).
    console.until(lambda: group in console.text_of(f"#user-table tr[data-user='{name}']"), "its group")
    auth = (f"t1/{name}", password)
    assert httpx.get(server.url + "/inventory/managedObjects", auth=auth).status_code == 200
    device = {"name": "x", "c8y_IsDevice": {}}
    assert httpx.post(server.url + "/inventory/managedObjects", auth=auth, json=device).status_code == 403
    # Edit: its details and a new password.
    console.button(f"Edit {name}").click()
    console.fill("input[name=edit-first-name]", "Ada")
    console.button("Save details").click()
    console.until(lambda: admin.get(f"/user/t1/users/{name}").json().get("firstName") == "Ada", "saved")
    new_password = unique("New-") + "x9!"
    console.fill("input[name=new-password]", new_password)
    console.button("Set password").click()
    new_auth = (f"t1/{name}", new_password)
    me = server.url + "/user/currentUser"
    console.until(lambda: httpx.get(me, auth=new_auth).status_code == 200, "the new password works")
    assert httpx.get(me, auth=auth).status_code == 401
    console.screenshot("users")
    # Out of the group: no rights left.
    console.button(f"Remove {name} from {group}").click()
    console.until(lambda: group not in console.find(f"#user-table tr[data-user='{name}']").text, "left")
    assert httpx.get(server.url + "/inventory/managedObjects", auth=new_auth).status_code == 403
    console.button(f"Disable {name}").click()
    console.wait_text(f"#user-table tr[data-user='{name}']", "disabled")
    assert httpx.get(server.url + "/inventory/managedObjects", auth=new_auth).status_code == 401
    console.button(f"Delete {name}").click()
    console.button(f"Delete {name} for good").click()  # asked first
    console.until(lambda: not console.all(f"#user-table tr[data-user='{name}']"), "gone from the list")
    assert admin.get(f"/user/t1/users/{name}").status_code == 404
    # The group goes too.
    console.open("/ui/groups")
    console.button(f"Delete group {group}").click()
    console.button(f"Delete {group} for good").click()
    console.until(lambda: not console.all(f"#group-table tr[data-group='{group}']"), "group gone")


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


RULES = "/api/v5/authorization/sources/built_in_database/rules"


def test_acl_rules_are_added_and_deleted_on_the_broker_page(console: Console, admin: httpx.Client) -> None:
    who = unique("acluser")
    console.open("/ui/broker")
    console.find("#acl-rules")
    for topic, permission in (("plant/+/temp", "allow"), ("plant/secret/#", "deny")):
        Select(console.find("select[name=rule-for]")).select_by_visible_text("a user name")
        console.fill("input[name=rule-who]", who)
        console.fill("input[name=rule-topic]", topic)
        Select(console.find("select[name=rule-action]")).select_by_visible_text("subscribe")
        Select(console.find("select[name=rule-permission]")).select_by_visible_text(permission)
        console.button("Add rule").click()
        console.wait_text("#acl-table", topic)
    rules = admin.get(f"{RULES}/users/{who}").json()["rules"]
    assert [(r["topic"], r["action"], r["permission"]) for r in rules] == [
        ("plant/+/temp", "subscribe", "allow"),
        ("plant/secret/#", "subscribe", "deny"),
    ]
    # For everyone, then deleted again.
    Select(console.find("select[name=rule-for]")).select_by_visible_text("everyone")
    assert not console.find("input[name=rule-who]").is_displayed()  # no one to name
    Select(console.find("select[name=rule-action]")).select_by_visible_text("publish")
    Select(console.find("select[name=rule-permission]")).select_by_visible_text("allow")
    console.fill("input[name=rule-topic]", "public/#")
    console.button("Add rule").click()
    console.wait_text("#acl-table", "public/#")
    assert [r["topic"] for r in admin.get(f"{RULES}/all").json()["rules"]] == ["public/#"]
    console.screenshot("broker-acl")
    console.button("Delete rule allow publish public/# for *").click()
    console.until(lambda: "public/#" not in console.find("#acl-rules").text, "rule for all gone")
    console.button(f"Delete rule allow subscribe plant/+/temp for {who}").click()
    console.until(lambda: "plant/+/temp" not in console.find("#acl-rules").text, "one rule gone")
    assert [r["topic"] for r in admin.get(f"{RULES}/users/{who}").json()["rules"]] == ["plant/secret/#"]
    console.button(f"Delete rule deny subscribe plant/secret/# for {who}").click()  # the last: the set goes
    console.until(lambda: who not in console.find("#acl-rules").text, "set gone")
    assert admin.get(f"{RULES}/users/{who}").status_code == 404


def test_tenants_and_options_are_managed_and_audited(
    console: Console, server: ServerThread, admin: httpx.Client
) -> None:
    tenant = unique("tn")
    password = unique("Pw-") + "x9!"
    console.open("/ui/tenants")
    console.wait_text("#tenant-table", "t1")
    console.fill("input[name=tenant-domain]", f"{tenant}.example.com")
    console.fill("input[name=tenant-id]", tenant)
    console.fill("input[name=tenant-admin]", "boss")
    console.fill("input[name=tenant-admin-password]", password)
    console.button("Create tenant").click()
    console.wait_text(f"#tenant-table tr[data-tenant='{tenant}']", "active")
    boss = (f"{tenant}/boss", password)
    assert httpx.get(server.url + "/user/currentUser", auth=boss).status_code == 200
    console.button(f"Suspend {tenant}").click()
    console.wait_text(f"#tenant-table tr[data-tenant='{tenant}']", "suspended")
    assert httpx.get(server.url + "/user/currentUser", auth=boss).status_code == 401
    console.button(f"Reactivate {tenant}").click()
    console.wait_text(f"#tenant-table tr[data-tenant='{tenant}']", "active")
    assert httpx.get(server.url + "/user/currentUser", auth=boss).status_code == 200
    console.screenshot("tenants")
    console.button(f"Delete {tenant}").click()
    console.button(f"Delete {tenant} for good").click()
    console.until(lambda: not console.all(f"#tenant-table tr[data-tenant='{tenant}']"), "tenant gone")
    assert admin.get(f"/tenant/tenants/{tenant}").status_code == 404
    # Options: a secret is shown as <<Encrypted>>; a plain one is edited, then deleted.
    category = unique("cat")
    for key, value in (("credentials.token", "s3cret"), ("colour", "blue")):
        console.fill("input[name=option-category]", category)
        console.fill("input[name=option-key]", key)
        console.fill("input[name=option-value]", value)
        console.button("Add option").click()
        console.wait_text("#option-table", key)
    secret = console.find(f"#option-table tr[data-option='{category}.credentials.token']")
    assert "<<Encrypted>>" in secret.text and "s3cret" not in console.text_of("main")
    console.button(f"Edit {category}.colour").click()
    console.fill("input[name=option-new-value]", "green")
    console.button(f"Save {category}.colour").click()
    console.wait_text(f"#option-table tr[data-option='{category}.colour']", "green")
    assert admin.get(f"/tenant/options/{category}/colour").json()["value"] == "green"
    console.screenshot("options")
    console.button(f"Delete {category}.colour").click()
    console.button(f"Delete {category}.colour", within="main .confirm").click()
    console.until(lambda: not console.all(f"#option-table tr[data-option='{category}.colour']"), "gone")
    # The audit trail shows it all: filtered by type, newest first; a range in the future is empty.
    console.open("/ui/audit")
    Select(console.find("select[name=audit-type]")).select_by_visible_text("Tenant")
    console.find("form[role=search] button[type=submit]").click()
    first = console.wait_text("#audit-table tbody tr", tenant)
    assert "Tenant deleted" in first.text
    assert "type=Tenant" in console.driver.current_url
    console.screenshot("audit")
    date_from = console.find("input[name=audit-from]")
    console.driver.execute_script("arguments[0].value = '2099-01-01T00:00'", date_from)
    console.find("form[role=search] button[type=submit]").click()
    console.wait_text("#audit", "No audit record matches these filters")


def test_a_reader_logs_in_and_sees_only_what_its_roles_open(
    console: Console, server: ServerThread, admin: httpx.Client
) -> None:
    name, password = make_user(admin, groups=("readers",), prefix="viewer")
    console.find("#logout").click()
    console.find("form.login")
    console.login(name, password)
    console.find("#logout")
    try:
        nav = console.find("nav[aria-label=Main]").text
        for shown in ("Devices", "Users", "Audit"):
            assert shown in nav, nav
        for hidden in ("Broker", "Rules", "Things"):
            assert hidden not in nav, nav
        # A page its roles do not open, asked for by its address, says so.
        console.open("/ui/broker")
        console.wait_text("main .error", "Your roles do not open the Broker page")
        # It reads the users, without the forms, and the actions are disabled.
        console.open("/ui/users")
        console.wait_text("#user-table", "admin")
        assert not console.all("input[name=user-name]")
        assert not console.find("#user-table button[aria-label='Disable admin']").is_enabled()
        console.screenshot("users-reader")
        # At phone width the administration pages fit the screen (tables scroll in their own box).
        console.driver.set_window_size(390, 844)
        try:
            pages = (("/ui/audit", "#audit-table"), ("/ui/tenants", "#option-table, #options .empty"))
            for path, ready in pages:
                console.open(path)
                console.find(ready)
                assert console.driver.execute_script("return document.documentElement.scrollWidth") <= 391
                console.screenshot(f"{path.rsplit('/', 1)[1]}-phone")
        finally:
            console.driver.set_window_size(1280, 900)
        console.open("/ui/users")
        console.wait_text("#user-table", "admin")
        # Rights withdrawn while logged in: the server refuses, and the page says why in words.
        readers = admin.get("/user/t1/groupByName/readers").json()["id"]
        user = name.split("/", 1)[1]
        assert admin.delete(f"/user/t1/groups/{readers}/users/{user}").status_code == 204
        server.platform.services.tokens._users.clear()  # the token's user is reused CACHE_SECONDS
        console.find("form[role=search] button[type=submit]").click()
        console.wait_text("main .error", "Your roles do not allow this")
    finally:
        console.find("#logout").click()  # the next test's console logs in as the administrator again
        console.find("form.login")


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
    console.open("/ui/inventory-roles")
    console.wait_text("#assignment-table", username)
    Select(console.find("select[name=assign-user]")).select_by_value(username)
    Select(console.find("select[name=assign-group]")).select_by_value(group)
    Select(console.find("select[name=assign-role]")).select_by_visible_text("Reader")
    console.button("Assign role").click()
    console.wait_text(f"#assignment-table tr[data-user='{username}']", f"Reader on {group}")
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
    console.screenshot("inventory-roles")
    admin.close()


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
    console.wait_text("#bulk-table tbody tr", "Reboot all")
    console.wait_text("#bulk-table", "pending of 2")  # the list is redrawn every 3 s: no element kept
    console.screenshot("bulk-operations")
    bulk_id = console.until(lambda: console.find("#bulk-table tbody tr").get_attribute("data-bulk"), "its id")
    console.button(f"Cancel bulk operation {bulk_id}").click()
    console.wait_text(f"#bulk-table tr[data-bulk='{bulk_id}']", "CANCELED")
