"""Inventory business rules: who may see and change which object, fragment merging, cascades."""

from __future__ import annotations

import dataclasses

from tether.core.clock import now_ms
from tether.core.errors import Forbidden, InvalidInput, Missing, NotFound
from tether.core.events import Action, DomainEvent, EventBus
from tether.core.paging import Page, PageRequest
from tether.core.text import checked
from tether.core.values import clean_fields
from tether.inventory.access import may_read, reach, scope_of
from tether.inventory.models import (
    ChildChange,
    ChildKind,
    InventoryCriteria,
    ManagedObject,
    ManagedObjectChange,
    NewManagedObject,
    Relations,
)
from tether.inventory.store import ManagedObjectStore
from tether.tenants.models import Principal

R = "inventory"


class InventoryService:
    def __init__(self, store: ManagedObjectStore, events: EventBus) -> None:
        self._store = store
        self._events = events

    def _announce(self, action: Action, mo: ManagedObject) -> None:
        self._events.publish(DomainEvent(mo.tenant_id, "managedobjects", action, mo.id, mo.id, mo))

    async def create(self, who: Principal, draft: NewManagedObject) -> ManagedObject:
        """The caller owns the new object unless an administrator names another owner."""
        self._require_inventory_role(who)
        # Numbers, NUL characters and nesting the stores and the encoder accept (core/values.py).
        fragments = {k: v for k, v in clean_fields(draft.fragments, resource=R).items() if v is not None}
        owner = who.username
        if who.is_admin and draft.owner:
            owner = checked(draft.owner, "owner", resource=R)
        resolved = dataclasses.replace(draft, owner=owner, fragments=fragments)
        mo = await self._store.create(who.tenant_id, resolved, now_ms())
        self._announce("CREATE", mo)
        return mo

    async def get(self, who: Principal, mo_id: int) -> ManagedObject:
        mo = await self._store.get(who.tenant_id, mo_id)
        if mo is None or not may_read(who, mo):
            raise NotFound(missing=Missing.of("managed object", mo_id), resource="inventory")
        return mo

    async def read(self, who: Principal, mo_id: int) -> tuple[ManagedObject, Relations]:
        """An object with its references (`get` then `relations`, in one read of the store)."""
        found = await self._store.get_with_relations(who.tenant_id, mo_id)
        if found is None or not may_read(who, found[0]):
            raise NotFound(missing=Missing.of("managed object", mo_id), resource="inventory")
        return found

    async def update(self, who: Principal, mo_id: int, change: ManagedObjectChange) -> ManagedObject:
        """A merge: given fragments replace whole fragments, a fragment set to None is removed."""
        await self.get(who, mo_id)
        columns: dict[str, str | None] = {key: value for key, value in change.columns.items()}
        fragments = clean_fields(change.fragments, resource=R)
        updated = await self._store.update(who.tenant_id, mo_id, columns, fragments, now_ms())
        if updated is None:
            raise NotFound(missing=Missing.of("managed object", mo_id), resource="inventory")
        self._announce("UPDATE", updated)
        return updated

    async def delete(self, who: Principal, mo_id: int, *, cascade: bool = False, force: bool = False) -> None:
        """Delete one object; with cascade its child devices and assets too, all the way down, and
        with force its child additions as well (Cumulocity's `cascade` and `forceCascade`).

        Its external ids, references (and, through the storage's foreign keys, all data recorded
        against it) go with it. Every deleted object is announced: adapters forget the devices their
        connections resolved (a live device never writes to or receives for an object that is gone)."""
        mo = await self.get(who, mo_id)
        doomed = [mo]
        kinds = (ChildKind.DEVICE, ChildKind.ASSET) + ((ChildKind.ADDITION,) if force else ())
        if cascade or force:
            seen = {mo_id}
            frontier = [mo_id]
            while frontier:
                children = await self._store.child_ids(who.tenant_id, frontier, kinds)
                frontier = [c for c in children if c not in seen]
                seen.update(frontier)
                for child_id in frontier:
                    child = await self._store.get(who.tenant_id, child_id)
                    if child is not None:
                        doomed.append(child)
        await self._store.delete(who.tenant_id, [m.id for m in doomed])
        for gone in doomed:
            self._announce("DELETE", gone)

    async def find(
        self, who: Principal, criteria: InventoryCriteria, page: PageRequest
    ) -> Page[ManagedObject]:
        if not who.is_scoped:
            self._require_inventory_role(who)
        return await self._store.find(who.tenant_id, criteria, page, owner_scope=scope_of(who))

    async def scoped(
        self, who: Principal, scopes: tuple[str, ...], write: bool, fragments: frozenset[str] | None = None
    ) -> Principal:
        """`who` limited to what its inventory roles reach in `scopes` (inventory/access.py reach)."""
        return await reach(who, scopes, write, self._store, fragments)

    async def relations(self, who: Principal, ids: list[int]) -> dict[int, Relations]:
        return await self._store.relations(who.tenant_id, ids)

    # -- references -----------------------------------------------------------------------------

    async def children(
        self, who: Principal, parent_id: int, kind: ChildKind, page: PageRequest
    ) -> Page[ManagedObject]:
        await self.get(who, parent_id)
        return await self._store.children(who.tenant_id, parent_id, kind, page)

    async def descendants(
        self, who: Principal, mo_id: int, kinds: tuple[ChildKind, ...], limit: int
    ) -> list[int]:
        """Level by level through the references of `kinds` (each once); InvalidInput beyond `limit`."""
        await self.get(who, mo_id)
        found: list[int] = []
        seen = {mo_id}
        level = [mo_id]
        while level and kinds:
            level = [
                c
                for c in dict.fromkeys(await self._store.child_ids(who.tenant_id, level, kinds))
                if c not in seen
            ]
            seen.update(level)
            found.extend(level)
            if len(found) > limit:
                raise InvalidInput(f"More than {limit} related sources", resource="inventory")
        return found

    async def add_child(
        self, who: Principal, parent_id: int, kind: ChildKind, child_id: int
    ) -> ManagedObject:
        await self.get(who, parent_id)
        child = await self.get(who, child_id)
        if child_id == parent_id:
            raise InvalidInput("An object cannot be its own child", resource="inventory")
        await self._store.add_child(who.tenant_id, parent_id, kind, child_id, now_ms())
        self._announce_reference("CREATE", who.tenant_id, ChildChange(parent_id, kind, child_id))
        return child

    async def get_child(
        self, who: Principal, parent_id: int, kind: ChildKind, child_id: int
    ) -> ManagedObject:
        await self.get(who, parent_id)
        if child_id not in await self._store.child_ids(who.tenant_id, [parent_id], (kind,)):
            raise NotFound(missing=_reference(parent_id, kind, child_id), resource="inventory")
        return await self.get(who, child_id)

    async def remove_child(self, who: Principal, parent_id: int, kind: ChildKind, child_id: int) -> None:
        await self.get(who, parent_id)
        if not await self._store.remove_child(who.tenant_id, parent_id, kind, child_id, now_ms()):
            raise NotFound(missing=_reference(parent_id, kind, child_id), resource="inventory")
        self._announce_reference("DELETE", who.tenant_id, ChildChange(parent_id, kind, child_id))

    def _announce_reference(self, action: Action, tenant_id: str, change: ChildChange) -> None:
        """Resource `references`: id is the child, source the parent (no real-time channel shows it)."""
        if self._events.listens(tenant_id, "references"):
            self._events.publish(
                DomainEvent(tenant_id, "references", action, change.child_id, change.parent_id, change)
            )

    @staticmethod
    def _require_inventory_role(who: Principal) -> None:
        if not (who.is_admin or who.is_device):
            raise Forbidden("Access is denied", resource="security")


def _reference(parent_id: int, kind: ChildKind, child_id: int) -> Missing:
    """`child_id` as a `kind` child of `parent_id`: a reference that does not exist."""
    return Missing.of("managed object", child_id, role=kind.value, parent=parent_id)
