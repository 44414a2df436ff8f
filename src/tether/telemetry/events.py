"""Event rules: mandatory fields, source visibility, which fields an update may change."""

from __future__ import annotations

from dataclasses import replace

from tether.core.clock import now_ms
from tether.core.errors import Missing, NotFound
from tether.core.events import EventBus
from tether.core.paging import Page, PageRequest
from tether.core.processing import ProcessingMode
from tether.core.values import clean_fields
from tether.inventory.access import ReadableObjects
from tether.telemetry.access import Announcer, Sources, owner_scope, require_role
from tether.telemetry.models import Event, EventChange, EventCriteria, NewEvent
from tether.telemetry.store import EventStore
from tether.tenants.models import Principal

R = "event"


class EventService:
    def __init__(self, store: EventStore, inventory: ReadableObjects, events: EventBus) -> None:
        self._store = store
        self._sources = Sources(inventory, R)
        self._announce = Announcer(events, "events")

    async def create(
        self, who: Principal, new: NewEvent, mode: ProcessingMode = ProcessingMode.PERSISTENT
    ) -> Event:
        require_role(who)
        draft = replace(new, fragments=clean_fields(new.fragments, resource=R))
        await self._sources.require(who, draft.source_id)
        now = now_ms()
        if mode.stores:
            event = await self._store.create(who.tenant_id, draft, now)
        else:
            event = Event(
                None,
                who.tenant_id,
                draft.source_id,
                draft.type,
                draft.text,
                draft.time,
                now,
                now,
                draft.fragments,
            )
        self._announce(mode, "CREATE", [event])
        return event

    async def get(self, who: Principal, event_id: int) -> Event:
        require_role(who)
        found = await self._store.get(who.tenant_id, event_id)
        if found is None or not await self._sources.visible(who, found.source_id):
            raise NotFound(missing=Missing.of("event", event_id), resource=R)
        return found

    async def find(self, who: Principal, criteria: EventCriteria, page: PageRequest) -> Page[Event]:
        criteria = await self._sources.related(who, criteria)
        require_role(who)
        return await self._store.find(who.tenant_id, criteria, page, owner_scope=owner_scope(who))

    async def update(
        self,
        who: Principal,
        event_id: int,
        change: EventChange,
        mode: ProcessingMode = ProcessingMode.PERSISTENT,
    ) -> Event:
        """Text and custom fragments change; a fragment set to None is removed."""
        await self.get(who, event_id)
        fragments = clean_fields(change.fragments, resource=R)
        updated = await self._store.update(who.tenant_id, event_id, change.text, fragments, now_ms())
        if updated is None:
            raise NotFound(missing=Missing.of("event", event_id), resource=R)
        self._announce(mode, "UPDATE", [updated])
        return updated

    async def delete(
        self, who: Principal, event_id: int, mode: ProcessingMode = ProcessingMode.PERSISTENT
    ) -> None:
        found = await self.get(who, event_id)
        if await self._store.delete(who.tenant_id, event_id):
            self._announce(mode, "DELETE", [found])

    async def delete_matching(
        self, who: Principal, criteria: EventCriteria, mode: ProcessingMode = ProcessingMode.PERSISTENT
    ) -> int:
        """Like Cumulocity, no filter at all deletes every event the caller may see."""
        criteria = await self._sources.related(who, criteria)
        require_role(who)
        deleted = await self._store.delete_matching(who.tenant_id, criteria, owner_scope=owner_scope(who))
        self._announce(mode, "DELETE", deleted)
        return len(deleted)
