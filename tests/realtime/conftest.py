"""One event loop per test module here, so that a module shares one assembled platform (setup is slow-ish)."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="module")
def anyio_backend() -> str:
    return "asyncio"
