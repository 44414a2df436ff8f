"""Fixtures of the Xyte suite: a second tenant with its admin, the MQTT port devices connect to (the `server`
and `admin` fixtures come from tests/conftest.py: a real `tether serve` per storage backend)."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from tests.mqtt_device import ServerMqtt
from tests.support import ServerThread
from tests.xyte.mqtt_support import xyte_only_broker

from tether.tenants.models import Role


@pytest.fixture(scope="module")
def other_tenant(server: ServerThread) -> tuple[str, str]:
    tenants = server.platform.services.tenants
    server.call(tenants.create_tenant("t2"))
    server.call(tenants.create_user("t2", "admin", "t2-secret", {Role.ADMIN}))
    return ("t2/admin", "t2-secret")


@pytest.fixture
def other_admin(server: ServerThread, other_tenant: tuple[str, str]) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, auth=other_tenant, timeout=30) as client:
        yield client


@pytest.fixture(scope="module", params=["serve", "adapter"])
def mqtt_port(request: pytest.FixtureRequest, server: ServerThread) -> Iterator[int]:
    """ "serve": the MQTT listener of the server; "adapter": the adapter behind Xyte-only hooks on the
    server's loop (tests/xyte/mqtt_support.py says why)."""
    if request.param == "serve":
        yield ServerMqtt(server).port
        return
    with xyte_only_broker(server) as port:
        yield port
