"""The aiosqlite connection SQLAlchemy uses, with one trip to the driver's thread per statement.

aiosqlite runs every call in its connection's thread and hands the result back through the event loop;
SQLAlchemy's adapter makes four such calls per statement (cursor, execute, fetchall, close), and under
device ingest load each waits for a turn of a busy event loop (a few milliseconds). A REST request that
reads a device and creates an operation paid about fifteen turns. This cursor does the whole statement,
rows and cursor close included, in one trip: SQLAlchemy's adapter fetches every row right after
`execute` anyway (there are no server-side cursors on SQLite here).

Uses aiosqlite's internal `_execute`/`_conn`, as storage/sql/group_commit.py does (pinned in pyproject).
"""

from __future__ import annotations

import asyncio
import functools
import sqlite3
from collections.abc import Callable, Iterable, Sequence
from typing import Any, TypeVar

import aiosqlite

T = TypeVar("T")
Description = tuple[tuple[str, None, None, None, None, None, None], ...] | None
_Outcome = tuple[Description, int, int | None, list[Any]]


def _run(db: sqlite3.Connection, sql: str, parameters: Any) -> _Outcome:
    cursor = db.cursor()
    try:
        cursor.execute(sql, () if parameters is None else parameters)
        rows = cursor.fetchall() if cursor.description else []
        return cursor.description, cursor.rowcount, cursor.lastrowid, rows
    finally:
        cursor.close()


def _run_many(db: sqlite3.Connection, sql: str, parameters: Iterable[Any]) -> _Outcome:
    cursor = db.cursor()
    try:
        cursor.executemany(sql, parameters)
        return cursor.description, cursor.rowcount, cursor.lastrowid, []
    finally:
        cursor.close()


class OneTripCursor:
    """The DB-API cursor SQLAlchemy's aiosqlite adapter drives: `execute` runs the statement and fetches
    its rows in one trip; fetching and closing cost none."""

    def __init__(self, connection: OneTripConnection) -> None:
        self._connection = connection
        self._rows: list[Any] = []
        self._next = 0
        self.description: Description = None
        self.rowcount = -1
        self.lastrowid: int | None = None
        self.arraysize = 1

    async def __aenter__(self) -> OneTripCursor:
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.close()

    def _take(self, outcome: _Outcome) -> OneTripCursor:
        self.description, self.rowcount, self.lastrowid, self._rows = outcome
        self._next = 0
        return self

    async def _trip(self, fn: Callable[..., _Outcome], sql: str, parameters: Any) -> OneTripCursor:
        connection: Any = self._connection  # aiosqlite's queue to its thread
        return self._take(await connection._execute(fn, connection._conn, sql, parameters))

    async def execute(self, sql: str, parameters: Any = None) -> OneTripCursor:
        return await self._trip(_run, sql, parameters)

    async def executemany(self, sql: str, parameters: Iterable[Any]) -> OneTripCursor:
        return await self._trip(_run_many, sql, parameters)

    async def fetchone(self) -> Any:
        if self._next >= len(self._rows):
            return None
        self._next += 1
        return self._rows[self._next - 1]

    async def fetchmany(self, size: int | None = None) -> Sequence[Any]:
        start = self._next
        self._next = min(len(self._rows), start + (size or self.arraysize))
        return self._rows[start : self._next]

    async def fetchall(self) -> Sequence[Any]:
        start, self._next = self._next, len(self._rows)
        return self._rows[start:] if start else self._rows

    async def close(self) -> None:
        self._rows = []
        self._next = 0


class OneTripConnection(aiosqlite.Connection):
    def cursor(self) -> OneTripCursor:  # type: ignore[override]  # a plain object, no trip to make it
        return OneTripCursor(self)


def submit(connection: aiosqlite.Connection, fn: Callable[..., T], *args: Any) -> asyncio.Future[T]:
    """Queue `fn(*args)` for the connection's thread (what aiosqlite's `_execute` does before it awaits);
    the future resolves with its result on the event loop."""
    driver: Any = connection
    if not driver._running or driver._connection is None:
        raise ValueError("Connection closed")
    future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
    driver._tx.put_nowait((future, functools.partial(fn, *args)))
    return future


def connector(database: str, **kwargs: Any) -> Callable[[], OneTripConnection]:
    """An `async_creator` for create_async_engine: `sqlite3.connect(database, **kwargs)` in its thread."""

    # Room for every statement the server prepares (the bulk writes' fixed sizes alone are ~200, see
    # storage/sql/padding.py), so that none is parsed again after the first use.
    kwargs = {"cached_statements": 512, **kwargs}

    def create() -> OneTripConnection:
        connection = OneTripConnection(lambda: sqlite3.connect(database, **kwargs), 64)
        connection._thread.daemon = True  # as SQLAlchemy does for aiosqlite: never hold up exit
        return connection

    return create
