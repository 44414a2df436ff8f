"""Fixtures of the management API tests: MQTT clients (the fixture of tests/adapters), the server's broker
with lenient logins, and a server with a second tenant for isolation tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.adapters.conftest import mqtt_devices
from tests.mqtt_device import ServerMqtt
from tests.support import ADMIN_PASSWORD, ServerThread, start_server

from tether.tenants.models import Role

__all__ = ["mqtt_devices", "mqtt_server", "two_tenant_server"]


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
