"""The store of jobs and their executions. Implementation: storage/sql/fleets_jobs.py (SQLite, PostgreSQL).

A job row and one execution row per (job, thing); every method is scoped to a tenant except :meth:`due`,
the timer's query over all of them. Executions keep their thing's name and object id, and outlive the thing
(a deleted thing's pending executions become REMOVED), so a job's counts never shrink.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Protocol

from tether.core.paging import Page, PageRequest
from tether.fleets.jobs import Execution, ExecutionStatus, Job


class JobStore(Protocol):
    async def create(self, job: Job, executions: list[Execution]) -> Job | None:
        """Insert the job and its executions (their `job_seq` is the new job's) in one transaction,
        committed before it returns; the job with its `seq`. None: the tenant has a job of that id."""
        ...

    async def get(self, tenant_id: str, job_id: str) -> Job | None: ...

    async def jobs(self, tenant_id: str, page: PageRequest) -> Page[Job]:
        """Newest first."""
        ...

    async def continuous(self, tenant_id: str) -> list[Job]:
        """The tenant's CONTINUOUS jobs that are not canceled."""
        ...

    async def set_canceled(self, tenant_id: str, seq: int, comment: str | None, now: int) -> bool:
        """Mark the job canceled; False if it was already."""
        ...

    async def counts(self, tenant_id: str, seqs: list[int]) -> dict[int, dict[ExecutionStatus, int]]:
        """Executions per status of each job."""
        ...

    async def executions(
        self, tenant_id: str, seq: int, status: ExecutionStatus | None, page: PageRequest
    ) -> Page[Execution]:
        """A job's executions in creation order (without the document)."""
        ...

    async def execution(self, tenant_id: str, seq: int, mo_id: int) -> Execution | None:
        """One execution, with its job's document."""
        ...

    async def pending(self, tenant_id: str, mo_ids: Collection[int]) -> list[Execution]:
        """The QUEUED and IN_PROGRESS executions of these things, with their jobs' documents (any order)."""
        ...

    async def save(self, execution: Execution, expected_version: int) -> bool:
        """Compare-and-set of one execution's mutable fields; False if its version is no longer
        `expected_version` (another writer got there first)."""
        ...

    async def add(self, tenant_id: str, executions: list[Execution]) -> list[Execution]:
        """Insert executions (of existing jobs) that do not exist yet; the ones inserted."""
        ...

    async def finish(
        self,
        tenant_id: str,
        seq: int,
        mo_ids: Collection[int] | None,
        statuses: Collection[ExecutionStatus],
        to: ExecutionStatus,
        now: int,
    ) -> list[Execution]:
        """Move the job's executions (of these things; None: all) that are in `statuses` to the final
        status `to` (version + 1, timers cleared), atomically; returns them as they were before."""
        ...

    async def due(self, now: int, limit: int) -> list[Execution]:
        """Pending executions, of any tenant, whose deadline is at or before `now` (earliest first)."""
        ...

    async def of_thing(
        self, tenant_id: str, mo_id: int, statuses: Collection[ExecutionStatus]
    ) -> list[Execution]:
        """A thing's executions in these statuses (the REMOVED bookkeeping of a deleted thing)."""
        ...
