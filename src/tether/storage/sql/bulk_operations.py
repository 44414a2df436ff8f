"""Bulk operations in SQL; their operations are rows of `operations` with `bulk_operation_id`, inserted by
the runner in multi-row statements together with the bulk operation's progress (one transaction)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, insert, select, update

from tether.core.paging import Page, PageRequest
from tether.operations.bulk import RUNNING, BulkChange, BulkOperation, BulkStatus, NewBulkOperation
from tether.operations.models import NewOperation, Operation, OperationStatus
from tether.storage.sql.database import Database
from tether.storage.sql.operations import _operation
from tether.storage.sql.schema import bulk_operations as bulk
from tether.storage.sql.schema import operations as ops

_ROWS = 500  # operations per INSERT (9 bound values each: within every backend's limit)
_RUNNING = [s.value for s in RUNNING]


def _bulk(row: Any) -> BulkOperation:
    return BulkOperation(
        id=row.id,
        tenant_id=row.tenant_id,
        group_id=row.group_id,
        failed_parent_id=row.failed_parent_id,
        start_date=row.start_date,
        creation_ramp=float(row.creation_ramp),
        prototype=row.prototype,
        status=BulkStatus(row.status),
        targets=tuple(int(t) for t in row.targets),
        created=row.created,
        next_at=row.next_at,
        creation_time=row.creation_time,
        last_updated=row.last_updated,
    )


class SqlBulkOperationStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def create(self, tenant_id: str, draft: NewBulkOperation, now: int) -> BulkOperation:
        values = {
            "tenant_id": tenant_id,
            "group_id": draft.group_id,
            "failed_parent_id": draft.failed_parent_id,
            "start_date": draft.start_date,
            "creation_ramp": draft.creation_ramp,
            "prototype": draft.prototype,
            "status": BulkStatus.ACTIVE.value,
            "targets": list(draft.targets),
            "created": 0,
            "next_at": draft.start_date,
            "creation_time": now,
            "last_updated": now,
        }
        async with self._db.write() as conn:
            row = (await conn.execute(insert(bulk).values(**values).returning(bulk))).one()
        return _bulk(row)

    async def get(self, tenant_id: str, bulk_id: int) -> BulkOperation | None:
        async with self._db.read() as conn:
            row = (
                await conn.execute(select(bulk).where(bulk.c.tenant_id == tenant_id, bulk.c.id == bulk_id))
            ).first()
        return None if row is None else _bulk(row)

    async def find(self, tenant_id: str, page: PageRequest) -> Page[BulkOperation]:
        where = bulk.c.tenant_id == tenant_id
        query = select(bulk).where(where).order_by(bulk.c.id).limit(page.page_size).offset(page.offset)
        async with self._db.read() as conn:
            rows = (await conn.execute(query)).all()
            total = (
                await conn.scalar(select(func.count()).select_from(bulk).where(where))
                if page.with_total
                else None
            )
        return Page([_bulk(r) for r in rows], page, total)

    async def counts(self, tenant_id: str, bulk_ids: list[int]) -> dict[int, dict[OperationStatus, int]]:
        if not bulk_ids:
            return {}
        query = (
            select(ops.c.bulk_operation_id, ops.c.status, func.count())
            .where(ops.c.tenant_id == tenant_id, ops.c.bulk_operation_id.in_(bulk_ids))
            .group_by(ops.c.bulk_operation_id, ops.c.status)
        )
        out: dict[int, dict[OperationStatus, int]] = {}
        async with self._db.read() as conn:
            for bulk_id, status, count in (await conn.execute(query)).all():
                out.setdefault(int(bulk_id), {})[OperationStatus(status)] = int(count)
        return out

    async def update(
        self, tenant_id: str, bulk_id: int, change: BulkChange, expected: BulkStatus, now: int
    ) -> BulkOperation | None:
        values: dict[str, Any] = {"last_updated": now}
        if change.start_date is not None:
            values["start_date"] = values["next_at"] = change.start_date
        if change.creation_ramp is not None:
            values["creation_ramp"] = change.creation_ramp
        if change.prototype is not None:
            values["prototype"] = change.prototype
        statement = (
            update(bulk)
            .where(bulk.c.tenant_id == tenant_id, bulk.c.id == bulk_id, bulk.c.status == expected.value)
            .values(**values)
            .returning(bulk)
        )
        async with self._db.write() as conn:
            row = (await conn.execute(statement)).first()
        return None if row is None else _bulk(row)

    async def cancel(self, tenant_id: str, bulk_id: int, reason: str, now: int) -> list[Operation] | None:
        mark = (
            update(bulk)
            .where(
                bulk.c.tenant_id == tenant_id, bulk.c.id == bulk_id, bulk.c.status != BulkStatus.DELETED.value
            )
            .values(status=BulkStatus.DELETED.value, last_updated=now)
            .returning(bulk.c.id)
        )
        fail = (
            update(ops)
            .where(
                ops.c.tenant_id == tenant_id,
                ops.c.bulk_operation_id == bulk_id,
                ops.c.status == OperationStatus.PENDING.value,
            )
            .values(status=OperationStatus.FAILED.value, failure_reason=reason, last_updated=now)
            .returning(ops)
        )
        async with self._db.write() as conn:
            if (await conn.execute(mark)).first() is None:
                return None
            rows = (await conn.execute(fail)).all()
        return sorted((_operation(r) for r in rows), key=lambda op: op.id)

    async def begin(self, tenant_id: str, bulk_id: int, targets: list[int], now: int) -> BulkOperation | None:
        statement = (
            update(bulk)
            .where(
                bulk.c.tenant_id == tenant_id, bulk.c.id == bulk_id, bulk.c.status == BulkStatus.ACTIVE.value
            )
            .values(status=BulkStatus.IN_PROGRESS.value, targets=targets, next_at=now, last_updated=now)
            .returning(bulk)
        )
        async with self._db.write() as conn:
            row = (await conn.execute(statement)).first()
        return None if row is None else _bulk(row)

    async def advance(
        self, current: BulkOperation, drafts: list[NewOperation], created: int, next_at: int, now: int
    ) -> list[Operation] | None:
        done = created >= len(current.targets)
        mark = (
            update(bulk)
            .where(
                bulk.c.tenant_id == current.tenant_id,
                bulk.c.id == current.id,
                bulk.c.status == BulkStatus.IN_PROGRESS.value,
                bulk.c.created == current.created,
            )
            .values(
                created=created,
                next_at=next_at,
                last_updated=now,
                status=(BulkStatus.COMPLETED if done else BulkStatus.IN_PROGRESS).value,
            )
            .returning(bulk.c.id)
        )
        rows = [
            {
                "tenant_id": current.tenant_id,
                "device_id": d.device_id,
                "agent_id": d.agent_id,
                "status": OperationStatus.PENDING.value,
                "bulk_operation_id": d.bulk_operation_id,
                "creation_time": now,
                "last_updated": now,
                "fragments": d.fragments,
            }
            for d in drafts
        ]
        inserted: list[Operation] = []
        async with self._db.write() as conn:
            if (await conn.execute(mark)).first() is None:
                return None
            for start in range(0, len(rows), _ROWS):
                statement = insert(ops).values(rows[start : start + _ROWS]).returning(ops)
                inserted.extend(_operation(r) for r in (await conn.execute(statement)).all())
        return sorted(inserted, key=lambda op: op.id)

    async def due(self, now: int, limit: int) -> list[BulkOperation]:
        query = (
            select(bulk)
            .where(bulk.c.status.in_(_RUNNING), bulk.c.next_at <= now)
            .order_by(bulk.c.next_at)
            .limit(limit)
        )
        async with self._db.read() as conn:
            return [_bulk(r) for r in (await conn.execute(query)).all()]

    async def next_due(self) -> int | None:
        async with self._db.read() as conn:
            value = await conn.scalar(select(func.min(bulk.c.next_at)).where(bulk.c.status.in_(_RUNNING)))
        return None if value is None else int(value)

    async def failed_devices(self, tenant_id: str, bulk_id: int) -> list[int]:
        query = (
            select(ops.c.device_id)
            .where(
                ops.c.tenant_id == tenant_id,
                ops.c.bulk_operation_id == bulk_id,
                ops.c.status == OperationStatus.FAILED.value,
            )
            .order_by(ops.c.id)
        )
        async with self._db.read() as conn:
            return list(dict.fromkeys(int(d) for d in (await conn.scalars(query)).all()))


__all__ = ["SqlBulkOperationStore"]
