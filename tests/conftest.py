"""Shared fixtures: a real Tether server on an ephemeral loopback port, per storage backend."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import httpx
import pytest
from tests.support import ADMIN_PASSWORD, ServerThread, backends, drop_session_database, start_server


@pytest.fixture(scope="module", params=backends())
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServerThread]:
    thread = start_server(request.param, tmp_path_factory.mktemp("tether"))
    yield thread
    thread.stop()


@pytest.fixture
def admin(server: ServerThread) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, auth=("t1/admin", ADMIN_PASSWORD), timeout=30) as client:
        yield client


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Drop this run's own PostgreSQL database (see tests/support.py)."""
    asyncio.run(drop_session_database())
