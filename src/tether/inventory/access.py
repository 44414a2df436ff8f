"""What other domains need from the inventory: its read rule and the one call that applies it.

Identity, telemetry and the real-time hub decide who sees data through the object it is about; they depend on
this port, not on the inventory service, its store or its dependencies.
"""

from __future__ import annotations

from typing import Protocol

from tether.inventory.models import ChildKind, ManagedObject
from tether.tenants.models import Principal


def may_read(who: Principal, mo: ManagedObject) -> bool:
    """The read rule of the inventory, for every API that shows an object or data about it (REST, real-time):
    admins read every object of their tenant, a device user the objects it owns, other roles none."""
    if who.is_admin:
        return True
    if who.is_device:
        return mo.owner == who.username
    return False


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
