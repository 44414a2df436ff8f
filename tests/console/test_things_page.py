"""The Fleets things page in a real browser: a thing created, its desired state edited with the delta shown,
and the delta gone once a real MQTT thing reports the desired state on its shadow topic."""

from __future__ import annotations

import json

import httpx
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
