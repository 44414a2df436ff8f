"""The jobs service (the rules: :mod:`.jobs`): operators create, read and cancel jobs; devices get, start
and update their executions; a timer times out executions whose deadline passed; CONTINUOUS jobs follow
their target groups (:mod:`.job_targets`).

Every change to a thing's pending executions is told to watchers as a :class:`PendingChange` (the list
before and after, in AWS's order) once it is committed, whichever API made it: the MQTT adapter publishes
`jobs/notify` when the list's members changed and `jobs/notify-next` when its first changed.
"""

from __future__ import annotations

import contextlib
import logging
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from tether.core.clock import now_ms
from tether.core.errors import Conflict, Forbidden, Missing, NotFound, ServiceUnavailable
from tether.core.locks import KeyedLocks
from tether.core.paging import Page, PageRequest
from tether.fleets.job_store import JobStore
from tether.fleets.job_targets import Targeting
from tether.fleets.jobs import (
    NEXT,
    PENDING,
    DeviceRequest,
    Execution,
    ExecutionNotFound,
    ExecutionStatus,
    Job,
    JobDraft,
    JobFinished,
    JobStatus,
    JobType,
    VersionMismatch,
    execution_state,
    job_status,
    order,
    transition,
)
from tether.fleets.models import R, Thing
from tether.tenants.models import Principal

log = logging.getLogger(__name__)
Clock = Callable[[], int]
_E = ExecutionStatus
_ATTEMPTS = 10
_DUE_BATCH = 500
_JOB_CACHE = 10_000
_KNOWN_LIMIT = 100_000


@dataclass(frozen=True, slots=True)
class PendingChange:
    """A thing's pending executions before and after a committed change (each in AWS's order)."""

    tenant_id: str
    mo_id: int
    thing_name: str
    before: list[Execution]
    after: list[Execution]

    @property
    def members_changed(self) -> bool:
        return {e.job_seq for e in self.before} != {e.job_seq for e in self.after}

    @property
    def next_changed(self) -> bool:
        first = self.before[0].job_seq if self.before else None
        return first != (self.after[0].job_seq if self.after else None)


Watcher = Callable[[list[PendingChange]], None]
Counts = dict[ExecutionStatus, int]


def _require_admin(who: Principal) -> None:
    if not who.is_admin:
        raise Forbidden("Access is denied", resource="security")


def _replaced(pending: list[Execution], changed: Execution) -> list[Execution]:
    kept = [e for e in pending if e.job_seq != changed.job_seq]
    return order([*kept, changed])


class JobService:
    def __init__(self, store: JobStore, targeting: Targeting, clock: Clock = now_ms) -> None:
        self._store = store
        self.targeting = targeting
        self.clock = clock
        self._watchers: list[Watcher] = []
        # One device request at a time per thing in this process (the store's compare-and-set covers others).
        self._locks: KeyedLocks[tuple[str, int]] = KeyedLocks()
        self._jobs: dict[tuple[str, str], Job] = {}
        # Each thing's pending list as this process last stored or read it (a hint, as ShadowService's).
        self._known: dict[tuple[str, int], list[Execution]] = {}
        targeting.on_joined = self._joined
        targeting.on_left = self._left
        targeting.on_deleted = self._thing_deleted

    def watch(self, watcher: Watcher) -> Callable[[], None]:
        self._watchers.append(watcher)
        return lambda: self._watchers.remove(watcher) if watcher in self._watchers else None

    def _tell(self, changes: list[PendingChange]) -> None:
        if not changes:
            return
        for watcher in list(self._watchers):
            try:
                watcher(changes)
            except Exception:
                log.exception("jobs watcher %r failed", watcher)

    # -- operators ----------------------------------------------------------------------------------------

    async def create(self, who: Principal, draft: JobDraft) -> tuple[Job, Counts]:
        """A job and a QUEUED execution for every target thing, inserted together."""
        _require_admin(who)
        targets, group_ids = await self.targeting.resolve(who, draft.targets)
        now = self.clock()
        job = Job(
            seq=0,
            tenant_id=who.tenant_id,
            job_id=draft.job_id or str(uuid.uuid4()),
            type=draft.type,
            canceled=False,
            description=draft.description,
            document=draft.document,
            targets=draft.targets,
            group_ids=tuple(group_ids),
            in_progress_timeout=draft.in_progress_timeout,
            step_timeout=draft.step_timeout,
            created_at=now,
            updated_at=now,
        )
        found = [self._queued(job, mo_id, name, now) for mo_id, name in targets.items()]
        created = await self._store.create(job, found)
        if created is None:
            raise Conflict(f"Job '{job.job_id}' already exists", resource=R)
        if created.type is JobType.CONTINUOUS:
            self.targeting.forget(created.tenant_id)
        await self._announce_added(created, targets)
        return created, {_E.QUEUED: len(found)} if found else {}

    def _queued(self, job: Job, mo_id: int, name: str, now: int) -> Execution:
        return Execution(
            tenant_id=job.tenant_id,
            job_seq=job.seq,
            job_id=job.job_id,
            mo_id=mo_id,
            thing_name=name,
            status=_E.QUEUED,
            version=1,
            queued_at=now,
            updated_at=now,
            document=job.document,
        )

    async def _announce_added(self, job: Job, things: dict[int, str]) -> None:
        """The things' pending lists now hold the job's new executions: read in bulk, told at once."""
        if not things:
            return
        by_thing: dict[int, list[Execution]] = {}
        for execution in await self._store.pending(job.tenant_id, list(things)):
            by_thing.setdefault(execution.mo_id, []).append(execution)
        changes = []
        for mo_id, name in things.items():
            after = order(by_thing.get(mo_id, []))
            self._remember(job.tenant_id, mo_id, after)
            before = [e for e in after if e.job_seq != job.seq]
            changes.append(PendingChange(job.tenant_id, mo_id, name, before, after))
        self._tell(changes)

    async def job(self, who: Principal, job_id: str) -> Job:
        _require_admin(who)
        found = await self._store.get(who.tenant_id, job_id)
        if found is None:
            raise NotFound(missing=Missing.of("job", job_id), resource=R)
        return found

    async def get(self, who: Principal, job_id: str) -> tuple[Job, Counts]:
        found = await self.job(who, job_id)
        return found, (await self._store.counts(who.tenant_id, [found.seq]))[found.seq]

    async def find(self, who: Principal, page: PageRequest) -> Page[tuple[Job, Counts]]:
        _require_admin(who)
        found = await self._store.jobs(who.tenant_id, page)
        counts = await self._store.counts(who.tenant_id, [j.seq for j in found.items])
        return Page([(j, counts[j.seq]) for j in found.items], found.request, found.total_elements)

    async def executions(
        self, who: Principal, job_id: str, status: ExecutionStatus | None, page: PageRequest
    ) -> Page[Execution]:
        found = await self.job(who, job_id)
        return await self._store.executions(who.tenant_id, found.seq, status, page)

    async def execution_of(self, who: Principal, job_id: str, thing_name: str) -> Execution:
        found = await self.job(who, job_id)
        thing = await self.targeting.thing(who.tenant_id, thing_name)
        execution = (
            None if thing is None else await self._store.execution(who.tenant_id, found.seq, thing.mo_id)
        )
        if execution is None:
            raise NotFound(missing=Missing.of("job execution", job_id, thing_name), resource=R)
        return execution

    async def cancel(
        self, who: Principal, job_id: str, force: bool, comment: str | None
    ) -> tuple[Job, Counts]:
        """Cancel the job: its QUEUED executions (with `force` its IN_PROGRESS ones too) are CANCELED; a
        CONTINUOUS job reaches no new thing."""
        found, counts = await self.get(who, job_id)
        if job_status(found, counts) is not JobStatus.IN_PROGRESS:
            raise JobFinished(f"Job '{job_id}' is {job_status(found, counts).value} already", resource=R)
        now = self.clock()
        await self._store.set_canceled(who.tenant_id, found.seq, comment, now)
        self.targeting.forget(who.tenant_id)
        statuses = PENDING if force else {_E.QUEUED}
        before = await self._store.finish(who.tenant_id, found.seq, None, statuses, _E.CANCELED, now)
        await self._announce_finished(who.tenant_id, before)
        return await self.get(who, job_id)

    async def cancel_execution(self, who: Principal, job_id: str, thing_name: str, force: bool) -> Execution:
        current = await self.execution_of(who, job_id, thing_name)
        if current.status is _E.IN_PROGRESS and not force:
            raise Conflict("The job execution is IN_PROGRESS: cancel it with force", resource=R)
        if current.status not in PENDING:
            raise JobFinished(f"The job execution is {current.status.value} already", resource=R)
        before = await self._store.finish(
            who.tenant_id, current.job_seq, [current.mo_id], {current.status}, _E.CANCELED, self.clock()
        )
        await self._announce_finished(who.tenant_id, before)
        return await self.execution_of(who, job_id, thing_name)

    async def _announce_finished(self, tenant_id: str, before: list[Execution]) -> None:
        """These executions (as they were) have ended: each thing's list after is read in bulk."""
        if not before:
            return
        ended: dict[int, list[Execution]] = {}
        for execution in before:
            ended.setdefault(execution.mo_id, []).append(execution)
        by_thing: dict[int, list[Execution]] = {}
        for execution in await self._store.pending(tenant_id, list(ended)):
            by_thing.setdefault(execution.mo_id, []).append(execution)
        changes = []
        for mo_id, olds in ended.items():
            after = order(by_thing.get(mo_id, []))
            self._remember(tenant_id, mo_id, after)
            changes.append(PendingChange(tenant_id, mo_id, olds[0].thing_name, order([*after, *olds]), after))
        self._tell(changes)

    # -- devices ------------------------------------------------------------------------------------------

    def _remember(self, tenant_id: str, mo_id: int, pending: list[Execution]) -> None:
        if len(self._known) >= _KNOWN_LIMIT:
            self._known.clear()
        self._known[(tenant_id, mo_id)] = pending

    async def _pending(self, thing: Thing, *, fresh: bool = True) -> list[Execution]:
        """The thing's pending executions in order, those whose deadline passed timed out first. `fresh`
        False: the list this process last stored or read, if it knows one (a hint: a change made from it is
        a compare-and-set, which a stale one fails)."""
        key = (thing.tenant_id, thing.mo_id)
        found = None if fresh else self._known.get(key)
        if found is None:
            found = order(await self._store.pending(thing.tenant_id, [thing.mo_id]))
            self._remember(thing.tenant_id, thing.mo_id, found)
        now = self.clock()
        due = [e for e in found if e.deadline is not None and e.deadline <= now]
        if due:
            for execution in due:
                with contextlib.suppress(Conflict):
                    await self._change(thing, found, execution, _E.TIMED_OUT, now)
            found = order(await self._store.pending(thing.tenant_id, [thing.mo_id]))
            self._remember(thing.tenant_id, thing.mo_id, found)
        return found

    async def pending(self, thing: Thing) -> tuple[list[Execution], list[Execution]]:
        """jobs/get: (IN_PROGRESS, QUEUED)."""
        found = await self._pending(thing)
        return [e for e in found if e.status is _E.IN_PROGRESS], [e for e in found if e.status is _E.QUEUED]

    async def start_next(self, thing: Thing, request: DeviceRequest) -> Execution | None:
        """jobs/start-next: the next pending execution, IN_PROGRESS (its details and step timer as asked);
        None when there is none."""
        async with self._locks.hold((thing.tenant_id, thing.mo_id)):
            fresh = False
            for _ in range(_ATTEMPTS):
                found = await self._pending(thing, fresh=fresh)
                if not found:
                    if not fresh:
                        fresh = True  # nothing known here: ask the store
                        continue
                    return None
                changed = await self._change(
                    thing,
                    found,
                    found[0],
                    _E.IN_PROGRESS,
                    self.clock(),
                    request.status_details,
                    request.step_timeout,
                )
                if changed is not None:
                    return changed
                fresh = True  # changed meanwhile: read again
        raise ServiceUnavailable("The job execution is being changed too often", resource=R)

    async def describe(self, thing: Thing, job_id: str, request: DeviceRequest) -> Execution | None:
        """jobs/<jobId>/get (`$next`: the next pending execution, None when there is none)."""
        if job_id == NEXT:
            found = await self._pending(thing)
            return found[0] if found else None
        return await self._device_execution(thing, job_id, request, await self._pending(thing))

    async def _job(self, tenant_id: str, job_id: str) -> Job | None:
        """A job as devices need it (document, timers: never changed), cached."""
        key = (tenant_id, job_id)
        found = self._jobs.get(key)
        if found is None:
            found = await self._store.get(tenant_id, job_id)
            if found is not None:
                if len(self._jobs) >= _JOB_CACHE:
                    self._jobs.clear()
                self._jobs[key] = found
        return found

    async def _device_execution(
        self, thing: Thing, job_id: str, request: DeviceRequest, pending: list[Execution]
    ) -> Execution:
        """The thing's execution of the job: from its pending list (timed out already if its deadline
        passed), else (a final one) from the store."""
        job = await self._job(thing.tenant_id, job_id)
        execution = None
        if job is not None:
            execution = next((e for e in pending if e.job_seq == job.seq), None)
            if execution is None:
                execution = await self._store.execution(thing.tenant_id, job.seq, thing.mo_id)
        if execution is None or request.execution_number not in (None, execution.execution_number):
            raise ExecutionNotFound("Job execution not found", resource=R)
        return execution

    async def update(self, thing: Thing, job_id: str, request: DeviceRequest) -> Execution:
        """jobs/<jobId>/update."""
        assert request.status is not None
        async with self._locks.hold((thing.tenant_id, thing.mo_id)):
            for fresh in (False, True):
                found = await self._pending(thing, fresh=fresh)
                current = await self._device_execution(thing, job_id, request, found)
                if request.expected_version is not None and request.expected_version != current.version:
                    if not fresh and current.pending:
                        continue  # judged on what this process knew: ask the store
                    raise VersionMismatch(
                        "The expected version does not match the job execution's version",
                        execution_state(current),
                    )
                changed = await self._change(
                    thing,
                    found,
                    current,
                    request.status,
                    self.clock(),
                    request.status_details,
                    request.step_timeout,
                )
                if changed is not None:
                    return changed
            raise VersionMismatch("The job execution was changed meanwhile", execution_state(current))

    async def _change(
        self,
        thing: Thing,
        pending: list[Execution],
        current: Execution,
        status: ExecutionStatus,
        now: int,
        details: dict[str, str] | None = None,
        step_timeout: int | None = None,
    ) -> Execution | None:
        """Apply the transition (InvalidStateTransition / TerminalStateReached) as a compare-and-set on the
        version; None when another writer got there first. `pending`: the thing's list it was judged on."""
        job = await self._job(thing.tenant_id, current.job_id)
        changed = transition(current, status, now, details=details, step_timeout=step_timeout, job=job)
        if not await self._store.save(changed, current.version):
            self._known.pop((thing.tenant_id, thing.mo_id), None)
            return None
        if current.pending:
            after = _replaced(pending, changed)
            self._remember(thing.tenant_id, thing.mo_id, after)
            if pending != after:
                self._tell([PendingChange(thing.tenant_id, thing.mo_id, thing.name, pending, after)])
        return changed

    # -- timers -------------------------------------------------------------------------------------------

    async def tick(self) -> int:
        """Time out every pending execution whose deadline passed (the deadlines are stored: executions of
        a previous process too); how many."""
        total = 0
        while True:
            now = self.clock()
            due = await self._store.due(now, _DUE_BATCH)
            timed_out: dict[tuple[str, int], list[Execution]] = {}
            for execution in due:
                changed = transition(execution, _E.TIMED_OUT, now)
                if await self._store.save(changed, execution.version):
                    timed_out.setdefault((execution.tenant_id, execution.mo_id), []).append(execution)
            for (tenant_id, _), ended in timed_out.items():
                await self._announce_finished(tenant_id, ended)
            total += sum(len(v) for v in timed_out.values())
            if len(due) < _DUE_BATCH:
                return total

    # -- group membership (CONTINUOUS jobs) ----------------------------------------------------------------

    async def _joined(self, tenant_id: str, jobs: Iterable[Job], mo_id: int, name: str) -> None:
        now = self.clock()
        for job in jobs:
            added = await self._store.add(tenant_id, [self._queued(job, mo_id, name, now)])
            if added:
                log.info("tenant %s: thing %s joined a target group of job %s", tenant_id, name, job.job_id)
                await self._announce_added(job, {mo_id: name})

    async def _left(self, tenant_id: str, jobs: Iterable[Job], mo_id: int) -> None:
        for job in jobs:
            before = await self._store.finish(
                tenant_id, job.seq, [mo_id], {_E.QUEUED}, _E.REMOVED, self.clock()
            )
            await self._announce_finished(tenant_id, before)

    async def _thing_deleted(self, tenant_id: str, mo_id: int) -> None:
        self._known.pop((tenant_id, mo_id), None)
        for execution in await self._store.of_thing(tenant_id, mo_id, PENDING):
            await self._store.finish(tenant_id, execution.job_seq, [mo_id], PENDING, _E.REMOVED, self.clock())


__all__ = ["Counts", "JobService", "PendingChange"]
