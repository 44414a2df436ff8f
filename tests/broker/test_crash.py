"""A PUBACK means durable: messages acknowledged for an offline persistent session, and retained messages,
survive `tether serve` being killed (SIGKILL: no shutdown checkpoint) right after the acknowledgement."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties as PahoProperties
from tests.broker.conftest import Client, unique
from tests.support import backends, fresh_database

TIMEOUT = 30.0


class Serve:
    """`tether serve` as a process on ephemeral ports; `kill` is SIGKILL."""

    def __init__(self, data_dir: Path, database_url: str) -> None:
        self.data_dir = data_dir
        self.database_url = database_url
        self.process: subprocess.Popen[str] | None = None
        self.port = 0
        self.http_port = 0

    def start(self) -> Serve:
        command = [sys.executable, "-m", "tether.cli", "serve", "--data-dir", str(self.data_dir)]
        command += ["--database-url", self.database_url, "--http", "127.0.0.1:0", "--mqtt", "127.0.0.1:0"]
        env = {**os.environ, "TETHER_ADMIN_PASSWORD": "admin-pw", "TETHER_BOOTSTRAP_PASSWORD": "boot-pw"}
        env["TETHER_ALLOW_ANONYMOUS"] = "true"
        process = self.process = subprocess.Popen(
            command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        assert process.stdout is not None
        for line in process.stdout:  # ends if the process dies
            found = re.search(r"MQTT \(mqtt\) listening on mqtt://127\.0\.0\.1:(\d+)", line)
            if found:
                self.port = int(found.group(1))
            if "HTTP listening on" in line:
                http = re.search(r"HTTP listening on http://127\.0\.0\.1:(\d+)", line)
                self.http_port = int(http.group(1)) if http else 0
                return self
        raise AssertionError(f"tether serve did not start (exit {process.wait()})")

    def kill(self) -> None:
        if self.process is not None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=TIMEOUT)
            self.process = None


@pytest.fixture(params=backends())
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    return asyncio.run(fresh_database(request.param, tmp_path))


@pytest.fixture
def serve(tmp_path: Path, database_url: str) -> Iterator[Serve]:
    server = Serve(tmp_path, database_url)
    yield server
    server.kill()


def _session(port: int, client_id: str, protocol: int) -> Client:
    client = Client(
        port, client_id, protocol=protocol, **({} if protocol == mqtt.MQTTv5 else {"clean_session": False})
    )
    if protocol == mqtt.MQTTv5:
        props = PahoProperties(PacketTypes.CONNECT)
        props.SessionExpiryInterval = 3600
        client.connect(clean_start=False, properties=props)
    else:
        client.connect()
    return client


@pytest.mark.parametrize("protocol", [mqtt.MQTTv5, mqtt.MQTTv311], ids=["v5", "v311"])
def test_acknowledged_messages_survive_a_kill(serve: Serve, protocol: int) -> None:
    serve.start()
    client_id = unique("durable")
    subscriber = _session(serve.port, client_id, protocol)
    subscriber.subscribe("alerts/#", 1)
    subscriber.disconnect()

    publisher = Client(serve.port, unique("pub"), protocol=protocol)
    publisher.connect()
    for n in range(20):
        publisher.publish(f"alerts/{n}", f"alert {n}".encode(), 1)  # returns once PUBACK arrived
    publisher.publish("config/current", b"v7", 1, retain=True)
    serve.kill()  # no shutdown, no checkpoint: only what was committed before each PUBACK remains

    serve.start()
    subscriber = _session(serve.port, client_id, protocol)
    received = sorted(m.payload for m in subscriber.get_many(20))
    assert received == sorted(f"alert {n}".encode() for n in range(20))
    late = Client(serve.port, unique("late"), protocol=protocol)
    late.connect()
    late.subscribe("config/#", 1)
    retained = late.get()
    assert (retained.topic, retained.payload, retained.retain) == ("config/current", b"v7", True)
    for client in (subscriber, publisher, late):
        client.paho.loop_stop()
