"""The users page in a real browser: a user created in the `readers` group can then read over REST and not
write; disabled, it cannot log in; deleted, it is gone."""

from __future__ import annotations

import httpx
from selenium.webdriver.support.ui import Select
from tests.console.browser import Console
from tests.support import ServerThread, unique


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
