"""In-memory MeasurementStore, EventStore and AlarmStore (tether.telemetry.store), over the fake
managed-object store: a source must exist in the tenant (NotFound otherwise, as the foreign key makes the SQL
stores answer), the owner scope reads the sources' owners, and deleting a source takes its data (ON DELETE
CASCADE)."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from typing import Generic, TypeVar

from tests.fakes.inventory import FakeManagedObjectStore, has_path, merge
from tests.fakes.paging import page_of

from tether.core.errors import Conflict, NotFound
from tether.core.paging import Page, PageRequest
from tether.inventory.access import OwnerScope
from tether.telemetry.models import (
    Alarm,
    AlarmChange,
    AlarmCriteria,
    AlarmStatus,
    Event,
    EventCriteria,
    Json,
    Measurement,
    MeasurementCriteria,
    MeasurementRow,
    NewAlarm,
    NewEvent,
    NewMeasurement,
    SeriesQuery,
)

_Timed = TypeVar("_Timed", Measurement, Event, Alarm)


def _source_gone() -> NotFound:
    return NotFound("The source managed object no longer exists", resource="inventory")


def _in_range(value: int, start: int | None, end: int | None) -> bool:
    return (start is None or value >= start) and (end is None or value < end)


def _by_time(items: Iterable[_Timed], newest_first: bool) -> list[_Timed]:
    return sorted(items, key=lambda x: (x.time, x.id or 0), reverse=newest_first)


class _Rows(Generic[_Timed]):
    """Rows keyed by id, each about one source; what the three stores share."""

    def __init__(self, managed_objects: FakeManagedObjectStore, rows: dict[int, _Timed]) -> None:
        self._mos = managed_objects
        self._all: dict[int, _Timed] = rows
        self._next_id = 1
        managed_objects.on_delete.append(self._cascade)

    def _cascade(self, tenant_id: str, mo_id: int) -> None:
        for row_id in [i for i, r in self._all.items() if r.tenant_id == tenant_id and r.source_id == mo_id]:
            del self._all[row_id]

    def _new_id(self) -> int:
        self._next_id += 1
        return self._next_id - 1

    def _require_source(self, tenant_id: str, source_id: int) -> None:
        mo = self._mos.objects.get(source_id)
        if mo is None or mo.tenant_id != tenant_id:
            raise _source_gone()

    def _owned(self, tenant_id: str, source_id: int, owner_scope: OwnerScope | None) -> bool:
        if owner_scope is None:
            return True
        mo = self._mos.objects.get(source_id)
        if mo is None or mo.tenant_id != tenant_id:
            return False
        return mo.owner == owner_scope if isinstance(owner_scope, str) else mo.id in owner_scope


class FakeMeasurementStore(_Rows[Measurement]):
    def __init__(self, managed_objects: FakeManagedObjectStore) -> None:
        self.measurements: dict[int, Measurement] = {}
        super().__init__(managed_objects, self.measurements)

    def _matching(
        self, tenant_id: str, criteria: MeasurementCriteria, owner_scope: OwnerScope | None
    ) -> list[Measurement]:
        found = []
        for m in self.measurements.values():
            if m.tenant_id != tenant_id or not self._owned(tenant_id, m.source_id, owner_scope):
                continue
            if criteria.source_id is not None and m.source_id != criteria.source_id:
                continue
            if criteria.type is not None and m.type != criteria.type:
                continue
            if criteria.value_fragment_type is not None:
                # The two names are keys, not a dotted path: a fragment name may hold a dot.
                fragment = m.fragments.get(criteria.value_fragment_type)
                if criteria.value_fragment_type not in m.fragments or (
                    criteria.value_fragment_series is not None
                    and not (isinstance(fragment, dict) and criteria.value_fragment_series in fragment)
                ):
                    continue
            if not _in_range(m.time, criteria.date_from, criteria.date_to):
                continue
            found.append(m)
        return _by_time(found, criteria.newest_first)

    async def create(self, tenant_id: str, drafts: list[NewMeasurement], now: int) -> list[Measurement]:
        for draft in drafts:  # all or nothing, as one transaction
            self._require_source(tenant_id, draft.source_id)
        created = [
            Measurement(self._new_id(), tenant_id, d.source_id, d.type, d.time, now, dict(d.fragments))
            for d in drafts
        ]
        for m in created:
            self.measurements[m.id or 0] = m
        return created

    async def create_many(self, rows: Sequence[MeasurementRow], now: int) -> list[int]:
        for tenant_id, source_id, *_ in rows:
            self._require_source(tenant_id, source_id)
        ids = []
        for tenant_id, source_id, type_, time, fragments in rows:
            m = Measurement(self._new_id(), tenant_id, source_id, type_, time, now, dict(fragments))
            self.measurements[m.id or 0] = m
            ids.append(m.id or 0)
        return ids

    async def insert_many(self, rows: Sequence[MeasurementRow], now: int) -> None:
        await self.create_many(rows, now)

    async def supported_series(self, tenant_id: str, source_id: int) -> list[tuple[str, str]]:
        found = {
            (fragment, series)
            for m in self.measurements.values()
            if m.tenant_id == tenant_id and m.source_id == source_id
            for fragment, value in m.fragments.items()
            if isinstance(value, dict)
            for series, inner in value.items()
            if isinstance(inner, dict) and "value" in inner
        }
        return sorted(found)

    async def get(self, tenant_id: str, measurement_id: int) -> Measurement | None:
        m = self.measurements.get(measurement_id)
        return m if m is not None and m.tenant_id == tenant_id else None

    async def find(
        self,
        tenant_id: str,
        criteria: MeasurementCriteria,
        page: PageRequest,
        *,
        owner_scope: OwnerScope | None = None,
    ) -> Page[Measurement]:
        return page_of(self._matching(tenant_id, criteria, owner_scope), page)

    async def delete(self, tenant_id: str, measurement_id: int) -> bool:
        if await self.get(tenant_id, measurement_id) is None:
            return False
        del self.measurements[measurement_id]
        return True

    async def delete_matching(
        self, tenant_id: str, criteria: MeasurementCriteria, *, owner_scope: OwnerScope | None = None
    ) -> list[Measurement]:
        gone = _by_time(self._matching(tenant_id, criteria, owner_scope), newest_first=False)
        for m in gone:
            del self.measurements[m.id or 0]
        return gone

    async def series(self, tenant_id: str, query: SeriesQuery, limit: int) -> list[Measurement]:
        def holds_a_series(m: Measurement) -> bool:
            return not query.series or any(
                isinstance(m.fragments.get(s.fragment), dict) and s.series in m.fragments[s.fragment]
                for s in query.series
            )

        found = [
            m
            for m in self.measurements.values()
            if m.tenant_id == tenant_id
            and m.source_id == query.source_id
            and _in_range(m.time, query.date_from, query.date_to)
            and holds_a_series(m)
        ]
        return _by_time(found, query.newest_first)[:limit]


class FakeEventStore(_Rows[Event]):
    def __init__(self, managed_objects: FakeManagedObjectStore) -> None:
        self.events: dict[int, Event] = {}
        super().__init__(managed_objects, self.events)

    def _matching(
        self, tenant_id: str, criteria: EventCriteria, owner_scope: OwnerScope | None
    ) -> list[Event]:
        def value_at(document: Json, dotted: str) -> object:
            value: object = document
            for key in dotted.split("."):
                value = value.get(key) if isinstance(value, dict) else None
            return value

        found = [
            e
            for e in self.events.values()
            if e.tenant_id == tenant_id
            and self._owned(tenant_id, e.source_id, owner_scope)
            and (
                criteria.source_id is None
                or e.source_id == criteria.source_id
                or e.source_id in (criteria.source_ids or ())
            )
            and (criteria.type is None or e.type == criteria.type)
            and (criteria.fragment_type is None or has_path(e.fragments, criteria.fragment_type))
            and (
                criteria.fragment_type is None
                or criteria.fragment_value is None
                or value_at(e.fragments, criteria.fragment_type) == criteria.fragment_value
            )
            and _in_range(e.time, criteria.date_from, criteria.date_to)
            and _in_range(e.creation_time, criteria.created_from, criteria.created_to)
        ]
        return _by_time(found, criteria.newest_first)

    async def create(self, tenant_id: str, draft: NewEvent, now: int) -> Event:
        self._require_source(tenant_id, draft.source_id)
        event = Event(
            self._new_id(),
            tenant_id,
            draft.source_id,
            draft.type,
            draft.text,
            draft.time,
            now,
            now,
            dict(draft.fragments),
        )
        self.events[event.id or 0] = event
        return event

    async def get(self, tenant_id: str, event_id: int) -> Event | None:
        e = self.events.get(event_id)
        return e if e is not None and e.tenant_id == tenant_id else None

    async def find(
        self,
        tenant_id: str,
        criteria: EventCriteria,
        page: PageRequest,
        *,
        owner_scope: OwnerScope | None = None,
    ) -> Page[Event]:
        return page_of(self._matching(tenant_id, criteria, owner_scope), page)

    async def update(
        self, tenant_id: str, event_id: int, text: str | None, fragments: Json, now: int
    ) -> Event | None:
        event = await self.get(tenant_id, event_id)
        if event is None:
            return None
        updated = dataclasses.replace(
            event,
            text=event.text if text is None else text,
            fragments=merge(event.fragments, fragments),
            last_updated=now,
        )
        self.events[event_id] = updated
        return updated

    async def delete(self, tenant_id: str, event_id: int) -> bool:
        if await self.get(tenant_id, event_id) is None:
            return False
        del self.events[event_id]
        return True

    async def delete_matching(
        self, tenant_id: str, criteria: EventCriteria, *, owner_scope: OwnerScope | None = None
    ) -> list[Event]:
        gone = _by_time(self._matching(tenant_id, criteria, owner_scope), newest_first=False)
        for e in gone:
            del self.events[e.id or 0]
        return gone


class FakeAlarmStore(_Rows[Alarm]):
    """At most one open (ACTIVE or ACKNOWLEDGED) alarm per source and type, as the SQL store's unique index
    keeps it: raising folds into it, an update that would make a second one is a Conflict."""

    def __init__(self, managed_objects: FakeManagedObjectStore) -> None:
        self.alarms: dict[int, Alarm] = {}
        super().__init__(managed_objects, self.alarms)

    def _shown(self, alarm: Alarm) -> Alarm:
        mo = self._mos.objects.get(alarm.source_id)
        return dataclasses.replace(alarm, source_name=None if mo is None else mo.name)

    def _open(
        self, tenant_id: str, source_id: int, type_: str, other_than: int | None = None
    ) -> Alarm | None:
        return next(
            (
                a
                for a in self.alarms.values()
                if (a.tenant_id, a.source_id, a.type) == (tenant_id, source_id, type_)
                and a.status.is_open
                and a.id != other_than
            ),
            None,
        )

    def _matching(
        self, tenant_id: str, criteria: AlarmCriteria, owner_scope: OwnerScope | None
    ) -> list[Alarm]:
        found = [
            a
            for a in self.alarms.values()
            if a.tenant_id == tenant_id
            and self._owned(tenant_id, a.source_id, owner_scope)
            and (
                criteria.source_id is None
                or a.source_id == criteria.source_id
                or a.source_id in (criteria.source_ids or ())
            )
            and (criteria.types is None or a.type in criteria.types)
            and (criteria.statuses is None or a.status in criteria.statuses)
            and (criteria.severities is None or a.severity in criteria.severities)
            and (criteria.resolved is None or criteria.resolved is not a.status.is_open)
            and (criteria.fragment_type is None or has_path(a.fragments, criteria.fragment_type))
            and _in_range(a.time, criteria.date_from, criteria.date_to)
            and _in_range(a.creation_time, criteria.created_from, criteria.created_to)
        ]
        return _by_time(found, criteria.newest_first)

    async def raise_alarm(self, tenant_id: str, draft: NewAlarm, now: int) -> tuple[Alarm, bool]:
        self._require_source(tenant_id, draft.source_id)
        existing = self._open(tenant_id, draft.source_id, draft.type) if draft.status.is_open else None
        if existing is not None:
            folded = dataclasses.replace(
                existing,
                count=existing.count + 1,
                time=draft.time,
                text=draft.text,
                last_updated=now,
                fragments=merge(existing.fragments, draft.fragments)
                if draft.fragments
                else existing.fragments,
            )
            self.alarms[existing.id or 0] = folded
            return self._shown(folded), False
        alarm = Alarm(
            id=self._new_id(),
            tenant_id=tenant_id,
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
            fragments=dict(draft.fragments),
        )
        self.alarms[alarm.id or 0] = alarm
        return self._shown(alarm), True

    async def get(self, tenant_id: str, alarm_id: int) -> Alarm | None:
        a = self.alarms.get(alarm_id)
        return self._shown(a) if a is not None and a.tenant_id == tenant_id else None

    async def find(
        self,
        tenant_id: str,
        criteria: AlarmCriteria,
        page: PageRequest,
        *,
        owner_scope: OwnerScope | None = None,
    ) -> Page[Alarm]:
        found = [self._shown(a) for a in self._matching(tenant_id, criteria, owner_scope)]
        return page_of(found, page)

    async def count(
        self, tenant_id: str, criteria: AlarmCriteria, *, owner_scope: OwnerScope | None = None
    ) -> int:
        return len(self._matching(tenant_id, criteria, owner_scope))

    def _reopens(self, alarm: Alarm, status: AlarmStatus) -> bool:
        return (
            status.is_open and self._open(alarm.tenant_id, alarm.source_id, alarm.type, alarm.id) is not None
        )

    async def update(self, tenant_id: str, alarm_id: int, change: AlarmChange, now: int) -> Alarm | None:
        alarm = self.alarms.get(alarm_id)
        if alarm is None or alarm.tenant_id != tenant_id:
            return None
        status = alarm.status if change.status is None else change.status
        if self._reopens(alarm, status):
            raise Conflict(
                f"Alarm {alarm_id} cannot be reopened: an ACTIVE or ACKNOWLEDGED alarm of the same source "
                "and type already exists",
                resource="alarm",
            )
        updated = dataclasses.replace(
            alarm,
            status=status,
            severity=alarm.severity if change.severity is None else change.severity,
            text=alarm.text if change.text is None else change.text,
            fragments=merge(alarm.fragments, change.fragments) if change.fragments else alarm.fragments,
            last_updated=now,
        )
        self.alarms[alarm_id] = updated
        return self._shown(updated)

    async def update_matching(
        self,
        tenant_id: str,
        criteria: AlarmCriteria,
        status: AlarmStatus,
        now: int,
        *,
        owner_scope: OwnerScope | None = None,
    ) -> list[Alarm]:
        changing = [a for a in self._matching(tenant_id, criteria, owner_scope) if a.status is not status]
        if status.is_open:  # all or nothing: two reopened alarms of one source and type conflict too
            keys = [(a.source_id, a.type) for a in changing]
            if len(set(keys)) != len(keys) or any(self._reopens(a, status) for a in changing):
                raise Conflict(
                    f"Alarms cannot be set to {status}: an ACTIVE or ACKNOWLEDGED alarm of the same source "
                    "and type already exists",
                    resource="alarm",
                )
        for a in changing:
            self.alarms[a.id or 0] = dataclasses.replace(a, status=status, last_updated=now)
        return [self._shown(self.alarms[a.id or 0]) for a in sorted(changing, key=lambda a: a.id or 0)]

    async def delete_matching(
        self, tenant_id: str, criteria: AlarmCriteria, *, owner_scope: OwnerScope | None = None
    ) -> list[Alarm]:
        gone = sorted(self._matching(tenant_id, criteria, owner_scope), key=lambda a: a.id or 0)
        for a in gone:
            del self.alarms[a.id or 0]
        return gone
