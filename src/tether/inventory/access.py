"""What other domains need from the inventory: its read rule and the one call that applies it.

Identity, telemetry and the real-time hub decide who sees data through the object it is about; they depend on
this port, not on the inventory service, its store or its dependencies.

The rule: administrators read every object of their tenant, a device user the objects it owns, a person
admitted by its inventory roles (tenants/inventory_roles.py) the objects those roles are assigned on and
their descendants, in the scope of the request (`Principal.readable`, resolved by :func:`reach`), others none.
"""

from __future__ import annotations

import dataclasses
from typing import Protocol

from tether.inventory.models import ChildKind, ManagedObject
from tether.tenants.models import Principal

#: What a list query is limited to: the owner's name (a device user) or the ids of readable objects.
OwnerScope = str | frozenset[int]
#: Inventory role scopes of the API families (the data a request of that family reads or writes).
SCOPES = {
    "INVENTORY": "MANAGED_OBJECT",
    "MEASUREMENT": "MEASUREMENT",
    "EVENT": "EVENT",
    "ALARM": "ALARM",
    "DEVICE_CONTROL": "OPERATION",
}


def may_read(who: Principal, mo: ManagedObject) -> bool:
    """The read rule of the inventory, for every API that shows an object or data about it (REST and
    real-time alike)."""
    if who.is_admin:
        return True
    if who.is_device:
        return mo.owner == who.username
    if who.readable is not None:
        return mo.id in who.readable
    return False


def scope_of(who: Principal) -> OwnerScope | None:
    """What the caller's list queries are limited to; None: the whole tenant (administrators)."""
    if who.is_device:
        return who.username
    if who.readable is not None and not who.is_admin:
        return who.readable
    return None


def may_enter(who: Principal, scope: str, write: bool) -> bool:
    """Whether any inventory role of `who` could admit it to data of `scope` (a typed OPERATION permission
    admits writes; which fragments it allows is checked on the operation, :func:`reach`)."""
    return any(
        p.scope in (scope, "*") and not (write and p.permission == "READ") and (p.type == "*" or write)
        for g in who.inventory
        for p in g.permissions
    )


class Descendants(Protocol):
    async def descendants(self, tenant_id: str, roots: list[int]) -> set[int]:
        """The roots that exist in the tenant, and every object below them (child devices, assets and
        additions, all the way down)."""
        ...


async def reach(
    who: Principal,
    scopes: tuple[str, ...],
    write: bool,
    objects: Descendants,
    fragments: frozenset[str] | None = None,
) -> Principal:
    """`who` with `readable` set: the objects its inventory roles grant in every one of `scopes` (READ, or
    ADMIN when `write`; an operation's `fragments` for typed OPERATION permissions) and their
    descendants."""
    readable: set[int] | None = None
    for scope in scopes:
        roots = [g.mo_id for g in who.inventory if g.grants(scope, write, fragments)]
        if (
            write and scope == "OPERATION" and fragments is None
        ):  # admitted; fragments checked on the operation
            roots = [
                g.mo_id
                for g in who.inventory
                if any(p.grants(scope, write, frozenset({p.type})) for p in g.permissions)
            ]
        ids = await objects.descendants(who.tenant_id, roots) if roots else set()
        readable = ids if readable is None else readable & ids
    return dataclasses.replace(who, readable=frozenset(readable or ()))


class ReadableObjects(Protocol):
    """Implemented by :class:`tether.inventory.service.InventoryService`."""

    async def get(self, who: Principal, mo_id: int) -> ManagedObject:
        """The object if it exists in the caller's tenant and the caller may read it; NotFound otherwise."""
        ...

    async def descendants(
        self, who: Principal, mo_id: int, kinds: tuple[ChildKind, ...], limit: int
    ) -> list[int]:
        """The ids below `mo_id` through references of `kinds`, at any depth (each once, at most `limit`)."""
        ...
