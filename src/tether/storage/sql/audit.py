"""Audit records in SQL (migration 0018)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import BigInteger, Column, Index, String, Table, Text, func, insert, select

from tether.audit.models import AuditCriteria, AuditRecord, NewAuditRecord
from tether.core.paging import Page, PageRequest
from tether.storage.sql.database import Database
from tether.storage.sql.schema import NEVER_REUSED, Document, Id, metadata

audit_records = Table(
    "audit_records",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("tenant_id", String(64), nullable=False),
    Column("type", String(64), nullable=False),
    Column("time", BigInteger, nullable=False),
    Column("creation_time", BigInteger, nullable=False),
    Column("activity", Text, nullable=False),
    Column("text", Text, nullable=False),
    Column("severity", String(16), nullable=False),
    Column("username", String(255)),
    Column("application", String(255)),
    Column("source", String(255)),
    Column("changes", Document),
    Column("fragments", Document, nullable=False),
    Index("ix_audit_tenant_time", "tenant_id", "time"),
    Index("ix_audit_tenant_type", "tenant_id", "type", "time"),
    **NEVER_REUSED,
)
_a = audit_records


def _record(row: Any) -> AuditRecord:
    return AuditRecord(
        id=row.id,
        tenant_id=row.tenant_id,
        type=row.type,
        time=row.time,
        creation_time=row.creation_time,
        activity=row.activity,
        text=row.text,
        severity=row.severity,
        user=row.username,
        application=row.application,
        source=row.source,
        changes=tuple(row.changes or ()),
        fragments=dict(row.fragments or {}),
    )


def _values(d: NewAuditRecord, now: int) -> dict[str, Any]:
    return {
        "tenant_id": d.tenant_id,
        "type": d.type,
        "time": now if d.time is None else d.time,
        "creation_time": now,
        "activity": d.activity,
        "text": d.text,
        "severity": d.severity,
        "username": d.user,
        "application": d.application,
        "source": d.source,
        "changes": list(d.changes) or None,
        "fragments": d.fragments,
    }


class SqlAuditStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def append(self, drafts: list[NewAuditRecord], now: int) -> None:
        rows = [_values(d, now) for d in drafts]
        async with self._db.write() as conn:
            await conn.execute(insert(_a), rows)  # executemany

    async def insert(self, drafts: list[NewAuditRecord], now: int) -> list[AuditRecord]:
        stored = []
        async with self._db.write() as conn:
            for d in drafts:
                values = _values(d, now)
                record_id = await conn.scalar(insert(_a).values(**values).returning(_a.c.id))
                assert record_id is not None
                stored.append(
                    AuditRecord(
                        id=record_id,
                        tenant_id=d.tenant_id,
                        type=d.type,
                        time=values["time"],
                        creation_time=now,
                        activity=d.activity,
                        text=d.text,
                        severity=d.severity,
                        user=d.user,
                        application=d.application,
                        source=d.source,
                        changes=d.changes,
                        fragments=d.fragments,
                    )
                )
        return stored

    async def get(self, tenant_id: str, record_id: int) -> AuditRecord | None:
        query = select(_a).where(_a.c.tenant_id == tenant_id, _a.c.id == record_id)
        async with self._db.read() as conn:
            row = (await conn.execute(query)).first()
        return None if row is None else _record(row)

    async def find(self, tenant_id: str, criteria: AuditCriteria, page: PageRequest) -> Page[AuditRecord]:
        where: list[Any] = [_a.c.tenant_id == tenant_id]
        if criteria.source is not None:
            where.append(_a.c.source == criteria.source)
        if criteria.type is not None:
            where.append(_a.c.type == criteria.type)
        if criteria.user is not None:
            where.append(_a.c.username == criteria.user)
        if criteria.application is not None:
            where.append(_a.c.application == criteria.application)
        if criteria.date_from is not None:
            where.append(_a.c.time >= criteria.date_from)
        if criteria.date_to is not None:
            where.append(_a.c.time < criteria.date_to)
        order = (_a.c.time.desc(), _a.c.id.desc()) if criteria.revert else (_a.c.time, _a.c.id)
        query = select(_a).where(*where).order_by(*order).limit(page.page_size).offset(page.offset)
        async with self._db.read() as conn:
            rows = (await conn.execute(query)).all()
            total = (
                await conn.scalar(select(func.count()).select_from(_a).where(*where))
                if page.with_total
                else None
            )
        return Page([_record(r) for r in rows], page, total)
