"""Fixtures: a real `tether serve` per storage backend with a TLS listener too (its certificate issued by a
test CA), its MQTT side (tests/mqtt_device.py), paho clients, accounts."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from tests.adapters.certs import make_ca, make_leaf
from tests.mqtt_device import Device, ServerMqtt, unique
from tests.support import ServerThread, backends, start_server

from tether.tenants.models import Role
from tether.tenants.passwords import generate_password


@pytest.fixture(scope="module", params=backends())
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServerThread]:
    """tests/conftest.py's server plus `--mqtt-tls` with a `[tls]` section (server-ca.crt in data_dir)."""
    tmp = tmp_path_factory.mktemp("tether")
    ca = make_ca("Tether test server CA")
    (tmp / "server-ca.crt").write_text(ca.pem)
    certfile, keyfile = make_leaf(ca, "localhost", server=True).write(tmp, "server")
    sections = {"tls": {"certfile": certfile, "keyfile": keyfile}}
    thread = start_server(request.param, tmp, mqtt_tls="127.0.0.1:0", sections=sections)
    yield thread
    thread.stop()


@pytest.fixture(scope="module")
def mqtt_server(server: ServerThread) -> ServerMqtt:
    mqtt = ServerMqtt(server, ca_file=server.server.settings.data_dir / "server-ca.crt")
    mqtt.lenient_logins()
    return mqtt


@pytest.fixture
def mqtt_devices() -> Iterator[Callable[..., Device]]:
    """Make paho clients; all are closed at the end of the test."""
    made: list[Device] = []

    def make(*args: Any, **kwargs: Any) -> Device:
        device = Device(*args, **kwargs)
        made.append(device)
        return device

    yield make
    for device in made:
        with contextlib.suppress(Exception):
            device.close()


class Users:
    """Create tenants and users directly through the services (on the server's loop)."""

    def __init__(self, server: ServerThread) -> None:
        self.server = server

    def tenant(self, tenant_id: str) -> str:
        self.server.call(self.server.platform.services.tenants.create_tenant(tenant_id))
        return tenant_id

    def user(self, tenant_id: str, username: str, roles: set[Role], password: str | None = None) -> str:
        password = password or generate_password()
        tenants = self.server.platform.services.tenants
        with contextlib.suppress(Exception):
            self.server.call(tenants.create_user(tenant_id, username, password, roles, generated=True))
        return password

    def device(self, tenant_id: str = "t1", serial: str | None = None) -> tuple[str, str, str]:
        """A device user `device_<serial>` with a generated password: (serial, login, password)."""
        serial = serial or unique("SER")
        password = self.user(tenant_id, f"device_{serial}", {Role.DEVICE})
        return serial, f"{tenant_id}/device_{serial}", password

    def admin(self, tenant_id: str) -> tuple[str, str]:
        name = unique("admin")
        return f"{tenant_id}/{name}", self.user(tenant_id, name, {Role.ADMIN})


@pytest.fixture(scope="module")
def accounts(server: ServerThread) -> Users:
    return Users(server)
