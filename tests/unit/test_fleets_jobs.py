"""The Fleets job lifecycle (fleets/jobs.py) and the jobs service over the in-memory store (fleets/
job_service.py, tests/fakes/fleets_jobs.py), without a server: transitions and their refusals, AWS's order,
timers, the pending-list hint and its compare-and-set, and which changes are told (notify, notify-next)."""

from __future__ import annotations

from typing import Any, cast

import pytest
from tests.fakes.fleets_jobs import FakeJobStore

from tether.core.errors import Conflict, InvalidInput
from tether.fleets import jobs
from tether.fleets.job_service import JobService, PendingChange
from tether.fleets.job_targets import Targeting
from tether.fleets.jobs import (
    DeviceRequest,
    Execution,
    ExecutionStatus,
    InvalidStateTransition,
    JobType,
    Targets,
    TerminalStateReached,
    VersionMismatch,
)
from tether.fleets.models import Thing
from tether.tenants.models import Principal, Role

pytestmark = pytest.mark.anyio
E = ExecutionStatus
ADMIN = Principal("t1", "admin", frozenset({Role.ADMIN}))
MINUTE = 60_000


def _execution(status: ExecutionStatus, seq: int = 1, queued_at: int = 0, **fields: Any) -> Execution:
    return Execution("t1", seq, f"job-{seq}", 7, "pump", status, 1, queued_at, queued_at, **fields)


def test_transitions() -> None:
    queued = _execution(E.QUEUED)
    started = jobs.transition(queued, E.IN_PROGRESS, 1000, step_timeout=2)
    assert started.version == 2 and started.started_at == 1000 and started.step_deadline == 1000 + 2 * MINUTE
    again = jobs.transition(started, E.IN_PROGRESS, 5000, step_timeout=-1, details={"p": "50"})
    assert again.step_deadline is None and again.started_at == 1000 and again.status_details == {"p": "50"}
    done = jobs.transition(again, E.SUCCEEDED, 6000)
    assert done.version == 4 and done.deadline is None and done.status_details == {"p": "50"}
    with pytest.raises(InvalidStateTransition) as refused:
        jobs.transition(done, E.IN_PROGRESS, 7000)
    assert refused.value.state == {"status": "SUCCEEDED", "statusDetails": {"p": "50"}, "versionNumber": 4}
    timed_out = jobs.transition(started, E.TIMED_OUT, 9000)
    with pytest.raises(TerminalStateReached):
        jobs.transition(timed_out, E.SUCCEEDED, 9001)
    # QUEUED may go straight to a final status; REMOVED only from QUEUED.
    assert jobs.transition(queued, E.REJECTED, 1).status is E.REJECTED
    assert jobs.transition(queued, E.REMOVED, 1).status is E.REMOVED
    with pytest.raises(InvalidStateTransition):
        jobs.transition(started, E.REMOVED, 1)


def test_order_and_documents() -> None:
    a, b = _execution(E.QUEUED, 1, 10), _execution(E.QUEUED, 2, 10)
    c = _execution(E.IN_PROGRESS, 3, 30, started_at=31_000)
    assert [e.job_seq for e in jobs.order([c, b, a, _execution(E.FAILED, 4)])] == [3, 1, 2]
    assert jobs.pending_lists([a, c]) == {
        "IN_PROGRESS": [jobs.summary(c)],
        "QUEUED": [jobs.summary(a)],
    }
    assert jobs.summary(c)["startedAt"] == 31 and "startedAt" not in jobs.summary(a)
    assert jobs.execution_document(a, "pump", include_document=False)["thingName"] == "pump"
    error = jobs.error("VersionMismatch", "no", 5, "tok", {"status": "QUEUED"})
    assert error == {"code": "VersionMismatch", "message": "no", "timestamp": 5, "clientToken": "tok",
                     "executionState": {"status": "QUEUED"}}  # fmt: skip


@pytest.mark.parametrize(
    "document",
    [
        {"status": "QUEUED"},
        {"status": "SUCCEEDED", "expectedVersion": True},
        {"status": "SUCCEEDED", "statusDetails": {"k": ""}},
        {"status": "SUCCEEDED", "statusDetails": {"k": "a\nb"}},
        {"status": "SUCCEEDED", "stepTimeoutInMinutes": 10081},
        {"status": "SUCCEEDED", "includeJobDocument": "yes"},
        {"status": "SUCCEEDED", "clientToken": 5},
    ],
)
def test_bad_update_requests(document: dict[str, Any]) -> None:
    with pytest.raises(jobs.JobRequestInvalid):
        jobs.parse_request(document, update=True)


def test_requests_and_drafts() -> None:
    request = jobs.parse_request({"status": "IN_PROGRESS", "stepTimeoutInMinutes": -1}, update=True)
    assert request.step_timeout == -1 and not request.include_document
    assert jobs.parse_request({}).include_document
    with pytest.raises(jobs.JobJsonInvalid):
        jobs.loads(b"[]")
    assert jobs.loads(b"  ") == {}
    draft = jobs.parse_job(
        {
            "document": {},
            "targets": {"thingNames": ["a", "a"]},
            "type": "CONTINUOUS",
            "stepTimeoutInMinutes": 3,
        }
    )
    assert (
        draft.targets.thing_names == ("a",) and draft.type is JobType.CONTINUOUS and draft.step_timeout == 3
    )
    with pytest.raises(InvalidInput):
        jobs.parse_job({"document": {}, "targets": {"thingNames": ["x"] * 101}})


class _Targeting:
    """What the service asks of Targeting, for things 1..N named thing-N."""

    def __init__(self) -> None:
        self.forgotten: list[str] = []

    async def resolve(self, who: Principal, targets: Targets) -> tuple[dict[int, str], list[int]]:
        return {int(n.split("-")[1]): n for n in targets.thing_names}, []

    async def thing(self, tenant_id: str, name: str) -> Thing | None:
        return _thing(int(name.split("-")[1]))

    def forget(self, tenant_id: str) -> None:
        self.forgotten.append(tenant_id)


def _thing(mo_id: int) -> Thing:
    return Thing(f"id-{mo_id}", "t1", mo_id, f"thing-{mo_id}", f"thing-{mo_id}", f"device_thing-{mo_id}")


class _Clock:
    now = 1_000_000

    def __call__(self) -> int:
        return self.now


def _service() -> tuple[JobService, FakeJobStore, list[PendingChange], _Clock]:
    store, clock = FakeJobStore(), _Clock()
    told: list[PendingChange] = []
    service = JobService(store, cast(Targeting, _Targeting()), clock)
    service.watch(told.extend)
    return service, store, told, clock


async def test_start_next_update_and_what_is_told() -> None:
    service, _, told, clock = _service()
    thing = _thing(1)
    first, _ = await service.create(ADMIN, jobs.JobDraft({"v": 1}, Targets(("thing-1",))))
    clock.now += 1
    second, _ = await service.create(ADMIN, jobs.JobDraft({"v": 2}, Targets(("thing-1",))))
    assert [(c.members_changed, c.next_changed) for c in told] == [(True, True), (True, False)]
    told.clear()
    started = await service.start_next(thing, DeviceRequest(step_timeout=1))
    assert started is not None and started.job_id == first.job_id and started.status is E.IN_PROGRESS
    assert started.document == {"v": 1}
    # Starting the next one changes neither the members nor the next.
    assert [(c.members_changed, c.next_changed) for c in told] == [(False, False)]
    told.clear()
    with pytest.raises(VersionMismatch):
        await service.update(thing, first.job_id, DeviceRequest(status=E.SUCCEEDED, expected_version=1))
    # Updating the second to IN_PROGRESS: it does not become the next (both IN_PROGRESS, creation order).
    await service.update(thing, second.job_id, DeviceRequest(status=E.IN_PROGRESS))
    assert told[-1].after[0].job_seq == first.seq and not told[-1].next_changed
    done = await service.update(thing, first.job_id, DeviceRequest(status=E.SUCCEEDED, expected_version=2))
    assert done.version == 3 and told[-1].members_changed and told[-1].next_changed
    running, queued = await service.pending(thing)
    assert [e.job_id for e in running] == [second.job_id] and queued == []
    # The first job is complete; the second has one IN_PROGRESS execution.
    _, counts = await service.get(ADMIN, first.job_id)
    assert counts == {E.SUCCEEDED: 1}


async def test_a_stale_hint_is_read_again() -> None:
    service, store, _, _ = _service()
    thing = _thing(1)
    job, _ = await service.create(ADMIN, jobs.JobDraft({}, Targets(("thing-1",))))
    key = (job.seq, 1)
    # Another writer moved the row on (version 2) before this process's save.
    store.interfere[key] = jobs.transition(store.rows[key], E.IN_PROGRESS, 5)
    started = await service.start_next(thing, DeviceRequest())
    assert started is not None and started.version == 3 and started.status is E.IN_PROGRESS
    # Another writer's change, committed: the device's expectation is judged on the store, not on the hint.
    store.rows[key] = jobs.transition(store.rows[key], E.IN_PROGRESS, 6)
    done = await service.update(thing, job.job_id, DeviceRequest(status=E.SUCCEEDED, expected_version=4))
    assert done.version == 5


async def test_timers_and_cancel() -> None:
    service, store, told, clock = _service()
    job, _ = await service.create(
        ADMIN, jobs.JobDraft({}, Targets(("thing-1", "thing-2")), in_progress_timeout=2)
    )
    await service.start_next(_thing(1), DeviceRequest(step_timeout=5))
    clock.now += 2 * MINUTE - 1
    assert await service.tick() == 0
    clock.now += 1
    assert await service.tick() == 1
    assert store.rows[(job.seq, 1)].status is E.TIMED_OUT and told[-1].members_changed
    with pytest.raises(TerminalStateReached):
        await service.update(_thing(1), job.job_id, DeviceRequest(status=E.SUCCEEDED))
    cancelled, counts = await service.cancel(ADMIN, job.job_id, False, "enough")
    assert cancelled.canceled and counts == {E.TIMED_OUT: 1, E.CANCELED: 1}
    with pytest.raises(Conflict):
        await service.cancel(ADMIN, job.job_id, False, None)
    assert await service.start_next(_thing(2), DeviceRequest()) is None


async def test_continuous_joiners_and_leavers() -> None:
    service, store, told, _ = _service()
    job, _ = await service.create(ADMIN, jobs.JobDraft({}, Targets(("thing-1",)), type=JobType.CONTINUOUS))
    await service._joined("t1", [job], 2, "thing-2")
    await service._joined("t1", [job], 2, "thing-2")  # once only
    assert sorted(k[1] for k in store.rows) == [1, 2] and told[-1].thing_name == "thing-2"
    await service._left("t1", [job], 2)
    assert store.rows[(job.seq, 2)].status is E.REMOVED and not told[-1].after
    await service._thing_deleted("t1", 1)
    assert store.rows[(job.seq, 1)].status is E.REMOVED
