"""Fixtures of the Xyte suite: a second tenant with its admin (the `server` and `admin` fixtures come from
tests/conftest.py: a real `tether serve` per storage backend)."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from tests.support import ServerThread

from tether.tenants.models import Role


@pytest.fixture(scope="module")
def other_tenant(server: ServerThread) -> tuple[str, str]:
    tenants = server.platform.tenants
    server.call(tenants.create_tenant("t2"))
    server.call(tenants.create_user("t2", "admin", "t2-secret", {Role.ADMIN}))
    return ("t2/admin", "t2-secret")


@pytest.fixture
def other_admin(server: ServerThread, other_tenant: tuple[str, str]) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, auth=other_tenant, timeout=30) as client:
        yield client
