"""The SQL `Storage`: one database and the stores over it."""

from __future__ import annotations

from tether.storage.sql.database import Database
from tether.storage.sql.dialect import Dialect
from tether.storage.sql.identity import SqlExternalIdStore
from tether.storage.sql.inventory import SqlManagedObjectStore
from tether.storage.sql.operations import SqlOperationStore
from tether.storage.sql.registration import SqlDeviceRequestStore
from tether.storage.sql.telemetry import SqlEventStore, SqlMeasurementStore
from tether.storage.sql.telemetry_alarms import SqlAlarmStore
from tether.storage.sql.tenants import SqlTenantStore, SqlUserStore


class SqlStorage:
    def __init__(self, dialect: Dialect) -> None:
        self.database = Database(dialect)
        self.tenants = SqlTenantStore(self.database)
        self.users = SqlUserStore(self.database)
        self.managed_objects = SqlManagedObjectStore(self.database)
        self.external_ids = SqlExternalIdStore(self.database)
        self.operations = SqlOperationStore(self.database)
        self.device_requests = SqlDeviceRequestStore(self.database)
        self.measurements = SqlMeasurementStore(self.database)
        self.events = SqlEventStore(self.database)
        self.alarms = SqlAlarmStore(self.database)

    async def open(self) -> None:
        await self.database.open()

    async def close(self) -> None:
        await self.database.close()
