"""In-memory ManagedObjectStore (tether.inventory.store).

Criteria: type, owner, fragment type (dotted path), text, ids, child device and only-roots as the SQL store
applies them. Query-language filters and ordering (`query=`) are the SQL store's alone
(storage/sql/filters.py, tested in tests/inventory and tests/api): the fake refuses them rather than answer
differently.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Iterable
from typing import Any

from tests.fakes.paging import page_of

from tether.core.paging import Page, PageRequest
from tether.inventory.access import OwnerScope
from tether.inventory.models import (
    ChildKind,
    InventoryCriteria,
    Json,
    ManagedObject,
    NewManagedObject,
    Reference,
    Relations,
)


def has_path(document: Json, dotted: str) -> bool:
    """Whether `a.b.c` exists in the document (the stores' fragment-type filter)."""
    value: Any = document
    for key in dotted.split("."):
        if not isinstance(value, dict) or key not in value:
            return False
        value = value[key]
    return True


def merge(stored: Json, change: Json) -> Json:
    """The stores' fragment merge: a given fragment replaces the stored one, None removes it."""
    merged = dict(stored)
    for key, value in change.items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = value
    return merged


@dataclasses.dataclass(frozen=True, slots=True)
class _Edge:
    tenant_id: str
    parent_id: int
    kind: ChildKind
    child_id: int
    creation_time: int


class FakeManagedObjectStore:
    def __init__(self) -> None:
        self.objects: dict[int, ManagedObject] = {}
        self.edges: list[_Edge] = []
        self._next_id = 1
        #: Called with (tenant id, object id) for every deleted object: the stores whose rows reference
        #: managed objects (external ids, operations, telemetry) drop theirs, as ON DELETE CASCADE does.
        self.on_delete: list[Callable[[str, int], None]] = []

    def _mine(self, tenant_id: str, mo_id: int) -> ManagedObject | None:
        mo = self.objects.get(mo_id)
        return mo if mo is not None and mo.tenant_id == tenant_id else None

    async def create(self, tenant_id: str, draft: NewManagedObject, now: int) -> ManagedObject:
        assert draft.owner is not None  # the inventory service names the owner before it stores
        mo = ManagedObject(
            id=self._next_id,
            tenant_id=tenant_id,
            owner=draft.owner,
            creation_time=now,
            last_updated=now,
            name=draft.name,
            type=draft.type,
            fragments=dict(draft.fragments),
        )
        self._next_id += 1
        self.objects[mo.id] = mo
        return mo

    async def get(self, tenant_id: str, mo_id: int) -> ManagedObject | None:
        return self._mine(tenant_id, mo_id)

    async def update(
        self, tenant_id: str, mo_id: int, columns: dict[str, Any], fragments: Json, now: int
    ) -> ManagedObject | None:
        mo = self._mine(tenant_id, mo_id)
        if mo is None:
            return None
        updated = dataclasses.replace(
            mo, **columns, fragments=merge(mo.fragments, fragments), last_updated=now
        )
        self.objects[mo_id] = updated
        return updated

    async def delete(self, tenant_id: str, mo_ids: list[int]) -> int:
        gone = [i for i in dict.fromkeys(mo_ids) if self._mine(tenant_id, i) is not None]
        for mo_id in gone:
            del self.objects[mo_id]
            self.edges = [e for e in self.edges if mo_id not in (e.parent_id, e.child_id)]
            for cascade in self.on_delete:
                cascade(tenant_id, mo_id)
        return len(gone)

    def _matches(self, mo: ManagedObject, criteria: InventoryCriteria) -> bool:
        if criteria.type is not None and mo.type != criteria.type:
            return False
        if criteria.owner is not None and mo.owner != criteria.owner:
            return False
        if criteria.fragment_type is not None and not has_path(mo.fragments, criteria.fragment_type):
            return False
        if criteria.ids is not None and mo.id not in criteria.ids:
            return False
        if criteria.text:
            needle = criteria.text.lower()
            haystack = (mo.name or "", mo.type or "", mo.owner, json.dumps(mo.fragments))
            if not any(needle in field.lower() for field in haystack):
                return False
        if criteria.child_device_id is not None and not any(
            e.parent_id == mo.id and e.child_id == criteria.child_device_id and e.kind is ChildKind.DEVICE
            for e in self.edges
        ):
            return False
        return not (
            criteria.only_roots
            and any(e.child_id == mo.id and e.kind in (ChildKind.DEVICE, ChildKind.ASSET) for e in self.edges)
        )

    async def find(
        self,
        tenant_id: str,
        criteria: InventoryCriteria,
        page: PageRequest,
        *,
        owner_scope: OwnerScope | None = None,
    ) -> Page[ManagedObject]:
        if criteria.query is not None:
            raise NotImplementedError("query-language filters are evaluated by the SQL store only")
        found = [
            mo
            for mo in sorted(self.objects.values(), key=lambda mo: mo.id)
            if mo.tenant_id == tenant_id
            and (
                owner_scope is None
                or (mo.owner == owner_scope if isinstance(owner_scope, str) else mo.id in owner_scope)
            )
            and self._matches(mo, criteria)
        ]
        return page_of(found, page)

    async def get_with_relations(self, tenant_id: str, mo_id: int) -> tuple[ManagedObject, Relations] | None:
        mo = self._mine(tenant_id, mo_id)
        return None if mo is None else (mo, (await self.relations(tenant_id, [mo_id]))[mo_id])

    async def relations(self, tenant_id: str, mo_ids: list[int]) -> dict[int, Relations]:
        result = {i: Relations() for i in mo_ids}
        for edge in sorted(self.edges, key=lambda e: e.creation_time):
            if edge.tenant_id != tenant_id:
                continue
            if edge.parent_id in result:
                child = self.objects[edge.child_id]
                ref = Reference(edge.kind, child.id, child.name)
                result[edge.parent_id].children.setdefault(edge.kind, []).append(ref)
            if edge.child_id in result:
                parent = self.objects[edge.parent_id]
                ref = Reference(edge.kind, parent.id, parent.name)
                result[edge.child_id].parents.setdefault(edge.kind, []).append(ref)
        return result

    async def child_ids(self, tenant_id: str, parent_ids: list[int], kinds: Iterable[ChildKind]) -> list[int]:
        wanted = set(kinds)
        return [
            e.child_id
            for e in self.edges
            if e.tenant_id == tenant_id and e.parent_id in parent_ids and e.kind in wanted
        ]

    async def descendants(self, tenant_id: str, roots: list[int]) -> set[int]:
        found = {r for r in roots if (mo := self.objects.get(r)) is not None and mo.tenant_id == tenant_id}
        frontier = set(found)
        while frontier:
            frontier = {
                e.child_id for e in self.edges if e.tenant_id == tenant_id and e.parent_id in frontier
            } - found
            found |= frontier
        return found

    async def parent_ids(self, tenant_id: str, child_ids: list[int], kinds: Iterable[ChildKind]) -> list[int]:
        wanted = set(kinds)
        return sorted(
            {
                e.parent_id
                for e in self.edges
                if e.tenant_id == tenant_id and e.child_id in child_ids and e.kind in wanted
            }
        )

    async def children(
        self, tenant_id: str, parent_id: int, kind: ChildKind, page: PageRequest
    ) -> Page[ManagedObject]:
        edges = sorted(
            (
                e
                for e in self.edges
                if e.tenant_id == tenant_id and e.parent_id == parent_id and e.kind is kind
            ),
            key=lambda e: (e.creation_time, e.child_id),
        )
        return page_of([self.objects[e.child_id] for e in edges], page)

    def _touch(self, mo_id: int, now: int) -> None:
        mo = self.objects.get(mo_id)
        if mo is not None:
            self.objects[mo_id] = dataclasses.replace(mo, last_updated=now)

    async def add_child(
        self, tenant_id: str, parent_id: int, kind: ChildKind, child_id: int, now: int
    ) -> None:
        """Idempotent, as the SQL store's (its primary key refuses the second edge, which it ignores)."""
        if any((e.parent_id, e.kind, e.child_id) == (parent_id, kind, child_id) for e in self.edges) or not (
            self._mine(tenant_id, parent_id) and self._mine(tenant_id, child_id)
        ):
            return
        self.edges.append(_Edge(tenant_id, parent_id, kind, child_id, now))
        self._touch(parent_id, now)

    async def remove_child(
        self, tenant_id: str, parent_id: int, kind: ChildKind, child_id: int, now: int
    ) -> bool:
        kept = [
            e
            for e in self.edges
            if (e.tenant_id, e.parent_id, e.kind, e.child_id) != (tenant_id, parent_id, kind, child_id)
        ]
        removed = len(kept) != len(self.edges)
        self.edges = kept
        if removed:
            self._touch(parent_id, now)
        return removed
