"""Tenant options (migration 0018) and named platform secrets (the `platform_secrets` table of 0013)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    Boolean,
    Column,
    ForeignKey,
    String,
    Table,
    Text,
    delete,
    false,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError

from tether.core.paging import Page, PageRequest
from tether.storage.sql.database import Database
from tether.storage.sql.schema import metadata
from tether.storage.sql.tokens import platform_secrets
from tether.tenants.options import StoredOption

tenant_options = Table(
    "tenant_options",
    metadata,
    Column("tenant_id", String(64), ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True),
    Column("category", String(255), primary_key=True),
    Column("key", String(255), primary_key=True),
    Column("value", Text, nullable=False),  # the cipher text when encrypted
    Column("encrypted", Boolean, nullable=False, server_default=false()),
)
_o = tenant_options


def _option(row: Any) -> StoredOption:
    return StoredOption(row.tenant_id, row.category, row.key, row.value, bool(row.encrypted))


class SqlOptionStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    @staticmethod
    def _key(tenant_id: str, category: str, key: str) -> list[Any]:
        return [_o.c.tenant_id == tenant_id, _o.c.category == category, _o.c.key == key]

    async def get(self, tenant_id: str, category: str, key: str) -> StoredOption | None:
        async with self._db.read() as conn:
            row = (await conn.execute(select(_o).where(*self._key(tenant_id, category, key)))).first()
        return None if row is None else _option(row)

    async def find(self, tenant_id: str, page: PageRequest) -> Page[StoredOption]:
        where = _o.c.tenant_id == tenant_id
        query = select(_o).where(where).order_by(_o.c.category, _o.c.key)
        async with self._db.read() as conn:
            rows = (await conn.execute(query.limit(page.page_size).offset(page.offset))).all()
            total = (
                await conn.scalar(select(func.count()).select_from(_o).where(where))
                if page.with_total
                else None
            )
        return Page([_option(r) for r in rows], page, total)

    async def category(self, tenant_id: str, category: str) -> list[StoredOption]:
        query = select(_o).where(_o.c.tenant_id == tenant_id, _o.c.category == category).order_by(_o.c.key)
        async with self._db.read() as conn:
            return [_option(r) for r in (await conn.execute(query)).all()]

    async def put(self, option: StoredOption) -> bool:
        key = self._key(option.tenant_id, option.category, option.key)
        values = {"value": option.value, "encrypted": option.encrypted}
        for _ in range(3):  # an insert racing another's: the update then finds its row
            async with self._db.write() as conn:
                if (await conn.execute(update(_o).where(*key).values(**values))).rowcount:
                    return False
            try:
                async with self._db.write() as conn:
                    await conn.execute(
                        insert(_o).values(
                            tenant_id=option.tenant_id, category=option.category, key=option.key, **values
                        )
                    )
                return True
            except IntegrityError:
                continue
        return False

    async def delete(self, tenant_id: str, category: str, key: str) -> bool:
        async with self._db.write() as conn:
            result = await conn.execute(delete(_o).where(*self._key(tenant_id, category, key)))
        return bool(result.rowcount)


class SqlSecretStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def _stored(self, name: str) -> bytes | None:
        async with self._db.read() as conn:
            value = await conn.scalar(select(platform_secrets.c.value).where(platform_secrets.c.name == name))
        return None if value is None else bytes(value)

    async def secret(self, name: str, candidate: bytes) -> bytes:
        stored = await self._stored(name)
        if stored is not None:
            return stored
        try:
            async with self._db.write() as conn:
                await conn.execute(insert(platform_secrets).values(name=name, value=candidate))
        except IntegrityError:  # another process stored one first: that one is the secret
            stored = await self._stored(name)
            assert stored is not None
            return stored
        return candidate
