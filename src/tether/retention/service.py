"""Retention rules (ROLE_RETENTION_RULE_READ to read, _ADMIN to change, as Cumulocity) and the job that
applies them.

The job runs every `interval` seconds, the first time one interval after start (and `run_once` on demand):
for each tenant, each rule, each kind of data the rule covers, it deletes the rows older than the rule's
maximum age in batches of `batch` rows. Each batch is one short write transaction (on SQLite it joins the
group-committing writer as ingest does, so it never holds the writer for longer than one batch), and between
batches the job rests three times as long as the batch took (at least `pause`; `share` 0.25 of the time is
the job's), so that ingest and the event loop keep their turn. A tenant without a catch-all rule of its own
(`*` for data type, type, source and fragment type) gets the platform's default rule, `default_days` (0:
none). Rows deleted by retention are not announced (no real-time notification, no rule-engine event), as
Cumulocity's retention is silent; the files of deleted binaries and event attachments are deleted with them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Protocol

from tether.core.clock import now_ms
from tether.core.errors import Forbidden, InvalidInput, Missing, NotFound
from tether.core.paging import Page, PageRequest
from tether.retention.models import ANY, DataType, RetentionRule, RuleDraft, Selection
from tether.retention.store import RetentionStore
from tether.tenants.models import Principal

log = logging.getLogger("tether.retention")

FAMILY = "RETENTION_RULE"
R = "retention"
#: The fields a data type uses (the spec's retentionRule: type for ALARM, AUDIT, EVENT, MEASUREMENT;
#: fragmentType for EVENT, MEASUREMENT, OPERATION). A rule that narrows by a field its data type does not
#: use is refused rather than silently widened.
USES_TYPE = {
    DataType.ALARM,
    DataType.AUDIT,
    DataType.EVENT,
    DataType.MEASUREMENT,
    DataType.BINARY,
    DataType.ALL,
}
USES_FRAGMENT = {DataType.EVENT, DataType.MEASUREMENT, DataType.OPERATION, DataType.ALL}
#: Longest age accepted (days; beyond year 9999 nothing is older).
MAX_AGE = 3_000_000


class Files(Protocol):
    """Deletes the files of binaries and event attachments whose rows are gone (binaries/service.py)."""

    async def forget(
        self, tenant_id: str, binaries: tuple[int, ...], attachments: tuple[tuple[int, int], ...]
    ) -> None: ...


def check(draft: RuleDraft) -> RuleDraft:
    if not 0 < draft.maximum_age <= MAX_AGE:
        raise InvalidInput(f"maximumAge must be a number of days from 1 to {MAX_AGE}", resource=R)
    if draft.type != ANY and draft.data_type not in USES_TYPE:
        raise InvalidInput(f"A rule for {draft.data_type.value} cannot select a type", resource=R)
    if draft.fragment_type != ANY and draft.data_type not in USES_FRAGMENT:
        raise InvalidInput(f"A rule for {draft.data_type.value} cannot select a fragmentType", resource=R)
    for name, value in (
        ("type", draft.type),
        ("source", draft.source),
        ("fragmentType", draft.fragment_type),
    ):
        if not value or len(value) > 255 or "\x00" in value:
            raise InvalidInput(f"{name} must be 1 to 255 characters without NUL", resource=R)
    return draft


class RetentionService:
    def __init__(
        self,
        store: RetentionStore,
        files: Files,
        *,
        default_days: int,
        management_tenant: str,
        interval: float = 3600.0,
        batch: int = 500,
        pause: float = 0.005,
        share: float = 0.25,
    ) -> None:
        self._store = store
        self._files = files
        self.default_days = default_days
        self._management = management_tenant
        self.interval = interval
        self.batch = batch
        self.pause = pause
        self.share = share
        self._task: asyncio.Task[None] | None = None
        self._running = asyncio.Lock()
        #: Rows deleted since start, for monitoring and the benchmark.
        self.deleted = 0

    # ------------------------------------------------------------------------------------------ rules

    def _check(self, who: Principal, write: bool) -> None:
        if not who.may(FAMILY, write):
            raise Forbidden("Access is denied", resource="security")

    def _editable(self, who: Principal, rule: RetentionRule) -> None:
        # Spec, retentionRule.editable: "It can be updated only by the Management tenant".
        if not rule.editable and who.tenant_id != self._management:
            raise Forbidden(f"Retention rule {rule.id} is not editable", resource=R)

    async def create(self, who: Principal, draft: RuleDraft) -> RetentionRule:
        self._check(who, True)
        if not draft.editable and who.tenant_id != self._management:
            raise Forbidden("Only the management tenant creates rules that are not editable", resource=R)
        return await self._store.create(who.tenant_id, check(draft))

    async def get(self, who: Principal, rule_id: int) -> RetentionRule:
        self._check(who, False)
        rule = await self._store.get(who.tenant_id, rule_id)
        if rule is None:
            raise NotFound(missing=Missing.of("retention rule", rule_id), resource=R)
        return rule

    async def find(self, who: Principal, page: PageRequest) -> Page[RetentionRule]:
        self._check(who, False)
        return await self._store.find(who.tenant_id, page)

    async def update(self, who: Principal, rule_id: int, draft: RuleDraft) -> RetentionRule:
        self._check(who, True)
        self._editable(who, await self.get(who, rule_id))
        updated = await self._store.update(who.tenant_id, rule_id, check(draft))
        if updated is None:
            raise NotFound(missing=Missing.of("retention rule", rule_id), resource=R)
        return updated

    async def delete(self, who: Principal, rule_id: int) -> None:
        self._check(who, True)
        self._editable(who, await self.get(who, rule_id))
        if not await self._store.delete(who.tenant_id, rule_id):
            raise NotFound(missing=Missing.of("retention rule", rule_id), resource=R)

    # -------------------------------------------------------------------------------------------- job

    def rules_in_force(self, tenant_id: str, rules: list[RetentionRule]) -> list[RetentionRule]:
        """The tenant's rules, plus the platform default unless the tenant has a catch-all of its own."""
        if self.default_days > 0 and not any(r.is_catch_all() for r in rules):
            default = RetentionRule(0, tenant_id, DataType.ALL, self.default_days, ANY, ANY, ANY, False)
            return [*rules, default]
        return rules

    async def run_once(self, now: int | None = None) -> int:
        """Apply every tenant's rules once, as of `now` (ms; tests pass a later instant instead of waiting
        days); returns the rows deleted. One run at a time."""
        now = now_ms() if now is None else now
        deleted = 0
        async with self._running:
            for tenant_id in await self._store.tenants():
                for rule in self.rules_in_force(tenant_id, await self._store.all(tenant_id)):
                    for kind in rule.kinds():
                        deleted += await self._apply(Selection.of(rule, kind, now))
        return deleted

    async def _apply(self, selection: Selection) -> int:
        total = 0
        while True:
            started = time.monotonic()
            done = await self._store.delete_batch(selection, self.batch)
            took = time.monotonic() - started
            total += done.rows
            self.deleted += done.rows
            if done.binaries or done.attachments:
                await self._files.forget(selection.tenant_id, done.binaries, done.attachments)
            if done.rows < self.batch:
                return total
            # Ingest's and the event loop's turn: the job keeps to `share` of the time (a batch that took
            # 10 ms is followed by 30 ms of rest at 0.25), so it slows ingest by a bounded fraction.
            await asyncio.sleep(max(self.pause, took * (1 - self.share) / self.share))

    def start(self) -> None:
        if self._task is None and self.interval > 0:
            self._task = asyncio.get_running_loop().create_task(self._loop(), name="retention")

    async def _loop(self) -> None:
        # The first run one interval after start: a restart is no time to add deletes to the reconnections.
        while True:
            await asyncio.sleep(self.interval)
            try:
                deleted = await self.run_once()
                if deleted:
                    log.info("retention deleted %d row(s)", deleted)
            except Exception:  # the database is away: try again next round
                log.exception("retention run failed")

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
