"""Retention rules in SQL and the job's batched deletes (migration 0020).

A batch selects at most `limit` ids of the rows a selection names (through the indexes on tenant and time:
measurements and events by `time`, alarms and operations by `last_updated`, so an alarm that keeps repeating
or an operation still moving is not old) and deletes them by id, in one write transaction: a bounded
statement, and on SQLite one turn of the group-committing writer (storage/sql/group_commit.py) like any
other writer's.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    ColumnElement,
    ForeignKey,
    Index,
    String,
    Table,
    delete,
    func,
    select,
    update,
)

from tether.core.paging import Page, PageRequest
from tether.retention.models import DataType, Deleted, RetentionRule, RuleDraft, Selection
from tether.storage.sql.audit import audit_records
from tether.storage.sql.database import Database
from tether.storage.sql.schema import (
    NEVER_REUSED,
    Id,
    alarms,
    events,
    managed_objects,
    measurements,
    metadata,
    operations,
    tenants,
)

retention_rules = Table(
    "retention_rules",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("tenant_id", String(64), ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False),
    Column("data_type", String(16), nullable=False),
    Column("type", String(255), nullable=False),
    Column("source", String(255), nullable=False),
    Column("fragment_type", String(255), nullable=False),
    Column("maximum_age", BigInteger, nullable=False),
    Column("editable", Boolean, nullable=False),
    Index("ix_retention_tenant", "tenant_id"),
    **NEVER_REUSED,
)
_r = retention_rules
IS_BINARY = "c8y_IsBinary"  # binaries/service.py: the fragment of a file's object and of an attachment


def _rule(row: Any) -> RetentionRule:
    return RetentionRule(
        id=row.id,
        tenant_id=row.tenant_id,
        data_type=DataType(row.data_type),
        maximum_age=row.maximum_age,
        type=row.type,
        source=row.source,
        fragment_type=row.fragment_type,
        editable=row.editable,
    )


def _values(draft: RuleDraft) -> dict[str, Any]:
    return {
        "data_type": draft.data_type.value,
        "type": draft.type,
        "source": draft.source,
        "fragment_type": draft.fragment_type,
        "maximum_age": draft.maximum_age,
        "editable": draft.editable,
    }


def _source_id(source: str) -> int | None:
    return int(source) if source.isdigit() and len(source) < 19 else None


class SqlRetentionStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def create(self, tenant_id: str, draft: RuleDraft) -> RetentionRule:
        values = {"tenant_id": tenant_id, **_values(draft)}
        async with self._db.write() as conn:
            rule_id = await conn.scalar(_r.insert().values(**values).returning(_r.c.id))
        assert rule_id is not None
        return RetentionRule(rule_id, tenant_id, draft.data_type, draft.maximum_age, draft.type,
                             draft.source, draft.fragment_type, draft.editable)  # fmt: skip

    async def get(self, tenant_id: str, rule_id: int) -> RetentionRule | None:
        async with self._db.read() as conn:
            row = (
                await conn.execute(select(_r).where(_r.c.tenant_id == tenant_id, _r.c.id == rule_id))
            ).first()
        return None if row is None else _rule(row)

    async def find(self, tenant_id: str, page: PageRequest) -> Page[RetentionRule]:
        where = _r.c.tenant_id == tenant_id
        query = select(_r).where(where).order_by(_r.c.id).limit(page.page_size).offset(page.offset)
        async with self._db.read() as conn:
            rows = (await conn.execute(query)).all()
            total = (
                await conn.scalar(select(func.count()).select_from(_r).where(where))
                if page.with_total
                else None
            )
        return Page([_rule(r) for r in rows], page, total)

    async def all(self, tenant_id: str) -> list[RetentionRule]:
        async with self._db.read() as conn:
            rows = (await conn.execute(select(_r).where(_r.c.tenant_id == tenant_id).order_by(_r.c.id))).all()
        return [_rule(r) for r in rows]

    async def update(self, tenant_id: str, rule_id: int, draft: RuleDraft) -> RetentionRule | None:
        where = (_r.c.tenant_id == tenant_id, _r.c.id == rule_id)
        async with self._db.write() as conn:
            changed = (await conn.execute(update(_r).where(*where).values(**_values(draft)))).rowcount
        return await self.get(tenant_id, rule_id) if changed else None

    async def delete(self, tenant_id: str, rule_id: int) -> bool:
        async with self._db.write() as conn:
            result = await conn.execute(delete(_r).where(_r.c.tenant_id == tenant_id, _r.c.id == rule_id))
        return bool(result.rowcount)

    async def tenants(self) -> list[str]:
        query = select(tenants.c.id).where(tenants.c.status != "DELETED").order_by(tenants.c.id)
        async with self._db.read() as conn:
            return list((await conn.scalars(query)).all())

    # ---------------------------------------------------------------------------------------- deleting

    def _target(self, s: Selection) -> tuple[Table, list[ColumnElement[bool]]]:
        """The table of the selection's kind and the conditions that pick its rows."""
        json_exists = self._db.dialect.json_exists
        if s.kind is DataType.AUDIT:
            a = audit_records
            where = [a.c.tenant_id == s.tenant_id, a.c.time < s.before]
            if s.type is not None:
                where.append(a.c.type == s.type)
            if s.source is not None:
                where.append(a.c.source == s.source)
            return a, where
        table, time, source, document = {
            DataType.MEASUREMENT: (measurements, "time", "source_id", "fragments"),
            DataType.EVENT: (events, "time", "source_id", "fragments"),
            DataType.ALARM: (alarms, "last_updated", "source_id", "fragments"),
            DataType.OPERATION: (operations, "last_updated", "device_id", "fragments"),
            DataType.BINARY: (managed_objects, "last_updated", "id", "attrs"),
        }[s.kind]
        where = [table.c.tenant_id == s.tenant_id, table.c[time] < s.before]
        if s.kind is DataType.BINARY:
            where.append(json_exists(table.c.attrs, (IS_BINARY,)))
        if s.type is not None:
            where.append(table.c.type == s.type)
        if s.source is not None:
            source_id = _source_id(s.source)
            where.append(table.c[source] == source_id if source_id is not None else table.c.id.is_(None))
        if s.fragment_type is not None:
            where.append(json_exists(table.c[document], tuple(s.fragment_type.split("."))))
        return table, where

    async def delete_batch(self, selection: Selection, limit: int) -> Deleted:
        table, where = self._target(selection)
        columns: list[Any] = [table.c.id]
        if selection.kind is DataType.EVENT:
            columns += [table.c.source_id, self._db.dialect.json_exists(table.c.fragments, (IS_BINARY,))]
        async with self._db.write() as conn:
            rows = (await conn.execute(select(*columns).where(*where).limit(limit))).all()
            if rows:
                await conn.execute(delete(table).where(table.c.id.in_([r[0] for r in rows])))
        if selection.kind is DataType.BINARY:
            return Deleted(len(rows), binaries=tuple(r[0] for r in rows))
        if selection.kind is DataType.EVENT:
            return Deleted(len(rows), attachments=tuple((r[1], r[0]) for r in rows if r[2]))
        return Deleted(len(rows))
