"""The Xyte flow (docs/protocols.md section 9) with MQTT.js (npm package `mqtt`): connect with MQTT 5, id and
access key; telemetry stored before its PUBACK; an operation arrives as a command and is reported done.

MQTT.js comes from tests/js/package.json (pinned by package-lock.json); the `mqtt_js` fixture runs `npm ci`
there when node_modules is missing, so a fresh clone needs only node and npm."""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
import threading
from pathlib import Path
from typing import IO, Any

import httpx
import pytest
from tests.support import ServerThread
from tests.xyte.helpers import create_model, managed_object_id, register

JS = Path(__file__).resolve().parent.parent / "js"
TIMEOUT = 60.0  # seconds; only guards against hangs


@pytest.fixture(scope="session")
def mqtt_js() -> Path:
    """tests/js with MQTT.js installed (`npm ci` from the lock file when missing)."""
    node, npm = shutil.which("node"), shutil.which("npm")
    assert node and npm, "node and npm are needed for the MQTT.js tests (apt-get install nodejs npm)"
    # Test workers (pytest-xdist) may get here at once: one installs, the others wait on the lock (npm ci
    # starts by deleting node_modules, so two at once would break each other).
    with open(JS / "node_modules.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (JS / "node_modules" / "mqtt" / "package.json").exists():
            subprocess.run(
                [npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=JS, check=True, timeout=600
            )
    return JS


@pytest.fixture
def mqtt_url(mqtt_port: int) -> str:
    return f"mqtt://127.0.0.1:{mqtt_port}"


class Lines:
    """JSON lines of a child process's stdout, read in a thread."""

    def __init__(self, stream: IO[str]) -> None:
        self._lines: list[dict[str, Any]] = []
        self._ready = threading.Condition()
        threading.Thread(target=self._read, args=(stream,), daemon=True).start()

    def _read(self, stream: IO[str]) -> None:
        for line in stream:
            with self._ready:
                self._lines.append(json.loads(line))
                self._ready.notify_all()

    def wait_for(self, event: str) -> dict[str, Any]:
        def found() -> dict[str, Any] | None:
            return next((e for e in self._lines if e["event"] in (event, "error")), None)

        with self._ready:
            assert self._ready.wait_for(lambda: found() is not None, timeout=TIMEOUT), (event, self._lines)
            line = found()
            assert line is not None and line["event"] == event, line
            return line


def test_the_xyte_flow_with_mqtt_js(
    server: ServerThread, admin: httpx.Client, mqtt_js: Path, mqtt_url: str
) -> None:
    device = register(server.url, create_model(admin))
    mo_id = managed_object_id(admin, device["id"])
    env = {**os.environ, "MQTT_URL": mqtt_url, "DEVICE_ID": device["id"], "ACCESS_KEY": device["access_key"]}
    with subprocess.Popen(
        ["node", str(mqtt_js / "xyte_device.mjs")], cwd=mqtt_js, env=env, stdout=subprocess.PIPE, text=True
    ) as process:
        assert process.stdout is not None
        lines = Lines(process.stdout)
        try:
            assert lines.wait_for("connected")["reasonCode"] == 0
            assert lines.wait_for("subscribed")["granted"] == [1]
            assert lines.wait_for("telemetry")["reasonCode"] == 0
            stored = admin.get("/measurement/measurements", params={"source": mo_id}).json()["measurements"]
            assert [m["xyte_Telemetry"] for m in stored] == [{"fan_speed": {"value": 5.5}}]
            response = admin.post(
                "/devicecontrol/operations",
                json={"deviceId": str(mo_id), "xyte_Command": {"name": "reboot", "parameters": {"delay": 1}}},
            )
            op = response.json()
            command = lines.wait_for("command")
            assert command["topic"] == f"v1/device/{device['id']}/command"
            assert command["responseTopic"] == f"v1/device/{device['id']}/commands/update"
            assert command["command"] == {
                "id": op["id"],
                "device_id": device["id"],
                "status": "pending",
                "name": "reboot",
                "parameters": {"delay": 1},
            }
            assert lines.wait_for("updated")["reasonCode"] == 0
            assert process.wait(timeout=TIMEOUT) == 0
        finally:
            if process.poll() is None:
                process.kill()
    finished = admin.get(f"/devicecontrol/operations/{op['id']}").json()
    assert finished["status"] == "SUCCESSFUL"
    assert finished["xyte_Message"] == "done by MQTT.js"
