"""What the SQL stores need from a database that SQLAlchemy does not already make portable."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from typing import Any, Protocol

from sqlalchemy import ColumnElement, Connection
from sqlalchemy.ext.asyncio import AsyncConnection

Path = tuple[str, ...]


class HeldLock(Protocol):
    """A lock held on a connection of its own (Dialect.try_hold)."""

    async def check(self) -> bool:
        """Whether it is still held (its connection still answers)."""
        ...

    async def release(self) -> None: ...


class Dialect(Protocol):
    name: str

    async def open(self) -> None: ...
    async def close(self) -> None: ...

    def read(self) -> AbstractAsyncContextManager[AsyncConnection]:
        """A connection for queries; what it sees is committed data."""
        ...

    def write(self) -> AbstractAsyncContextManager[AsyncConnection]:
        """A write transaction, committed (durably) when the block ends without an exception."""
        ...

    async def migrate(self, upgrade: Callable[[Connection], None]) -> None:
        """Run `upgrade` (the Alembic migrations) in one write transaction, committed when it returns; the
        processes that share the database run it one at a time."""
        ...

    def exclusive(self, name: str) -> AbstractAsyncContextManager[None]:
        """Held by one process at a time among those sharing the database (the nodes of a cluster), e.g.
        around first-start provisioning; a process that dies releases it."""
        ...

    async def try_hold(self, name: str) -> HeldLock | None:
        """The lock `name` held until released (or until this process or its connection dies), if no other
        process holds it now; None otherwise. For a leader among the nodes (cluster/leader.py)."""
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
