"""The Fleets pages in a real browser, on one server and browser: a thing created and its desired state edited
with the delta shown, gone once a real MQTT thing reports it; thing types and groups (create, membership on
the group's and on the thing's page, delete, a refusal in words); a command sent from the console to a real
paho thing whose answer shows without reloading; a job created from the console that a real thing completes
over MQTT while the console shows the progress, with an execution force-canceled and the job canceled."""

from __future__ import annotations

import json
from typing import Any

import httpx
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import Select
from tests.console.browser import Console
from tests.mqtt_device import Device, ServerMqtt
from tests.support import unique


def test_a_thing_is_created_and_its_shadow_converges(
    console: Console, mqtt_server: ServerMqtt, admin: httpx.Client
) -> None:
    console.open("/ui/things")
    name = unique("lamp")
    console.fill("input[name=new-thing]", name)
    console.button("Create thing").click()
    console.wait_text("#thing-name", name)
    console.wait_text("#shadow-reported", "nothing reported yet")
    console.fill("textarea[name=desired]", '{"color": "red"}')
    console.button("Save desired state").click()
    delta = console.wait_text("#shadow-delta", "red")
    assert json.loads(delta.text) == {"color": "red"}
    console.screenshot("thing-shadow")
    thing_id = console.driver.current_url.rsplit("/", 1)[1]
    credential = admin.post(f"/api/v1/things/{thing_id}/credentials")
    assert credential.status_code == 201, credential.text
    body = credential.json()
    thing = Device(mqtt_server.port, body["clientId"], username=body["username"], password=body["password"])
    try:
        assert thing.connect() == 0
        report = {"state": {"reported": {"color": "red"}}}
        assert thing.publish(f"$emqx/things/{name}/shadow/update", json.dumps(report)) == 0
        console.wait_text("#shadow-delta", "none: the thing reports what is desired")
        assert json.loads(console.find("#shadow-reported").text) == {"color": "red"}
    finally:
        thing.close()
    # The list finds it by name.
    console.open(f"/ui/things?name={name}")
    console.wait_text("#thing-table", name)


def _thing(admin: httpx.Client, name: str, credential: bool = False) -> dict[str, Any]:
    created = admin.post("/api/v1/things", json={"name": name})
    assert created.status_code == 201, created.text
    thing: dict[str, Any] = created.json()
    if credential:
        secret = admin.post(f"/api/v1/things/{thing['id']}/credentials")
        assert secret.status_code == 201, secret.text
        thing["login"] = secret.json()
    return thing


def _connect(mqtt_server: ServerMqtt, thing: dict[str, Any], topic: str) -> Device:
    login = thing["login"]
    device = Device(
        mqtt_server.port, login["clientId"], username=login["username"], password=login["password"]
    )
    assert device.connect() == 0
    assert device.subscribe(topic) == 1
    return device


def _at_phone_width(console: Console, name: str) -> None:
    """At a phone's width the page does not scroll sideways (wide tables scroll in their own box)."""
    console.driver.set_window_size(390, 844)
    try:
        console.until(lambda: console.driver.execute_script("return window.innerWidth") <= 390)
        overflow = "return document.documentElement.scrollWidth - document.documentElement.clientWidth"
        assert console.driver.execute_script(overflow) <= 0
        console.screenshot(name)
    finally:
        console.driver.set_window_size(1280, 900)


def _row_status(console: Console, css: str) -> str:
    status: str = console.until(lambda: console.find(css).get_attribute("data-status"), f"no {css}")
    return status


def test_thing_types_and_groups(console: Console, admin: httpx.Client) -> None:
    kind, group, name = unique("Lamp"), unique("Floor "), unique("lamp")
    thing = _thing(admin, name)
    console.open("/ui/thing-groups")
    console.wait_text("#groups", "")
    console.fill("input[name=new-type]", kind)
    console.fill("input[name=new-type-commands]", "reboot, dim")
    console.button("Create type").click()
    console.wait_text("#type-table", "reboot, dim")
    console.fill("input[name=new-group]", group)
    console.fill("input[name=new-group-description]", "Second floor")
    console.button("Create group").click()
    console.wait_text("#group-table", "Second floor")
    console.wait_text("#group-table", f"{kind} (default)")  # the type's own group
    console.screenshot("thing-catalog")
    # The group's page adds a thing by name, and removes it.
    console.wait_text("#group-table a", group).click()
    console.wait_text("#group-name", group)
    console.wait_text("#members", "No things in this group yet")
    console.fill("input[name=member-name]", name)
    console.button("Add thing").click()
    console.wait_text("#member-table", name)
    assert admin.get(f"/api/v1/things/{thing['id']}").json()["groups"] == [group]
    console.button(f"Remove {name} from the group").click()
    console.wait_text("#members", "No things in this group yet")
    # The thing's page: its type (which joins the type's default group) and a group, edited there.
    console.open(f"/ui/things/{thing['id']}")
    console.wait_text("#thing-groups", "In no group")
    console.fill("input[name=thing-type]", kind)
    console.button("Save type").click()
    console.wait_text("#thing-groups", f"{kind} (default)")
    console.fill("input[name=add-group]", group)
    console.button("Add to group").click()
    console.wait_text("#thing-groups", group)
    stored = admin.get(f"/api/v1/things/{thing['id']}").json()
    assert stored["thingType"] == kind and sorted(stored["groups"]) == sorted([group, f"{kind} (default)"])
    # A group that does not exist is refused in the API's words; the type's commands are offered.
    console.fill("input[name=add-group]", "no such group")
    console.button("Add to group").click()
    console.wait_text("main .error", "Unknown thing group 'no such group'")
    options = "#command-actions option"
    offered = ["reboot", "dim"]
    console.until(
        lambda: [o.get_attribute("value") for o in console.all(options)] == offered, "commands offered"
    )
    console.screenshot("thing-membership")
    console.button(f"Leave group {group}").click()
    console.until(lambda: group not in admin.get(f"/api/v1/things/{thing['id']}").json()["groups"])
    # The list filters by type; a type in use cannot be deleted (409 in words); a group can.
    console.open(f"/ui/things?thingType={kind}")
    console.wait_text("#thing-table", name)
    console.open("/ui/thing-groups")
    console.button(f"Delete type {kind}").click()
    console.wait_text("main .error", "is in use")
    console.button(f"Delete group {group}").click()
    console.until(lambda: group not in console.find("#group-table").text, "the group leaves the list")


def test_a_command_reaches_the_thing_and_its_status_follows_live(
    console: Console, mqtt_server: ServerMqtt, admin: httpx.Client
) -> None:
    name = unique("pump")
    thing = _thing(admin, name, credential=True)
    device = _connect(mqtt_server, thing, f"$emqx/commands/things/{name}/executions/+/request")
    try:
        console.open(f"/ui/things/{thing['id']}")
        console.wait_text("#commands", "No commands yet")
        console.mark()
        console.fill("textarea[name=command-params]", "[1,")
        console.fill("input[name=command-action]", "reboot")
        console.button("Send command").click()
        console.wait_text(".op-form .error", "Not JSON in the parameters")
        console.fill("textarea[name=command-params]", '{"delay": 5}')
        console.button("Send command").click()
        # Rows are redrawn as notifications arrive: reads go through `until` (a stale row is read again).
        execution = console.until(
            lambda: console.wait_text("#command-table tbody tr", "reboot").get_attribute("data-id")
        )
        assert execution and _row_status(console, f"#command-table tr[data-id='{execution}']") in (
            "SENT",
            "SUCCEEDED",
        )
        request = device.get(f"$emqx/commands/things/{name}/executions/{execution}/request")
        body = json.loads(request.payload)
        assert body["action"] == "reboot" and body["params"] == {"delay": 5}
        answer = {"status": "SUCCEEDED", "result": "rebooted"}
        topic = f"$emqx/commands/things/{name}/executions/{execution}/response"
        assert device.publish(topic, json.dumps(answer)) == 0
        css = f"#command-table tr[data-id='{execution}']"
        console.until(lambda: _row_status(console, css) == "SUCCEEDED", "SUCCEEDED shown live")
        console.wait_text(css, "rebooted")
        console.screenshot("thing-commands")
        _at_phone_width(console, "thing-phone")
        # A command sent with the keyboard alone (Enter in the action field), which the thing does not
        # answer, is canceled from the console.
        console.fill("textarea[name=command-params]", "")
        console.fill("input[name=command-action]", "dim")
        console.find("input[name=command-action]").send_keys(Keys.ENTER)
        second = console.until(
            lambda: console.wait_text("#command-table tbody tr", "dim").get_attribute("data-id")
        )
        console.button(f"Cancel command {second}").click()
        console.until(lambda: _row_status(console, f"#command-table tr[data-id='{second}']") == "CANCELED")
        assert admin.get(f"/api/v1/commands/{second}").json()["status"] == "CANCELED"
        assert console.unreloaded()
    finally:
        device.close()


def test_a_job_reaches_a_thing_that_completes_it(
    console: Console, mqtt_server: ServerMqtt, admin: httpx.Client
) -> None:
    group, job_id = unique("Fleet "), unique("upgrade-")
    first, second, third = (unique(n) for n in ("gw", "gx", "gy"))
    made = [_thing(admin, first, credential=True), _thing(admin, second), _thing(admin, third)]
    group_id = admin.post("/api/v1/thing-groups", json={"name": group}).json()["id"]
    members = {"thingIds": [made[1]["id"], made[2]["id"]]}
    assert admin.post(f"/api/v1/thing-groups/{group_id}/things", json=members).status_code == 204
    device = _connect(mqtt_server, made[0], f"$emqx/things/{first}/jobs/#")
    try:
        console.open("/ui/jobs")
        console.fill("input[name=job-id]", job_id)
        console.fill("textarea[name=job-document]", '{"operation": "upgrade", "version": "2.1"}')
        console.fill("input[name=job-things]", first)
        console.fill("input[name=job-groups]", group)
        Select(console.find("select[name=job-type]")).select_by_value("CONTINUOUS")
        console.button("Create job").click()
        console.wait_text("#job-name", job_id)
        console.wait_text("#job-progress", "0/3 finished")
        console.mark()
        # The thing takes its execution over MQTT (start-next) and completes it.
        notify = json.loads(device.get(f"$emqx/things/{first}/jobs/notify-next").payload)
        assert notify["execution"]["jobId"] == job_id
        assert device.publish(f"$emqx/things/{first}/jobs/start-next", b"{}") == 0
        started = json.loads(device.get(f"$emqx/things/{first}/jobs/start-next/accepted").payload)
        assert started["execution"]["jobDocument"] == {"operation": "upgrade", "version": "2.1"}
        row = f"#execution-table tr[data-thing='{first}']"
        console.until(lambda: _row_status(console, row) == "IN_PROGRESS", "IN_PROGRESS shown")
        update = {"status": "SUCCEEDED", "statusDetails": {"step": "done"}}
        assert device.publish(f"$emqx/things/{first}/jobs/{job_id}/update", json.dumps(update)) == 0
        console.until(lambda: _row_status(console, row) == "SUCCEEDED", "SUCCEEDED shown")
        console.wait_text("#job-progress", "1/3 finished")
        console.wait_text(row, "step: done")
        # One execution is taken over HTTPS and force-canceled from the console; the job is canceled.
        start = admin.post("/api/v1/thing-datas/jobs/start-next", json={"thingName": second})
        assert start.status_code == 200 and start.json()["execution"]["jobId"] == job_id
        console.until(
            lambda: _row_status(console, f"#execution-table tr[data-thing='{second}']") == "IN_PROGRESS"
        )
        console.button(f"Force cancel execution of {second}").click()
        console.wait_text("#job-progress", "2/3 finished")
        console.screenshot("job-detail")
        console.fill("input[name=cancel-comment]", "enough for today")
        console.button("Cancel job").click()
        console.wait_text("#job-status", "CANCELED")
        console.wait_text("#job-progress", "3/3 finished")
        executions = admin.get(f"/api/v1/jobs/{job_id}/executions").json()["data"]
        assert sorted(e["status"] for e in executions) == ["CANCELED", "CANCELED", "SUCCEEDED"]
        assert console.unreloaded()
        # The list shows the job with its progress.
        console.find("nav[aria-label=Fleets] a[href='/ui/jobs']").click()
        console.wait_text(f"#job-table tr[data-id='{job_id}']", "3/3 finished")
        console.screenshot("jobs")
        _at_phone_width(console, "jobs-phone")
    finally:
        device.close()
