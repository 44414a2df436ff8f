"""Fixtures of the console suite: the module's `server` (a real `tether serve` on loopback), its broker with
lenient logins, one headless chromium per module, SmartREST devices (paho)."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import httpx
import pytest
from selenium import webdriver
from tests.console.browser import WAIT, Console, start_chromium
from tests.mqtt_device import Device, ServerMqtt
from tests.support import ADMIN_PASSWORD, ServerThread, start_server, unique

from tether.tenants.models import Role

ADMIN = "t1/admin"
CONNECTED = {"status": "CONNECTED"}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerThread]:
    """The console on the embedded default only: it is a client of the public APIs, whose answers are the
    same on both backends (tests/api, tests/storage and the rest run on both), so a second browser pass
    over PostgreSQL would test the storage again at a browser's pace."""
    thread = start_server("sqlite", tmp_path_factory.mktemp("tether"))
    yield thread
    thread.stop()


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
        # The device makes its object and external id over REST first (so its MQTT connection is bound to
        # it at CONNECT: presence/service.py), then connects over SmartREST.
        with httpx.Client(base_url=server.url, auth=(f"t1/device_{serial}", password), timeout=30) as own:
            body = {"name": serial, "type": "c8y_ConsoleTest", "c8y_IsDevice": {}}
            if supported:
                body["c8y_SupportedOperations"] = list(supported)
            created = own.post("/inventory/managedObjects", json=body)
            assert created.status_code == 201, created.text
            mo_id = created.json()["id"]
            external = {"type": "c8y_Serial", "externalId": serial}
            assert own.post(f"/identity/globalIds/{mo_id}/externalIds", json=external).status_code == 201
        device = Device(mqtt_server.port, serial, username=f"t1/device_{serial}", password=password)
        made.append(device)
        assert device.connect() == 0
        assert device.subscribe("s/ds") == 1
        assert device.publish("s/us", f"100,{serial},c8y_ConsoleTest") == 0  # known: nothing created
        deadline = time.monotonic() + WAIT
        while admin.get(f"/inventory/managedObjects/{mo_id}").json().get("c8y_Connection") != CONNECTED:
            assert time.monotonic() < deadline, f"{serial} never shown connected"
            time.sleep(0.05)
        return SmartRestDevice(serial, device, mo_id)

    yield make
    for device in made:
        with contextlib.suppress(Exception):
            device.close()
