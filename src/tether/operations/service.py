"""Operation rules: routing to the agent, the status lifecycle, who may see and change what.

Callers (the Cumulocity REST router, later SmartREST and other adapters) pass typed values; the
translation of their wire formats happens in the adapters.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from tether.core.clock import now_ms
from tether.core.errors import Conflict, Forbidden, InvalidInput, Missing, NotFound
from tether.core.events import Action, DomainEvent, EventBus
from tether.core.paging import Page, PageRequest
from tether.core.values import clean_fields
from tether.inventory.access import may_read, reach, scope_of
from tether.inventory.models import ChildKind, InventoryCriteria, ManagedObject
from tether.inventory.store import ManagedObjectStore
from tether.operations.models import (
    AGENT_FRAGMENT,
    Json,
    NewOperation,
    Operation,
    OperationChange,
    OperationCriteria,
    OperationStatus,
    check_transition,
)
from tether.operations.store import OperationStore
from tether.tenants.models import Principal

R = "devicecontrol"
_CHUNK = 500
T = TypeVar("T")


def may_read_operation(reads: Callable[[T], bool], device: T, agent: T | None) -> bool:
    """The read rule of operations: whoever may read the device or the agent that executes them (`reads`:
    the inventory's rule for the caller, on objects or on their ids where the ids readable are known)."""
    return reads(device) or (agent is not None and reads(agent))


class OperationService:
    def __init__(self, store: OperationStore, managed_objects: ManagedObjectStore, events: EventBus) -> None:
        self._store = store
        self._mos = managed_objects
        self._events = events

    def _announce(self, action: Action, op: Operation) -> None:
        self._events.publish(
            DomainEvent(op.tenant_id, "operations", action, op.id, op.device_id, op, agent_id=op.agent_id)
        )

    async def create(
        self, who: Principal, device_id: int, fragments: Json, *, bulk_operation_id: int | None = None
    ) -> Operation:
        """A PENDING operation for `device_id`, routed to the device's nearest agent.

        The route is fixed at creation: relinking the device later does not move its operations.
        """
        self._require_role(who)
        if who.is_scoped:  # inventory roles: those whose OPERATION permissions allow these fragments
            who = await reach(who, ("OPERATION",), True, self._mos, frozenset(fragments))
        device = await self._mos.get(who.tenant_id, device_id)
        agent = None if device is None else await self.route(who.tenant_id, device)
        if device is None or not self._owns(who, device, agent):
            # Another tenant's device, or one the caller may not command, looks like no device at all.
            raise InvalidInput(missing=Missing.of("managed object", device_id, role="device"), resource=R)
        draft = NewOperation(
            device_id=device.id,
            agent_id=None if agent is None else agent.id,
            fragments={k: v for k, v in clean_fields(fragments, resource=R).items() if v is not None},
            bulk_operation_id=bulk_operation_id,
        )
        op = await self._store.create(who.tenant_id, draft, now_ms())
        self._announce("CREATE", op)
        return op

    async def drafts(
        self, tenant_id: str, device_ids: list[int], fragments: Json, bulk_operation_id: int
    ) -> list[NewOperation]:
        """The operations of a bulk operation, routed as `create` routes one: the devices read in chunks,
        an agent routed to itself without a query (the common case); devices no longer there are skipped."""
        found: dict[int, ManagedObject] = {}
        for start in range(0, len(device_ids), _CHUNK):
            chunk = tuple(device_ids[start : start + _CHUNK])
            page = await self._mos.find(
                tenant_id, InventoryCriteria(ids=chunk), PageRequest(page_size=len(chunk))
            )
            found.update((mo.id, mo) for mo in page.items)
        drafts = []
        for device_id in device_ids:
            device = found.get(device_id)
            if device is None:
                continue
            agent = await self.route(tenant_id, device)
            drafts.append(
                NewOperation(device.id, None if agent is None else agent.id, fragments, bulk_operation_id)
            )
        return drafts

    def announce_created(self, ops: list[Operation]) -> None:
        for op in ops:
            self._announce("CREATE", op)

    def announce_updated(self, ops: list[Operation]) -> None:
        for op in ops:
            self._announce("UPDATE", op)

    async def route(self, tenant_id: str, device: ManagedObject) -> ManagedObject | None:
        """The device itself if it runs an agent, else its nearest device-parent ancestor that does.

        Parents are searched level by level (breadth first) through childDevices references; among
        several agents at the same distance the lowest id wins. None when no ancestor is an agent:
        then the operation is delivered to the device itself.
        """
        if AGENT_FRAGMENT in device.fragments:
            return device
        seen = {device.id}
        level = [device.id]
        while level:
            parents = await self._mos.parent_ids(tenant_id, level, (ChildKind.DEVICE,))
            level = [p for p in parents if p not in seen]
            if not level:
                return None
            seen.update(level)
            criteria = InventoryCriteria(ids=tuple(level), fragment_type=AGENT_FRAGMENT)
            agents = await self._mos.find(tenant_id, criteria, PageRequest(page_size=1))
            if agents.items:
                return agents.items[0]
        return None

    async def get(self, who: Principal, op_id: int) -> Operation:
        self._require_role(who)
        op = await self._store.get(who.tenant_id, op_id)
        if op is None or not await self._may_access(who, op):
            raise NotFound(missing=Missing.of("operation", op_id), resource=R)
        return op

    async def update(
        self,
        who: Principal,
        op_id: int,
        *,
        status: OperationStatus | None = None,
        failure_reason: str | None = None,
        fragments: Json | None = None,
        expect: OperationStatus | None = None,
    ) -> Operation:
        """Change status (along the lifecycle) and merge fragments; a fragment set to None is removed.

        `failure_reason` goes with FAILED only. The change is a compare-and-set on the status read
        here: if another writer moved the operation on meanwhile, the rules are checked again against
        the new status, so two agents can never both finish one operation. With `expect`, the change is
        made only from that status (Conflict otherwise): a writer that must act once (a timeout fired
        on several cluster nodes) never repeats a status another writer set.
        """
        while True:
            op = await self.get(who, op_id)
            if expect is not None and op.status is not expect:
                raise Conflict(f"Operation {op_id} is {op.status} already", resource=R)
            new_status = op.status if status is None else status
            check_transition(op.status, new_status)
            if failure_reason is not None and new_status is not OperationStatus.FAILED:
                raise InvalidInput("failureReason can only be set together with status FAILED", resource=R)
            reason = None
            if new_status is OperationStatus.FAILED:
                reason = failure_reason if failure_reason is not None else op.failure_reason
            change = OperationChange(op.status, new_status, reason, clean_fields(fragments or {}, resource=R))
            updated = await self._store.update(who.tenant_id, op_id, change, now_ms())
            if updated is not None:
                self._announce("UPDATE", updated)
                return updated

    async def find(self, who: Principal, criteria: OperationCriteria, page: PageRequest) -> Page[Operation]:
        self._require_role(who)
        return await self._store.find(who.tenant_id, criteria, page, owner_scope=scope_of(who))

    async def delete(self, who: Principal, criteria: OperationCriteria) -> int:
        """Delete every operation matching `criteria` (all of the tenant's when none is given)."""
        if not who.is_admin:
            raise Forbidden("Access is denied", resource="security")
        deleted = await self._store.delete(who.tenant_id, criteria)
        for op in deleted:
            self._announce("DELETE", op)
        return len(deleted)

    async def may_read_operations_of(self, who: Principal, device_id: int) -> bool:
        """Whether `who` may read the operations of `device_id` (or of the agent `device_id`): the device
        exists in its tenant and `who` may read it or the agent its operations are routed to."""
        if who.is_admin:
            return True
        device = await self._mos.get(who.tenant_id, device_id)
        if device is None:
            return False
        return self._owns(who, device, await self.route(who.tenant_id, device))

    async def _may_access(self, who: Principal, op: Operation) -> bool:
        if who.is_admin:
            return True
        device = await self._mos.get(who.tenant_id, op.device_id)
        agent = None if op.agent_id is None else await self._mos.get(who.tenant_id, op.agent_id)
        return device is not None and self._owns(who, device, agent)

    @staticmethod
    def _owns(who: Principal, device: ManagedObject, agent: ManagedObject | None) -> bool:
        """Admins command every device of their tenant; a device user its own devices and the devices
        whose agent it is (the same rule decides who may read their operations)."""
        return may_read_operation(lambda mo: may_read(who, mo), device, agent)

    @staticmethod
    def _require_role(who: Principal) -> None:
        if not (who.is_admin or who.is_device or who.is_scoped):
            raise Forbidden("Access is denied", resource="security")
