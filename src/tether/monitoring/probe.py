"""Database latency: the time of one round trip (`SELECT 1` on a pooled read connection), measured when the
Prometheus endpoint is scraped."""

from __future__ import annotations

from time import perf_counter
from typing import TYPE_CHECKING

from sqlalchemy import text

if TYPE_CHECKING:
    from tether.storage.sql.database import Database

__all__ = ["DatabaseProbe"]


class DatabaseProbe:
    def __init__(self, database: Database) -> None:
        self._database = database

    async def latency(self) -> float:
        """Seconds for one round trip to the database."""
        started = perf_counter()
        async with self._database.read() as connection:
            await connection.execute(text("SELECT 1"))
        return perf_counter() - started
