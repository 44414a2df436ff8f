"""One full Fleets flow with MQTT.js (npm package `mqtt`, MQTT 5): the thing reports its state, receives the
operator's desired state as a delta and converges, and answers a command on the request's Response Topic."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import httpx
from tests.fleets.conftest import make_thing
from tests.mqtt_device import ServerMqtt
from tests.xyte.test_mqtt_js import TIMEOUT, Lines, mqtt_js

__all__ = ["mqtt_js"]


def test_the_fleets_flow_with_mqtt_js(admin: httpx.Client, mqtt_server: ServerMqtt, mqtt_js: Path) -> None:
    thing = make_thing(admin)
    env = {
        **os.environ,
        "MQTT_URL": f"mqtt://127.0.0.1:{mqtt_server.port}",
        "THING_NAME": thing.name,
        "CLIENT_ID": thing.client_id,
        "USERNAME": thing.username,
        "PASSWORD": thing.password,
    }
    with subprocess.Popen(
        ["node", str(mqtt_js / "fleets_device.mjs")], cwd=mqtt_js, env=env, stdout=subprocess.PIPE, text=True
    ) as process:
        assert process.stdout is not None
        lines = Lines(process.stdout)
        try:
            assert lines.wait_for("connected")["reasonCode"] == 0
            assert lines.wait_for("subscribed")["granted"] == [1, 1, 1]
            assert lines.wait_for("reported")["reasonCode"] == 0
            accepted = lines.wait_for("accepted")
            assert accepted["version"] == 1
            assert accepted["state"] == {"reported": {"temperature": 21.5, "mode": "eco"}}
            desired = {"state": {"desired": {"mode": "max", "temperature": 21.5}}}
            assert admin.patch(f"/api/v1/things/{thing.id}/shadow", json=desired).status_code == 200
            delta = lines.wait_for("delta")
            assert delta["state"] == {"mode": "max"} and delta["version"] == 2
            command = admin.post(
                f"/api/v1/things/{thing.id}/commands", json={"action": "boost", "params": {"minutes": 5}}
            ).json()
            request = lines.wait_for("command")
            execution = command["executionId"]
            assert request["topic"] == f"$emqx/commands/things/{thing.name}/executions/{execution}/request"
            assert (
                request["responseTopic"]
                == f"$emqx/commands/things/{thing.name}/executions/{execution}/response"
            )
            assert request["command"]["action"] == "boost" and request["command"]["params"] == {"minutes": 5}
            assert lines.wait_for("answered")["reasonCode"] == 0
            assert process.wait(timeout=TIMEOUT) == 0
        finally:
            if process.poll() is None:
                process.kill()
    document = admin.get(f"/api/v1/things/{thing.id}/shadow").json()
    assert document["version"] == 3 and "delta" not in document["state"]
    assert document["state"]["reported"]["mode"] == "max"
    done = admin.get(f"/api/v1/commands/{execution}").json()
    assert done["status"] == "SUCCEEDED" and done["result"] == {"by": "MQTT.js"}
