"""Who may hear what: real-time notifications follow the REST read rules (tether.inventory.access.may_read,
tether.operations.service.may_read_operation), never a copy of them.

`ReadRights` asks the services when a client subscribes. `View` is what the hub filters each message by: the
ids of the managed objects one non-admin user may read, loaded once through the REST list query and kept
current from the inventory's own events (objects created, changed hands, or deleted).
"""

from __future__ import annotations

import asyncio

from tether.core.errors import NotFound
from tether.core.events import DomainEvent
from tether.core.paging import MAX_PAGE_SIZE, PageRequest
from tether.inventory.access import may_read
from tether.inventory.models import InventoryCriteria, ManagedObject
from tether.inventory.service import InventoryService
from tether.operations.service import OperationService, may_read_operation
from tether.tenants.models import Principal


class ReadRights:
    """The REST read rules, asked through the services that apply them to REST calls."""

    def __init__(self, inventory: InventoryService, operations: OperationService) -> None:
        self._inventory = inventory
        self._operations = operations

    async def readable_objects(self, who: Principal) -> set[int]:
        """Ids of every managed object `who` may read: GET /inventory/managedObjects, page by page."""
        ids: set[int] = set()
        page = 1
        while True:
            found = await self._inventory.find(
                who, InventoryCriteria(), PageRequest(current_page=page, page_size=MAX_PAGE_SIZE)
            )
            ids.update(mo.id for mo in found.items)
            if len(found.items) < MAX_PAGE_SIZE:
                return ids
            page += 1

    async def may_read_object(self, who: Principal, mo_id: int) -> bool:
        """GET /inventory/managedObjects/<id> (and so the data about it) would answer 200."""
        try:
            await self._inventory.get(who, mo_id)
        except NotFound:
            return False
        return True

    async def may_read_operations_of(self, who: Principal, device_id: int) -> bool:
        """The operations of `device_id`, or routed to the agent `device_id`, are readable by `who`."""
        return await self._operations.may_read_operations_of(who, device_id)


class View:
    """The managed objects one non-admin user may read, shared by that user's sessions."""

    def __init__(self, principal: Principal) -> None:
        self.principal = principal
        self.ids: set[int] = set()
        self.sessions = 0  # sessions using it; the hub forgets it at 0
        self.ready: asyncio.Task[None] | None = None
        self._deleted_while_loading: set[int] | None = None

    async def load(self, rights: ReadRights) -> None:
        """Fill `ids`. Runs once; the hub observes inventory events from before it starts, so an object
        created meanwhile is added by its event and one deleted meanwhile is not added by the query."""
        self._deleted_while_loading = set()
        try:
            found = await rights.readable_objects(self.principal)
            self.ids |= found - self._deleted_while_loading
        finally:
            self._deleted_while_loading = None

    @property
    def failed(self) -> bool:
        """The load ended without filling `ids` (a storage error): the view must not be reused."""
        ready = self.ready
        return ready is not None and ready.done() and (ready.cancelled() or ready.exception() is not None)

    def observe(self, event: DomainEvent) -> None:
        """Follow an inventory event: the object is readable from now on, or no longer exists."""
        mo = event.payload
        if event.action == "DELETE" or not isinstance(mo, ManagedObject):
            if event.id is not None:
                self.ids.discard(event.id)
                if self._deleted_while_loading is not None:
                    self._deleted_while_loading.add(event.id)
        elif may_read(self.principal, mo):
            self.ids.add(mo.id)
        else:
            self.ids.discard(mo.id)  # e.g. its owner changed

    def reads(self, mo_id: int | None) -> bool:
        return mo_id is not None and mo_id in self.ids

    def allows(self, event: DomainEvent) -> bool:
        """Whether the user may read what `event` announces, by the REST rule of its resource."""
        if event.resource == "operations":
            return may_read_operation(self.reads, event.source_id, event.agent_id)
        return self.reads(event.source_id)
