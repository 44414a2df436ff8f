"""Operations in SQL; a status change is a compare-and-set inside one write transaction."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, and_, delete, func, insert, or_, select, update

from tether.core.paging import Page, PageRequest
from tether.inventory.access import OwnerScope
from tether.operations.models import (
    NewOperation,
    Operation,
    OperationChange,
    OperationCriteria,
    OperationStatus,
)
from tether.storage.sql.database import Database
from tether.storage.sql.dialect import Dialect
from tether.storage.sql.schema import managed_objects as mo
from tether.storage.sql.schema import operations as ops


def _operation(row: Any) -> Operation:
    return Operation(
        id=row.id,
        tenant_id=row.tenant_id,
        device_id=row.device_id,
        agent_id=row.agent_id,
        status=OperationStatus(row.status),
        creation_time=row.creation_time,
        last_updated=row.last_updated,
        failure_reason=row.failure_reason,
        bulk_operation_id=row.bulk_operation_id,
        fragments=row.fragments,
    )


class SqlOperationStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def create(self, tenant_id: str, draft: NewOperation, now: int) -> Operation:
        values = {
            "tenant_id": tenant_id,
            "device_id": draft.device_id,
            "agent_id": draft.agent_id,
            "status": OperationStatus.PENDING.value,
            "bulk_operation_id": draft.bulk_operation_id,
            "creation_time": now,
            "last_updated": now,
            "fragments": draft.fragments,
        }
        async with self._db.write() as conn:
            op_id = await conn.scalar(insert(ops).values(**values).returning(ops.c.id))
        assert op_id is not None
        return Operation(
            id=op_id,
            tenant_id=tenant_id,
            device_id=draft.device_id,
            agent_id=draft.agent_id,
            status=OperationStatus.PENDING,
            creation_time=now,
            last_updated=now,
            bulk_operation_id=draft.bulk_operation_id,
            fragments=draft.fragments,
        )

    async def get(self, tenant_id: str, op_id: int) -> Operation | None:
        async with self._db.read() as conn:
            row = (
                await conn.execute(select(ops).where(ops.c.tenant_id == tenant_id, ops.c.id == op_id))
            ).first()
        return None if row is None else _operation(row)

    async def update(self, tenant_id: str, op_id: int, change: OperationChange, now: int) -> Operation | None:
        where = (
            ops.c.tenant_id == tenant_id,
            ops.c.id == op_id,
            ops.c.status == change.expected_status.value,
        )
        async with self._db.write() as conn:
            # The row lock (PostgreSQL) or the single writer (SQLite) makes read-merge-write atomic.
            row = (await conn.execute(select(ops).where(*where).with_for_update())).first()
            if row is None:
                return None
            fragments = dict(row.fragments)
            for key, value in change.fragments.items():
                if value is None:
                    fragments.pop(key, None)
                else:
                    fragments[key] = value
            values = {
                "status": change.status.value,
                "failure_reason": change.failure_reason,
                "fragments": fragments,
                "last_updated": now,
            }
            updated = (await conn.execute(update(ops).where(*where).values(**values).returning(ops))).first()
        return None if updated is None else _operation(updated)

    async def find(
        self,
        tenant_id: str,
        criteria: OperationCriteria,
        page: PageRequest,
        *,
        owner_scope: OwnerScope | None = None,
    ) -> Page[Operation]:
        where = [ops.c.tenant_id == tenant_id, *_conditions(self._db.dialect, criteria)]
        if owner_scope is not None:
            if isinstance(owner_scope, str):
                owned = select(mo.c.id).where(mo.c.tenant_id == tenant_id, mo.c.owner == owner_scope)
                where.append(or_(ops.c.device_id.in_(owned), ops.c.agent_id.in_(owned)))
            else:  # a person's readable objects (inventory roles)
                ids = sorted(owner_scope)
                where.append(or_(ops.c.device_id.in_(ids), ops.c.agent_id.in_(ids)))
        order = ops.c.id.desc() if criteria.newest_first else ops.c.id.asc()
        query = select(ops).where(*where).order_by(order).limit(page.page_size).offset(page.offset)
        async with self._db.read() as conn:
            rows = (await conn.execute(query)).all()
            total = (
                await conn.scalar(select(func.count()).select_from(ops).where(*where))
                if page.with_total
                else None
            )
        return Page([_operation(r) for r in rows], page, total)

    async def delete(self, tenant_id: str, criteria: OperationCriteria) -> list[Operation]:
        where = (ops.c.tenant_id == tenant_id, *_conditions(self._db.dialect, criteria))
        async with self._db.write() as conn:
            rows = (await conn.execute(delete(ops).where(*where).returning(ops))).all()
        return sorted((_operation(r) for r in rows), key=lambda op: op.id)


def _conditions(dialect: Dialect, criteria: OperationCriteria) -> list[ColumnElement[bool]]:
    where: list[ColumnElement[bool]] = []
    if criteria.agent_id is not None:
        # Delivered to the agent: routed to it, or its own operations when no agent was found.
        where.append(
            or_(
                ops.c.agent_id == criteria.agent_id,
                and_(ops.c.agent_id.is_(None), ops.c.device_id == criteria.agent_id),
            )
        )
    if criteria.device_id is not None:
        where.append(ops.c.device_id == criteria.device_id)
    if criteria.status is not None:
        where.append(ops.c.status == criteria.status.value)
    if criteria.bulk_operation_id is not None:
        where.append(ops.c.bulk_operation_id == criteria.bulk_operation_id)
    if criteria.date_from is not None:
        where.append(ops.c.creation_time >= criteria.date_from)
    if criteria.date_to is not None:
        where.append(ops.c.creation_time < criteria.date_to)
    if criteria.fragment_type is not None:
        where.append(dialect.json_exists(ops.c.fragments, tuple(criteria.fragment_type.split("."))))
    return where


__all__ = ["SqlOperationStore"]
