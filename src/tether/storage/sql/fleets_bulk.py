"""Many shadow compare-and-sets in one transaction (ShadowStore.put_many), straight through the driver as
the measurement bulk insert does (storage/sql/measurement_bulk.py says why: SQLAlchemy's per-statement work
and, on SQLite, the trips to the driver's thread are what a per-row write costs).

- SQLite, in the writer connection's thread in one trip (SqliteDialect.run, group commit): one SELECT finds
  the rows whose compare-and-set fails (object gone, row not at the expected version, or present when it is
  to be inserted; the writer holds the write lock, so nothing changes between it and the writes), then one
  UPDATE ... FROM (VALUES ...) and one INSERT ... SELECT FROM (VALUES ...) for the others. Each statement
  steps once: no RETURNING, whose rows would each release and retake the GIL (a switch interval each under
  load). Statements of a few fixed sizes (storage/sql/padding.py), padded with NULL rows that match nothing.
- PostgreSQL: UPDATE ... FROM unnest(arrays) and INSERT ... SELECT FROM unnest(arrays) ON CONFLICT DO
  NOTHING, each RETURNING the rows it wrote; the others lost (or their object is gone, asked only then).
"""

from __future__ import annotations

import functools
import sqlite3
from collections.abc import Callable, Sequence

import orjson
from sqlalchemy.exc import IntegrityError

from tether.fleets.store import Outcome, ShadowWrite
from tether.storage.sql.database import Database
from tether.storage.sql.padding import padded
from tether.storage.sqlite import SqliteDialect

_LARGEST = 1024
_WIDTH = 7  # mo_id, tenant_id, expected version, version, present, timestamp, document
_ROWS = "(?, ?, ?, ?, ?, ?, ?)"
_COLUMNS = 'mo_id, tenant_id, version, present, "timestamp", document'


@functools.cache
def _check(rows: int) -> str:
    """Two lists of object ids: gone, and lost compare-and-sets."""
    values = ",".join([_ROWS] * rows)
    return (
        "SELECT group_concat(CASE WHEN m.id IS NULL THEN v.column1 END), "
        "group_concat(CASE WHEN m.id IS NOT NULL AND (CASE WHEN v.column3 IS NULL THEN s.mo_id IS NOT NULL "
        "ELSE s.mo_id IS NULL OR s.version != v.column3 END) THEN v.column1 END) "
        f"FROM (VALUES {values}) AS v "
        "LEFT JOIN managed_objects AS m ON m.id = v.column1 AND m.tenant_id = v.column2 "
        "LEFT JOIN fleets_shadows AS s ON s.mo_id = v.column1 AND s.tenant_id = v.column2 "
        "WHERE v.column1 IS NOT NULL"
    )


@functools.cache
def _update(rows: int) -> str:
    values = ",".join([_ROWS] * rows)
    return (
        'UPDATE fleets_shadows AS s SET version = v.column4, present = v.column5, "timestamp" = v.column6, '
        f"document = v.column7 FROM (VALUES {values}) AS v "
        "WHERE s.mo_id = v.column1 AND s.tenant_id = v.column2 AND s.version = v.column3"
    )


@functools.cache
def _insert(rows: int) -> str:
    values = ",".join([_ROWS] * rows)
    return (
        f"INSERT INTO fleets_shadows ({_COLUMNS}) SELECT column1, column2, column4, column5, column6, "
        f"column7 FROM (VALUES {values}) WHERE column1 IS NOT NULL ON CONFLICT (mo_id) DO NOTHING"
    )


_PG_UPDATE = (
    'UPDATE fleets_shadows AS s SET version = u.version, present = u.present, "timestamp" = u.ts, '
    "document = u.doc::jsonb FROM unnest($1::bigint[], $2::text[], $3::bigint[], $4::bigint[], "
    "$5::boolean[], $6::bigint[], $7::text[]) AS u(mo_id, tenant_id, expected, version, present, ts, doc) "
    "WHERE s.mo_id = u.mo_id AND s.tenant_id = u.tenant_id AND s.version = u.expected RETURNING s.mo_id"
)
_PG_INSERT = (
    f"INSERT INTO fleets_shadows ({_COLUMNS}) SELECT u.mo_id, u.tenant_id, u.version, u.present, u.ts, "
    "u.doc::jsonb FROM unnest($1::bigint[], $2::text[], $3::bigint[], $4::bigint[], $5::boolean[], "
    "$6::bigint[], $7::text[]) AS u(mo_id, tenant_id, expected, version, present, ts, doc) "
    "WHERE EXISTS (SELECT 1 FROM managed_objects AS m WHERE m.id = u.mo_id AND m.tenant_id = u.tenant_id) "
    "ON CONFLICT (mo_id) DO NOTHING RETURNING mo_id"
)
_PG_EXISTING = (
    "SELECT m.id FROM managed_objects AS m JOIN unnest($1::bigint[], $2::text[]) AS u(id, tenant_id) "
    "ON m.id = u.id AND m.tenant_id = u.tenant_id"
)


def _row(write: ShadowWrite) -> tuple[object, ...]:
    shadow = write.shadow
    document = orjson.dumps({"state": shadow.state, "metadata": shadow.metadata}).decode()
    return (
        write.mo_id,
        write.tenant_id,
        write.expected_version,
        shadow.version,
        shadow.present,
        shadow.timestamp,
        document,
    )


def _padded(rows: Sequence[tuple[object, ...]]) -> list[tuple[int, list[object]]]:
    """(statement size, its parameters) for the fixed sizes."""
    return padded([value for row in rows for value in row], _WIDTH, _LARGEST)


def _ids(text: str | None) -> set[int]:
    return {int(part) for part in text.split(",")} if text else set()


Found = tuple[set[int], set[int]]  # gone, lost


def _sqlite_work(rows: list[tuple[object, ...]]) -> Callable[[sqlite3.Connection], Found]:
    def work(conn: sqlite3.Connection) -> Found:
        gone: set[int] = set()
        lost: set[int] = set()
        for size, params in _padded(rows):
            found = conn.execute(_check(size), params).fetchone()
            gone |= _ids(found[0])
            lost |= _ids(found[1])
        good = [row for row in rows if row[0] not in gone and row[0] not in lost]
        for kind, statement in ((False, _update), (True, _insert)):
            part = [row for row in good if (row[2] is None) is kind]
            for size, params in _padded(part):
                conn.execute(statement(size), params)
        return gone, lost

    return work


async def put_many(db: Database, writes: Sequence[ShadowWrite]) -> list[Outcome]:
    if not writes:
        return []
    rows = [_row(w) for w in writes]
    dialect = db.dialect
    if isinstance(dialect, SqliteDialect):
        gone, lost = await dialect.run(_sqlite_work(rows))
    else:
        gone, lost = await _postgres(db, writes, rows)
    return ["gone" if w.mo_id in gone else "conflict" if w.mo_id in lost else "stored" for w in writes]


async def _postgres(db: Database, writes: Sequence[ShadowWrite], rows: list[tuple[object, ...]]) -> Found:
    updates = [row for row in rows if row[2] is not None]
    inserts = [row for row in rows if row[2] is None]
    written: set[int] = set()
    try:
        async with db.write() as conn:
            for statement, part in ((_PG_UPDATE, updates), (_PG_INSERT, inserts)):
                if part:
                    columns = tuple(list(column) for column in zip(*part, strict=True))
                    result = await conn.exec_driver_sql(statement, columns)
                    written.update(result.scalars().all())
            failed = [write for write in writes if write.mo_id not in written]
            existing: set[int] = set()
            if failed:
                keys = ([w.mo_id for w in failed], [w.tenant_id for w in failed])
                result = await conn.exec_driver_sql(_PG_EXISTING, keys)
                existing = set(result.scalars().all())
    except IntegrityError:  # an object deleted between the check and the insert: nothing was written
        return set(), {write.mo_id for write in writes}
    ids = {write.mo_id for write in failed}
    return ids - existing, ids & existing
