"""PostgreSQL: production. Documents are JSONB; concurrency is the server's (row locks, MVCC)."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any, TypeVar

import asyncpg
import orjson
from sqlalchemy import ColumnElement, Connection, Float, Text, and_, case, cast, func
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from tether.storage.sql.dialect import Path

#: Seconds to establish one connection.
CONNECT_TIMEOUT = 15.0
#: Connections of the driver-level pool behind `direct` (the hot REST paths), beside SQLAlchemy's.
DIRECT_POOL_SIZE = 8

T = TypeVar("T")


def lock_key(name: str) -> int:
    """The 64-bit key of a named advisory lock (https://www.postgresql.org/docs/current/explicit-locking.html
    section 13.3.5)."""
    return int.from_bytes(hashlib.blake2b(name.encode(), digest_size=8).digest(), "big", signed=True)


def _dumps(value: Any) -> str:
    return orjson.dumps(value).decode()


async def _keep_session(connection: asyncpg.Connection) -> None:
    """The `direct` pool's reset on release. asyncpg's default runs `SELECT pg_advisory_unlock_all(); CLOSE
    ALL; UNLISTEN *; RESET ALL` on every release, a round trip per statement (a fifth of the CPU an ingest
    write cost the event loop, bench/README.md, smartrest_ingest.py). The direct paths leave no session
    state (no SET, LISTEN or cursor; `exclusive` unlocks its lock or drops the connection) and asyncpg
    still rolls back an open transaction before this."""


class PostgresDialect:
    name = "postgresql"

    def __init__(self, url: str) -> None:
        self._url = url
        self._engine: AsyncEngine | None = None
        self._pool: asyncpg.Pool | None = None
        #: A connection per lock name that tried and failed: the next try reuses it (try_hold).
        self._candidates: dict[str, asyncpg.Connection] = {}

    async def open(self) -> None:
        self._engine = create_async_engine(
            self._url,
            json_serializer=_dumps,
            json_deserializer=orjson.loads,
            pool_size=10,
            max_overflow=10,
            # An unreachable server fails the start (or a request) after this, not asyncpg's 60 s.
            connect_args={"timeout": CONNECT_TIMEOUT},
        )
        # Connections open on first use (min_size 0), so a platform that never takes a hot path holds none.
        self._pool = await asyncpg.create_pool(
            self._url.replace("postgresql+asyncpg://", "postgresql://", 1),
            min_size=0,
            max_size=DIRECT_POOL_SIZE,
            timeout=CONNECT_TIMEOUT,
            reset=_keep_session,
        )

    async def direct(self, work: Callable[[asyncpg.Connection], Awaitable[T]]) -> T:
        """`work(connection)` on a pooled asyncpg connection, outside SQLAlchemy: the hot REST paths (a
        managed object with its references, a create, a page of measurements, a measurement insert) as
        prepared statements (asyncpg caches them per connection), as SqliteDialect.query and run do for
        SQLite. A statement outside a transaction commits on its own; several writes that must be atomic
        open one with `connection.transaction()`."""
        if self._pool is None:
            raise RuntimeError("database is not open")
        async with self._pool.acquire() as connection:
            return await work(connection)

    async def close(self) -> None:
        candidates, self._candidates = self._candidates, {}
        for connection in candidates.values():
            connection.terminate()
        if self._pool is not None:
            pool, self._pool = self._pool, None
            await pool.close()
        if self._engine is not None:
            await self._engine.dispose()
            self._engine = None

    @property
    def engine(self) -> AsyncEngine:
        if self._engine is None:
            raise RuntimeError("database is not open")
        return self._engine

    def read(self) -> AbstractAsyncContextManager[AsyncConnection]:
        return self.engine.connect()

    def write(self) -> AbstractAsyncContextManager[AsyncConnection]:
        return self.engine.begin()

    async def migrate(self, upgrade: Callable[[Connection], None]) -> None:
        # Nodes of a cluster started together: the first migrates, the others wait for its commit and find
        # the schema at head (a transaction-level advisory lock, released by the commit).
        async with self.write() as conn:
            await conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({lock_key('tether.migrations')})")
            await conn.run_sync(upgrade)

    @asynccontextmanager
    async def exclusive(self, name: str) -> AsyncIterator[None]:
        """A session-level advisory lock on a connection of its own for the duration of the block."""
        if self._pool is None:
            raise RuntimeError("database is not open")
        key = lock_key(name)
        async with self._pool.acquire() as connection:
            unlocked = False
            try:
                await connection.execute("SELECT pg_advisory_lock($1)", key)
                try:
                    yield
                finally:
                    await connection.execute("SELECT pg_advisory_unlock($1)", key)
                    unlocked = True
            except BaseException:
                if not unlocked:
                    # It may still hold the lock (cancelled while locking or unlocking), and the pool runs
                    # no reset query: end the session, which ends the lock.
                    connection.terminate()
                raise

    async def try_hold(self, name: str) -> _SessionLock | None:
        """pg_try_advisory_lock on a connection of its own, outside the pools: the lock lives as long as
        that session, so the server releases it when this process dies or the connection drops."""
        connection = self._candidates.pop(name, None)
        if connection is None or connection.is_closed():
            connection = await asyncpg.connect(
                self._url.replace("postgresql+asyncpg://", "postgresql://", 1), timeout=CONNECT_TIMEOUT
            )
        try:
            if await connection.fetchval("SELECT pg_try_advisory_lock($1)", lock_key(name)):
                return _SessionLock(connection)
        except BaseException:
            connection.terminate()
            raise
        self._candidates[name] = connection  # tried again on the same session, not a new one each time
        return None

    def json_text(self, doc: Any, path: Path) -> ColumnElement[Any]:
        node = doc[path]
        return case((func.jsonb_typeof(node) == "string", node.as_string()), else_=None)

    def json_number(self, doc: Any, path: Path) -> ColumnElement[Any]:
        node = doc[path]
        return case((func.jsonb_typeof(node) == "number", cast(node.as_string(), Float)), else_=None)

    def json_bool(self, doc: Any, path: Path) -> ColumnElement[Any]:
        node = doc[path]
        boolean = func.jsonb_typeof(node) == "boolean"
        return case((and_(boolean, node.as_string() == "true"), 1), (boolean, 0), else_=None)

    def json_exists(self, doc: Any, path: Path) -> ColumnElement[bool]:
        exists: ColumnElement[bool] = doc[path].is_not(None)
        return exists

    def json_sort_key(self, doc: Any, path: Path) -> ColumnElement[Any]:
        key: ColumnElement[Any] = doc[path]
        return key

    def document_text(self, doc: Any) -> ColumnElement[Any]:
        return cast(doc, Text)

    def ilike(self, expr: ColumnElement[Any], pattern: str) -> ColumnElement[bool]:
        return expr.ilike(pattern, escape="\\")


def postgresql_url(url: str) -> str:
    """Accept `postgresql://` and `postgres://` as users write them; use the asyncpg driver."""
    for prefix in ("postgresql://", "postgres://", "postgresql+psycopg://", "postgresql+psycopg2://"):
        if url.startswith(prefix):
            return "postgresql+asyncpg://" + url[len(prefix) :]
    return url


class _SessionLock:
    """A session advisory lock and the connection that holds it."""

    def __init__(self, connection: asyncpg.Connection) -> None:
        self._connection = connection

    async def check(self) -> bool:
        try:
            return bool(await self._connection.fetchval("SELECT 1", timeout=CONNECT_TIMEOUT))
        except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError):
            return False

    async def release(self) -> None:
        # Closing the session releases its advisory locks.
        try:
            await self._connection.close(timeout=5)
        except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError):
            self._connection.terminate()
