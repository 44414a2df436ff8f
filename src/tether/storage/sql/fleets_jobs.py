"""Fleets jobs in SQL (migration 0019): `fleets_jobs` and `fleets_job_executions`.

A job's executions are inserted with it in one multi-row INSERT (5,000 things: one statement, one commit);
an execution's change is a compare-and-set on its version. `deadline` is the earlier of the two timers of a
pending execution (NULL otherwise), indexed for the timer's query.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import replace
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    ForeignKey,
    Index,
    String,
    Table,
    Text,
    UniqueConstraint,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError

from tether.core.paging import Page, PageRequest
from tether.fleets.jobs import Execution, ExecutionStatus, Job, JobType, Targets
from tether.storage.sql.database import Database
from tether.storage.sql.fleets_jobs_bulk import SaveBatcher
from tether.storage.sql.schema import NEVER_REUSED, Document, Id, metadata
from tether.storage.sql.small_reads import small_read

jobs = Table(
    "fleets_jobs",
    metadata,
    Column("seq", Id, primary_key=True, autoincrement=True),
    Column("tenant_id", String(64), ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False),
    Column("job_id", String(64), nullable=False),
    Column("type", String(16), nullable=False),
    Column("canceled", Boolean, nullable=False),
    Column("description", Text),
    Column("document", Document, nullable=False),
    Column("targets", Document, nullable=False),  # {thingNames, thingGroupNames, groupIds}
    Column("in_progress_timeout", BigInteger),
    Column("step_timeout", BigInteger),
    Column("comment", Text),
    Column("created_at", BigInteger, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
    UniqueConstraint("tenant_id", "job_id", name="uq_fleets_jobs_job_id"),
    **NEVER_REUSED,
)

executions = Table(
    "fleets_job_executions",
    metadata,
    Column("job_seq", BigInteger, ForeignKey("fleets_jobs.seq", ondelete="CASCADE"), primary_key=True),
    Column("mo_id", BigInteger, primary_key=True),
    Column("tenant_id", String(64), ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False),
    Column("thing_name", String(128), nullable=False),
    Column("execution_number", BigInteger, nullable=False),
    Column("status", String(16), nullable=False),
    Column("version", BigInteger, nullable=False),
    Column("status_details", Document, nullable=False),
    Column("queued_at", BigInteger, nullable=False),
    Column("started_at", BigInteger),
    Column("updated_at", BigInteger, nullable=False),
    Column("step_deadline", BigInteger),
    Column("progress_deadline", BigInteger),
    Column("deadline", BigInteger),
    Index("ix_fleets_job_executions_thing", "tenant_id", "mo_id", "status"),
    Index("ix_fleets_job_executions_status", "job_seq", "status"),
    Index("ix_fleets_job_executions_deadline", "deadline"),
)

_PENDING = (ExecutionStatus.QUEUED.value, ExecutionStatus.IN_PROGRESS.value)
_CHUNK = 500  # ids per IN list


def _job(row: Any) -> Job:
    targets = row.targets if isinstance(row.targets, dict) else {}
    return Job(
        seq=row.seq,
        tenant_id=row.tenant_id,
        job_id=row.job_id,
        type=JobType(row.type),
        canceled=bool(row.canceled),
        description=row.description,
        document=row.document if isinstance(row.document, dict) else {},
        targets=Targets(tuple(targets.get("thingNames") or ()), tuple(targets.get("thingGroupNames") or ())),
        group_ids=tuple(int(i) for i in targets.get("groupIds") or ()),
        in_progress_timeout=row.in_progress_timeout,
        step_timeout=row.step_timeout,
        created_at=row.created_at,
        updated_at=row.updated_at,
        comment=row.comment,
    )


def _execution(row: Any, job_id: str, document: Any = None) -> Execution:
    details = row.status_details if isinstance(row.status_details, dict) else {}
    return Execution(
        tenant_id=row.tenant_id,
        job_seq=row.job_seq,
        job_id=job_id,
        mo_id=row.mo_id,
        thing_name=row.thing_name,
        status=ExecutionStatus(row.status),
        version=row.version,
        queued_at=row.queued_at,
        updated_at=row.updated_at,
        started_at=row.started_at,
        status_details=details,
        step_deadline=row.step_deadline,
        progress_deadline=row.progress_deadline,
        document=document if isinstance(document, dict) else None,
        execution_number=row.execution_number,
    )


def _mutable(execution: Execution) -> dict[str, Any]:
    return {
        "status": execution.status.value,
        "version": execution.version,
        "status_details": execution.status_details,
        "started_at": execution.started_at,
        "updated_at": execution.updated_at,
        "step_deadline": execution.step_deadline,
        "progress_deadline": execution.progress_deadline,
        "deadline": execution.deadline,
    }


def _row(execution: Execution, seq: int) -> dict[str, Any]:
    return {
        "job_seq": seq,
        "mo_id": execution.mo_id,
        "tenant_id": execution.tenant_id,
        "thing_name": execution.thing_name,
        "execution_number": execution.execution_number,
        "queued_at": execution.queued_at,
        **_mutable(execution),
    }


_WITH_JOB = select(executions, jobs.c.job_id, jobs.c.document).join(jobs, jobs.c.seq == executions.c.job_seq)


_ANY_DUE = "SELECT 1 FROM fleets_job_executions WHERE deadline <= ? LIMIT 1"


class SqlJobStore:
    def __init__(self, db: Database) -> None:
        self._db = db
        self._saver = SaveBatcher(db)

    async def create(self, job: Job, found: list[Execution]) -> Job | None:
        values = {
            "tenant_id": job.tenant_id,
            "job_id": job.job_id,
            "type": job.type.value,
            "canceled": job.canceled,
            "description": job.description,
            "document": job.document,
            "targets": {**job.targets.document(), "groupIds": list(job.group_ids)},
            "in_progress_timeout": job.in_progress_timeout,
            "step_timeout": job.step_timeout,
            "comment": job.comment,
            "created_at": job.created_at,
            "updated_at": job.updated_at,
        }
        try:
            async with self._db.write() as conn:
                seq = await conn.scalar(insert(jobs).values(**values).returning(jobs.c.seq))
                assert seq is not None
                if found:
                    # One statement for every execution (executemany: one trip on both drivers).
                    await conn.execute(insert(executions), [_row(e, seq) for e in found])
        except IntegrityError:
            return None
        return replace(job, seq=seq)

    async def get(self, tenant_id: str, job_id: str) -> Job | None:
        query = select(jobs).where(jobs.c.tenant_id == tenant_id, jobs.c.job_id == job_id)
        async with self._db.read() as conn:
            row = (await conn.execute(query)).first()
        return None if row is None else _job(row)

    async def jobs(self, tenant_id: str, page: PageRequest) -> Page[Job]:
        where = jobs.c.tenant_id == tenant_id
        query = (
            select(jobs).where(where).order_by(jobs.c.seq.desc()).limit(page.page_size).offset(page.offset)
        )
        async with self._db.read() as conn:
            rows = (await conn.execute(query)).all()
            total = (
                await conn.scalar(select(func.count()).select_from(jobs).where(where))
                if page.with_total
                else None
            )
        return Page([_job(r) for r in rows], page, total)

    async def continuous(self, tenant_id: str) -> list[Job]:
        query = select(jobs).where(
            jobs.c.tenant_id == tenant_id,
            jobs.c.type == JobType.CONTINUOUS.value,
            jobs.c.canceled.is_(False),
        )
        async with self._db.read() as conn:
            rows = (await conn.execute(query.order_by(jobs.c.seq))).all()
        return [_job(r) for r in rows]

    async def set_canceled(self, tenant_id: str, seq: int, comment: str | None, now: int) -> bool:
        statement = (
            update(jobs)
            .where(jobs.c.tenant_id == tenant_id, jobs.c.seq == seq, jobs.c.canceled.is_(False))
            .values(canceled=True, comment=comment, updated_at=now)
        )
        async with self._db.write() as conn:
            result = await conn.execute(statement)
        return bool(result.rowcount)

    async def counts(self, tenant_id: str, seqs: list[int]) -> dict[int, dict[ExecutionStatus, int]]:
        out: dict[int, dict[ExecutionStatus, int]] = {seq: {} for seq in seqs}
        if not seqs:
            return out
        query = (
            select(executions.c.job_seq, executions.c.status, func.count())
            .where(executions.c.tenant_id == tenant_id, executions.c.job_seq.in_(seqs))
            .group_by(executions.c.job_seq, executions.c.status)
        )
        async with self._db.read() as conn:
            for seq, status, count in (await conn.execute(query)).all():
                out[seq][ExecutionStatus(status)] = count
        return out

    async def executions(
        self, tenant_id: str, seq: int, status: ExecutionStatus | None, page: PageRequest
    ) -> Page[Execution]:
        where = [executions.c.tenant_id == tenant_id, executions.c.job_seq == seq]
        if status is not None:
            where.append(executions.c.status == status.value)
        query = (
            select(executions, jobs.c.job_id)
            .join(jobs, jobs.c.seq == executions.c.job_seq)
            .where(*where)
            .order_by(executions.c.queued_at, executions.c.mo_id)
            .limit(page.page_size)
            .offset(page.offset)
        )
        async with self._db.read() as conn:
            rows = (await conn.execute(query)).all()
            total = (
                await conn.scalar(select(func.count()).select_from(executions).where(*where))
                if page.with_total
                else None
            )
        return Page([_execution(r, r.job_id) for r in rows], page, total)

    async def execution(self, tenant_id: str, seq: int, mo_id: int) -> Execution | None:
        query = _WITH_JOB.where(
            executions.c.tenant_id == tenant_id, executions.c.job_seq == seq, executions.c.mo_id == mo_id
        )
        async with self._db.read() as conn:
            row = (await conn.execute(query)).first()
        return None if row is None else _execution(row, row.job_id, row.document)

    async def pending(self, tenant_id: str, mo_ids: Collection[int]) -> list[Execution]:
        ids = list(mo_ids)
        found: list[Execution] = []
        async with self._db.read() as conn:
            for start in range(0, len(ids), _CHUNK):
                query = _WITH_JOB.where(
                    executions.c.tenant_id == tenant_id,
                    executions.c.mo_id.in_(ids[start : start + _CHUNK]),
                    executions.c.status.in_(_PENDING),
                )
                found.extend(_execution(r, r.job_id, r.document) for r in (await conn.execute(query)).all())
        return found

    async def save(self, execution: Execution, expected_version: int) -> bool:
        # Batched with the other callers' (storage/sql/fleets_jobs_bulk.py).
        return await self._saver.save(execution, expected_version)

    async def add(self, tenant_id: str, found: list[Execution]) -> list[Execution]:
        added: list[Execution] = []
        for execution in found:
            try:
                async with self._db.write() as conn:
                    exists = await conn.scalar(
                        select(func.count())
                        .select_from(executions)
                        .where(
                            executions.c.job_seq == execution.job_seq, executions.c.mo_id == execution.mo_id
                        )
                    )
                    if exists:
                        continue
                    await conn.execute(insert(executions).values(**_row(execution, execution.job_seq)))
            except IntegrityError:
                continue  # added meanwhile (or the job is gone)
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
        where = [
            executions.c.tenant_id == tenant_id,
            executions.c.job_seq == seq,
            executions.c.status.in_([s.value for s in statuses]),
        ]
        if mo_ids is not None:
            where.append(executions.c.mo_id.in_(list(mo_ids)))
        async with self._db.write() as conn:
            rows = (await conn.execute(_WITH_JOB.where(*where).with_for_update(of=executions))).all()
            if not rows:
                return []
            ids = [r.mo_id for r in rows]
            before = [_execution(r, r.job_id, r.document) for r in rows]
            for start in range(0, len(ids), _CHUNK):
                await conn.execute(
                    update(executions)
                    .where(*where[:2], executions.c.mo_id.in_(ids[start : start + _CHUNK]))
                    .values(
                        status=to.value,
                        version=executions.c.version + 1,
                        updated_at=now,
                        step_deadline=None,
                        progress_deadline=None,
                        deadline=None,
                    )
                )
        return before

    async def due(self, now: int, limit: int) -> list[Execution]:
        # Polled every second (the jobs' timer): whether any is due is asked outside SQLAlchemy first, one
        # probe of ix_fleets_job_executions_deadline (small_reads.py); nearly always none is.
        if not await small_read(self._db, _ANY_DUE, (now,), indexed=True):
            return []
        query = (
            _WITH_JOB.where(executions.c.deadline.is_not(None), executions.c.deadline <= now)
            .order_by(executions.c.deadline)
            .limit(limit)
        )
        async with self._db.read() as conn:
            rows = (await conn.execute(query)).all()
        return [_execution(r, r.job_id, r.document) for r in rows]

    async def of_thing(
        self, tenant_id: str, mo_id: int, statuses: Collection[ExecutionStatus]
    ) -> list[Execution]:
        query = _WITH_JOB.where(
            executions.c.tenant_id == tenant_id,
            executions.c.mo_id == mo_id,
            executions.c.status.in_([s.value for s in statuses]),
        )
        async with self._db.read() as conn:
            rows = (await conn.execute(query)).all()
        return [_execution(r, r.job_id, r.document) for r in rows]


__all__ = ["SqlJobStore", "executions", "jobs"]
