"""Many execution changes in one statement: the compare-and-sets of concurrent job requests (thousands of
things answering one job), each on its row's version, as one UPDATE ... FROM (the new values) ... RETURNING
the rows that matched, so each caller learns whether its own change was taken.

A statement per change costs a trip to the database and, on SQLite, a turn of the single writer; under a
job over 5,000 things that turn was the bottleneck (bench/fleets_jobs.py). :class:`SaveBatcher` collects
the changes that arrive while a batch is being written and writes them as the next one.

- SQLite: a multi-row VALUES of a few fixed sizes, run in the writer's thread in one trip
  (SqliteDialect.run; as storage/sql/measurement_bulk.py, one statement binds all rows without the GIL).
- PostgreSQL: one UPDATE ... FROM unnest(arrays).
"""

from __future__ import annotations

import asyncio
import functools
import sqlite3
from typing import Any, Final

import orjson

from tether.fleets.jobs import Execution
from tether.storage.sql.database import Database
from tether.storage.sql.padding import padded
from tether.storage.sqlite import SqliteDialect

_LARGEST: Final = 512
_WIDTH: Final = 12
_MAX_BATCH: Final = _LARGEST * 4
_SET: Final = (
    "status = {0}5, version = {0}6, status_details = {1}, started_at = {0}8, updated_at = {0}9, "
    "step_deadline = {0}10, progress_deadline = {0}11, deadline = {0}12"
)
_PG: Final = (
    "UPDATE fleets_job_executions AS e SET status = v.status, version = v.version, "
    "status_details = v.details::jsonb, started_at = v.started_at, updated_at = v.updated_at, "
    "step_deadline = v.step, progress_deadline = v.progress, deadline = v.deadline "
    "FROM unnest($1::text[], $2::bigint[], $3::bigint[], $4::bigint[], $5::text[], $6::bigint[], $7::text[], "
    "$8::bigint[], $9::bigint[], $10::bigint[], $11::bigint[], $12::bigint[]) "
    "AS v(tenant_id, job_seq, mo_id, expected, status, version, details, started_at, updated_at, step, "
    "progress, deadline) "
    "WHERE e.tenant_id = v.tenant_id AND e.job_seq = v.job_seq AND e.mo_id = v.mo_id "
    "AND e.version = v.expected RETURNING e.job_seq, e.mo_id"
)

Key = tuple[int, int]  # (job_seq, mo_id)


@functools.cache
def _sqlite_statement(rows: int) -> str:
    values = ",".join(["(" + ", ".join(["?"] * _WIDTH) + ")"] * rows)
    assignments = _SET.format("v.column", "v.column7")
    return (
        f"UPDATE fleets_job_executions SET {assignments} FROM (VALUES {values}) AS v "
        "WHERE fleets_job_executions.tenant_id = v.column1 AND fleets_job_executions.job_seq = v.column2 "
        "AND fleets_job_executions.mo_id = v.column3 AND fleets_job_executions.version = v.column4 "
        "RETURNING fleets_job_executions.job_seq, fleets_job_executions.mo_id"
    )


def _row(execution: Execution, expected: int) -> tuple[object, ...]:
    return (
        execution.tenant_id,
        execution.job_seq,
        execution.mo_id,
        expected,
        execution.status.value,
        execution.version,
        orjson.dumps(execution.status_details).decode(),
        execution.started_at,
        execution.updated_at,
        execution.step_deadline,
        execution.progress_deadline,
        execution.deadline,
    )


async def save_many(db: Database, items: list[tuple[Execution, int]]) -> set[Key]:
    """Compare-and-set every (execution, expected version) in one write (each key at most once); the keys
    whose row was at its expected version (and now holds the change)."""
    rows = [_row(e, v) for e, v in items]
    dialect = db.dialect
    if isinstance(dialect, SqliteDialect):
        flat = [value for row in rows for value in row]
        batches = [(_sqlite_statement(size), part) for size, part in padded(flat, _WIDTH, _LARGEST)]

        def work(conn: sqlite3.Connection) -> set[Key]:
            done: set[Key] = set()
            for sql, params in batches:
                done.update((seq, mo) for seq, mo in conn.execute(sql, params).fetchall())
            return done

        return await dialect.run(work)
    columns = list(zip(*rows, strict=True))
    async with db.write() as conn:
        result = await conn.exec_driver_sql(_PG, tuple(list(c) for c in columns))
        matched: list[Any] = list(result.all())
        return {(int(seq), int(mo)) for seq, mo in matched}


class SaveBatcher:
    """Callers' compare-and-sets, written together: what arrives while a batch is written is the next batch
    (a key already waiting goes in the one after, so each batch names a row once)."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self._batch: dict[Key, tuple[Execution, int, asyncio.Future[bool]]] = {}
        self._later: list[tuple[Execution, int, asyncio.Future[bool]]] = []
        self._task: asyncio.Task[None] | None = None

    async def save(self, execution: Execution, expected: int) -> bool:
        future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        key = (execution.job_seq, execution.mo_id)
        if key in self._batch:
            self._later.append((execution, expected, future))
        else:
            self._batch[key] = (execution, expected, future)
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._flush())
        return await future

    async def _flush(self) -> None:
        try:
            while self._batch or self._later:
                await asyncio.sleep(0)  # the callers of this turn of the loop join
                later, self._later = self._later, []
                for item in later:
                    key = (item[0].job_seq, item[0].mo_id)
                    if key in self._batch:
                        self._later.append(item)
                    else:
                        self._batch[key] = item
                batch: dict[Key, tuple[Execution, int, asyncio.Future[bool]]] = {}
                for key in list(self._batch)[:_MAX_BATCH]:
                    batch[key] = self._batch.pop(key)
                try:
                    done = await save_many(self._db, [(e, v) for e, v, _ in batch.values()])
                except Exception as exc:
                    for _, _, future in batch.values():
                        if not future.done():
                            future.set_exception(exc)
                    continue
                for key, (_, _, future) in batch.items():
                    if not future.done():
                        future.set_result(key in done)
        finally:
            self._task = None
            if self._batch or self._later:  # left by a cancelled flush
                self._task = asyncio.get_running_loop().create_task(self._flush())
