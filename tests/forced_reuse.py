"""Force what SQLite did before migration 0008: hand a deleted managed object's id to a new object.

The adapters' tests of a deleted device must not depend on the store reusing ids (it no longer does), so the
new object is inserted with the old id explicitly, through the running server's own storage (its writer
connection, on its loop)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import insert
from tests.support import ServerThread

from tether.storage.sql.schema import managed_objects


def reuse_id(server: ServerThread, mo_id: int, fragments: dict[str, Any], tenant: str = "t1") -> None:
    """A new object of the tenant's admin with the id `mo_id` (which must be free: deleted)."""

    async def insert_row() -> None:
        values = {
            "id": mo_id,
            "tenant_id": tenant,
            "owner": "admin",
            "name": "victim",
            "type": "c8y_Victim",
            "creation_time": 0,
            "last_updated": 0,
            "attrs": fragments,
        }
        async with server.platform.storage.database.write() as conn:
            await conn.execute(insert(managed_objects).values(**values))

    server.call(insert_row())
