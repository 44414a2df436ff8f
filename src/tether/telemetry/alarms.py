"""Alarm rules: severities and statuses, de-duplication of open alarms, bulk status changes.

De-duplication: raising an alarm while an ACTIVE or ACKNOWLEDGED one of the same source and type exists
creates nothing; the open alarm's count grows, its time moves to the new time and text and fragments are
updated (firstOccurrenceTime, severity and status stay). The store makes this atomic under concurrent
raises. CLEARED alarms are never de-duplicated.
"""

from __future__ import annotations

from dataclasses import replace

from tether.core.clock import now_ms
from tether.core.errors import InvalidInput, Missing, NotFound
from tether.core.events import EventBus
from tether.core.paging import Page, PageRequest
from tether.core.processing import ProcessingMode
from tether.core.values import clean_fields
from tether.inventory.access import ReadableObjects
from tether.telemetry.access import Announcer, Sources, owner_scope, require_role
from tether.telemetry.models import (
    Alarm,
    AlarmChange,
    AlarmCriteria,
    AlarmStatus,
    NewAlarm,
)
from tether.telemetry.store import AlarmStore
from tether.tenants.models import Principal

R = "alarm"


class AlarmService:
    def __init__(self, store: AlarmStore, inventory: ReadableObjects, events: EventBus) -> None:
        self._store = store
        self._sources = Sources(inventory, R)
        self._announce = Announcer(events, "alarms")

    async def create(
        self, who: Principal, new: NewAlarm, mode: ProcessingMode = ProcessingMode.PERSISTENT
    ) -> Alarm:
        """The new alarm, or the open alarm of the same source and type that absorbed this one."""
        require_role(who)
        draft = replace(new, fragments=clean_fields(new.fragments, resource=R))
        source = await self._sources.require(who, draft.source_id)
        now = now_ms()
        if not mode.stores:
            alarm = Alarm(
                id=None,
                tenant_id=who.tenant_id,
                source_id=draft.source_id,
                type=draft.type,
                text=draft.text,
                status=draft.status,
                severity=draft.severity,
                count=1,
                time=draft.time,
                first_occurrence_time=draft.time,
                creation_time=now,
                last_updated=now,
                fragments=draft.fragments,
                source_name=source.name,
            )
            self._announce(mode, "CREATE", [alarm])
            return alarm
        alarm, created = await self._store.raise_alarm(who.tenant_id, draft, now)
        self._announce(mode, "CREATE" if created else "UPDATE", [alarm])
        return alarm

    async def get(self, who: Principal, alarm_id: int) -> Alarm:
        require_role(who)
        found = await self._store.get(who.tenant_id, alarm_id)
        if found is None or not await self._sources.visible(who, found.source_id):
            raise NotFound(missing=Missing.of("alarm", alarm_id), resource=R)
        return found

    async def find(self, who: Principal, criteria: AlarmCriteria, page: PageRequest) -> Page[Alarm]:
        criteria = await self._sources.related(who, criteria)
        require_role(who)
        return await self._store.find(who.tenant_id, criteria, page, owner_scope=owner_scope(who))

    async def count(self, who: Principal, criteria: AlarmCriteria) -> int:
        criteria = await self._sources.related(who, criteria)
        require_role(who)
        return await self._store.count(who.tenant_id, criteria, owner_scope=owner_scope(who))

    async def update(
        self,
        who: Principal,
        alarm_id: int,
        change: AlarmChange,
        mode: ProcessingMode = ProcessingMode.PERSISTENT,
    ) -> Alarm:
        """Status, severity, text and custom fragments change (a fragment set to None is removed).
        Re-opening a cleared alarm while another open alarm of its source and type exists is a Conflict."""
        await self.get(who, alarm_id)
        change = replace(change, fragments=clean_fields(change.fragments, resource=R))
        updated = await self._store.update(who.tenant_id, alarm_id, change, now_ms())
        if updated is None:
            raise NotFound(missing=Missing.of("alarm", alarm_id), resource=R)
        self._announce(mode, "UPDATE", [updated])
        return updated

    async def update_matching(
        self,
        who: Principal,
        criteria: AlarmCriteria,
        status: AlarmStatus,
        mode: ProcessingMode = ProcessingMode.PERSISTENT,
    ) -> int:
        """Set the status of every matching alarm (the one field Cumulocity's bulk update changes).

        At least one filter is required, so that a forgotten query string does not touch every alarm."""
        criteria = await self._sources.related(who, criteria)
        require_role(who)
        if criteria.is_unfiltered:
            raise InvalidInput("At least one query parameter is required to update alarms", resource=R)
        updated = await self._store.update_matching(
            who.tenant_id, criteria, status, now_ms(), owner_scope=owner_scope(who)
        )
        self._announce(mode, "UPDATE", updated)
        return len(updated)

    async def delete_matching(
        self, who: Principal, criteria: AlarmCriteria, mode: ProcessingMode = ProcessingMode.PERSISTENT
    ) -> int:
        """Alarms are deleted by query only (Cumulocity has no DELETE of one alarm); like Cumulocity,
        no filter at all deletes every alarm the caller may see."""
        criteria = await self._sources.related(who, criteria)
        require_role(who)
        deleted = await self._store.delete_matching(who.tenant_id, criteria, owner_scope=owner_scope(who))
        self._announce(mode, "DELETE", deleted)
        return len(deleted)
