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

import orjson

from tether.telemetry.models import Measurement, MeasurementCriteria

_COLUMNS = "id, tenant_id, source_id, type, time, creation_time, fragments"


def plain(criteria: MeasurementCriteria) -> bool:
    """Whether the criteria need nothing but column comparisons."""
    return criteria.value_fragment_type is None and criteria.value_fragment_series is None


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
        f"SELECT {_COLUMNS} FROM measurements WHERE {' AND '.join(where)} ORDER BY {order} LIMIT ? OFFSET ?"
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
        loads = orjson.loads
        return [Measurement(i, t, s, y, m, ct, loads(f)) for i, t, s, y, m, ct, f in db.execute(sql, bound)]

    return read
