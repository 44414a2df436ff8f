"""The audit trail: records queued by the domain services (`record`, the AuditTrail port) and written in
batches by one writer task, the records of operation and alarm changes taken from the event bus, and the
reading side of /audit/auditRecords (ROLE_AUDIT_READ; POST takes ROLE_AUDIT_ADMIN, as the spec says).

Nothing on the measurement ingest path is audited; alarm and operation changes cost an event-bus handler
that queues a small value (an alarm's creation, acknowledgement and clearing are recorded, not its
repeats). A record queued but not yet written when the process dies is lost (audit is best-effort
bookkeeping, never on a request's acknowledgement path).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
from collections import deque

from tether.audit.models import AuditCriteria, AuditRecord, NewAuditRecord
from tether.audit.store import AuditStore
from tether.core.clock import now_ms
from tether.core.errors import Forbidden, NotFound
from tether.core.events import DomainEvent, EventBus
from tether.core.paging import Page, PageRequest
from tether.tenants.models import Principal

log = logging.getLogger("tether.audit")

FAMILY = "AUDIT"
BATCH = 500
#: Queued records beyond this are dropped (and counted): a storm must not grow memory without bound.
MAX_QUEUED = 100_000


class AuditService:
    def __init__(self, store: AuditStore) -> None:
        self._store = store
        self._queue: deque[NewAuditRecord] = deque()
        self._wake: asyncio.Event | None = None
        self._writer: asyncio.Task[None] | None = None
        self._idle: asyncio.Event | None = None
        self.dropped = 0
        self._unsubscribe: list[object] = []

    # ----------------------------------------------------------------------------------------- writing

    def record(self, draft: NewAuditRecord) -> None:
        """Queue a record (AuditTrail); written within moments by the writer task."""
        if len(self._queue) >= MAX_QUEUED:
            self.dropped += 1
            return
        if draft.time is None:
            draft = dataclasses.replace(draft, time=now_ms())
        self._queue.append(draft)
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # no loop (a command-line tool): written by the next flush
            return
        if self._writer is None or self._writer.done():
            self._wake, self._idle = asyncio.Event(), asyncio.Event()
            self._writer = loop.create_task(self._write(), name="audit-writer")
        assert self._wake is not None and self._idle is not None
        self._idle.clear()
        self._wake.set()

    async def _write(self) -> None:
        assert self._wake is not None and self._idle is not None
        while True:
            if not self._queue:
                self._idle.set()
                self._wake.clear()
                await self._wake.wait()
                continue
            batch = [self._queue.popleft() for _ in range(min(BATCH, len(self._queue)))]
            try:
                await self._store.append(batch, now_ms())
            except Exception as exc:  # the database is away: keep them for the next round, once
                log.warning("cannot write %d audit record(s): %s", len(batch), exc)
                await asyncio.sleep(1.0)
                if len(self._queue) < MAX_QUEUED:
                    self._queue.extendleft(reversed(batch))

    async def flush(self) -> None:
        """Wait until every queued record is written."""
        if self._queue and (self._writer is None or self._writer.done()):
            batch = list(self._queue)
            self._queue.clear()
            await self._store.append(batch, now_ms())
            return
        if self._idle is not None and self._writer is not None and not self._writer.done():
            await self._idle.wait()

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.flush(), 5.0)
        for stop in self._unsubscribe:
            if callable(stop):
                stop()
        if self._writer is not None:
            self._writer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._writer
            self._writer = None

    # --------------------------------------------------------------------------- from the event bus

    def follow(self, events: EventBus) -> None:
        """Record operation and alarm changes as the services announce them."""
        self._unsubscribe.append(events.subscribe(self._on_event, resources={"operations", "alarms"}))

    def _on_event(self, event: DomainEvent) -> None:
        draft = from_event(event)
        if draft is not None:
            self.record(draft)

    # ----------------------------------------------------------------------------------------- reading

    @staticmethod
    def _check(who: Principal, write: bool) -> None:
        if not who.may(FAMILY, write):
            raise Forbidden("Access is denied", resource="security")

    async def create(self, who: Principal, draft: NewAuditRecord) -> AuditRecord:
        """POST /audit/auditRecords: stored before it returns; the user is the caller unless it names one."""
        self._check(who, True)
        if draft.user is None:
            draft = dataclasses.replace(draft, user=who.username)
        (stored,) = await self._store.insert([draft], now_ms())
        return stored

    async def get(self, who: Principal, record_id: int) -> AuditRecord:
        self._check(who, False)
        record = await self._store.get(who.tenant_id, record_id)
        if record is None:
            raise NotFound(f"Audit record with id = {record_id} not found", resource="audit")
        return record

    async def find(self, who: Principal, criteria: AuditCriteria, page: PageRequest) -> Page[AuditRecord]:
        self._check(who, False)
        return await self._store.find(who.tenant_id, criteria, page)


def from_event(event: DomainEvent) -> NewAuditRecord | None:
    """The record of an operation or alarm change (Cumulocity writes "Operation created", "Alarm updated",
    ...), from the domain object the event carries."""
    payload = event.payload
    verb = {"CREATE": "created", "UPDATE": "updated", "DELETE": "deleted"}[event.action]
    source = None if event.source_id is None else str(event.source_id)
    if event.resource == "operations":
        status = getattr(payload, "status", None)
        status_text = getattr(status, "value", status)
        return NewAuditRecord(
            event.tenant_id,
            "Operation",
            f"Operation {verb}",
            f"Operation {event.id} {verb}: status='{status_text}'",
            source=source,
            fragments={"operationId": str(event.id)} if event.id is not None else {},
        )
    if event.resource == "alarms" and event.id is not None:
        status = getattr(payload, "status", None)
        status_text = getattr(status, "value", status)
        if event.action == "UPDATE" and status_text == "ACTIVE":
            # A repeat of an active alarm (its count goes up: de-duplication) is no change worth a record;
            # its acknowledgement and clearing are.
            return None
        severity = getattr(payload, "severity", None)
        return NewAuditRecord(
            event.tenant_id,
            "Alarm",
            f"Alarm {verb}",
            f"{getattr(payload, 'text', '')} (status='{status_text}')",
            source=source,
            severity=str(getattr(severity, "value", severity) or "INFORMATION"),
            fragments={"alarmId": str(event.id)},
        )
    return None
