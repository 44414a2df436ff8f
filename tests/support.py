"""Test support: a real Tether server on an ephemeral loopback port, and the storage backends under test."""

from __future__ import annotations

import asyncio
import contextlib
import os
import threading
import uuid
from collections.abc import Coroutine, Iterator
from pathlib import Path
from typing import Any, TypeVar

import asyncpg
import pytest
import uvloop
from alembic import command
from alembic.config import Config
from sqlalchemy import Connection

from tether.config import Settings
from tether.server import TetherServer
from tether.storage.sql import database

T = TypeVar("T")
ADMIN_PASSWORD = "admin-secret-1"
BOOTSTRAP_PASSWORD = "bootstrap-secret-1"
PG_URL_VARIABLE = "TETHER_TEST_DATABASE_URL"


def unique(prefix: str = "c") -> str:
    return f"{prefix}{uuid.uuid4().hex[:10]}"


def backends() -> list[Any]:
    """SQLite always; PostgreSQL whenever TETHER_TEST_DATABASE_URL names a server.

    CI (CI=true) must run the PostgreSQL half: there a missing URL is an error, not a skip.
    """
    if os.environ.get("CI") == "true" and not os.environ.get(PG_URL_VARIABLE):
        raise RuntimeError(f"CI=true but {PG_URL_VARIABLE} is not set: the PostgreSQL suite would not run")
    pg = pytest.param(
        "postgresql",
        marks=pytest.mark.skipif(not os.environ.get(PG_URL_VARIABLE), reason=f"{PG_URL_VARIABLE} not set"),
    )
    return ["sqlite", pg]


_session_database: str | None = None


def _plain(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://")


async def _session_url(base_url: str) -> str:
    """A database of this test process's own next to the one named by the URL (test runs may overlap)."""
    global _session_database
    prefix, _, base_name = base_url.rpartition("/")
    name = f"{base_name.split('?')[0]}_{os.getpid()}"
    if _session_database is None:
        conn = await asyncpg.connect(_plain(base_url))
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
            await conn.execute(f'CREATE DATABASE "{name}"')
        finally:
            await conn.close()
        _session_database = name
    return f"{prefix}/{name}"


async def fresh_database(backend: str, tmp_path: Path) -> str:
    """The URL of an empty database of the given backend (PostgreSQL: an empty `public` schema)."""
    if backend == "sqlite":
        return f"sqlite:///{tmp_path / 'tether.db'}"
    url = await _session_url(os.environ[PG_URL_VARIABLE])
    conn = await asyncpg.connect(_plain(url))
    try:
        await conn.execute("DROP SCHEMA IF EXISTS public CASCADE; CREATE SCHEMA public")
    finally:
        await conn.close()
    return url


def stop_migrations_at(monkeypatch: pytest.MonkeyPatch, revision: str) -> None:
    """Make opening a storage migrate only up to `revision`: a database as an older release left it."""

    def upgrade(connection: Connection) -> None:
        config = Config()
        config.set_main_option("script_location", str(database.MIGRATIONS))
        config.attributes["connection"] = connection
        command.upgrade(config, revision)

    monkeypatch.setattr(database, "_upgrade", upgrade)


async def create_database(base_url: str, prefix: str = "tether_scratch_") -> str:
    """A new, empty PostgreSQL database beside the one `base_url` names (same server and role): its URL."""
    base_url = _plain(base_url)
    name = f"{prefix}{os.getpid()}_{uuid.uuid4().hex[:8]}"
    conn = await asyncpg.connect(base_url)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return f"{base_url.rpartition('/')[0]}/{name}"


async def drop_database(base_url: str, url: str) -> None:
    """Drop the database `url` names once its connections are gone. WITH (FORCE) may be refused to a role
    that is not a superuser (it would end another role's session, e.g. autovacuum's): then wait and drop
    plainly."""
    name = url.rpartition("/")[2]
    conn = await asyncpg.connect(_plain(base_url))
    try:
        for attempt in range(40):
            try:
                force = " WITH (FORCE)" if attempt == 0 else ""
                await conn.execute(f'DROP DATABASE IF EXISTS "{name}"{force}')
                return
            except (asyncpg.InsufficientPrivilegeError, asyncpg.ObjectInUseError):
                await asyncio.sleep(0.25)
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
    finally:
        await conn.close()


@contextlib.contextmanager
def scratch_database(base_url: str, prefix: str = "tether_scratch_") -> Iterator[str]:
    """:func:`create_database`, dropped on leaving (for code outside an event loop: fixtures, benches)."""
    url = asyncio.run(create_database(base_url, prefix))
    try:
        yield url
    finally:
        asyncio.run(drop_database(base_url, url))


async def drop_session_database() -> None:
    if _session_database is None:
        return
    conn = await asyncpg.connect(_plain(os.environ[PG_URL_VARIABLE]))
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{_session_database}" WITH (FORCE)')
    finally:
        await conn.close()


def start_server(backend: str, tmp: Path, **overrides: Any) -> ServerThread:
    """A real `tether serve` on ephemeral loopback ports over an empty database of the backend (see the
    `server` fixture of tests/conftest.py); `overrides`: further Settings."""
    settings: dict[str, Any] = {
        "data_dir": tmp,
        "database_url": asyncio.run(fresh_database(backend, tmp)),
        "http": "127.0.0.1:0",
        "mqtt": "127.0.0.1:0",
        "admin_password": ADMIN_PASSWORD,
        "bootstrap_password": BOOTSTRAP_PASSWORD,
        "max_body_size": 64 * 1024,
        "retention_interval": 0,  # the retention job runs when a test calls run_once (tests/retention)
    }
    return ServerThread(Settings(**{**settings, **overrides})).start()


class ServerThread:
    """`tether serve` in a background thread with its own uvloop, for blocking clients like c8y-api."""

    def __init__(self, settings: Settings) -> None:
        self.server = TetherServer(settings)
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, name="tether-server", daemon=True)
        self.loop: asyncio.AbstractEventLoop | None = None
        self.error: BaseException | None = None

    def _run(self) -> None:
        self.loop = uvloop.new_event_loop()
        try:
            self.loop.run_until_complete(self._serve())
        except BaseException as exc:  # surfaced to the test through start()
            self.error = exc
            self._ready.set()
        finally:
            self.loop.close()

    async def _serve(self) -> None:
        waiter = asyncio.create_task(self.server.started.wait())
        waiter.add_done_callback(lambda _: self._ready.set())
        await self.server.serve()

    def start(self) -> ServerThread:
        self._thread.start()
        self._ready.wait(timeout=60)
        if self.error is not None:
            raise RuntimeError("Tether did not start") from self.error
        return self

    def call(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run a coroutine on the server's loop (to reach services directly, e.g. to add a tenant)."""
        assert self.loop is not None
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout=60)

    def stop(self) -> None:
        if self.loop is not None and self._thread.is_alive():
            self.loop.call_soon_threadsafe(self.server.stop)
        self._thread.join(timeout=30)

    @property
    def url(self) -> str:
        assert self.server.http_address is not None
        return self.server.http_address

    @property
    def platform(self) -> Any:
        return self.server.platform
