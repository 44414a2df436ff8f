"""External ids in SQL; the primary key (tenant, type, value) makes a duplicate a conflict."""

from __future__ import annotations

from sqlalchemy import delete, func, insert, select
from sqlalchemy.exc import IntegrityError

from tether.core.errors import Conflict, NotFound
from tether.core.paging import Page, PageRequest
from tether.identity.models import ExternalId
from tether.storage.sql.database import Database
from tether.storage.sql.schema import external_ids as xids
from tether.storage.sql.schema import managed_objects as mo


class SqlExternalIdStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def create(self, tenant_id: str, xid: ExternalId) -> None:
        try:
            async with self._db.write() as conn:
                owner = await conn.scalar(
                    select(mo.c.id).where(mo.c.id == xid.mo_id, mo.c.tenant_id == tenant_id)
                )
                if owner is None:
                    raise NotFound(f"No managedObject for id '{xid.mo_id}'!", resource="inventory")
                await conn.execute(
                    insert(xids).values(tenant_id=tenant_id, type=xid.type, value=xid.value, mo_id=xid.mo_id)
                )
        except IntegrityError:
            raise Conflict(
                f"Found one or more conflicts in external id for ID [type={xid.type}, value={xid.value}]",
                resource="identity",
            ) from None

    async def get(self, tenant_id: str, type_: str, value: str) -> ExternalId | None:
        query = select(xids.c.mo_id).where(
            xids.c.tenant_id == tenant_id, xids.c.type == type_, xids.c.value == value
        )
        async with self._db.read() as conn:
            mo_id = await conn.scalar(query)
        return None if mo_id is None else ExternalId(type=type_, value=value, mo_id=mo_id)

    async def get_many(self, tenant_id: str, type_: str, values: list[str]) -> dict[str, int]:
        found: dict[str, int] = {}
        async with self._db.read() as conn:
            for i in range(0, len(values), 500):  # well under SQLite's bound-parameter limit
                query = select(xids.c.value, xids.c.mo_id).where(
                    xids.c.tenant_id == tenant_id, xids.c.type == type_, xids.c.value.in_(values[i : i + 500])
                )
                found.update((r.value, r.mo_id) for r in await conn.execute(query))
        return found

    async def list_for(self, tenant_id: str, mo_id: int, page: PageRequest) -> Page[ExternalId]:
        where = (xids.c.tenant_id == tenant_id, xids.c.mo_id == mo_id)
        query = (
            select(xids.c.type, xids.c.value)
            .where(*where)
            .order_by(xids.c.type, xids.c.value)
            .limit(page.page_size)
            .offset(page.offset)
        )
        async with self._db.read() as conn:
            rows = (await conn.execute(query)).all()
            total = await conn.scalar(select(func.count()).where(*where)) if page.with_total else None
        items = [ExternalId(type=r.type, value=r.value, mo_id=mo_id) for r in rows]
        return Page(items, page, total)

    async def delete(self, tenant_id: str, type_: str, value: str) -> bool:
        where = (xids.c.tenant_id == tenant_id, xids.c.type == type_, xids.c.value == value)
        async with self._db.write() as conn:
            result = await conn.execute(delete(xids).where(*where))
        return bool(result.rowcount)
