"""What the SQL stores need from a database that SQLAlchemy does not already make portable."""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from typing import Any, Protocol

from sqlalchemy import ColumnElement
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

Path = tuple[str, ...]


class Dialect(Protocol):
    name: str

    def create_engine(self) -> AsyncEngine: ...

    def write(self, engine: AsyncEngine) -> AbstractAsyncContextManager[AsyncConnection]:
        """A write transaction; SQLite serialises them in-process instead of spinning on a busy lock."""
        ...

    # JSON documents (column `attrs`): each returns NULL where the path is missing or of another type.
    def json_text(self, doc: Any, path: Path) -> ColumnElement[Any]: ...
    def json_number(self, doc: Any, path: Path) -> ColumnElement[Any]: ...
    def json_bool(self, doc: Any, path: Path) -> ColumnElement[Any]: ...
    def json_exists(self, doc: Any, path: Path) -> ColumnElement[bool]: ...
    def json_sort_key(self, doc: Any, path: Path) -> ColumnElement[Any]: ...
    def document_text(self, doc: Any) -> ColumnElement[Any]:
        """The whole document as text, for full-text `text=` search."""
        ...

    def ilike(self, expr: ColumnElement[Any], pattern: str) -> ColumnElement[bool]:
        """Case-insensitive LIKE with `\\` as the escape character."""
        ...
