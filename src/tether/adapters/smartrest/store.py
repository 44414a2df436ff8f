"""The store of SmartREST 2.0 template collections. Implementations: storage/sql (SQLite, PostgreSQL).

Every method that reads or writes a tenant's data takes the tenant id first: no store answers across tenants.
"""

from __future__ import annotations

from typing import Any, Protocol


class SmartRestTemplateStore(Protocol):
    """SmartREST 2.0 template collections: a document per (tenant, X-ID), created once."""

    async def create(self, tenant_id: str, xid: str, owner: str, templates: dict[str, Any], now: int) -> int:
        """The new collection's id; raises Conflict when the tenant has one of that X-ID."""
        ...

    async def get(self, tenant_id: str, xid: str) -> tuple[int, dict[str, Any]] | None: ...
