"""SmartREST 2.0 template collections in SQL (migration 0007): one document per tenant and X-ID, created
once (Cumulocity: a collection cannot be modified over MQTT after its creation)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import BigInteger, Column, ForeignKey, String, Table, UniqueConstraint, insert, select
from sqlalchemy.exc import IntegrityError

from tether.core.errors import Conflict
from tether.storage.sql.database import Database
from tether.storage.sql.schema import NEVER_REUSED, Document, Id, metadata

smartrest_templates = Table(
    "smartrest_templates",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("tenant_id", String(64), ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False),
    Column("xid", String(255), nullable=False),
    Column("owner", String(255), nullable=False),
    Column("creation_time", BigInteger, nullable=False),
    Column("templates", Document, nullable=False),
    UniqueConstraint("tenant_id", "xid", name="ux_smartrest_templates_xid"),
    **NEVER_REUSED,
)
_t = smartrest_templates


class SqlSmartRestTemplateStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def create(self, tenant_id: str, xid: str, owner: str, templates: dict[str, Any], now: int) -> int:
        values = {
            "tenant_id": tenant_id,
            "xid": xid,
            "owner": owner,
            "creation_time": now,
            "templates": templates,
        }
        try:
            async with self._db.write() as conn:
                new_id = await conn.scalar(insert(_t).values(**values).returning(_t.c.id))
        except IntegrityError:
            raise Conflict(f"Template collection '{xid}' already exists", resource="smartrest") from None
        assert new_id is not None
        return int(new_id)

    async def get(self, tenant_id: str, xid: str) -> tuple[int, dict[str, Any]] | None:
        query = select(_t.c.id, _t.c.templates).where(_t.c.tenant_id == tenant_id, _t.c.xid == xid)
        async with self._db.read() as conn:
            row = (await conn.execute(query)).first()
        return None if row is None else (int(row.id), dict(row.templates))
