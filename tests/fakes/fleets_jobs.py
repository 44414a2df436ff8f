"""In-memory JobStore (tether.fleets.job_store): tenant-scoped, one execution per (job, thing),
compare-and-set on the version, the job's `seq` never reused. `interfere` (job_seq, mo_id) -> an execution
another writer stores just before the next save of that row (a lost race)."""

from __future__ import annotations

import dataclasses
from collections.abc import Collection

from tests.fakes.paging import page_of

from tether.core.paging import Page, PageRequest
from tether.fleets.jobs import PENDING, Execution, ExecutionStatus, Job, JobType


class FakeJobStore:
    def __init__(self) -> None:
        self.by_seq: dict[int, Job] = {}
        self.rows: dict[tuple[int, int], Execution] = {}
        self.interfere: dict[tuple[int, int], Execution] = {}
        self.saves = 0
        self._seq = 0

    def _with_document(self, execution: Execution) -> Execution:
        return dataclasses.replace(execution, document=self.by_seq[execution.job_seq].document)

    async def create(self, job: Job, executions: list[Execution]) -> Job | None:
        if any(j.tenant_id == job.tenant_id and j.job_id == job.job_id for j in self.by_seq.values()):
            return None
        self._seq += 1
        created = dataclasses.replace(job, seq=self._seq)
        self.by_seq[created.seq] = created
        for execution in executions:
            self.rows[(created.seq, execution.mo_id)] = dataclasses.replace(
                execution, job_seq=created.seq, document=None
            )
        return created

    async def get(self, tenant_id: str, job_id: str) -> Job | None:
        return next(
            (j for j in self.by_seq.values() if j.tenant_id == tenant_id and j.job_id == job_id), None
        )

    async def jobs(self, tenant_id: str, page: PageRequest) -> Page[Job]:
        found = sorted((j for j in self.by_seq.values() if j.tenant_id == tenant_id), key=lambda j: -j.seq)
        return page_of(found, page)

    async def continuous(self, tenant_id: str) -> list[Job]:
        return [
            j
            for j in sorted(self.by_seq.values(), key=lambda j: j.seq)
            if j.tenant_id == tenant_id and j.type is JobType.CONTINUOUS and not j.canceled
        ]

    async def set_canceled(self, tenant_id: str, seq: int, comment: str | None, now: int) -> bool:
        job = self.by_seq.get(seq)
        if job is None or job.tenant_id != tenant_id or job.canceled:
            return False
        self.by_seq[seq] = dataclasses.replace(job, canceled=True, comment=comment, updated_at=now)
        return True

    async def counts(self, tenant_id: str, seqs: list[int]) -> dict[int, dict[ExecutionStatus, int]]:
        out: dict[int, dict[ExecutionStatus, int]] = {seq: {} for seq in seqs}
        for (seq, _), execution in self.rows.items():
            if seq in out and execution.tenant_id == tenant_id:
                out[seq][execution.status] = out[seq].get(execution.status, 0) + 1
        return out

    async def executions(
        self, tenant_id: str, seq: int, status: ExecutionStatus | None, page: PageRequest
    ) -> Page[Execution]:
        found = [
            e
            for (s, _), e in sorted(self.rows.items(), key=lambda kv: (kv[1].queued_at, kv[0][1]))
            if s == seq and e.tenant_id == tenant_id and status in (None, e.status)
        ]
        return page_of(found, page)

    async def execution(self, tenant_id: str, seq: int, mo_id: int) -> Execution | None:
        found = self.rows.get((seq, mo_id))
        if found is None or found.tenant_id != tenant_id:
            return None
        return self._with_document(found)

    async def pending(self, tenant_id: str, mo_ids: Collection[int]) -> list[Execution]:
        wanted = set(mo_ids)
        return [
            self._with_document(e)
            for e in self.rows.values()
            if e.tenant_id == tenant_id and e.mo_id in wanted and e.status in PENDING
        ]

    async def save(self, execution: Execution, expected_version: int) -> bool:
        key = (execution.job_seq, execution.mo_id)
        other = self.interfere.pop(key, None)
        if other is not None:
            self.rows[key] = other
        stored = self.rows.get(key)
        if stored is None or stored.tenant_id != execution.tenant_id or stored.version != expected_version:
            return False
        self.saves += 1
        self.rows[key] = dataclasses.replace(execution, document=None)
        return True

    async def add(self, tenant_id: str, executions: list[Execution]) -> list[Execution]:
        added = []
        for execution in executions:
            key = (execution.job_seq, execution.mo_id)
            if key not in self.rows and execution.job_seq in self.by_seq:
                self.rows[key] = dataclasses.replace(execution, document=None)
                added.append(execution)
        return added

    async def finish(
        self,
        tenant_id: str,
        seq: int,
        mo_ids: Collection[int] | None,
        statuses: Collection[ExecutionStatus],
        to: ExecutionStatus,
        now: int,
    ) -> list[Execution]:
        before = []
        for (s, mo_id), execution in list(self.rows.items()):
            if s != seq or execution.tenant_id != tenant_id or execution.status not in statuses:
                continue
            if mo_ids is not None and mo_id not in mo_ids:
                continue
            before.append(self._with_document(execution))
            self.rows[(s, mo_id)] = dataclasses.replace(
                execution,
                status=to,
                version=execution.version + 1,
                updated_at=now,
                step_deadline=None,
                progress_deadline=None,
            )
        return before

    async def due(self, now: int, limit: int) -> list[Execution]:
        found = [e for e in self.rows.values() if e.deadline is not None and e.deadline <= now]
        return [self._with_document(e) for e in sorted(found, key=lambda e: e.deadline or 0)[:limit]]

    async def of_thing(
        self, tenant_id: str, mo_id: int, statuses: Collection[ExecutionStatus]
    ) -> list[Execution]:
        return [
            self._with_document(e)
            for e in self.rows.values()
            if e.tenant_id == tenant_id and e.mo_id == mo_id and e.status in statuses
        ]
