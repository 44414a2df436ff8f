"""Connection history and device presence in SQL (migration 0012).

History rows are written in batches of a connect storm's size, straight through the driver as
storage/sql/measurement_bulk.py does (SQLAlchemy's executemany costs the event loop tens of microseconds per
row): on SQLite multi-row VALUES statements of a few fixed sizes in one trip to the driver's thread, on
PostgreSQL one statement over arrays (unnest).
"""

from __future__ import annotations

import functools
import sqlite3
from dataclasses import replace
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    ColumnElement,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    and_,
    bindparam,
    delete,
    func,
    insert,
    or_,
    select,
    update,
)

from tether.core.paging import Page, PageRequest
from tether.presence.models import (
    AvailabilityStatus,
    ConnectionRecord,
    DevicePresence,
    HistoryCriteria,
)
from tether.storage.sql.database import Database
from tether.storage.sql.padding import padded
from tether.storage.sql.schema import metadata
from tether.storage.sqlite import SqliteDialect

connection_history = Table(
    "connection_history",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("tenant_id", String(64), ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False),
    Column("client_id", String(255), nullable=False),
    Column("username", String(255)),
    Column("device", String(255)),
    Column("mo_id", BigInteger),
    Column("ip_address", String(64)),
    Column("proto_ver", Integer, nullable=False),
    Column("clean_start", Boolean, nullable=False),
    Column("keepalive", Integer, nullable=False),
    Column("connected_at", BigInteger, nullable=False),
    Column("disconnected_at", BigInteger),
    Column("reason", String(64)),
    Column("node", String(64), nullable=False, server_default=""),  # migration 0023
    Index("ix_connection_history_open", "disconnected_at", "node"),
    Index("ix_connection_history_client", "tenant_id", "client_id", "connected_at"),
    Index("ix_connection_history_device", "tenant_id", "mo_id", "connected_at"),
    Index("ix_connection_history_ended", "disconnected_at"),
)

device_presence = Table(
    "device_presence",
    metadata,
    Column("tenant_id", String(64), ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True),
    Column("mo_id", BigInteger, primary_key=True),
    Column("connected", Boolean, nullable=False),
    Column("last_message", BigInteger),
    Column("response_interval", Integer),
    Column("status", String(16)),
    Column("since", BigInteger, nullable=False),
    Column("disconnected_at", BigInteger),
    Column("offline_alarm", Boolean, nullable=False),
)

_H = connection_history.c
_D = device_presence.c
_COLUMNS = (
    "id, tenant_id, client_id, username, device, mo_id, ip_address, proto_ver, clean_start, keepalive, "
    "connected_at, disconnected_at, reason, node"
)
_WIDTH = 14
#: Rows of the largest SQLite statement (storage/sql/padding.py); 512 x 14 parameters stay below
#: SQLITE_MAX_VARIABLE_NUMBER (32766).
_LARGEST = 512
_PG_INSERT = (
    f"INSERT INTO connection_history ({_COLUMNS}) SELECT * FROM unnest($1::text[], $2::text[], $3::text[], "
    "$4::text[], $5::text[], $6::bigint[], $7::text[], $8::int[], $9::bool[], $10::int[], $11::bigint[], "
    "$12::bigint[], $13::text[], $14::text[])"
)
_PG_CLOSE = (
    "UPDATE connection_history AS h SET disconnected_at = v.at, reason = v.reason "
    "FROM unnest($1::text[], $2::bigint[], $3::text[]) AS v(id, at, reason) WHERE h.id = v.id"
)


@functools.cache
def _sqlite_insert(rows: int) -> str:
    values = ",".join(["(" + ",".join("?" * _WIDTH) + ")"] * rows)
    columns = ", ".join(f"column{i}" for i in range(1, _WIDTH + 1))
    return (
        f"INSERT INTO connection_history ({_COLUMNS}) SELECT {columns} FROM (VALUES {values}) "
        "WHERE column1 IS NOT NULL"
    )


@functools.cache
def _sqlite_close(rows: int) -> str:
    # A CTE rather than UPDATE ... FROM, which needs SQLite 3.33.
    values = ",".join(["(?, ?, ?)"] * rows)
    return (
        f"WITH v(id, at, reason) AS (VALUES {values}) UPDATE connection_history SET "
        "disconnected_at = (SELECT at FROM v WHERE v.id = connection_history.id), "
        "reason = (SELECT reason FROM v WHERE v.id = connection_history.id) "
        "WHERE id IN (SELECT id FROM v WHERE id IS NOT NULL)"
    )


def _chunks(params: list[Any], width: int, statement: Any) -> list[tuple[str, list[Any]]]:
    """Statements of the fixed sizes with their (NULL-padded) parameters."""
    return [(statement(size), part) for size, part in padded(params, width, _LARGEST)]


def _values(r: ConnectionRecord) -> tuple[Any, ...]:
    return (
        r.id, r.tenant_id, r.client_id, r.username, r.device, r.mo_id, r.ip_address, r.proto_ver,
        r.clean_start, r.keepalive, r.connected_at, r.disconnected_at, r.reason, r.node,
    )  # fmt: skip


def _record(row: Any) -> ConnectionRecord:
    return ConnectionRecord(
        id=row.id,
        tenant_id=row.tenant_id,
        client_id=row.client_id,
        username=row.username,
        device=row.device,
        mo_id=row.mo_id,
        ip_address=row.ip_address,
        proto_ver=row.proto_ver,
        clean_start=row.clean_start,
        keepalive=row.keepalive,
        connected_at=row.connected_at,
        disconnected_at=row.disconnected_at,
        reason=row.reason,
        node=row.node,
    )


def _row(record: ConnectionRecord) -> dict[str, Any]:
    return {
        "id": record.id,
        "tenant_id": record.tenant_id,
        "client_id": record.client_id,
        "username": record.username,
        "device": record.device,
        "mo_id": record.mo_id,
        "ip_address": record.ip_address,
        "proto_ver": record.proto_ver,
        "clean_start": record.clean_start,
        "keepalive": record.keepalive,
        "connected_at": record.connected_at,
        "disconnected_at": record.disconnected_at,
        "reason": record.reason,
        "node": record.node,
    }


class SqlPresenceStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def record(self, inserts: list[ConnectionRecord], closes: list[tuple[str, int, str]]) -> None:
        if not inserts and not closes:
            return
        dialect = self._db.dialect
        if isinstance(dialect, SqliteDialect):
            inserted: list[Any] = []
            for record in inserts:
                inserted += _values(record)
            closed: list[Any] = []
            for close in closes:
                closed += close
            statements = _chunks(inserted, _WIDTH, _sqlite_insert) + _chunks(closed, 3, _sqlite_close)

            def work(conn: sqlite3.Connection) -> None:
                for sql, part in statements:
                    conn.execute(sql, part)

            # One trip to the driver's thread for the whole write (storage/sql/group_commit.py).
            await dialect.run(work)
            return
        async with self._db.write() as conn:
            if inserts:
                await conn.exec_driver_sql(
                    _PG_INSERT, tuple(map(list, zip(*map(_values, inserts), strict=True)))
                )
            if closes:
                await conn.exec_driver_sql(_PG_CLOSE, tuple(map(list, zip(*closes, strict=True))))

    async def set_device(self, record_id: str, mo_id: int) -> None:
        async with self._db.write() as conn:
            await conn.execute(update(connection_history).where(_H.id == record_id).values(mo_id=mo_id))

    async def close_open(self, at: int, reason: str, node: str | None = None) -> list[ConnectionRecord]:
        where: ColumnElement[bool] = _H.disconnected_at.is_(None)
        if node is not None:
            where = and_(where, _H.node == node)
        async with self._db.write() as conn:
            rows = (await conn.execute(select(connection_history).where(where))).all()
            if rows:
                ids = [r.id for r in rows]
                await conn.execute(
                    update(connection_history)
                    .where(_H.id.in_(ids), _H.disconnected_at.is_(None))
                    .values(disconnected_at=at, reason=reason)
                )
        return [replace(_record(r), disconnected_at=at, reason=reason) for r in rows]

    async def open_nodes(self) -> set[str]:
        query = select(_H.node).where(_H.disconnected_at.is_(None)).distinct()
        async with self._db.read() as conn:
            return {str(node) for node in (await conn.scalars(query)).all()}

    async def open_connections(self, tenant_id: str, mo_id: int) -> int:
        query = (
            select(func.count())
            .select_from(connection_history)
            .where(_H.tenant_id == tenant_id, _H.mo_id == mo_id, _H.disconnected_at.is_(None))
        )
        async with self._db.read() as conn:
            return int(await conn.scalar(query) or 0)

    async def find(
        self, tenant_id: str, criteria: HistoryCriteria, page: PageRequest
    ) -> Page[ConnectionRecord]:
        where: list[Any] = [_H.tenant_id == tenant_id]
        if criteria.client_id is not None:
            where.append(_H.client_id == criteria.client_id)
        if criteria.mo_id is not None:
            where.append(_H.mo_id == criteria.mo_id)
        if criteria.date_to is not None:
            where.append(_H.connected_at <= criteria.date_to)
        if criteria.date_from is not None:
            where.append(or_(_H.disconnected_at.is_(None), _H.disconnected_at >= criteria.date_from))
        query = (
            select(connection_history)
            .where(and_(*where))
            .order_by(_H.connected_at.desc(), _H.id.desc())
            .limit(page.page_size)
            .offset(page.offset)
        )
        async with self._db.read() as conn:
            rows = (await conn.execute(query)).all()
            total = (
                await conn.scalar(select(func.count()).select_from(connection_history).where(and_(*where)))
                if page.with_total
                else None
            )
        return Page([_record(r) for r in rows], page, total)

    async def purge(self, before: int) -> int:
        async with self._db.write() as conn:
            result = await conn.execute(delete(connection_history).where(_H.disconnected_at < before))
        return int(result.rowcount or 0)

    async def devices(self) -> list[DevicePresence]:
        async with self._db.read() as conn:
            rows = (await conn.execute(select(device_presence))).all()
        return [
            DevicePresence(
                tenant_id=r.tenant_id,
                mo_id=r.mo_id,
                connected=r.connected,
                last_message=r.last_message,
                response_interval=r.response_interval,
                status=AvailabilityStatus(r.status) if r.status else None,
                since=r.since,
                disconnected_at=r.disconnected_at,
                offline_alarm=r.offline_alarm,
            )
            for r in rows
        ]

    async def save_devices(self, states: list[DevicePresence]) -> None:
        if not states:
            return
        rows = [
            {
                "tenant_id": s.tenant_id,
                "mo_id": s.mo_id,
                "connected": s.connected,
                "last_message": s.last_message,
                "response_interval": s.response_interval,
                "status": s.status.value if s.status else None,
                "since": s.since,
                "disconnected_at": s.disconnected_at,
                "offline_alarm": s.offline_alarm,
            }
            for s in states
        ]
        keys = [{"b_tenant": s.tenant_id, "b_mo": s.mo_id} for s in states]
        async with self._db.write() as conn:
            await conn.execute(
                delete(device_presence).where(
                    _D.tenant_id == bindparam("b_tenant"), _D.mo_id == bindparam("b_mo")
                ),
                keys,
            )
            await conn.execute(insert(device_presence), rows)

    async def forget_device(self, tenant_id: str, mo_id: int) -> None:
        async with self._db.write() as conn:
            await conn.execute(delete(device_presence).where(_D.tenant_id == tenant_id, _D.mo_id == mo_id))
