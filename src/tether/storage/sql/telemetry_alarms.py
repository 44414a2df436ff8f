"""Alarms in SQL. De-duplication rests on the partial unique index ux_alarm_open: at most one ACTIVE or
ACKNOWLEDGED alarm per (tenant, source, type), whatever races the application loses."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from tether.core.errors import Conflict
from tether.core.paging import Page, PageRequest
from tether.inventory.access import OwnerScope
from tether.storage.sql.database import Database
from tether.storage.sql.schema import alarms as al
from tether.storage.sql.schema import managed_objects as mo
from tether.storage.sql.telemetry import by_time, in_range, merge, owned_by, read_page, source_gone
from tether.telemetry.models import (
    OPEN_STATUSES,
    Alarm,
    AlarmChange,
    AlarmCriteria,
    AlarmSeverity,
    AlarmStatus,
    NewAlarm,
)

# Insert-or-increment rounds before giving up: each lost round means another writer opened or closed
# the same alarm in between, so more than a few mean something else is wrong.
RAISE_ATTEMPTS = 5
LOAD_CHUNK = 1000  # ids per SELECT ... IN (...), well below the drivers' bind-parameter limits
_OPEN = [s.value for s in OPEN_STATUSES]
# Alarms with the name of their source, for display.
_WITH_SOURCE = select(al, mo.c.name.label("source_name")).select_from(al.join(mo, mo.c.id == al.c.source_id))


def _alarm(row: Any) -> Alarm:
    return Alarm(
        id=row.id,
        tenant_id=row.tenant_id,
        source_id=row.source_id,
        type=row.type,
        text=row.text,
        status=AlarmStatus(row.status),
        severity=AlarmSeverity(row.severity),
        count=row.count,
        time=row.time,
        first_occurrence_time=row.first_occurrence_time,
        creation_time=row.creation_time,
        last_updated=row.last_updated,
        fragments=row.fragments,
        source_name=getattr(row, "source_name", None),
    )


def _open_conflict(detail: str) -> Conflict:
    return Conflict(
        f"{detail}: an ACTIVE or ACKNOWLEDGED alarm of the same source and type already exists",
        resource="alarm",
    )


class SqlAlarmStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    def _where(
        self, tenant_id: str, criteria: AlarmCriteria, owner_scope: OwnerScope | None
    ) -> list[ColumnElement[bool]]:
        where = [al.c.tenant_id == tenant_id]
        if criteria.source_ids is not None:  # the source and its related sources
            where.append(al.c.source_id.in_(criteria.source_ids))
        elif criteria.source_id is not None:
            where.append(al.c.source_id == criteria.source_id)
        if criteria.types is not None:
            where.append(al.c.type.in_(criteria.types))
        if criteria.statuses is not None:
            where.append(al.c.status.in_([s.value for s in criteria.statuses]))
        if criteria.severities is not None:
            where.append(al.c.severity.in_([s.value for s in criteria.severities]))
        if criteria.resolved is True:
            where.append(al.c.status == AlarmStatus.CLEARED.value)
        elif criteria.resolved is False:
            where.append(al.c.status.in_(_OPEN))
        if criteria.fragment_type is not None:
            path = tuple(criteria.fragment_type.split("."))
            where.append(self._db.dialect.json_exists(al.c.fragments, path))
        where += in_range(al.c.time, criteria.date_from, criteria.date_to)
        where += in_range(al.c.creation_time, criteria.created_from, criteria.created_to)
        if owner_scope is not None:
            where.append(owned_by(al.c.source_id, tenant_id, owner_scope))
        return where

    @staticmethod
    async def _load(conn: AsyncConnection, tenant_id: str, ids: Sequence[int]) -> list[Alarm]:
        loaded: list[Alarm] = []
        for start in range(0, len(ids), LOAD_CHUNK):
            chunk = ids[start : start + LOAD_CHUNK]
            query = _WITH_SOURCE.where(al.c.tenant_id == tenant_id, al.c.id.in_(chunk)).order_by(al.c.id)
            loaded += [_alarm(r) for r in (await conn.execute(query)).all()]
        return loaded

    async def raise_alarm(self, tenant_id: str, draft: NewAlarm, now: int) -> tuple[Alarm, bool]:
        async with self._db.write() as conn:
            for _ in range(RAISE_ATTEMPTS):
                if draft.status.is_open:
                    absorbed = await self._increment(conn, tenant_id, draft, now)
                    if absorbed is not None:
                        return (await self._load(conn, tenant_id, [absorbed]))[0], False
                try:
                    async with conn.begin_nested():  # a lost race rolls back only the INSERT
                        alarm_id = await conn.scalar(
                            insert(al).values(**self._row(tenant_id, draft, now)).returning(al.c.id)
                        )
                except IntegrityError:
                    # Another writer opened this alarm since our look (ux_alarm_open), or the source was
                    # deleted (the foreign key). Look again: the first is now an increment.
                    continue
                assert alarm_id is not None
                return (await self._load(conn, tenant_id, [alarm_id]))[0], True
        raise source_gone()

    @staticmethod
    def _row(tenant_id: str, draft: NewAlarm, now: int) -> dict[str, Any]:
        return {
            "tenant_id": tenant_id,
            "source_id": draft.source_id,
            "type": draft.type,
            "text": draft.text,
            "status": draft.status.value,
            "severity": draft.severity.value,
            "count": 1,
            "time": draft.time,
            "first_occurrence_time": draft.time,
            "creation_time": now,
            "last_updated": now,
            "fragments": draft.fragments,
        }

    @staticmethod
    async def _increment(conn: AsyncConnection, tenant_id: str, draft: NewAlarm, now: int) -> int | None:
        """Fold `draft` into the open alarm of its source and type, if there is one; its id."""
        query = (
            select(al.c.id, al.c.fragments)
            .where(
                al.c.tenant_id == tenant_id,
                al.c.source_id == draft.source_id,
                al.c.type == draft.type,
                al.c.status.in_(_OPEN),
            )
            .with_for_update()  # PostgreSQL: concurrent raises queue here; SQLite has one writer anyway
        )
        row = (await conn.execute(query)).first()
        if row is None:
            return None
        values: dict[str, Any] = {
            "count": al.c.count + 1,
            "time": draft.time,
            "text": draft.text,
            "last_updated": now,
        }
        if draft.fragments:
            values["fragments"] = merge(row.fragments, draft.fragments)
        await conn.execute(update(al).where(al.c.id == row.id).values(**values))
        alarm_id: int = row.id
        return alarm_id

    async def get(self, tenant_id: str, alarm_id: int) -> Alarm | None:
        async with self._db.read() as conn:
            found = await self._load(conn, tenant_id, [alarm_id])
        return found[0] if found else None

    async def find(
        self,
        tenant_id: str,
        criteria: AlarmCriteria,
        page: PageRequest,
        *,
        owner_scope: OwnerScope | None = None,
    ) -> Page[Alarm]:
        where = self._where(tenant_id, criteria, owner_scope)
        query = _WITH_SOURCE.where(*where).order_by(*by_time(al, criteria.newest_first))
        async with self._db.read() as conn:
            rows, total = await read_page(conn, query, al, where, page)
        return Page([_alarm(r) for r in rows], page, total)

    async def count(
        self, tenant_id: str, criteria: AlarmCriteria, *, owner_scope: OwnerScope | None = None
    ) -> int:
        where = self._where(tenant_id, criteria, owner_scope)
        async with self._db.read() as conn:
            total = await conn.scalar(select(func.count()).select_from(al).where(*where))
        return int(total or 0)

    async def update(self, tenant_id: str, alarm_id: int, change: AlarmChange, now: int) -> Alarm | None:
        where = (al.c.tenant_id == tenant_id, al.c.id == alarm_id)
        async with self._db.write() as conn:
            row = (await conn.execute(select(al).where(*where).with_for_update())).first()
            if row is None:
                return None
            values: dict[str, Any] = {"last_updated": now}
            if change.status is not None:
                values["status"] = change.status.value
            if change.severity is not None:
                values["severity"] = change.severity.value
            if change.text is not None:
                values["text"] = change.text
            if change.fragments:
                values["fragments"] = merge(row.fragments, change.fragments)
            try:
                async with conn.begin_nested():
                    await conn.execute(update(al).where(*where).values(**values))
            except IntegrityError:
                raise _open_conflict(f"Alarm {alarm_id} cannot be reopened") from None
            return (await self._load(conn, tenant_id, [alarm_id]))[0]

    async def update_matching(
        self,
        tenant_id: str,
        criteria: AlarmCriteria,
        status: AlarmStatus,
        now: int,
        *,
        owner_scope: OwnerScope | None = None,
    ) -> list[Alarm]:
        where = [*self._where(tenant_id, criteria, owner_scope), al.c.status != status.value]
        statement = update(al).where(*where).values(status=status.value, last_updated=now).returning(al.c.id)
        async with self._db.write() as conn:
            try:
                async with conn.begin_nested():
                    ids = list((await conn.execute(statement)).scalars().all())
            except IntegrityError:
                raise _open_conflict(f"Alarms cannot be set to {status}") from None
            return await self._load(conn, tenant_id, ids)

    async def delete_matching(
        self, tenant_id: str, criteria: AlarmCriteria, *, owner_scope: OwnerScope | None = None
    ) -> list[Alarm]:
        where = self._where(tenant_id, criteria, owner_scope)
        async with self._db.write() as conn:
            rows = (await conn.execute(delete(al).where(*where).returning(al))).all()
        return sorted((_alarm(r) for r in rows), key=lambda a: a.id or 0)
