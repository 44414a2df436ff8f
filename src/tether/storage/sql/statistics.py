"""Usage of a tenant counted from its rows (tenants/statistics.py says what each figure means)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Table, and_, exists, func, select

from tether.storage.sql.database import Database
from tether.storage.sql.schema import alarms, events, managed_objects, measurements, mo_references, operations
from tether.tenants.statistics import StoredUsage

#: Bytes a row costs beyond its document (keys, times, index entries): an estimate.
ROW_OVERHEAD = 96
SAMPLE = 1000
#: Each table and its document column.
_DOCUMENTS: tuple[tuple[Table, str], ...] = (
    (managed_objects, "attrs"),
    (measurements, "fragments"),
    (events, "fragments"),
    (alarms, "fragments"),
    (operations, "fragments"),
)


class SqlUsageStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def usage(self, tenant_id: str, date_from: int, date_to: int) -> StoredUsage:
        mo = managed_objects
        dialect = self._db.dialect
        device = and_(mo.c.tenant_id == tenant_id, dialect.json_exists(mo.c.attrs, ("c8y_IsDevice",)))
        has_children = exists().where(
            mo_references.c.parent_id == mo.c.id, mo_references.c.kind == "childDevices"
        )

        def created(table: Table) -> Any:
            return select(func.count()).where(
                table.c.tenant_id == tenant_id,
                table.c.creation_time >= date_from,
                table.c.creation_time < date_to,
            )

        async with self._db.read() as conn:
            devices = int(await conn.scalar(select(func.count()).where(device)) or 0)
            parents = int(await conn.scalar(select(func.count()).where(device, has_children)) or 0)
            figures = [int(await conn.scalar(created(t)) or 0) for t in (mo, measurements, events, alarms)]
            storage = 0
            for table, column in _DOCUMENTS:
                rows = int(await conn.scalar(select(func.count()).where(table.c.tenant_id == tenant_id)) or 0)
                if not rows:
                    continue
                sample = (
                    select(func.length(dialect.document_text(table.c[column])).label("size"))
                    .where(table.c.tenant_id == tenant_id)
                    .order_by(table.c.id.desc())
                    .limit(SAMPLE)
                    .subquery()
                )
                average = float(await conn.scalar(select(func.avg(sample.c.size))) or 0)
                storage += int(rows * (average + ROW_OVERHEAD))
        inventories, measurements_, events_, alarms_ = figures
        return StoredUsage(devices, parents, inventories, measurements_, events_, alarms_, storage)
