"""The store of external ids. Implementations: storage/sql (SQLite, PostgreSQL).

Every method that reads or writes a tenant's data takes the tenant id first: no store answers across tenants.
"""

from __future__ import annotations

from typing import Protocol

from tether.core.paging import Page, PageRequest
from tether.identity.models import ExternalId


class ExternalIdStore(Protocol):
    async def create(self, tenant_id: str, xid: ExternalId) -> None:
        """Raises Conflict when (type, value) is already taken in the tenant."""
        ...

    async def get(self, tenant_id: str, type_: str, value: str) -> ExternalId | None: ...
    async def get_many(self, tenant_id: str, type_: str, values: list[str]) -> dict[str, int]:
        """The object ids of those of `values` that exist: value -> managed object id."""
        ...

    async def list_for(self, tenant_id: str, mo_id: int, page: PageRequest) -> Page[ExternalId]: ...
    async def delete(self, tenant_id: str, type_: str, value: str) -> bool: ...
