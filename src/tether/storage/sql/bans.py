"""Bans in SQL (migration 0011); the service keeps them all in memory (credentials/banning.py)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import BigInteger, Column, ForeignKey, String, Table, Text, delete, insert, select
from sqlalchemy.exc import IntegrityError

from tether.core.errors import Conflict
from tether.credentials.bans import R_BANNED, Ban, BanKind
from tether.storage.sql.database import Database
from tether.storage.sql.schema import metadata

bans = Table(
    "bans",
    metadata,
    Column("tenant_id", String(64), ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True),
    Column("kind", String(16), primary_key=True),
    Column("who", String(255), primary_key=True),
    Column("by", Text, nullable=False),
    Column("reason", Text, nullable=False),
    Column("at", BigInteger, nullable=False),
    Column("until", BigInteger),
)


def _ban(row: Any) -> Ban:
    return Ban(
        tenant_id=row.tenant_id,
        kind=BanKind(row.kind),
        who=row.who,
        by=row.by,
        reason=row.reason,
        at=row.at,
        until=row.until,
    )


class SqlBanStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def create(self, ban: Ban) -> None:
        values = {
            "tenant_id": ban.tenant_id,
            "kind": ban.kind.value,
            "who": ban.who,
            "by": ban.by,
            "reason": ban.reason,
            "at": ban.at,
            "until": ban.until,
        }
        try:
            async with self._db.write() as conn:
                await conn.execute(insert(bans).values(**values))
        except IntegrityError:
            raise Conflict(f"{ban.kind.value} {ban.who!r} is banned already", resource=R_BANNED) from None

    async def all(self) -> list[Ban]:
        async with self._db.read() as conn:
            rows = (await conn.execute(select(bans).order_by(bans.c.tenant_id, bans.c.at))).all()
        return [_ban(row) for row in rows]

    async def delete(self, tenant_id: str, kind: BanKind, who: str) -> bool:
        where = (bans.c.tenant_id == tenant_id, bans.c.kind == kind.value, bans.c.who == who)
        async with self._db.write() as conn:
            result = await conn.execute(delete(bans).where(*where))
        return bool(result.rowcount)

    async def clear(self, tenant_id: str) -> int:
        async with self._db.write() as conn:
            result = await conn.execute(delete(bans).where(bans.c.tenant_id == tenant_id))
        return int(result.rowcount or 0)
