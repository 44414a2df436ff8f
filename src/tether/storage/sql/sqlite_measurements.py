"""Pages of measurements on SQLite straight through the driver (the dashboards' `GET
/measurement/measurements?source=..&pageSize=..`), as sqlite_inventory.py does for managed objects: the
statement, its rows and their JSON documents in one trip to a reader connection's thread, no SQLAlchemy
execution per request. Only the filters that are plain columns (source, type, date range, order) go this way;
a fragment filter, an owner scope or a total take storage/sql/telemetry.py's SQLAlchemy query, which builds
the same WHERE and ORDER BY.
"""

from __future__ import annotations

import functools
import sqlite3
from collections.abc import Callable
from typing import Any

import orjson

from tether.storage.sqlite import READ_NOW_ROWS
from tether.telemetry.models import Measurement, MeasurementCriteria

# The page as one JSON text, `[[id, source_id, type, time, creation_time, {fragments}], ...]`, built by SQLite
# in a single step of the statement. Python's sqlite3 releases the GIL around every step, so a row-per-step
# read of 100 rows took and gave back the GIL 100 times, each time waiting for the busy event loop to drop it
# (up to the 5 ms switch interval): one step, one orjson.loads and no row tuples instead. The fragments
# column holds the JSON text orjson wrote; it is spliced in as it is. The subquery keeps its ORDER BY (a
# query with LIMIT is not flattened into an aggregate); group_concat's order is not guaranteed by SQLite's
# documentation, so the rows are sorted again (already in order: timsort makes one pass).
_ROW = (
    "'[' || id || ',' || source_id || ',' || json_quote(type) || ',' || time || ',' || creation_time || ',' "
    "|| fragments || ']'"
)


def plain(criteria: MeasurementCriteria) -> bool:
    """Whether the criteria need nothing but column comparisons."""
    return criteria.value_fragment_type is None and criteria.value_fragment_series is None


def few_rows(criteria: MeasurementCriteria, limit: int, offset: int) -> bool:
    """Whether the page touches no more than its own rows and those it skips, READ_NOW_ROWS at most: one
    source (the index's prefix; a date range narrows it further), no type to pass over rows by, a shallow
    offset. Such a read may run on the event loop (SqliteDialect.read_now)."""
    return criteria.source_id is not None and criteria.type is None and offset + limit <= READ_NOW_ROWS


@functools.lru_cache(maxsize=64)
def _statement(source: bool, type_: bool, start: bool, end: bool, newest_first: bool) -> str:
    where = ["tenant_id = ?"]
    if source:
        where.append("source_id = ?")
    if type_:
        where.append("type = ?")
    if start:
        where.append("time >= ?")
    if end:
        where.append("time < ?")
    order = "time DESC, id DESC" if newest_first else "time ASC, id ASC"
    return (
        f"SELECT '[' || group_concat(row, ',') || ']' FROM (SELECT {_ROW} AS row FROM measurements "
        f"WHERE {' AND '.join(where)} ORDER BY {order} LIMIT ? OFFSET ?)"
    )


def page(
    tenant_id: str, criteria: MeasurementCriteria, limit: int, offset: int
) -> Callable[[sqlite3.Connection], list[Measurement]]:
    c = criteria
    sql = _statement(
        c.source_id is not None,
        c.type is not None,
        c.date_from is not None,
        c.date_to is not None,
        c.newest_first,
    )
    params = [tenant_id, c.source_id, c.type, c.date_from, c.date_to]
    bound = [params[0], *(p for p in params[1:] if p is not None), limit, offset]

    def read(db: sqlite3.Connection) -> list[Measurement]:
        ((text,),) = db.execute(sql, bound).fetchall()
        if text is None:  # no rows
            return []
        rows = orjson.loads(text)
        rows.sort(key=_newest_first if c.newest_first else _oldest_first)
        return [Measurement(i, tenant_id, s, y, m, ct, f) for i, s, y, m, ct, f in rows]

    return read


def _oldest_first(row: list[Any]) -> tuple[int, int]:
    return row[3], row[0]


def _newest_first(row: list[Any]) -> tuple[int, int]:
    return -row[3], -row[0]
