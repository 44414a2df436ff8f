"""Fixtures of the management API tests: MQTT clients (the fixture of tests/adapters), the server's broker
with lenient logins, and a server with a second tenant for isolation tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.adapters.conftest import mqtt_devices
from tests.management.sink_servers import MariaDb, Mosquitto, Redis
from tests.mqtt_device import ServerMqtt
from tests.support import ADMIN_PASSWORD, ServerThread, start_server

from tether.tenants.models import Role

__all__ = ["mariadb", "mosquitto", "mqtt_devices", "mqtt_server", "redis_server", "two_tenant_server"]


@pytest.fixture(scope="module")
def mqtt_server(server: ServerThread) -> ServerMqtt:
    """The broker of the module's `server`, logins not throttled."""
    mqtt = ServerMqtt(server)
    mqtt.lenient_logins()
    return mqtt


def two_tenant_server(backend: str, tmp: Path, **overrides: Any) -> Iterator[ServerThread]:
    """A server of its own with a second tenant `t2` and its administrator (a module's `server` fixture)."""
    thread = start_server(backend, tmp, **overrides)
    tenants = thread.platform.services.tenants
    thread.call(tenants.create_tenant("t2"))
    thread.call(tenants.create_user("t2", "admin", ADMIN_PASSWORD, {Role.ADMIN}))
    yield thread
    thread.stop()


# The sink servers (sink_servers.py), one per test module that uses them.


@pytest.fixture(scope="module")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Redis]:
    server = Redis(tmp_path_factory.mktemp("redis"))
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def mariadb(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MariaDb]:
    server = MariaDb(tmp_path_factory.mktemp("mariadb"))
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def mosquitto(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Mosquitto]:
    server = Mosquitto(tmp_path_factory.mktemp("mosquitto"))
    server.start()
    yield server
    server.stop()
