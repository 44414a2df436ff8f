"""Managed objects and measurements on PostgreSQL straight through asyncpg, for the hot REST paths (GET by
id, create, a page of measurements, a measurement insert): PostgresDialect.direct.

What sqlite_inventory.py and sqlite_measurements.py are to SQLite: SQLAlchemy's execution of a statement
(expression, cache key, execution context, result metadata, pool checkout, greenlet switches) cost more
CPU than the rest of a GET by id (bench/README.md, REST throughput). The statements are the ones
storage/sql/inventory.py and telemetry.py build with SQLAlchemy, written out; asyncpg prepares each once per
connection and caches it. JSONB comes back as text and is parsed with orjson here.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import asyncpg
import orjson

from tether.telemetry.models import Measurement, MeasurementCriteria

Connection = Any  # asyncpg.Connection (asyncpg ships no type hints)
Row = tuple[Any, ...]
Links = list[tuple[str, int, str | None]]

_MO_COLUMNS = "id, tenant_id, owner, creation_time, last_updated, name, type, attrs::text"
_GET = f"SELECT {_MO_COLUMNS} FROM managed_objects WHERE tenant_id = $1 AND id = $2"
_CHILDREN = (
    "SELECT r.kind, r.child_id, m.name FROM mo_references r JOIN managed_objects m ON m.id = r.child_id "
    "WHERE r.tenant_id = $1 AND r.parent_id = $2 ORDER BY r.creation_time, r.child_id"
)
_PARENTS = (
    "SELECT r.kind, r.parent_id, m.name FROM mo_references r JOIN managed_objects m ON m.id = r.parent_id "
    "WHERE r.tenant_id = $1 AND r.child_id = $2 ORDER BY r.creation_time, r.parent_id"
)
_INSERT_MO = (
    "INSERT INTO managed_objects (tenant_id, owner, name, type, creation_time, last_updated, attrs) "
    "VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb) RETURNING id"
)

#: The error asyncpg raises when a foreign key refuses a row, and when PostgreSQL refuses a value.
IntegrityError = asyncpg.IntegrityConstraintViolationError
DataError = asyncpg.DataError


async def _row(db: Connection, tenant_id: str, mo_id: int) -> Row | None:
    row = await db.fetchrow(_GET, tenant_id, mo_id)
    if row is None:
        return None
    return (*tuple(row)[:7], orjson.loads(row[7]))


def get(tenant_id: str, mo_id: int) -> Callable[[Connection], Awaitable[Row | None]]:
    return lambda db: _row(db, tenant_id, mo_id)


def get_with_relations(
    tenant_id: str, mo_id: int
) -> Callable[[Connection], Awaitable[tuple[Row, Links, Links] | None]]:
    async def read(db: Connection) -> tuple[Row, Links, Links] | None:
        row = await _row(db, tenant_id, mo_id)
        if row is None:
            return None
        children = [tuple(r) for r in await db.fetch(_CHILDREN, tenant_id, mo_id)]
        parents = [tuple(r) for r in await db.fetch(_PARENTS, tenant_id, mo_id)]
        return row, children, parents  # (kind, id, name) rows

    return read


def insert(values: dict[str, Any]) -> Callable[[Connection], Awaitable[int | None]]:
    params = (
        values["tenant_id"],
        values["owner"],
        values["name"],
        values["type"],
        values["creation_time"],
        values["last_updated"],
        orjson.dumps(values["attrs"]).decode(),
    )

    async def write(db: Connection) -> int | None:
        mo_id: int | None = await db.fetchval(_INSERT_MO, *params)
        return mo_id

    return write


# -- measurements ---------------------------------------------------------------------------------

_MEAS_COLUMNS = "id, tenant_id, source_id, type, time, creation_time, fragments::text"


@functools.lru_cache(maxsize=64)
def _page_statement(source: bool, type_: bool, start: bool, end: bool, newest_first: bool) -> str:
    """storage/sql/telemetry.py's page query for plain criteria (sqlite_measurements.py's, numbered)."""
    where = ["tenant_id = $1"]
    for present, condition in (
        (source, "source_id = "),
        (type_, "type = "),
        (start, "time >= "),
        (end, "time < "),
    ):
        if present:
            where.append(f"{condition}${len(where) + 1}")
    order = "time DESC, id DESC" if newest_first else "time ASC, id ASC"
    n = len(where)
    return (
        f"SELECT {_MEAS_COLUMNS} FROM measurements WHERE {' AND '.join(where)} ORDER BY {order} "
        f"LIMIT ${n + 1} OFFSET ${n + 2}"
    )


def page(
    tenant_id: str, criteria: MeasurementCriteria, limit: int, offset: int
) -> Callable[[Connection], Awaitable[list[Measurement]]]:
    c = criteria
    sql = _page_statement(
        c.source_id is not None,
        c.type is not None,
        c.date_from is not None,
        c.date_to is not None,
        c.newest_first,
    )
    params = [tenant_id, c.source_id, c.type, c.date_from, c.date_to]
    bound = [params[0], *(p for p in params[1:] if p is not None), limit, offset]

    async def read(db: Connection) -> list[Measurement]:
        loads = orjson.loads
        return [
            Measurement(i, t, s, y, m, ct, loads(f)) for i, t, s, y, m, ct, f in await db.fetch(sql, *bound)
        ]

    return read


def insert_measurements(
    statement: str, columns: Sequence[Sequence[Any]], now: int
) -> Callable[[Connection], Awaitable[list[int]]]:
    """measurement_bulk.py's `INSERT ... SELECT ... FROM unnest(...)` of column arrays, one statement."""
    tenants, sources, types, times, texts = columns

    async def write(db: Connection) -> list[int]:
        rows = await db.fetch(statement, tenants, sources, types, times, now, texts)
        return sorted(row[0] for row in rows)

    return write


_MEAS_INSERT_COLUMNS = ("tenant_id", "source_id", "type", "time", "creation_time", "fragments")


def copy_measurements(records: list[tuple[Any, ...]]) -> Callable[[Connection], Awaitable[None]]:
    """measurement_bulk.py's rows as one binary COPY (the column order of _MEAS_INSERT_COLUMNS, fragments
    as JSON text); committed on its own. asyncpg caches the statement that describes the columns."""

    async def write(db: Connection) -> None:
        await db.copy_records_to_table("measurements", records=records, columns=_MEAS_INSERT_COLUMNS)

    return write
