"""Telemetry services over a real storage, per backend, with the domain events they publish recorded."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from tests.support import backends, fresh_database

from tether.bootstrap import open_storage
from tether.core.events import DomainEvent, EventBus
from tether.inventory.service import InventoryService
from tether.storage.sql.storage import SqlStorage
from tether.telemetry.alarms import AlarmService
from tether.telemetry.events import EventService
from tether.telemetry.measurements import MeasurementService
from tether.tenants.models import Tenant


@dataclass
class Telemetry:
    storage: SqlStorage
    bus: EventBus
    inventory: InventoryService
    measurements: MeasurementService
    events: EventService
    alarms: AlarmService
    published: list[DomainEvent] = field(default_factory=list)

    def small_series_limit(self, limit: int) -> MeasurementService:
        return MeasurementService(self.storage.measurements, self.inventory, self.bus, series_limit=limit)


@pytest.fixture(params=backends())
async def telemetry(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Telemetry]:
    storage = open_storage(await fresh_database(request.param, tmp_path))
    await storage.open()
    for tenant in ("t1", "t2"):
        await storage.tenants.create(Tenant(id=tenant, domain=tenant, creation_time=0))
    bus = EventBus()
    inventory = InventoryService(storage.managed_objects, bus)
    services = Telemetry(
        storage=storage,
        bus=bus,
        inventory=inventory,
        measurements=MeasurementService(storage.measurements, inventory, bus),
        events=EventService(storage.events, inventory, bus),
        alarms=AlarmService(storage.alarms, inventory, bus),
    )
    bus.subscribe(services.published.append)
    yield services
    await storage.close()
