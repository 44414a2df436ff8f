"""Which things a job reaches: its targets resolved at creation, and (CONTINUOUS jobs) the things that join
or leave a target group later, heard from the inventory's `references` events (a group's things are its
childAssets). A thing deleted takes its pending executions with it (REMOVED).

A target group reaches its direct members that are things (childAssets with `fleets_Thing`), at creation
and later alike; a subgroup's things are not its members.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterable
from typing import Final

from tether.core.errors import InvalidInput
from tether.core.events import DomainEvent, EventBus
from tether.core.paging import PageRequest
from tether.fleets.job_store import JobStore
from tether.fleets.jobs import Job, Targets
from tether.fleets.models import THING_FRAGMENT, R, Thing
from tether.fleets.things import ThingService, system, thing_of
from tether.inventory.models import ChildChange, ChildKind, ManagedObject
from tether.inventory.service import InventoryService
from tether.tenants.models import Principal

log = logging.getLogger(__name__)
_PAGE: Final = 2000
#: How long this process trusts its list of a tenant's CONTINUOUS jobs (others may create some).
_CACHE_SECONDS: Final = 5.0

Joined = Callable[[str, Iterable[Job], int, str], Awaitable[None]]
Left = Callable[[str, Iterable[Job], int], Awaitable[None]]
Deleted = Callable[[str, int], Awaitable[None]]


async def _nothing(*_: object) -> None:
    return None


class Targeting:
    def __init__(
        self, things: ThingService, inventory: InventoryService, store: JobStore, events: EventBus
    ) -> None:
        self._things = things
        self._inventory = inventory
        self._store = store
        self.on_joined: Joined = _nothing
        self.on_left: Left = _nothing
        self.on_deleted: Deleted = _nothing
        self._continuous: dict[str, tuple[float, list[Job]]] = {}
        self._queue: deque[DomainEvent] = deque()
        self._task: asyncio.Task[None] | None = None
        self._unsubscribe: Callable[[], None] | None = events.subscribe(
            self._on_event, resources={"references", "managedobjects"}
        )

    def close(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        if self._task is not None:
            self._task.cancel()

    async def thing(self, tenant_id: str, name: str) -> Thing | None:
        return await self._things.by_name(tenant_id, name)

    async def resolve(self, who: Principal, targets: Targets) -> tuple[dict[int, str], list[int]]:
        """The target things (object id -> name, each once) and the target groups' object ids."""
        found: dict[int, str] = {}
        for name in targets.thing_names:
            thing = await self._things.by_name(who.tenant_id, name)
            if thing is None:
                raise InvalidInput(f"Unknown thing '{name}'", resource=R)
            found[thing.mo_id] = thing.name
        group_ids = []
        for name in targets.group_names:
            group = await self._things.catalog.group_by_name(who, name)
            group_ids.append(group.mo_id)
            number = 1
            while True:
                page = await self._inventory.children(
                    who, group.mo_id, ChildKind.ASSET, PageRequest(current_page=number, page_size=_PAGE)
                )
                for mo in page.items:
                    thing = thing_of(mo)
                    if thing is not None:
                        found.setdefault(thing.mo_id, thing.name)
                        self._things.prime(thing)  # its first request needs no lookup
                if len(page.items) < _PAGE:
                    break
                number += 1
        return found, group_ids

    def forget(self, tenant_id: str) -> None:
        """The tenant's CONTINUOUS jobs changed (created or canceled here)."""
        self._continuous.pop(tenant_id, None)

    async def continuous(self, tenant_id: str) -> list[Job]:
        cached = self._continuous.get(tenant_id)
        if cached is not None and time.monotonic() - cached[0] < _CACHE_SECONDS:
            return cached[1]
        found = await self._store.continuous(tenant_id)
        self._continuous[tenant_id] = (time.monotonic(), found)
        return found

    # -- following the inventory ----------------------------------------------------------------------------

    def _on_event(self, event: DomainEvent) -> None:
        """EventBus handler (must not block): group membership changes and deleted things, for the worker."""
        if event.resource == "references":
            if not isinstance(event.payload, ChildChange) or event.payload.kind is not ChildKind.ASSET:
                return
        elif event.action != "DELETE" or not (
            isinstance(event.payload, ManagedObject) and THING_FRAGMENT in event.payload.fragments
        ):
            return
        self._queue.append(event)
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._drain())

    async def _drain(self) -> None:
        try:
            while self._queue:
                event = self._queue.popleft()
                try:
                    await self._follow(event)
                except Exception:
                    log.exception("jobs: %s %s not followed", event.resource, event.action)
        finally:
            self._task = None

    async def _follow(self, event: DomainEvent) -> None:
        tenant_id = event.tenant_id
        if isinstance(event.payload, ManagedObject):
            await self.on_deleted(tenant_id, event.payload.id)
            return
        change = event.payload
        assert isinstance(change, ChildChange)
        jobs = [j for j in await self.continuous(tenant_id) if change.parent_id in j.group_ids]
        if not jobs:
            return
        thing = await self._things.by_device(tenant_id, change.child_id)
        if thing is None:
            return
        if event.action == "CREATE":
            await self.on_joined(tenant_id, jobs, thing.mo_id, thing.name)
            return
        # Left: unless still a target (by name, or through another of the job's groups).
        who = system(tenant_id)
        relations = (await self._inventory.relations(who, [thing.mo_id])).get(thing.mo_id)
        parents = set()
        if relations is not None:
            parents = {p.id for p in relations.parents.get(ChildKind.ASSET, [])}
        gone = [j for j in jobs if thing.name not in j.targets.thing_names and not parents & set(j.group_ids)]
        if gone:
            await self.on_left(tenant_id, gone, thing.mo_id)

    async def settle(self) -> None:
        """Wait until the events heard so far are followed (tests, shutdown)."""
        while self._task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.shield(self._task)
