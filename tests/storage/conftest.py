from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from tests.support import backends, fresh_database

from tether.bootstrap import open_storage
from tether.storage.sql.storage import SqlStorage
from tether.tenants.models import Tenant


@pytest.fixture(params=backends())
async def storage(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[SqlStorage]:
    store = open_storage(await fresh_database(request.param, tmp_path))
    await store.open()
    for tenant in ("t1", "t2"):
        await store.tenants.create(Tenant(id=tenant, domain=tenant, creation_time=0))
    yield store
    await store.close()
