"""In-memory OperationStore (tether.operations.store), over the fake managed-object store: the owner scope
reads the objects' owners, and an object's deletion takes its operations (ON DELETE CASCADE)."""

from __future__ import annotations

import dataclasses

from tests.fakes.inventory import FakeManagedObjectStore, has_path, merge
from tests.fakes.paging import page_of

from tether.core.paging import Page, PageRequest
from tether.inventory.access import OwnerScope
from tether.operations.models import (
    NewOperation,
    Operation,
    OperationChange,
    OperationCriteria,
    OperationStatus,
)


def matches(op: Operation, criteria: OperationCriteria) -> bool:
    if criteria.agent_id is not None and op.delivered_to != criteria.agent_id:
        return False
    if criteria.device_id is not None and op.device_id != criteria.device_id:
        return False
    if criteria.status is not None and op.status is not criteria.status:
        return False
    if criteria.bulk_operation_id is not None and op.bulk_operation_id != criteria.bulk_operation_id:
        return False
    if criteria.date_from is not None and op.creation_time < criteria.date_from:
        return False
    if criteria.date_to is not None and op.creation_time >= criteria.date_to:
        return False
    return criteria.fragment_type is None or has_path(op.fragments, criteria.fragment_type)


class FakeOperationStore:
    def __init__(self, managed_objects: FakeManagedObjectStore) -> None:
        self._mos = managed_objects
        self.operations: dict[int, Operation] = {}
        self._next_id = 1
        managed_objects.on_delete.append(self._cascade)

    def _cascade(self, tenant_id: str, mo_id: int) -> None:
        for op_id in [
            i for i, op in self.operations.items() if op.tenant_id == tenant_id and op.device_id == mo_id
        ]:
            del self.operations[op_id]

    async def create(self, tenant_id: str, draft: NewOperation, now: int) -> Operation:
        op = Operation(
            id=self._next_id,
            tenant_id=tenant_id,
            device_id=draft.device_id,
            agent_id=draft.agent_id,
            status=OperationStatus.PENDING,
            creation_time=now,
            last_updated=now,
            bulk_operation_id=draft.bulk_operation_id,
            fragments=dict(draft.fragments),
        )
        self._next_id += 1
        self.operations[op.id] = op
        return op

    async def get(self, tenant_id: str, op_id: int) -> Operation | None:
        op = self.operations.get(op_id)
        return op if op is not None and op.tenant_id == tenant_id else None

    async def update(self, tenant_id: str, op_id: int, change: OperationChange, now: int) -> Operation | None:
        op = await self.get(tenant_id, op_id)
        if op is None or op.status is not change.expected_status:
            return None
        updated = dataclasses.replace(
            op,
            status=change.status,
            failure_reason=change.failure_reason,
            fragments=merge(op.fragments, change.fragments),
            last_updated=now,
        )
        self.operations[op_id] = updated
        return updated

    def _owned(self, tenant_id: str, op: Operation, owner: OwnerScope) -> bool:
        return any(
            mo is not None
            and mo.tenant_id == tenant_id
            and (mo.owner == owner if isinstance(owner, str) else mo.id in owner)
            for mo in (self._mos.objects.get(op.device_id), self._mos.objects.get(op.agent_id or 0))
        )

    async def find(
        self,
        tenant_id: str,
        criteria: OperationCriteria,
        page: PageRequest,
        *,
        owner_scope: OwnerScope | None = None,
    ) -> Page[Operation]:
        found = [
            op
            for op in sorted(self.operations.values(), key=lambda op: op.id, reverse=criteria.newest_first)
            if op.tenant_id == tenant_id
            and matches(op, criteria)
            and (owner_scope is None or self._owned(tenant_id, op, owner_scope))
        ]
        return page_of(found, page)

    async def delete(self, tenant_id: str, criteria: OperationCriteria) -> list[Operation]:
        gone = [
            op
            for op in sorted(self.operations.values(), key=lambda op: op.id)
            if op.tenant_id == tenant_id and matches(op, criteria)
        ]
        for op in gone:
            del self.operations[op.id]
        return gone
