"""The store of bulk operations. Implementation: storage/sql/bulk_operations.py (SQLite, PostgreSQL)."""

from __future__ import annotations

from typing import Protocol

from tether.core.paging import Page, PageRequest
from tether.operations.bulk import BulkChange, BulkOperation, BulkStatus, NewBulkOperation
from tether.operations.models import NewOperation, Operation, OperationStatus


class BulkOperationStore(Protocol):
    async def create(self, tenant_id: str, draft: NewBulkOperation, now: int) -> BulkOperation: ...
    async def get(self, tenant_id: str, bulk_id: int) -> BulkOperation | None: ...
    async def find(self, tenant_id: str, page: PageRequest) -> Page[BulkOperation]:
        """Oldest first, as Cumulocity lists them."""
        ...

    async def counts(self, tenant_id: str, bulk_ids: list[int]) -> dict[int, dict[OperationStatus, int]]:
        """Each bulk operation's operations per status."""
        ...

    async def update(
        self, tenant_id: str, bulk_id: int, change: BulkChange, expected: BulkStatus, now: int
    ) -> BulkOperation | None:
        """Apply `change` if the bulk operation is still in `expected`; None otherwise."""
        ...

    async def cancel(self, tenant_id: str, bulk_id: int, reason: str, now: int) -> list[Operation] | None:
        """Mark it DELETED and fail its PENDING operations with `reason`, in one transaction; the operations
        failed (as they are now), None when there is no such bulk operation or it was DELETED already."""
        ...

    async def begin(self, tenant_id: str, bulk_id: int, targets: list[int], now: int) -> BulkOperation | None:
        """ACTIVE -> IN_PROGRESS with its resolved targets (compare-and-set); None if it was not ACTIVE."""
        ...

    async def advance(
        self, bulk: BulkOperation, drafts: list[NewOperation], created: int, next_at: int, now: int
    ) -> list[Operation] | None:
        """Insert `drafts` and set the bulk operation's `created` (COMPLETED once all targets are) and
        `next_at`, in one transaction, if it is still IN_PROGRESS at `bulk.created`; the operations inserted,
        None when another writer (a cancel, another server) got there first."""
        ...

    async def due(self, now: int, limit: int) -> list[BulkOperation]:
        """ACTIVE or IN_PROGRESS bulk operations of any tenant whose `next_at` is at or before `now`."""
        ...

    async def next_due(self) -> int | None:
        """The earliest `next_at` of any ACTIVE or IN_PROGRESS bulk operation."""
        ...

    async def failed_devices(self, tenant_id: str, bulk_id: int) -> list[int]:
        """The devices whose operation of this bulk operation FAILED, by operation id."""
        ...
