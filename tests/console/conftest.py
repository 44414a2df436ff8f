"""Fixtures of the console suite: the module's `server` (tests/conftest.py: a real `tether serve` on loopback,
per backend), its broker with lenient logins, one headless chromium per module, SmartREST devices (paho)."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import httpx
import pytest
from selenium import webdriver
from tests.console.browser import Console, start_chromium
from tests.mqtt_device import Device, ServerMqtt
from tests.support import ADMIN_PASSWORD, ServerThread, unique

from tether.tenants.models import Role

ADMIN = "t1/admin"


@pytest.fixture(scope="module")
def mqtt_server(server: ServerThread) -> ServerMqtt:
    mqtt = ServerMqtt(server)
    mqtt.lenient_logins()
    return mqtt


@pytest.fixture(scope="module")
def chromium(server: ServerThread) -> Iterator[webdriver.Chrome]:
    """One browser per module and server; it quits before the server stops (no request left held)."""
    driver = start_chromium()
    yield driver
    driver.quit()


@pytest.fixture
def console(chromium: webdriver.Chrome, server: ServerThread) -> Console:
    """The module's browser on this server's console, logged in as the administrator."""
    page = Console(chromium, server.url)
    if not chromium.current_url.startswith(server.url):
        page.open("/ui/login")
    page.logged_in(ADMIN, ADMIN_PASSWORD)
    return page


@dataclass
class SmartRestDevice:
    """A device with its own device user, connected over SmartREST 2.0 (its managed object exists)."""

    serial: str
    mqtt: Device
    id: str


@pytest.fixture
def smartrest_device(
    server: ServerThread, mqtt_server: ServerMqtt, admin: httpx.Client
) -> Iterator[Callable[..., SmartRestDevice]]:
    made: list[Device] = []

    def make(*supported: str) -> SmartRestDevice:
        serial = unique("con")
        password = unique("pw")
        tenants = server.platform.services.tenants
        server.call(tenants.create_user("t1", f"device_{serial}", password, {Role.DEVICE}))
        device = Device(mqtt_server.port, serial, username=f"t1/device_{serial}", password=password)
        made.append(device)
        assert device.connect() == 0
        assert device.subscribe("s/ds") == 1
        assert device.publish("s/us", f"100,{serial},c8y_ConsoleTest") == 0
        if supported:
            assert device.publish("s/us", "114," + ",".join(supported)) == 0
        found = admin.get(f"/identity/externalIds/c8y_Serial/{serial}")
        assert found.status_code == 200, found.text
        return SmartRestDevice(serial, device, found.json()["managedObject"]["id"])

    yield make
    for device in made:
        with contextlib.suppress(Exception):
            device.close()
