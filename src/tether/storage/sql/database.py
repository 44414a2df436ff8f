"""One SQL database: engine, migrations at open, and the stores that share it."""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection

from tether.storage.errors import StorageUnavailable
from tether.storage.sql.dialect import Dialect, HeldLock

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"


class Database:
    """The dialect every SQL store uses; `read()` and `write()` are their only doors."""

    def __init__(self, dialect: Dialect) -> None:
        self.dialect = dialect

    def read(self) -> AbstractAsyncContextManager[AsyncConnection]:
        return self.dialect.read()

    def write(self) -> AbstractAsyncContextManager[AsyncConnection]:
        return self.dialect.write()

    async def try_hold(self, name: str) -> HeldLock | None:
        """See Dialect.try_hold: the lock `name`, held until released, if nobody else holds it."""
        return await self.dialect.try_hold(name)

    def exclusive(self, name: str) -> AbstractAsyncContextManager[None]:
        """See Dialect.exclusive: one process of those sharing the database at a time."""
        return self.dialect.exclusive(name)

    async def open(self) -> None:
        """Connect and migrate; StorageUnavailable (one line, for the operator) if the database cannot be
        reached or refuses the login."""
        try:
            await self.dialect.open()
            await self.dialect.migrate(_upgrade)
        except StorageUnavailable:
            await self.dialect.close()
            raise
        except (OSError, TimeoutError, DBAPIError) as exc:
            await self.dialect.close()
            raise StorageUnavailable(_reason(exc)) from exc

    async def close(self) -> None:
        await self.dialect.close()


def _upgrade(connection: Connection) -> None:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    command.upgrade(config, "head")


def _reason(exc: BaseException) -> str:
    """The driver's own message, first line only (SQLAlchemy appends a link and the statement)."""
    cause = exc.orig if isinstance(exc, DBAPIError) and exc.orig is not None else exc
    text = str(cause).strip() or type(cause).__name__
    return text.splitlines()[0]
