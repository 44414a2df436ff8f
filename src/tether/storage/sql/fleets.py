"""Shadow documents in SQL (migration 0014): `fleets_shadows`, one row per thing's managed object."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import BigInteger, Boolean, Column, ForeignKey, String, Table, insert, select, update
from sqlalchemy.exc import IntegrityError

from tether.fleets.shadow import Shadow
from tether.fleets.store import Outcome, ShadowWrite
from tether.storage.sql import fleets_bulk
from tether.storage.sql.database import Database
from tether.storage.sql.schema import Document, Id, metadata

shadows = Table(
    "fleets_shadows",
    metadata,
    Column("mo_id", Id, ForeignKey("managed_objects.id", ondelete="CASCADE"), primary_key=True),
    Column("tenant_id", String(64), ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False),
    Column("version", BigInteger, nullable=False),
    Column("present", Boolean, nullable=False),
    Column("timestamp", BigInteger, nullable=False),
    # {"state": {...}, "metadata": {...}}
    Column("document", Document, nullable=False),
)


def _shadow(row: Any) -> Shadow:
    document = row.document if isinstance(row.document, dict) else {}
    return Shadow(
        state=document.get("state") or {},
        metadata=document.get("metadata") or {},
        version=row.version,
        timestamp=row.timestamp,
        present=bool(row.present),
    )


class SqlShadowStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def get(self, tenant_id: str, mo_id: int) -> Shadow | None:
        query = select(shadows).where(shadows.c.mo_id == mo_id, shadows.c.tenant_id == tenant_id)
        async with self._db.read() as conn:
            row = (await conn.execute(query)).first()
        return None if row is None else _shadow(row)

    async def put(self, tenant_id: str, mo_id: int, shadow: Shadow, expected_version: int | None) -> bool:
        values = {
            "version": shadow.version,
            "present": shadow.present,
            "timestamp": shadow.timestamp,
            "document": {"state": shadow.state, "metadata": shadow.metadata},
        }
        try:
            async with self._db.write() as conn:
                if expected_version is None:
                    await conn.execute(insert(shadows).values(mo_id=mo_id, tenant_id=tenant_id, **values))
                    return True
                result = await conn.execute(
                    update(shadows)
                    .where(
                        shadows.c.mo_id == mo_id,
                        shadows.c.tenant_id == tenant_id,
                        shadows.c.version == expected_version,
                    )
                    .values(**values)
                )
                return bool(result.rowcount)
        except IntegrityError:
            return False  # inserted meanwhile, or the managed object is gone

    async def put_many(self, writes: Sequence[ShadowWrite]) -> list[Outcome]:
        return await fleets_bulk.put_many(self._db, writes)
