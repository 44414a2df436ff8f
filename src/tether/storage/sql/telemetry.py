"""Measurements and events in SQL (alarms: telemetry_alarms.py), and what the three stores share."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, Select, Table, delete, func, insert, or_, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from tether.core.errors import InvalidInput, NotFound
from tether.core.paging import Page, PageRequest
from tether.inventory.access import OwnerScope
from tether.storage.postgresql import PostgresDialect
from tether.storage.sql import postgres_direct as pg
from tether.storage.sql.database import Database
from tether.storage.sql.measurement_bulk import (
    BulkRowsRefused,
    BulkSourceGone,
    insert_measurements,
    store_measurements,
)
from tether.storage.sql.schema import events as ev
from tether.storage.sql.schema import managed_objects as mo
from tether.storage.sql.schema import measurements as ms
from tether.storage.sql.sqlite_measurements import few_rows, plain
from tether.storage.sql.sqlite_measurements import page as direct_page
from tether.storage.sqlite import SqliteDialect
from tether.telemetry.models import (
    Event,
    EventCriteria,
    Json,
    Measurement,
    MeasurementCriteria,
    MeasurementRow,
    NewEvent,
    NewMeasurement,
    SeriesQuery,
)


def owned_by(source: Any, tenant_id: str, owner: OwnerScope) -> ColumnElement[bool]:
    """The source is a managed object of `tenant_id` that `owner` owns, or one of the ids `owner` names (a
    person's readable objects by its inventory roles, inventory/access.py)."""
    if not isinstance(owner, str):
        ids: ColumnElement[bool] = source.in_(sorted(owner))
        return ids
    condition: ColumnElement[bool] = source.in_(
        select(mo.c.id).where(mo.c.tenant_id == tenant_id, mo.c.owner == owner)
    )
    return condition


def in_range(column: Any, start: int | None, end: int | None) -> list[ColumnElement[bool]]:
    """start <= column < end, for the bounds given."""
    where: list[ColumnElement[bool]] = []
    if start is not None:
        where.append(column >= start)
    if end is not None:
        where.append(column < end)
    return where


def by_time(table: Table, newest_first: bool) -> tuple[Any, Any]:
    if newest_first:
        return table.c.time.desc(), table.c.id.desc()
    return table.c.time.asc(), table.c.id.asc()


def merge(stored: Json, fragments: Json) -> Json:
    """Given fragments replace stored ones whole; a None value removes the fragment."""
    merged = dict(stored)
    for key, value in fragments.items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = value
    return merged


async def read_page(
    conn: AsyncConnection,
    query: Select[Any],
    table: Table,
    where: list[ColumnElement[bool]],
    page: PageRequest,
) -> tuple[list[Any], int | None]:
    rows = (await conn.execute(query.limit(page.page_size).offset(page.offset))).all()
    total = (
        await conn.scalar(select(func.count()).select_from(table).where(*where)) if page.with_total else None
    )
    return rows, total


def source_gone() -> NotFound:
    """An insert lost the race with the deletion of its source (the foreign key refused it)."""
    return NotFound("The source managed object no longer exists", resource="inventory")


# -- measurements ---------------------------------------------------------------------------------


def _measurement(row: Any) -> Measurement:
    return Measurement(
        id=row.id,
        tenant_id=row.tenant_id,
        source_id=row.source_id,
        type=row.type,
        time=row.time,
        creation_time=row.creation_time,
        fragments=row.fragments,
    )


class SqlMeasurementStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    def _where(
        self, tenant_id: str, criteria: MeasurementCriteria, owner_scope: OwnerScope | None
    ) -> list[ColumnElement[bool]]:
        where = [ms.c.tenant_id == tenant_id]
        if criteria.source_id is not None:
            where.append(ms.c.source_id == criteria.source_id)
        if criteria.type is not None:
            where.append(ms.c.type == criteria.type)
        if criteria.value_fragment_type is not None:
            path: tuple[str, ...] = (criteria.value_fragment_type,)
            if criteria.value_fragment_series is not None:
                path += (criteria.value_fragment_series,)
            where.append(self._db.dialect.json_exists(ms.c.fragments, path))
        where += in_range(ms.c.time, criteria.date_from, criteria.date_to)
        if owner_scope is not None:
            where.append(owned_by(ms.c.source_id, tenant_id, owner_scope))
        return where

    async def create(self, tenant_id: str, drafts: list[NewMeasurement], now: int) -> list[Measurement]:
        # The ingest path's bulk insert (measurement_bulk.py): on SQLite one trip to the writer's thread,
        # group-committed with the other writes; on PostgreSQL one INSERT ... unnest. SQLAlchemy's
        # insertmanyvalues cost several times the CPU per REST request (bench/README.md, REST throughput).
        ids = await self.create_many(
            [(tenant_id, d.source_id, d.type, d.time, d.fragments) for d in drafts], now
        )
        return [
            Measurement(i, tenant_id, d.source_id, d.type, d.time, now, d.fragments)
            for i, d in zip(ids, drafts, strict=True)
        ]

    async def create_many(self, rows: Sequence[MeasurementRow], now: int) -> list[int]:
        try:
            return await insert_measurements(self._db, rows, now)
        except BulkSourceGone:
            raise source_gone() from None
        except BulkRowsRefused as exc:
            raise InvalidInput(f"The measurement cannot be stored: {exc}", resource="measurement") from None

    async def insert_many(self, rows: Sequence[MeasurementRow], now: int) -> None:
        try:
            await store_measurements(self._db, rows, now)
        except BulkSourceGone:
            raise source_gone() from None
        except BulkRowsRefused as exc:
            raise InvalidInput(f"The measurement cannot be stored: {exc}", resource="measurement") from None

    async def get(self, tenant_id: str, measurement_id: int) -> Measurement | None:
        query = select(ms).where(ms.c.tenant_id == tenant_id, ms.c.id == measurement_id)
        async with self._db.read() as conn:
            row = (await conn.execute(query)).first()
        return None if row is None else _measurement(row)

    async def find(
        self,
        tenant_id: str,
        criteria: MeasurementCriteria,
        page: PageRequest,
        *,
        owner_scope: OwnerScope | None = None,
    ) -> Page[Measurement]:
        dialect = self._db.dialect
        if (
            isinstance(dialect, SqliteDialect)
            and owner_scope is None
            and not page.with_total
            and plain(criteria)
        ):
            # One trip to a reader's thread (sqlite_measurements.py), the same query as below; a page of
            # one source that touches few rows (no type to skip rows by, a shallow offset) is read at once.
            read = direct_page(tenant_id, criteria, page.page_size, page.offset)
            found = None
            if few_rows(criteria, page.page_size, page.offset):
                found = dialect.read_now(read)
            if found is None:
                found = await dialect.query(read)
            return Page(found, page, None)
        if (
            isinstance(dialect, PostgresDialect)
            and owner_scope is None
            and not page.with_total
            and plain(criteria)
        ):
            # One prepared statement through asyncpg (postgres_direct.py), the same query as below.
            found = await dialect.direct(pg.page(tenant_id, criteria, page.page_size, page.offset))
            return Page(found, page, None)
        where = self._where(tenant_id, criteria, owner_scope)
        query = select(ms).where(*where).order_by(*by_time(ms, criteria.newest_first))
        async with self._db.read() as conn:
            rows, total = await read_page(conn, query, ms, where, page)
        return Page([_measurement(r) for r in rows], page, total)

    async def delete(self, tenant_id: str, measurement_id: int) -> bool:
        async with self._db.write() as conn:
            result = await conn.execute(
                delete(ms).where(ms.c.tenant_id == tenant_id, ms.c.id == measurement_id)
            )
        return bool(result.rowcount)

    async def delete_matching(
        self, tenant_id: str, criteria: MeasurementCriteria, *, owner_scope: OwnerScope | None = None
    ) -> list[Measurement]:
        where = self._where(tenant_id, criteria, owner_scope)
        async with self._db.write() as conn:
            rows = (await conn.execute(delete(ms).where(*where).returning(ms))).all()
        return sorted((_measurement(r) for r in rows), key=lambda m: (m.time, m.id or 0))

    async def series(self, tenant_id: str, query: SeriesQuery, limit: int) -> list[Measurement]:
        where = [
            ms.c.tenant_id == tenant_id,
            ms.c.source_id == query.source_id,
            *in_range(ms.c.time, query.date_from, query.date_to),
        ]
        if query.series:
            d = self._db.dialect
            exists = [d.json_exists(ms.c.fragments, (s.fragment, s.series)) for s in query.series]
            where.append(or_(*exists))
        statement = select(ms).where(*where).order_by(*by_time(ms, query.newest_first)).limit(limit)
        async with self._db.read() as conn:
            rows = (await conn.execute(statement)).all()
        return [_measurement(r) for r in rows]

    async def supported_series(self, tenant_id: str, source_id: int) -> list[tuple[str, str]]:
        statement = _SUPPORTED_SQLITE if isinstance(self._db.dialect, SqliteDialect) else _SUPPORTED_PG
        async with self._db.read() as conn:
            rows = (await conn.execute(statement, {"tenant": tenant_id, "source": source_id})).all()
        return sorted((str(f), str(s)) for f, s in rows)


#: The distinct (fragment, series) of a source's measurements: a series is an object with a `value`.
_SUPPORTED_SQLITE = text(
    "SELECT DISTINCT f.key, s.key FROM measurements AS m, json_each(m.fragments) AS f, "
    "json_each(f.value) AS s "
    "WHERE m.tenant_id = :tenant AND m.source_id = :source AND f.type = 'object' AND s.type = 'object' "
    "AND json_type(s.value, '$.value') IS NOT NULL"
)
_SUPPORTED_PG = text(
    "SELECT DISTINCT f.key, s.key FROM measurements AS m "
    "CROSS JOIN LATERAL jsonb_each(m.fragments) AS f "
    "CROSS JOIN LATERAL jsonb_each(CASE WHEN jsonb_typeof(f.value) = 'object' THEN f.value ELSE '{}' END) "
    "AS s "
    "WHERE m.tenant_id = :tenant AND m.source_id = :source AND jsonb_typeof(s.value) = 'object' "
    "AND s.value ? 'value'"
)


# -- events ---------------------------------------------------------------------------------------


def _event(row: Any) -> Event:
    return Event(
        id=row.id,
        tenant_id=row.tenant_id,
        source_id=row.source_id,
        type=row.type,
        text=row.text,
        time=row.time,
        creation_time=row.creation_time,
        last_updated=row.last_updated,
        fragments=row.fragments,
    )


class SqlEventStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    def _where(
        self, tenant_id: str, criteria: EventCriteria, owner_scope: OwnerScope | None
    ) -> list[ColumnElement[bool]]:
        d = self._db.dialect
        where = [ev.c.tenant_id == tenant_id]
        if criteria.source_ids is not None:  # the source and its related sources
            where.append(ev.c.source_id.in_(criteria.source_ids))
        elif criteria.source_id is not None:
            where.append(ev.c.source_id == criteria.source_id)
        if criteria.type is not None:
            where.append(ev.c.type == criteria.type)
        if criteria.fragment_type is not None:
            path = tuple(criteria.fragment_type.split("."))
            where.append(d.json_exists(ev.c.fragments, path))
            if criteria.fragment_value is not None:
                where.append(d.json_text(ev.c.fragments, path) == criteria.fragment_value)
        where += in_range(ev.c.time, criteria.date_from, criteria.date_to)
        where += in_range(ev.c.creation_time, criteria.created_from, criteria.created_to)
        if owner_scope is not None:
            where.append(owned_by(ev.c.source_id, tenant_id, owner_scope))
        return where

    async def create(self, tenant_id: str, draft: NewEvent, now: int) -> Event:
        values = {
            "tenant_id": tenant_id,
            "source_id": draft.source_id,
            "type": draft.type,
            "text": draft.text,
            "time": draft.time,
            "creation_time": now,
            "last_updated": now,
            "fragments": draft.fragments,
        }
        try:
            async with self._db.write() as conn:
                event_id = await conn.scalar(insert(ev).values(**values).returning(ev.c.id))
        except IntegrityError:
            raise source_gone() from None
        assert event_id is not None
        return Event(
            event_id,
            tenant_id,
            draft.source_id,
            draft.type,
            draft.text,
            draft.time,
            now,
            now,
            draft.fragments,
        )

    async def get(self, tenant_id: str, event_id: int) -> Event | None:
        async with self._db.read() as conn:
            row = (
                await conn.execute(select(ev).where(ev.c.tenant_id == tenant_id, ev.c.id == event_id))
            ).first()
        return None if row is None else _event(row)

    async def find(
        self,
        tenant_id: str,
        criteria: EventCriteria,
        page: PageRequest,
        *,
        owner_scope: OwnerScope | None = None,
    ) -> Page[Event]:
        where = self._where(tenant_id, criteria, owner_scope)
        query = select(ev).where(*where).order_by(*by_time(ev, criteria.newest_first))
        async with self._db.read() as conn:
            rows, total = await read_page(conn, query, ev, where, page)
        return Page([_event(r) for r in rows], page, total)

    async def update(
        self, tenant_id: str, event_id: int, text: str | None, fragments: Json, now: int
    ) -> Event | None:
        where = (ev.c.tenant_id == tenant_id, ev.c.id == event_id)
        async with self._db.write() as conn:
            row = (await conn.execute(select(ev).where(*where).with_for_update())).first()
            if row is None:
                return None
            values: dict[str, Any] = {"fragments": merge(row.fragments, fragments), "last_updated": now}
            if text is not None:
                values["text"] = text
            updated = (await conn.execute(update(ev).where(*where).values(**values).returning(ev))).first()
        return _event(updated)

    async def delete(self, tenant_id: str, event_id: int) -> bool:
        async with self._db.write() as conn:
            result = await conn.execute(delete(ev).where(ev.c.tenant_id == tenant_id, ev.c.id == event_id))
        return bool(result.rowcount)

    async def delete_matching(
        self, tenant_id: str, criteria: EventCriteria, *, owner_scope: OwnerScope | None = None
    ) -> list[Event]:
        where = self._where(tenant_id, criteria, owner_scope)
        async with self._db.write() as conn:
            rows = (await conn.execute(delete(ev).where(*where).returning(ev))).all()
        return sorted((_event(r) for r in rows), key=lambda e: (e.time, e.id or 0))
