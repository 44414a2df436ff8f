"""The stores of measurements, events and alarms. Implementations: storage/sql (SQLite, PostgreSQL).

Every method that reads or writes a tenant's data takes the tenant id first: no store answers across tenants.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

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


class MeasurementStore(Protocol):
    """Measurements; `owner_scope` limits a query to the sources that user owns."""

    async def create(self, tenant_id: str, drafts: list[NewMeasurement], now: int) -> list[Measurement]:
        """All in one write transaction (multi-row INSERTs); returned in the order of `drafts`."""
        ...

    async def create_many(self, rows: Sequence[MeasurementRow], now: int) -> list[int]:
        """(tenant id, source id, type, time, fragments) rows of any tenants and sources in one write
        transaction, straight through the driver (adapters' ingest batches); their ids in the order of
        `rows`. Raises NotFound, storing nothing, when a source no longer exists."""
        ...

    async def insert_many(self, rows: Sequence[MeasurementRow], now: int) -> None:
        """create_many without the ids: the cheapest write the database has for it."""
        ...

    async def get(self, tenant_id: str, measurement_id: int) -> Measurement | None: ...
    async def find(
        self,
        tenant_id: str,
        criteria: MeasurementCriteria,
        page: PageRequest,
        *,
        owner_scope: OwnerScope | None = None,
    ) -> Page[Measurement]: ...
    async def delete(self, tenant_id: str, measurement_id: int) -> bool: ...
    async def delete_matching(
        self, tenant_id: str, criteria: MeasurementCriteria, *, owner_scope: OwnerScope | None = None
    ) -> list[Measurement]:
        """Delete every matching measurement; returns them as they were."""
        ...

    async def series(self, tenant_id: str, query: SeriesQuery, limit: int) -> list[Measurement]:
        """The source's measurements in [date_from, date_to) holding any of the query's series (any
        measurement when it names none), in the query's time order, at most `limit`."""
        ...

    async def supported_series(self, tenant_id: str, source_id: int) -> list[tuple[str, str]]:
        """The distinct (fragment, series) names of the source's stored measurements, sorted."""
        ...


class EventStore(Protocol):
    async def create(self, tenant_id: str, draft: NewEvent, now: int) -> Event: ...
    async def get(self, tenant_id: str, event_id: int) -> Event | None: ...
    async def find(
        self,
        tenant_id: str,
        criteria: EventCriteria,
        page: PageRequest,
        *,
        owner_scope: OwnerScope | None = None,
    ) -> Page[Event]: ...
    async def update(
        self, tenant_id: str, event_id: int, text: str | None, fragments: Json, now: int
    ) -> Event | None:
        """Merge: the text (if given) and the fragments replace the stored ones; None removes a fragment."""
        ...

    async def delete(self, tenant_id: str, event_id: int) -> bool: ...
    async def delete_matching(
        self, tenant_id: str, criteria: EventCriteria, *, owner_scope: OwnerScope | None = None
    ) -> list[Event]: ...


class AlarmStore(Protocol):
    async def raise_alarm(self, tenant_id: str, draft: NewAlarm, now: int) -> tuple[Alarm, bool]:
        """Insert, or, when an open alarm of the same source and type exists, increment its count and
        move its time (text and fragments updated) instead; atomic under concurrent raises.
        Returns the alarm and whether it is new."""
        ...

    async def get(self, tenant_id: str, alarm_id: int) -> Alarm | None: ...
    async def find(
        self,
        tenant_id: str,
        criteria: AlarmCriteria,
        page: PageRequest,
        *,
        owner_scope: OwnerScope | None = None,
    ) -> Page[Alarm]: ...
    async def count(
        self, tenant_id: str, criteria: AlarmCriteria, *, owner_scope: OwnerScope | None = None
    ) -> int: ...
    async def update(self, tenant_id: str, alarm_id: int, change: AlarmChange, now: int) -> Alarm | None:
        """Raises Conflict when the change would make a second open alarm of one source and type."""
        ...

    async def update_matching(
        self,
        tenant_id: str,
        criteria: AlarmCriteria,
        status: AlarmStatus,
        now: int,
        *,
        owner_scope: OwnerScope | None = None,
    ) -> list[Alarm]:
        """Set the status of every matching alarm; returns those whose status changed."""
        ...

    async def delete_matching(
        self, tenant_id: str, criteria: AlarmCriteria, *, owner_scope: OwnerScope | None = None
    ) -> list[Alarm]: ...
