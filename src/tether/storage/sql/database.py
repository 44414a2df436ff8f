"""One SQL database: engine, migrations at open, and the stores that share it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from tether.storage.sql.dialect import Dialect

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"


class Database:
    """The engine and dialect every SQL store uses; `read()` and `write()` are their only doors."""

    def __init__(self, dialect: Dialect) -> None:
        self.dialect = dialect
        self._engine: AsyncEngine | None = None

    @property
    def engine(self) -> AsyncEngine:
        if self._engine is None:
            raise RuntimeError("database is not open")
        return self._engine

    def read(self) -> Any:
        return self.engine.connect()

    def write(self) -> Any:
        return self.dialect.write(self.engine)

    async def open(self) -> None:
        self._engine = self.dialect.create_engine()
        async with self.dialect.write(self._engine) as conn:
            await conn.run_sync(_upgrade)

    async def close(self) -> None:
        if self._engine is not None:
            await self._engine.dispose()
            self._engine = None


def _upgrade(connection: Connection) -> None:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    command.upgrade(config, "head")
