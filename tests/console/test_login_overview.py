"""The console in a real browser: log in (and fail to), the overview's figures against the API's, device
search and paging, logout (the token is ended on the server too)."""

from __future__ import annotations

import httpx
import pytest
from selenium.webdriver.common.keys import Keys
from tests.console.browser import Console
from tests.console.conftest import ADMIN, SmartRestDevice, smartrest_device
from tests.support import ADMIN_PASSWORD, ServerThread, unique

__all__ = ["smartrest_device"]


def _total(admin: httpx.Client, query: str) -> int:
    answer = admin.get(
        "/inventory/managedObjects", params={"query": query, "pageSize": 1, "withTotalElements": True}
    )
    assert answer.status_code == 200, answer.text
    total: int = answer.json()["statistics"]["totalElements"]
    return total


def test_a_wrong_password_is_told_in_words(chromium, server: ServerThread) -> None:
    page = Console(chromium, server.url)
    page.login(ADMIN, "not-the-password")
    message = page.wait_text("#login-message", "Wrong user name or password.")
    assert message.get_attribute("role") == "alert"
    assert page.token() is None
    assert page.all("#logout") == []
    page.screenshot("login-failed")


def test_a_person_without_a_session_is_sent_to_the_login(chromium, server: ServerThread) -> None:
    page = Console(chromium, server.url)
    page.open("/ui/devices")
    page.find("form.login")
    assert "/ui/login?next=%2Fui%2Fdevices" in chromium.current_url


def test_login_with_the_keyboard_alone(chromium, server: ServerThread) -> None:
    """Labelled fields in order: type, Tab, type, Enter; then back to the page first asked for."""
    page = Console(chromium, server.url)
    page.open("/ui/devices")
    user = page.find("input[name=username]")
    assert chromium.switch_to.active_element == user
    label = page.find(f"label[for='{user.get_attribute('id')}']")
    assert label.text == "User"
    user.send_keys(ADMIN, Keys.TAB)
    chromium.switch_to.active_element.send_keys(ADMIN_PASSWORD, Keys.ENTER)
    page.find("#logout")
    page.until(lambda: chromium.current_url.endswith("/ui/devices"), "back to the devices")


def test_login_then_the_overview_counts_what_the_api_counts(
    console: Console, admin: httpx.Client, smartrest_device
) -> None:
    for i in range(3):
        body = {"name": f"overview-{i}", "type": "c8y_Overview", "c8y_IsDevice": {}}
        assert admin.post("/inventory/managedObjects", json=body).status_code == 201
    thing = admin.post("/api/v1/things", json={"name": unique("thing")})
    assert thing.status_code == 201, thing.text
    connected: SmartRestDevice = smartrest_device()
    for severity, count in (("CRITICAL", 2), ("MINOR", 1)):
        for n in range(count):
            alarm = {"source": {"id": connected.id}, "type": f"c8y_{severity}{n}", "text": "seeded",
                     "severity": severity, "time": "2026-01-01T00:00:00Z"}  # fmt: skip
            assert admin.post("/alarm/alarms", json=alarm).status_code == 201
    console.open("/ui/")
    devices = _total(admin, "$filter=(has(c8y_IsDevice))")
    online = _total(admin, "$filter=(has(c8y_IsDevice) and c8y_Connection.status eq 'CONNECTED')")
    assert devices >= 4 and online >= 1
    console.until(lambda: console.text_of("#count-devices") == str(devices), "device count")
    console.until(lambda: console.text_of("#count-connected") == str(online), "connected count")
    for severity in ("critical", "major", "minor", "warning"):
        params = {"status": "ACTIVE", "severity": severity.upper()}
        expected = str(admin.get("/alarm/alarms/count", params=params).json())
        console.until(lambda s=severity, e=expected: console.text_of(f"#alarms-{s}") == e, severity)
    assert console.text_of("#alarms-critical") == "2"
    families = {
        "cumulocity": "not has(fleets_Thing) and not has(xyte_Device)",
        "fleets": "has(fleets_Thing)",
        "xyte": "has(xyte_Device)",
    }
    for family, condition in families.items():
        expected = str(_total(admin, f"$filter=(has(c8y_IsDevice) and ({condition}))"))
        console.until(lambda f=family, e=expected: console.text_of(f"#family-{f}") == e, family)
    assert console.text_of("#family-fleets") == "1" and console.text_of("#family-xyte") == "0"
    # Messages per second appear once two polls of /api/v5/metrics have been compared.
    console.until(lambda: console.text_of("#rate-in").replace(".", "").isdigit(), "message rate")
    # In a cluster, the copies sent to and received from other nodes (one node: none).
    assert console.text_of("#rate-forward") == console.text_of("#rate-from-nodes") == "0.0"
    # Live: an alarm raised now is counted without reloading the page.
    console.mark()
    warning = {"source": {"id": connected.id}, "type": "c8y_Live", "text": "live", "severity": "WARNING",
               "time": "2026-01-01T00:00:00Z"}  # fmt: skip
    assert admin.post("/alarm/alarms", json=warning).status_code == 201
    console.until(lambda: console.text_of("#alarms-warning") == "1", "live warning count")
    assert console.unreloaded()
    console.screenshot("overview")


def test_devices_are_searched_and_paged_on_the_server(console: Console, admin: httpx.Client) -> None:
    prefix = unique("pager")
    for i in range(25):
        body = {"name": f"{prefix}-{i:02d}", "type": "c8y_Pager", "c8y_IsDevice": {}}
        assert admin.post("/inventory/managedObjects", json=body).status_code == 201
    console.open("/ui/devices")
    console.fill("input[name=name]", prefix[2:])  # part of the name
    console.find("form.filters button[type=submit]").click()
    console.wait_text("#page-info", "Page 1 of 2 · 25 devices")
    rows = console.all("#device-table tbody tr")
    assert len(rows) == 20 and rows[0].text.startswith(f"{prefix}-00")
    console.screenshot("devices")
    console.button("Next page").click()
    console.wait_text("#page-info", "Page 2 of 2")
    console.until(lambda: len(console.all("#device-table tbody tr")) == 5, "five on page 2")
    assert console.all("#device-table tbody tr")[0].text.startswith(f"{prefix}-20")
    # A search that matches nothing says what to do next.
    console.fill("input[name=name]", unique("nothing"))
    console.find("form.filters button[type=submit]").click()
    console.wait_text("#device-results", "No device matches these filters")
    # The family filter: the thing made by the overview's test, and only it.
    console.open("/ui/devices?family=fleets")
    console.until(lambda: len(console.all("#device-table tbody tr")) == 1, "one Fleets thing")
    assert "EMQX Fleets" in console.find("#device-table tbody tr").text
    # The type filter, and the device page behind a row's link.
    console.open(f"/ui/devices?type=c8y_Pager&name={prefix}-07")
    link = console.wait_text("#device-table a", f"{prefix}-07")
    link.click()
    console.wait_text("#device-name", f"{prefix}-07")
    assert "/ui/devices/" in console.driver.current_url


@pytest.mark.parametrize("width", [390])
def test_a_phone_width_shows_the_navigation_and_the_lists(console: Console, width: int) -> None:
    console.driver.set_window_size(width, 844)
    try:
        console.open("/ui/devices")
        console.find("#device-table")
        # The grouped navigation folds behind a Menu button, which opens it (aria-expanded).
        menu = console.find("header button.menu")
        assert menu.is_displayed() and not console.find("nav[aria-label=Main]").is_displayed()
        menu.click()
        console.until(lambda: console.find("nav[aria-label=Main]").is_displayed(), "the menu opened")
        assert menu.get_attribute("aria-expanded") == "true" and "Audit" in console.text_of("nav")
        console.screenshot("menu-phone")
        # Nothing wider than the screen but the table's own scrolling box.
        overflow = console.driver.execute_script("return document.documentElement.scrollWidth")
        assert overflow <= width + 1
        console.screenshot("devices-phone")
        console.find("#device-table tbody a").click()
        console.find("#tab-panel")
        assert console.driver.execute_script("return document.documentElement.scrollWidth") <= width + 1
        console.screenshot("device-phone")
        console.open("/ui/")
        console.until(lambda: console.text_of("#count-devices").isdigit(), "overview counts")
        assert console.driver.execute_script("return document.documentElement.scrollWidth") <= width + 1
        console.screenshot("overview-phone")
    finally:
        console.driver.set_window_size(1280, 900)


def test_an_api_error_is_shown_in_its_words(console: Console) -> None:
    console.open("/ui/devices/999999999")
    console.wait_text("main .error", "No managedObject for id '999999999'")
    console.screenshot("device-missing")


def test_a_session_ended_elsewhere_returns_to_the_login_saying_so(
    console: Console, server: ServerThread
) -> None:
    console.open("/ui/devices")
    console.find("#device-results")
    token = console.token()
    assert (
        httpx.post(server.url + "/api/v5/logout", headers={"Authorization": f"Bearer {token}"}).status_code
        == 204
    )
    console.open("/ui/devices?status=connected")  # the token still in the tab: the API refuses it
    console.wait_text("#login-message", "Your session has ended (Logged out: get a new token by POST /login)")
    assert console.token() is None
    console.screenshot("session-ended")
    console.fill("input[name=username]", ADMIN)
    console.fill("input[name=password]", ADMIN_PASSWORD)
    console.find("form.login button[type=submit]").click()
    console.find("#device-results")  # back where the operator was going
    assert console.driver.current_url.endswith("/ui/devices?status=connected")


def test_logout_ends_the_token_on_the_server(console: Console, server: ServerThread) -> None:
    console.open("/ui/")
    token = console.token()
    assert token is not None
    console.find("#logout").click()
    console.wait_text("#login-message", "You are logged out.")
    assert console.token() is None
    refused = httpx.get(
        server.url + "/inventory/managedObjects", headers={"Authorization": f"Bearer {token}"}
    )
    assert refused.status_code == 401
    # Back to a page: the login again, not the data.
    console.open("/ui/devices")
    console.find("form.login")
    console.screenshot("logged-out")
