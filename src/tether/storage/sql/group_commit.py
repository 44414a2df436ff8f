"""Group commit: many concurrent writers share one transaction and one fsync.

SQLite allows one writer at a time and each durable commit costs an fsync. Writers therefore take
turns on one connection, each inside its own SAVEPOINT (a failing writer rolls back only its own
work), and the transaction is committed as soon as the writers queued before the commit have run.
Writers that arrive while a commit is in flight form the next batch. A writer returns only after
the commit that contains its work, so whatever it acknowledges is durable.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine


class GroupCommit:
    def __init__(self) -> None:
        self._lock = asyncio.Lock()
        self._conn: AsyncConnection | None = None
        self._committed: asyncio.Future[None] | None = None
        self._commit_task: asyncio.Task[None] | None = None

    @asynccontextmanager
    async def write(self, engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
        async with self._lock:
            if self._conn is None or self._committed is None:
                self._conn = await engine.connect()
                await self._conn.begin()
                self._committed = asyncio.get_running_loop().create_future()
            conn, committed = self._conn, self._committed
            try:
                async with conn.begin_nested():
                    yield conn
            finally:
                if self._commit_task is None:
                    self._commit_task = asyncio.create_task(self._commit())
        await asyncio.shield(committed)

    async def _commit(self) -> None:
        # Queued behind the writers that were waiting when it was scheduled: they join this batch.
        async with self._lock:
            conn, committed = self._conn, self._committed
            self._conn = self._committed = self._commit_task = None
            if conn is None or committed is None:
                return
            try:
                await conn.commit()
            except BaseException as exc:
                committed.set_exception(exc)
                committed.exception()  # retrieved: writers that gave up must not leave it unobserved
                await conn.rollback()
            else:
                committed.set_result(None)
            finally:
                await conn.close()
