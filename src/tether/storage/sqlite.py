"""SQLite: the embedded default. One file in the data dir, WAL, fsync on commit (synchronous=FULL).

Writes go through group commit (storage/sql/group_commit.py): one writer at a time, one fsync per
batch of concurrent writers.
"""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any, TypeVar

import orjson
from sqlalchemy import ColumnElement, Connection, case, event, func, literal_column
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from tether.storage.errors import StorageUnavailable
from tether.storage.sql.dialect import Path
from tether.storage.sql.group_commit import GroupCommit
from tether.storage.sql.sqlite_driver import OneTripConnection, connector, submit

T = TypeVar("T")
#: Reader connections of `query()`: enough for the two cores' worth of SQLite work to overlap.
DIRECT_READERS = 4
#: The most rows a read run on the event loop itself (`read_now`) may touch: ~1 us each.
READ_NOW_ROWS = 1000
PRAGMAS = ("journal_mode=WAL", "synchronous=FULL", "foreign_keys=ON", "busy_timeout=10000")


def _reader_pragmas(db: sqlite3.Connection) -> None:
    for pragma in PRAGMAS:
        db.execute(f"PRAGMA {pragma}")


def _dumps(value: Any) -> str:
    return orjson.dumps(value).decode()


def _json_path(path: Path) -> str:
    return "$" + "".join(f'."{part}"' for part in path)


class SqliteDialect:
    name = "sqlite"

    def __init__(self, url: str) -> None:
        self._url = url
        self._group_commit = GroupCommit()
        self._reader: AsyncEngine | None = None
        self._writer: AsyncEngine | None = None
        #: Driver connections for `query()`, used in turn (each has its own thread and queue).
        self._direct: list[OneTripConnection] = []
        self._turn = 0
        #: The connection of `read_now()`, used on the event loop's thread only.
        self._now: sqlite3.Connection | None = None

    async def open(self) -> None:
        # Fail here, synchronously, if the file cannot be opened (missing directory, permissions): a failed
        # aiosqlite connect leaves its thread answering to the event loop, racing the loop's end.
        database = make_url(self._url).database
        if database and database != ":memory:":
            try:
                sqlite3.connect(database).close()
            except sqlite3.Error as exc:
                raise StorageUnavailable(str(exc)) from None
        # Readers share a small pool and never open a transaction (each SELECT sees committed data);
        # the single writer connection runs explicit BEGIN IMMEDIATE transactions with SAVEPOINTs.
        # AUTOCOMMIT as the driver already behaved for SELECTs (no BEGIN), and no ROLLBACK when a reader is
        # closed: that is a trip to the driver's thread per read, waiting for a turn of the busy event loop.
        # A fixed pool, no overflow: an overflow connection is opened (a thread, a connection, its PRAGMAs)
        # and closed again for a single request whenever more than pool_size requests read at once, which
        # under 32 concurrent clients was most of them (bench/README.md, REST throughput); waiting for a
        # pooled one is cheaper.
        self._reader = self._engine(
            pool_size=8,
            max_overflow=0,
            pool_reset_on_return=None,
            isolation_level="AUTOCOMMIT",
            skip_autocommit_rollback=True,
        )
        self._writer = self._engine(pool_size=1, max_overflow=0)
        url = make_url(self._url)
        args, kwargs = url.get_dialect()().create_connect_args(url)
        for _ in range(DIRECT_READERS):
            reader = connector(*args, **kwargs)()
            await reader  # starts its thread and connects
            self._direct.append(reader)
            await submit(reader, _reader_pragmas, reader._conn)
        connect: Callable[..., sqlite3.Connection] = sqlite3.connect  # the driver's arguments, as above
        self._now = connect(*args, **kwargs)
        _reader_pragmas(self._now)
        self._now.execute("PRAGMA busy_timeout=0")  # never wait on the loop: read_now() gives up instead

        @event.listens_for(self._writer.sync_engine, "connect")
        def _no_implicit_begin(dbapi_connection: Any, _record: Any) -> None:
            # The driver's own implicit BEGIN breaks SAVEPOINTs; SQLAlchemy emits BEGIN instead.
            dbapi_connection.isolation_level = None

        @event.listens_for(self._writer.sync_engine, "begin")
        def _begin(conn: Any) -> None:
            # Group commit begins it itself, in one trip to the driver's thread.
            if not conn.connection.driver_connection.in_transaction:
                conn.exec_driver_sql("BEGIN IMMEDIATE")

        @event.listens_for(self._writer.sync_engine, "connect")
        def _cache(dbapi_connection: Any, _record: Any) -> None:
            # 64 MiB of page cache (default 2 MiB): the measurements table's indexes stay in memory and
            # bulk inserts are 1.5-2x faster (bench/smartrest_ingest.py). The readers keep the default.
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA cache_size=-65536")
            cursor.close()

    def _engine(self, **pool: Any) -> AsyncEngine:
        url = make_url(self._url)
        args, kwargs = url.get_dialect()().create_connect_args(url)
        engine = create_async_engine(
            url,
            async_creator=connector(*args, **kwargs),  # one trip to the driver's thread per statement
            json_serializer=_dumps,
            json_deserializer=orjson.loads,
            **pool,
        )

        @event.listens_for(engine.sync_engine, "connect")
        def _pragmas(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            for pragma in PRAGMAS:
                cursor.execute(f"PRAGMA {pragma}")
            cursor.close()

        return engine

    async def close(self) -> None:
        await self._group_commit.close()
        readers, self._direct = self._direct, []
        for reader in readers:
            await reader.close()
        now, self._now = self._now, None
        if now is not None:
            now.close()
        for engine in (self._reader, self._writer):
            if engine is not None:
                await engine.dispose()
        self._reader = self._writer = None

    def read(self) -> AbstractAsyncContextManager[AsyncConnection]:
        if self._reader is None:
            raise RuntimeError("database is not open")
        return self._reader.connect()

    def write(self) -> AbstractAsyncContextManager[AsyncConnection]:
        if self._writer is None:
            raise RuntimeError("database is not open")
        return self._group_commit.write(self._writer)

    async def run(self, work: Callable[[sqlite3.Connection], T]) -> T:
        """A write as one function of the driver's connection, run in its thread in one trip and durably
        committed when this returns (group_commit.py); for bulk ingest."""
        if self._writer is None:
            raise RuntimeError("database is not open")
        return await self._group_commit.run(self._writer, work)

    async def query(self, work: Callable[[sqlite3.Connection], T]) -> T:
        """`work(connection)` on a reader connection, in its thread, in one trip: the hot read paths (a
        managed object with its references) without a pool checkout or SQLAlchemy's statement machinery.
        Reads only; committed data (autocommit: no transaction is left open)."""
        if not self._direct:
            raise RuntimeError("database is not open")
        self._turn = (self._turn + 1) % len(self._direct)
        reader = self._direct[self._turn]
        return await submit(reader, work, reader._conn)

    def read_now(self, work: Callable[[sqlite3.Connection], T]) -> T | None:
        """`work(connection)` right here, on the event loop's thread: for reads whose cost is bounded by a few
        hundred rows (READ_NOW_ROWS; a page of one source's measurements: ~0.1 ms of SQLite), for which the
        trip to a reader's thread and back (two thread wake-ups, the GIL handed over and back) cost more CPU
        than the read itself (bench/README.md, REST throughput). Never waits for a lock: None when SQLite
        answers busy (a WAL being recovered), and the caller then queues the read with query()."""
        if self._now is None:
            raise RuntimeError("database is not open")
        try:
            return work(self._now)
        except sqlite3.OperationalError as exc:
            if exc.sqlite_errorcode in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED):
                return None
            raise

    async def migrate(self, upgrade: Callable[[Connection], None]) -> None:
        """The migrations in one write transaction with foreign keys off. A migration that rebuilds a table
        (SQLite's ALTER TABLE procedure, https://www.sqlite.org/lang_altertable.html#otheralter, as Alembic's
        batch mode does) drops the old table, and with foreign keys on, dropping a parent deletes every row
        that refers to it (ON DELETE CASCADE). The PRAGMA is a no-op inside a transaction, so it is set
        around it; the keys are checked before the commit."""
        if self._writer is None:
            raise RuntimeError("database is not open")
        await self._group_commit.pragma(self._writer, "PRAGMA foreign_keys=OFF")
        try:
            async with self.write() as conn:
                await conn.run_sync(upgrade)
                broken = (await conn.exec_driver_sql("PRAGMA foreign_key_check")).first()
                if broken is not None:
                    raise RuntimeError(f"a migration left a dangling foreign key: {tuple(broken)}")
        finally:
            await self._group_commit.pragma(self._writer, "PRAGMA foreign_keys=ON")

    @asynccontextmanager
    async def exclusive(self, name: str) -> AsyncIterator[None]:
        """One process owns a SQLite database (a cluster needs PostgreSQL): nothing to wait for."""
        yield

    async def try_hold(self, name: str) -> _Owned:
        """One process owns a SQLite database: it holds every lock."""
        return _Owned()

    def json_text(self, doc: Any, path: Path) -> ColumnElement[Any]:
        p = _json_path(path)
        return case((func.json_type(doc, p) == "text", func.json_extract(doc, p)), else_=None)

    def json_number(self, doc: Any, path: Path) -> ColumnElement[Any]:
        p = _json_path(path)
        return case((func.json_type(doc, p).in_(("integer", "real")), func.json_extract(doc, p)), else_=None)

    def json_bool(self, doc: Any, path: Path) -> ColumnElement[Any]:
        p = _json_path(path)
        t = func.json_type(doc, p)
        return case((t == "true", literal_column("1")), (t == "false", literal_column("0")), else_=None)

    def json_exists(self, doc: Any, path: Path) -> ColumnElement[bool]:
        return func.json_type(doc, _json_path(path)).is_not(None)

    def json_sort_key(self, doc: Any, path: Path) -> ColumnElement[Any]:
        return func.json_extract(doc, _json_path(path))

    def document_text(self, doc: Any) -> ColumnElement[Any]:
        return func.json(doc)

    def ilike(self, expr: ColumnElement[Any], pattern: str) -> ColumnElement[bool]:
        return expr.ilike(pattern, escape="\\")


def sqlite_url(url: str) -> str:
    """Accept `sqlite:///path` as users write it; use the aiosqlite driver."""
    if url.startswith("sqlite:"):
        return "sqlite+aiosqlite:" + url[len("sqlite:") :]
    return url


class _Owned:
    async def check(self) -> bool:
        return True

    async def release(self) -> None:
        return None
