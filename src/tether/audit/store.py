"""The store of audit records. Implementation: storage/sql/audit.py (SQLite, PostgreSQL)."""

from __future__ import annotations

from typing import Protocol

from tether.audit.models import AuditCriteria, AuditRecord, NewAuditRecord
from tether.core.paging import Page, PageRequest


class AuditStore(Protocol):
    async def insert(self, drafts: list[NewAuditRecord], now: int) -> list[AuditRecord]:
        """Store the records in one transaction (ids never reused; `time` None becomes `now`)."""
        ...

    async def append(self, drafts: list[NewAuditRecord], now: int) -> None:
        """Store queued records in one transaction, one multi-row statement (the writer's path)."""
        ...

    async def get(self, tenant_id: str, record_id: int) -> AuditRecord | None: ...
    async def find(self, tenant_id: str, criteria: AuditCriteria, page: PageRequest) -> Page[AuditRecord]:
        """By time (oldest first, newest first with `revert`), then id."""
        ...
