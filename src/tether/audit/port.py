"""The narrow port through which domain services write audit records: `record` never waits for storage
(the trail queues it and a writer stores it in batches), so no request is slowed by its audit."""

from __future__ import annotations

from typing import Protocol

from tether.audit.models import NewAuditRecord


class AuditTrail(Protocol):
    def record(self, draft: NewAuditRecord) -> None: ...
