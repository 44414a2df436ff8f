"""SQLite: the embedded default. One file in the data dir, WAL, fsync on commit (synchronous=FULL)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import orjson
from sqlalchemy import ColumnElement, case, event, func, literal_column
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from tether.storage.sql.dialect import Path


def _dumps(value: Any) -> str:
    return orjson.dumps(value).decode()


def _json_path(path: Path) -> str:
    return "$" + "".join(f'."{part}"' for part in path)


class SqliteDialect:
    name = "sqlite"

    def __init__(self, url: str) -> None:
        self._url = url
        self._write_lock = asyncio.Lock()

    def create_engine(self) -> AsyncEngine:
        engine = create_async_engine(
            self._url, json_serializer=_dumps, json_deserializer=orjson.loads, pool_size=4, max_overflow=4
        )

        @event.listens_for(engine.sync_engine, "connect")
        def _pragmas(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            for pragma in ("journal_mode=WAL", "synchronous=FULL", "foreign_keys=ON", "busy_timeout=10000"):
                cursor.execute(f"PRAGMA {pragma}")
            cursor.close()

        return engine

    @asynccontextmanager
    async def write(self, engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
        async with self._write_lock, engine.begin() as conn:
            yield conn

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
