"""Managed objects and their references in SQL."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Any

from sqlalchemy import and_, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from tether.core.paging import Page, PageRequest
from tether.inventory.access import OwnerScope
from tether.inventory.models import (
    ChildKind,
    InventoryCriteria,
    Json,
    ManagedObject,
    NewManagedObject,
    Reference,
    Relations,
)
from tether.storage.postgresql import PostgresDialect
from tether.storage.sql import postgres_direct as pg
from tether.storage.sql import sqlite_inventory as direct
from tether.storage.sql.database import Database
from tether.storage.sql.filters import InventoryFilter
from tether.storage.sql.schema import managed_objects as mo
from tether.storage.sql.schema import mo_references as refs
from tether.storage.sqlite import SqliteDialect


def _managed_object(row: Any) -> ManagedObject:
    return ManagedObject(
        id=row.id,
        tenant_id=row.tenant_id,
        owner=row.owner,
        creation_time=row.creation_time,
        last_updated=row.last_updated,
        name=row.name,
        type=row.type,
        fragments=row.attrs,
    )


class SqlManagedObjectStore:
    def __init__(self, db: Database) -> None:
        self._db = db
        self._filter = InventoryFilter(db.dialect)

    async def create(self, tenant_id: str, draft: NewManagedObject, now: int) -> ManagedObject:
        assert draft.owner is not None  # the inventory service names the owner before it stores
        values = {
            "tenant_id": tenant_id,
            "owner": draft.owner,
            "name": draft.name,
            "type": draft.type,
            "creation_time": now,
            "last_updated": now,
            "attrs": draft.fragments,
        }
        dialect = self._db.dialect
        if isinstance(dialect, SqliteDialect):
            # One trip to the writer's thread, group-committed with the other creates (sqlite_inventory.py).
            mo_id: int | None = await dialect.run(direct.insert(values))
        elif isinstance(dialect, PostgresDialect):
            # One prepared statement through asyncpg, committed on its own (postgres_direct.py).
            mo_id = await dialect.direct(pg.insert(values))
        else:
            async with self._db.write() as conn:
                mo_id = await conn.scalar(insert(mo).values(**values).returning(mo.c.id))
        assert mo_id is not None
        return ManagedObject(
            id=mo_id,
            tenant_id=tenant_id,
            owner=draft.owner,
            creation_time=now,
            last_updated=now,
            name=draft.name,
            type=draft.type,
            fragments=draft.fragments,
        )

    async def get(self, tenant_id: str, mo_id: int) -> ManagedObject | None:
        dialect = self._db.dialect
        if isinstance(dialect, SqliteDialect):
            raw = await dialect.query(direct.get(tenant_id, mo_id))
            return None if raw is None else direct.managed_object(raw)
        if isinstance(dialect, PostgresDialect):
            raw = await dialect.direct(pg.get(tenant_id, mo_id))
            return None if raw is None else direct.managed_object(raw)
        async with self._db.read() as conn:
            row = (
                await conn.execute(select(mo).where(mo.c.tenant_id == tenant_id, mo.c.id == mo_id))
            ).first()
        return None if row is None else _managed_object(row)

    async def get_with_relations(self, tenant_id: str, mo_id: int) -> tuple[ManagedObject, Relations] | None:
        dialect = self._db.dialect
        if isinstance(dialect, SqliteDialect | PostgresDialect):
            found = await (
                dialect.query(direct.get_with_relations(tenant_id, mo_id))
                if isinstance(dialect, SqliteDialect)
                else dialect.direct(pg.get_with_relations(tenant_id, mo_id))
            )
            if found is None:
                return None
            raw, children, parents = found
            return direct.managed_object(raw), direct.relations(children, parents)
        async with self._db.read() as conn:
            row = (
                await conn.execute(select(mo).where(mo.c.tenant_id == tenant_id, mo.c.id == mo_id))
            ).first()
            if row is None:
                return None
            relations = await self._relations(conn, tenant_id, [mo_id])
        return _managed_object(row), relations[mo_id]

    async def update(
        self, tenant_id: str, mo_id: int, columns: dict[str, Any], fragments: Json, now: int
    ) -> ManagedObject | None:
        where = (mo.c.tenant_id == tenant_id, mo.c.id == mo_id)
        async with self._db.write() as conn:
            row = (await conn.execute(select(mo).where(*where).with_for_update())).first()
            if row is None:
                return None
            attrs = dict(row.attrs)
            for key, value in fragments.items():
                if value is None:
                    attrs.pop(key, None)
                else:
                    attrs[key] = value
            values = {**columns, "attrs": attrs, "last_updated": now}
            updated = (await conn.execute(update(mo).where(*where).values(**values).returning(mo))).first()
        return _managed_object(updated)

    async def delete(self, tenant_id: str, mo_ids: list[int]) -> int:
        # References and external ids go with the object through ON DELETE CASCADE.
        async with self._db.write() as conn:
            result = await conn.execute(delete(mo).where(mo.c.tenant_id == tenant_id, mo.c.id.in_(mo_ids)))
        return int(result.rowcount)

    async def find(
        self,
        tenant_id: str,
        criteria: InventoryCriteria,
        page: PageRequest,
        *,
        owner_scope: OwnerScope | None = None,
    ) -> Page[ManagedObject]:
        if criteria.query is not None and criteria.query.filter is not None:
            # up to MAX_TERMS conditions of SQLAlchemy constructs: built in a worker thread
            conditions = await asyncio.to_thread(self._filter.conditions, criteria)
        else:
            conditions = self._filter.conditions(criteria)
        where = [mo.c.tenant_id == tenant_id, *conditions]
        if isinstance(owner_scope, str):
            where.append(mo.c.owner == owner_scope)
        elif owner_scope is not None:  # a person's readable objects (inventory roles)
            where.append(mo.c.id.in_(sorted(owner_scope)))
        order = self._filter.order(criteria.query.order_by) if criteria.query else []
        query = select(mo).where(*where).order_by(*order, mo.c.id).limit(page.page_size).offset(page.offset)
        async with self._db.read() as conn:
            rows = (await conn.execute(query)).all()
            total = (
                await conn.scalar(select(func.count()).select_from(mo).where(*where))
                if page.with_total
                else None
            )
        return Page([_managed_object(r) for r in rows], page, total)

    async def relations(self, tenant_id: str, mo_ids: list[int]) -> dict[int, Relations]:
        if not mo_ids:
            return {}
        async with self._db.read() as conn:
            return await self._relations(conn, tenant_id, mo_ids)

    @staticmethod
    async def _relations(conn: AsyncConnection, tenant_id: str, mo_ids: list[int]) -> dict[int, Relations]:
        result: dict[int, Relations] = {i: Relations() for i in mo_ids}
        children = (
            select(refs.c.parent_id, refs.c.kind, refs.c.child_id, mo.c.name)
            .join(mo, mo.c.id == refs.c.child_id)
            .where(refs.c.tenant_id == tenant_id, refs.c.parent_id.in_(mo_ids))
            .order_by(refs.c.creation_time, refs.c.child_id)
        )
        parents = (
            select(refs.c.child_id, refs.c.kind, refs.c.parent_id, mo.c.name)
            .join(mo, mo.c.id == refs.c.parent_id)
            .where(refs.c.tenant_id == tenant_id, refs.c.child_id.in_(mo_ids))
            .order_by(refs.c.creation_time, refs.c.parent_id)
        )
        for row in (await conn.execute(children)).all():
            ref = Reference(ChildKind(row.kind), row.child_id, row.name)
            result[row.parent_id].children.setdefault(ref.kind, []).append(ref)
        for row in (await conn.execute(parents)).all():
            ref = Reference(ChildKind(row.kind), row.parent_id, row.name)
            result[row.child_id].parents.setdefault(ref.kind, []).append(ref)
        return result

    async def child_ids(self, tenant_id: str, parent_ids: list[int], kinds: Iterable[ChildKind]) -> list[int]:
        query = select(refs.c.child_id).where(
            refs.c.tenant_id == tenant_id, refs.c.parent_id.in_(parent_ids), refs.c.kind.in_(list(kinds))
        )
        async with self._db.read() as conn:
            return list((await conn.scalars(query)).all())

    async def descendants(self, tenant_id: str, roots: list[int]) -> set[int]:
        """The roots of the tenant and everything below them, one query per level (inventory/access.py)."""
        async with self._db.read() as conn:
            found = set(
                await conn.scalars(select(mo.c.id).where(mo.c.tenant_id == tenant_id, mo.c.id.in_(roots)))
            )
            frontier = sorted(found)
            while frontier:
                query = select(refs.c.child_id).where(
                    refs.c.tenant_id == tenant_id, refs.c.parent_id.in_(frontier)
                )
                frontier = sorted(set(await conn.scalars(query)) - found)
                found.update(frontier)
        return found

    async def parent_ids(self, tenant_id: str, child_ids: list[int], kinds: Iterable[ChildKind]) -> list[int]:
        where = (refs.c.tenant_id == tenant_id, refs.c.child_id.in_(child_ids), refs.c.kind.in_(list(kinds)))
        query = select(refs.c.parent_id).where(*where).distinct().order_by(refs.c.parent_id)
        async with self._db.read() as conn:
            return list((await conn.scalars(query)).all())

    async def children(
        self, tenant_id: str, parent_id: int, kind: ChildKind, page: PageRequest
    ) -> Page[ManagedObject]:
        on = and_(refs.c.child_id == mo.c.id, refs.c.parent_id == parent_id, refs.c.kind == kind)
        where = (refs.c.tenant_id == tenant_id,)
        query = (
            select(mo)
            .join(refs, on)
            .where(*where)
            .order_by(refs.c.creation_time, mo.c.id)
            .limit(page.page_size)
            .offset(page.offset)
        )
        async with self._db.read() as conn:
            rows = (await conn.execute(query)).all()
            total = (
                await conn.scalar(select(func.count()).select_from(mo).join(refs, on).where(*where))
                if page.with_total
                else None
            )
        return Page([_managed_object(r) for r in rows], page, total)

    async def add_child(
        self, tenant_id: str, parent_id: int, kind: ChildKind, child_id: int, now: int
    ) -> None:
        """Idempotent: linking an already linked child changes nothing."""
        values = {
            "tenant_id": tenant_id,
            "parent_id": parent_id,
            "kind": kind.value,
            "child_id": child_id,
            "creation_time": now,
        }
        try:
            async with self._db.write() as conn:
                await conn.execute(insert(refs).values(**values))
                await conn.execute(update(mo).where(mo.c.id == parent_id).values(last_updated=now))
        except IntegrityError:
            return

    async def remove_child(
        self, tenant_id: str, parent_id: int, kind: ChildKind, child_id: int, now: int
    ) -> bool:
        where = (
            refs.c.tenant_id == tenant_id,
            refs.c.parent_id == parent_id,
            refs.c.kind == kind.value,
            refs.c.child_id == child_id,
        )
        async with self._db.write() as conn:
            removed = (await conn.execute(delete(refs).where(*where))).rowcount
            if removed:
                await conn.execute(update(mo).where(mo.c.id == parent_id).values(last_updated=now))
        return bool(removed)
