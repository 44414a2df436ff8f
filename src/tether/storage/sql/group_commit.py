"""Group commit: many concurrent writers share one transaction and one fsync.

SQLite allows one writer at a time and each durable commit costs an fsync. Writers therefore take
turns on one connection, each inside its own SAVEPOINT (a failing writer rolls back only its own
work), and the transaction is committed as soon as the writers queued before the commit have run.
Writers that arrive while a commit is in flight form the next batch. A writer returns only after
the commit that contains its work, so whatever it acknowledges is durable.

Every statement is a trip to the driver's thread that, under load, waits for a turn of the event loop,
so the trips are counted:
- the writer connection stays checked out (no pool checkout, no reset-on-return ROLLBACK per commit);
- BEGIN IMMEDIATE goes to the driver directly (one trip, where SQLAlchemy's cursor takes three);
- the first writer of a transaction needs no SAVEPOINT: when it fails, the transaction holds nothing
  else and is rolled back;
- `run()` takes a function of the driver's connection (bulk ingest, storage/sql/measurement_bulk.py)
  and does its whole transaction, BEGIN IMMEDIATE to COMMIT, in one trip; when a transaction is already
  open it lets it commit first, then joins the next one in a SAVEPOINT, also in one trip. It holds the
  lock only while it queues the trip.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import sqlite3
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any, TypeVar

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

T = TypeVar("T")
#: A work's result (True, value) or its exception (False, exc).
Outcome = tuple[bool, Any]
_Run = tuple[Callable[[sqlite3.Connection], Any], "asyncio.Future[Any]"]


class GroupCommit:
    def __init__(self) -> None:
        self._lock = asyncio.Lock()
        #: The writer connection, checked out until close(); its aiosqlite connection.
        self._conn: AsyncConnection | None = None
        self._driver: Any = None
        #: The open transaction's commit (None: no transaction open).
        self._committed: asyncio.Future[None] | None = None
        self._commit_task: asyncio.Task[None] | None = None
        #: run() works waiting for the next trip, and the task that drains them.
        self._runs: list[_Run] = []
        self._run_task: asyncio.Task[None] | None = None

    async def _connection(self, engine: AsyncEngine) -> AsyncConnection:
        conn = self._conn
        if conn is None or conn.closed or conn.invalidated:
            if conn is not None:
                await self._discard()
            conn = await engine.connect()
            self._driver = (await conn.get_raw_connection()).driver_connection
            self._conn = conn
        return conn

    async def _discard(self) -> None:
        conn, self._conn, self._driver = self._conn, None, None
        if conn is not None:
            with contextlib.suppress(Exception):  # a broken connection: the pool invalidates it
                await conn.close()

    @asynccontextmanager
    async def write(self, engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
        async with self._lock:
            conn = await self._connection(engine)
            committed = self._committed
            if committed is None:
                try:
                    # BEGIN IMMEDIATE in one trip (through SQLAlchemy: cursor, execute, close); the dialect's
                    # begin hook (sqlite.py) then finds the transaction open.
                    await self._driver._execute(_begin, self._driver)
                    await conn.begin()
                except BaseException:
                    await self._discard()
                    raise
                committed = self._committed = asyncio.get_running_loop().create_future()
                # The transaction's first writer: nothing else to protect, no SAVEPOINT.
                try:
                    yield conn
                except BaseException:
                    self._committed = None
                    await self._rollback()
                    raise
                self._schedule_commit()
            else:
                try:
                    async with conn.begin_nested():
                        yield conn
                finally:
                    self._schedule_commit()
        await asyncio.shield(committed)

    async def run(self, engine: AsyncEngine, work: Callable[[sqlite3.Connection], T]) -> T:
        """`work(connection)` in the driver's thread, durably committed when this returns.

        Works that arrive while one trip is in flight are run together in the next: one trip, one BEGIN
        IMMEDIATE ... COMMIT (one fsync) for the batch, each work in a SAVEPOINT of its own, so a failing
        work rolls back only itself and its caller gets its exception (REST creates of managed objects and
        measurements, 32 at a time, share a commit as ingest writes do). The lock is held only while a trip
        is queued: the driver's thread runs its queue in order, so whatever a later writer queues runs
        after this trip's COMMIT. A transaction of other writers that is open (an operation created over
        REST, say) is let commit first, once; then the batch joins the next one, in savepoints."""
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._runs.append((work, future))
        if self._run_task is None:
            self._run_task = asyncio.create_task(self._drain(engine))
        result: T = await asyncio.shield(future)
        return result

    async def _drain(self, engine: AsyncEngine) -> None:
        batch: list[_Run] = []
        try:
            while self._runs:
                done, committed, batch = await self._submit_batch(engine)
                try:
                    outcomes = await done
                    if committed is not None:
                        await asyncio.shield(committed)
                except Exception as exc:  # the transaction as a whole failed: every work with it
                    _fail(batch, exc)
                    continue
                for (_, future), (ok, value) in zip(batch, outcomes, strict=True):
                    if not future.done():
                        future.set_result(value) if ok else future.set_exception(value)
                batch = []
        except BaseException as exc:  # cancelled (the loop ends) or the connection cannot be opened
            _fail(batch + self._runs, exc if isinstance(exc, Exception) else RuntimeError("database closed"))
            self._runs = []
            if not isinstance(exc, Exception):
                raise
        finally:
            self._run_task = None

    async def _submit_batch(
        self, engine: AsyncEngine
    ) -> tuple[asyncio.Future[list[Outcome]], asyncio.Future[None] | None, list[_Run]]:
        waited = False
        while True:
            async with self._lock:
                await self._connection(engine)
                driver = self._driver
                committed = self._committed
                if committed is None or waited:
                    batch, self._runs = self._runs, []
                    works = [work for work, _ in batch]
                    if committed is None:
                        # Nothing waits to be committed: BEGIN, the works and COMMIT (the fsync) in one trip.
                        return _submit(driver, _transaction, driver, works), None, batch
                    self._schedule_commit()
                    return _submit(driver, _savepoints, driver, works), committed, batch
            waited = True
            with contextlib.suppress(Exception):  # its writers hear of a failed commit
                await asyncio.shield(committed)

    async def pragma(self, engine: AsyncEngine, statement: str) -> None:
        """A PRAGMA that only takes effect outside a transaction (foreign_keys), on the writer connection;
        for the migrations at open, before any writer."""
        async with self._lock:
            if self._committed is not None:
                raise RuntimeError(f"{statement} inside an open transaction would be a no-op")
            await self._connection(engine)
            await _submit(self._driver, _execute, self._driver, statement)

    def _schedule_commit(self) -> None:
        if self._commit_task is None:
            self._commit_task = asyncio.create_task(self._commit())

    async def _rollback(self) -> None:
        conn = self._conn
        try:
            if conn is not None:
                await conn.rollback()
        except Exception:
            await self._discard()

    async def _commit(self) -> None:
        # Queued behind the writers that were waiting when it was scheduled: they join this batch.
        async with self._lock:
            conn, committed = self._conn, self._committed
            self._committed = self._commit_task = None
            if conn is None or committed is None:
                return
            try:
                await conn.commit()
            except BaseException as exc:
                committed.set_exception(exc)
                committed.exception()  # retrieved: writers that gave up must not leave it unobserved
                await self._rollback()
            else:
                committed.set_result(None)

    async def close(self) -> None:
        async with self._lock:
            if self._committed is not None:
                await self._rollback()
            await self._discard()


def _fail(runs: list[_Run], exc: Exception) -> None:
    for _, future in runs:
        if not future.done():
            future.set_exception(exc)


def _submit(driver: Any, fn: Callable[..., T], *args: Any) -> asyncio.Future[T]:
    """What aiosqlite's Connection._execute does before it awaits: queue `fn(*args)` for the thread."""
    if not driver._running or driver._connection is None:
        raise ValueError("Connection closed")
    future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
    driver._tx.put_nowait((future, functools.partial(fn, *args)))
    return future


def _execute(driver: Any, statement: str) -> None:
    db: sqlite3.Connection = driver._conn
    db.execute(statement)


def _begin(driver: Any) -> None:
    db: sqlite3.Connection = driver._conn
    if not db.in_transaction:
        db.execute("BEGIN IMMEDIATE")


def _run_each(db: sqlite3.Connection, works: list[Callable[[sqlite3.Connection], Any]]) -> list[Outcome]:
    """Each work in a SAVEPOINT of its own: (True, result) or (False, its exception, rolled back)."""
    outcomes: list[Outcome] = []
    for work in works:
        db.execute("SAVEPOINT tether_run")
        try:
            result = work(db)
        except Exception as exc:
            db.execute("ROLLBACK TO tether_run")
            db.execute("RELEASE tether_run")
            outcomes.append((False, exc))
            continue
        db.execute("RELEASE tether_run")
        outcomes.append((True, result))
    return outcomes


def _transaction(driver: Any, works: list[Callable[[sqlite3.Connection], Any]]) -> list[Outcome]:
    db: sqlite3.Connection = driver._conn
    db.execute("BEGIN IMMEDIATE")
    try:
        if len(works) == 1:  # alone in its transaction: no savepoint needed, a failure rolls back all
            try:
                outcomes: list[Outcome] = [(True, works[0](db))]
            except Exception as exc:
                db.execute("ROLLBACK")
                return [(False, exc)]
        else:
            outcomes = _run_each(db, works)
        db.execute("COMMIT")
    except BaseException:
        if db.in_transaction:
            db.execute("ROLLBACK")
        raise
    return outcomes


def _savepoints(driver: Any, works: list[Callable[[sqlite3.Connection], Any]]) -> list[Outcome]:
    db: sqlite3.Connection = driver._conn
    return _run_each(db, works)
