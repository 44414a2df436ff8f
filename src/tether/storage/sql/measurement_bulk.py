"""Bulk measurement inserts for protocol adapters' ingest batches: thousands of rows of many sources (and
tenants) in one statement of one write transaction, straight through the database driver.

SQLAlchemy's insertmanyvalues path (storage/sql/telemetry.py, used by the REST API) compiles parameters
and RETURNING rows in Python for every row; here the rows go to the driver as plain values:
- SQLite: INSERT ... SELECT FROM (VALUES ...) statements of a few fixed sizes, run in the aiosqlite
  connection's thread with the transaction around them in one trip (SqliteDialect.run; SQLAlchemy's
  cursor takes three trips per statement, each waiting for a turn of the busy event loop).
  Not `executemany`: the sqlite3 module releases and retakes the GIL around every row's step, and
  under load the event loop's thread holds it, so the database thread waits a switch interval per row
  (measured: 3,000 rows/s instead of 100,000). A multi-row statement binds its parameters in one C loop
  and steps once without the GIL. The ids are `last_insert_rowid()` back: the single writer connection
  inserts them contiguously, each one above the largest ever issued (the table is AUTOINCREMENT,
  migration 0008: an id is never reused).
- PostgreSQL: one INSERT ... SELECT FROM unnest(arrays) RETURNING id (one round trip, no per-row
  statement), through asyncpg directly (PostgresDialect.direct, postgres_direct.py); without the ids (the
  ingest path when nobody listens: store_measurements) one binary COPY.
"""

from __future__ import annotations

import contextlib
import functools
import sqlite3
from collections.abc import Iterator, Sequence

import orjson
from sqlalchemy.exc import DataError, IntegrityError

from tether.storage.postgresql import PostgresDialect
from tether.storage.sql import postgres_direct as pg
from tether.storage.sql.database import Database
from tether.storage.sql.padding import padded
from tether.storage.sqlite import SqliteDialect
from tether.telemetry.models import MeasurementRow

# One INSERT of a few fixed numbers of rows (storage/sql/padding.py: 38 statements at most). Multi-row
# VALUES are exempt from SQLITE_LIMIT_COMPOUND_SELECT; 2048 rows x 6 is below SQLITE_MAX_VARIABLE_NUMBER
# (32766).
_MAX_ROWS = 2048
_WIDTH = 6
_PG_INSERT = (
    "INSERT INTO measurements (tenant_id, source_id, type, time, creation_time, fragments) "
    "SELECT t, s, y, m, $5::bigint, f::jsonb FROM unnest($1::text[], $2::bigint[], $3::text[], "
    "$4::bigint[], $6::text[]) AS u(t, s, y, m, f) RETURNING id"
)


@functools.cache
def _statement(rows: int) -> str:
    values = ",".join(["(?, ?, ?, ?, ?, ?)"] * rows)
    return (
        "INSERT INTO measurements (tenant_id, source_id, type, time, creation_time, fragments) "
        f"SELECT column1, column2, column3, column4, column5, column6 FROM (VALUES {values}) "
        "WHERE column1 IS NOT NULL"
    )


def _sqlite_batches(params: list[object]) -> list[tuple[str, list[object]]]:
    """Statements of the fixed sizes with their (padded) parameters."""
    return [(_statement(size), part) for size, part in padded(params, _WIDTH, _MAX_ROWS)]


class BulkSourceGone(Exception):
    """A source of the batch was deleted meanwhile (its foreign key refused the insert): nothing of the
    batch was stored."""


class BulkRowsRefused(Exception):
    """A row of the batch cannot be encoded or stored (its content, not the database): nothing of the
    batch was stored. Rows checked by core/values.py never cause it; it is the last line of defence."""


async def insert_measurements(db: Database, rows: Sequence[MeasurementRow], now: int) -> list[int]:
    """Insert every row in one write; returns their ids in the order of `rows`."""
    if not rows:
        return []
    with _refusals():
        dialect = db.dialect
        if isinstance(dialect, SqliteDialect):
            return await _sqlite(dialect, rows, now)
        tenants, sources, types, times, documents = zip(*rows, strict=True)
        dumps = orjson.dumps
        texts = [dumps(d).decode() for d in documents]
        if isinstance(dialect, PostgresDialect):
            # One statement through asyncpg, committed on its own (postgres_direct.py). Ids come from one
            # sequence in the order unnest produces the rows.
            return await dialect.direct(
                pg.insert_measurements(_PG_INSERT, (tenants, sources, types, times, texts), now)
            )
        async with db.write() as conn:
            result = await conn.exec_driver_sql(_PG_INSERT, (tenants, sources, types, times, now, texts))
            return sorted(result.scalars().all())
    raise AssertionError("unreachable")  # _refusals re-raises (for mypy)


async def store_measurements(db: Database, rows: Sequence[MeasurementRow], now: int) -> None:
    """insert_measurements without the ids. PostgreSQL: one binary COPY (committed on its own), which
    costs the event loop about half the CPU of the unnest INSERT (asyncpg checks every element of an array
    parameter with isinstance against abstract classes) and PostgreSQL a little less (bench/README.md,
    smartrest_ingest.py). SQLite: the same write as insert_measurements (its ids cost nothing)."""
    if not rows:
        return
    with _refusals():
        dialect = db.dialect
        if isinstance(dialect, PostgresDialect):
            dumps = orjson.dumps
            records = [(t, s, y, m, now, dumps(f).decode()) for t, s, y, m, f in rows]
            await dialect.direct(pg.copy_measurements(records))
            return
        await insert_measurements(db, rows, now)


async def _sqlite(dialect: SqliteDialect, rows: Sequence[MeasurementRow], now: int) -> list[int]:
    dumps = orjson.dumps
    params: list[object] = []
    for tenant, source, type_, time, fragments in rows:
        params += (tenant, source, type_, time, now, dumps(fragments).decode())
    batches = _sqlite_batches(params)

    def work(conn: sqlite3.Connection) -> int:
        last = 0
        for sql, part in batches:
            last = conn.execute(sql, part).lastrowid or 0
        return last

    # One trip to the driver's thread for the whole write (storage/sql/group_commit.py).
    last = await dialect.run(work)
    first = last - len(rows) + 1
    return list(range(first, last + 1))


@contextlib.contextmanager
def _refusals() -> Iterator[None]:
    """The drivers' refusals as BulkSourceGone (a foreign key) and BulkRowsRefused (a value)."""
    try:
        yield
    except (IntegrityError, sqlite3.IntegrityError, pg.IntegrityError):  # the drivers' own, when direct
        raise BulkSourceGone() from None
    except (TypeError, ValueError, OverflowError, DataError, sqlite3.DataError, pg.DataError) as exc:
        # orjson.JSONEncodeError is a TypeError; PostgreSQL refusing a value is a DataError.
        raise BulkRowsRefused(str(exc)) from exc
