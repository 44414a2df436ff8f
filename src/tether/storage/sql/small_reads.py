"""Small fixed SELECTs outside SQLAlchemy, for the reads every server repeats on a timer.

A statement through SQLAlchemy's async engine (pool checkout, cache key, execution context, result metadata,
greenlet switches, connection release) costs the event loop 0.2-0.7 ms of CPU in one piece; a server at
rest polls a few of them every second (password changes, tenant status, the jobs' deadlines), and an MQTT
message that arrives meanwhile waits for the rest of it (bench/README.md, "the 10k/s tail"). Here such a read
is one trip to a reader connection's thread (SQLite: `SqliteDialect.query`; or on the loop itself,
`read_now`, where an index bounds the rows it touches) or one prepared statement through asyncpg
(`PostgresDialect.direct`): tens of microseconds of the loop's time.
"""

from __future__ import annotations

import itertools
import re
import sqlite3
from collections.abc import Sequence
from typing import Any

from tether.storage.postgresql import PostgresDialect
from tether.storage.sql.database import Database
from tether.storage.sqlite import SqliteDialect

Row = tuple[Any, ...]
_MARK = re.compile(r"\?")


def _numbered(sql: str) -> str:
    """`?` placeholders as PostgreSQL's `$1, $2, ...` (the statements here hold no `?` of their own)."""
    counter = itertools.count(1)
    return _MARK.sub(lambda _: f"${next(counter)}", sql)


async def small_read(
    db: Database, sql: str, params: Sequence[Any] = (), *, indexed: bool = False
) -> list[Row]:
    """The rows of `sql` (`?` placeholders). `indexed`: an index bounds the rows the statement touches to a
    few (READ_NOW_ROWS), so on SQLite it may run on the event loop's thread, no trip at all."""
    dialect = db.dialect
    if isinstance(dialect, SqliteDialect):

        def read(connection: sqlite3.Connection) -> list[Row]:
            return connection.execute(sql, tuple(params)).fetchall()

        rows = dialect.read_now(read) if indexed else None
        return rows if rows is not None else await dialect.query(read)
    if isinstance(dialect, PostgresDialect):
        numbered = _numbered(sql)

        async def fetch(connection: Any) -> list[Row]:
            return [tuple(record) for record in await connection.fetch(numbered, *params)]

        return await dialect.direct(fetch)
    raise TypeError(f"no small reads on {type(dialect).__name__}")
