"""The store of operations. Implementations: storage/sql (SQLite, PostgreSQL).

Every method that reads or writes a tenant's data takes the tenant id first: no store answers across tenants.
"""

from __future__ import annotations

from typing import Protocol

from tether.core.paging import Page, PageRequest
from tether.inventory.access import OwnerScope
from tether.operations.models import NewOperation, Operation, OperationChange, OperationCriteria


class OperationStore(Protocol):
    async def create(self, tenant_id: str, draft: NewOperation, now: int) -> Operation: ...
    async def get(self, tenant_id: str, op_id: int) -> Operation | None: ...
    async def update(self, tenant_id: str, op_id: int, change: OperationChange, now: int) -> Operation | None:
        """Apply `change` only if the operation is still in `change.expected_status` (compare-and-set,
        atomic with the write); None when it is missing or its status moved on meanwhile."""
        ...

    async def find(
        self,
        tenant_id: str,
        criteria: OperationCriteria,
        page: PageRequest,
        *,
        owner_scope: OwnerScope | None = None,
    ) -> Page[Operation]:
        """Ordered by id (newest first with `criteria.newest_first`); with `owner_scope` only the
        operations whose device or agent that user owns."""
        ...

    async def delete(self, tenant_id: str, criteria: OperationCriteria) -> list[Operation]:
        """Delete every matching operation; returns them as they were."""
        ...
