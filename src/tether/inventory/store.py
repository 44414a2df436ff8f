"""The store of managed objects and their references. Implementations: storage/sql (SQLite, PostgreSQL).

Every method that reads or writes a tenant's data takes the tenant id first: no store answers across tenants.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Protocol

from tether.core.paging import Page, PageRequest
from tether.inventory.access import OwnerScope
from tether.inventory.models import (
    ChildKind,
    InventoryCriteria,
    Json,
    ManagedObject,
    NewManagedObject,
    Relations,
)


class ManagedObjectStore(Protocol):
    async def create(self, tenant_id: str, draft: NewManagedObject, now: int) -> ManagedObject: ...
    async def get(self, tenant_id: str, mo_id: int) -> ManagedObject | None: ...
    async def get_with_relations(self, tenant_id: str, mo_id: int) -> tuple[ManagedObject, Relations] | None:
        """`get` and `relations` of one object in one read (a REST GET by id)."""
        ...

    async def update(
        self, tenant_id: str, mo_id: int, columns: dict[str, Any], fragments: Json, now: int
    ) -> ManagedObject | None:
        """Merge: columns and fragments given replace the stored ones; a None value removes a fragment."""
        ...

    async def delete(self, tenant_id: str, mo_ids: list[int]) -> int: ...
    async def find(
        self,
        tenant_id: str,
        criteria: InventoryCriteria,
        page: PageRequest,
        *,
        owner_scope: OwnerScope | None = None,
    ) -> Page[ManagedObject]: ...
    async def relations(self, tenant_id: str, mo_ids: list[int]) -> dict[int, Relations]: ...
    async def child_ids(
        self, tenant_id: str, parent_ids: list[int], kinds: Iterable[ChildKind]
    ) -> list[int]: ...
    async def descendants(self, tenant_id: str, roots: list[int]) -> set[int]:
        """The roots that exist in the tenant and every object below them (inventory/access.py)."""
        ...

    async def parent_ids(
        self, tenant_id: str, child_ids: list[int], kinds: Iterable[ChildKind]
    ) -> list[int]: ...
    async def children(
        self, tenant_id: str, parent_id: int, kind: ChildKind, page: PageRequest
    ) -> Page[ManagedObject]: ...
    async def add_child(
        self, tenant_id: str, parent_id: int, kind: ChildKind, child_id: int, now: int
    ) -> None: ...
    async def remove_child(
        self, tenant_id: str, parent_id: int, kind: ChildKind, child_id: int, now: int
    ) -> bool: ...
