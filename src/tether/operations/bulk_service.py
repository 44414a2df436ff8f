"""The bulk operations service (the rules: :mod:`.bulk`) and its runner.

Operators create, read, change and cancel bulk operations. The runner is one background task per process:
it starts the bulk operations whose start date has come (resolving the group's devices then, as Cumulocity
does), and creates their operations at the ramp, in batches inserted in one transaction together with the
bulk operation's progress (`created`, `next_at`), so after a restart it goes on where it stopped and never
creates an operation twice (the insert is a compare-and-set on `created`: another server, or a cancel, that
got there first wins).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

from tether.core.clock import now_ms
from tether.core.errors import Forbidden, InvalidInput, Missing, NotFound
from tether.core.paging import Page, PageRequest
from tether.core.values import clean_fields
from tether.inventory.models import ChildKind, InventoryCriteria
from tether.inventory.store import ManagedObjectStore
from tether.operations.bulk import (
    CANCEL_REASON,
    DEVICE_FRAGMENT,
    GROUP_FRAGMENTS,
    BulkChange,
    BulkOperation,
    BulkStatus,
    BulkView,
    NewBulkOperation,
    due_count,
    progress,
    ramp_ms,
)
from tether.operations.bulk_store import BulkOperationStore
from tether.operations.service import OperationService
from tether.tenants.models import Principal

log = logging.getLogger(__name__)
R = "devicecontrol"
Clock = Callable[[], int]
_DUE_BATCH = 100
_MAX_STEP = 500  # operations inserted per transaction
_IDLE = 30.0  # seconds between looks for work another server stored (PostgreSQL)
#: A bulk operation this far behind its ramp was not run meanwhile (the server was down): it goes on at
#: its ramp from now instead of creating every missed operation at once.
_RESUME_LAG = 10_000


def _require_admin(who: Principal) -> None:
    if not who.is_admin:
        raise Forbidden("Access is denied", resource="security")


class BulkOperationService:
    def __init__(
        self,
        store: BulkOperationStore,
        operations: OperationService,
        managed_objects: ManagedObjectStore,
        clock: Clock = now_ms,
    ) -> None:
        self._store = store
        self._operations = operations
        self._mos = managed_objects
        self.clock = clock
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    # -- operators ----------------------------------------------------------------------------------------

    async def create(self, who: Principal, draft: NewBulkOperation) -> BulkView:
        """For a group (`group_id`) or again for the devices whose operation of `failed_parent_id` failed
        (Cumulocity: the two are mutually exclusive)."""
        _require_admin(who)
        if (draft.group_id is None) == (draft.failed_parent_id is None):
            raise InvalidInput("Exactly one of groupId and failedParentId is required", resource=R)
        prototype = draft.prototype
        targets: tuple[int, ...] = ()
        if draft.group_id is not None:
            if await self._mos.get(who.tenant_id, draft.group_id) is None:
                raise InvalidInput(
                    missing=Missing.of("managed object", draft.group_id, role="group"), resource=R
                )
        elif draft.failed_parent_id is not None:
            parent = await self._store.get(who.tenant_id, draft.failed_parent_id)
            if parent is None:
                raise InvalidInput(missing=Missing.of("bulk operation", draft.failed_parent_id), resource=R)
            prototype = prototype or parent.prototype
            targets = tuple(await self._store.failed_devices(who.tenant_id, parent.id))
        fragments = {k: v for k, v in clean_fields(prototype, resource=R).items() if v is not None}
        if not fragments:
            raise InvalidInput("operationPrototype must hold the operation's fragments", resource=R)
        if draft.creation_ramp < 0:
            raise InvalidInput("creationRamp must not be negative", resource=R)
        now = self.clock()
        bulk = await self._store.create(
            who.tenant_id,
            NewBulkOperation(
                draft.group_id,
                draft.failed_parent_id,
                draft.start_date,
                draft.creation_ramp,
                fragments,
                targets,
            ),
            now,
        )
        self._wake.set()
        return BulkView(bulk, progress(bulk, {}))

    async def get(self, who: Principal, bulk_id: int) -> BulkView:
        _require_admin(who)
        bulk = await self._store.get(who.tenant_id, bulk_id)
        if bulk is None:
            raise NotFound(missing=Missing.of("bulk operation", bulk_id), resource=R)
        counts = await self._store.counts(who.tenant_id, [bulk.id])
        return BulkView(bulk, progress(bulk, counts.get(bulk.id, {})))

    async def find(self, who: Principal, page: PageRequest) -> Page[BulkView]:
        _require_admin(who)
        found = await self._store.find(who.tenant_id, page)
        counts = await self._store.counts(who.tenant_id, [b.id for b in found.items])
        views = [BulkView(b, progress(b, counts.get(b.id, {}))) for b in found.items]
        return Page(views, found.request, found.total_elements)

    async def update(self, who: Principal, bulk_id: int, change: BulkChange) -> BulkView:
        """The start date and prototype change while it has not started; the ramp also while it runs."""
        while True:
            current = (await self.get(who, bulk_id)).bulk
            started = current.status is not BulkStatus.ACTIVE
            if current.status in (BulkStatus.COMPLETED, BulkStatus.DELETED) or (
                started and (change.start_date is not None or change.prototype is not None)
            ):
                raise InvalidInput(f"Cannot change a bulk operation in status {current.status}", resource=R)
            if change.creation_ramp is not None and change.creation_ramp < 0:
                raise InvalidInput("creationRamp must not be negative", resource=R)
            if change.prototype is not None:
                cleaned = {
                    k: v for k, v in clean_fields(change.prototype, resource=R).items() if v is not None
                }
                if not cleaned:
                    raise InvalidInput("operationPrototype must hold the operation's fragments", resource=R)
                change = BulkChange(change.start_date, change.creation_ramp, cleaned)
            updated = await self._store.update(who.tenant_id, bulk_id, change, current.status, self.clock())
            if updated is not None:
                self._wake.set()
                return await self.get(who, bulk_id)

    async def cancel(self, who: Principal, bulk_id: int) -> None:
        """DELETED: no more operations are created, and those still PENDING fail (Cumulocity's UI cancels an
        operation so); a cancelled one stays readable."""
        await self.get(who, bulk_id)
        failed = await self._store.cancel(who.tenant_id, bulk_id, CANCEL_REASON, self.clock())
        if failed:
            self._operations.announce_updated(failed)

    # -- the runner ---------------------------------------------------------------------------------------

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._loop(), name="bulk-operations")

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _loop(self) -> None:
        while True:
            self._wake.clear()
            delay = _IDLE
            try:
                await self.run_due()
                soonest = await self._store.next_due()
                if soonest is not None:
                    delay = min(_IDLE, max(0.0, (soonest - self.clock()) / 1000))
            except Exception:
                log.exception("bulk operations runner failed (tried again in 1 s)")
                delay = 1.0
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), delay)

    async def run_due(self) -> None:
        """One turn: every bulk operation due now makes its step."""
        for bulk in await self._store.due(self.clock(), _DUE_BATCH):
            await self._step(bulk)

    async def _step(self, bulk: BulkOperation) -> None:
        now = self.clock()
        if bulk.status is BulkStatus.ACTIVE:
            targets = list(bulk.targets)
            if bulk.group_id is not None:
                targets = await self.devices_of(bulk.tenant_id, bulk.group_id)
            begun = await self._store.begin(bulk.tenant_id, bulk.id, targets, now)
            if begun is None:
                return
            bulk = begun
        if now - bulk.next_at > _RESUME_LAG + ramp_ms(bulk):
            count, next_at = 1, now + ramp_ms(bulk)
        else:
            count = due_count(bulk, now)
            next_at = bulk.next_at + count * ramp_ms(bulk)
        count = min(count, _MAX_STEP)
        if ramp_ms(bulk) == 0:
            next_at = now
        if count == 0 and bulk.created < len(bulk.targets):
            return
        chosen = list(bulk.targets[bulk.created : bulk.created + count])
        drafts = await self._operations.drafts(bulk.tenant_id, chosen, bulk.prototype, bulk.id)
        created = await self._store.advance(bulk, drafts, bulk.created + len(chosen), next_at, now)
        if created:
            self._operations.announce_created(created)

    async def devices_of(self, tenant_id: str, group_id: int) -> list[int]:
        """The devices below a group: its child assets that are devices, and those of its subgroups, level by
        level (each once, in id order per level)."""
        devices: list[int] = []
        seen = {group_id}
        level = [group_id]
        while level:
            children = [
                c for c in await self._mos.child_ids(tenant_id, level, (ChildKind.ASSET,)) if c not in seen
            ]
            seen.update(children)
            level = []
            for start in range(0, len(children), _MAX_STEP):
                chunk = tuple(sorted(children[start : start + _MAX_STEP]))
                page = await self._mos.find(
                    tenant_id, InventoryCriteria(ids=chunk), PageRequest(page_size=len(chunk))
                )
                for mo in sorted(page.items, key=lambda m: m.id):
                    if DEVICE_FRAGMENT in mo.fragments:
                        devices.append(mo.id)
                    elif any(f in mo.fragments for f in GROUP_FRAGMENTS):
                        level.append(mo.id)
        return devices
