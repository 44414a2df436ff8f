from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from tests.operations.helpers import Services
from tests.support import backends, fresh_database

from tether.bootstrap import open_storage
from tether.core.events import DomainEvent, EventBus
from tether.operations.service import OperationService
from tether.registration.service import RegistrationService
from tether.tenants.service import TenantService


@pytest.fixture(params=backends())
async def services(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Services]:
    storage = open_storage(await fresh_database(request.param, tmp_path))
    await storage.open()
    tenants = TenantService(storage.tenants, storage.users, groups=storage.groups)
    for tenant in ("t1", "t2"):
        await tenants.create_tenant(tenant)
    bus = EventBus()
    seen: list[DomainEvent] = []
    bus.subscribe(seen.append)
    yield Services(
        storage=storage,
        tenants=tenants,
        operations=OperationService(storage.operations, storage.managed_objects, bus),
        registration=RegistrationService(storage.device_requests, tenants),
        events=seen,
    )
    await storage.close()
