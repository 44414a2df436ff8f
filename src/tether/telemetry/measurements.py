"""Measurement rules: mandatory fields, source visibility, processing modes, series."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field

from tether.core.clock import in_range, now_ms
from tether.core.errors import InvalidInput, Missing, NotFound
from tether.core.events import EventBus
from tether.core.paging import Page, PageRequest
from tether.core.processing import ProcessingMode
from tether.core.values import MAX_INT, MIN_INT, clean_fields, number
from tether.inventory.access import ReadableObjects
from tether.telemetry.access import Announcer, Sources, owner_scope, require_role
from tether.telemetry.models import (
    MAX_TYPE_LENGTH,
    Json,
    Measurement,
    MeasurementCriteria,
    NewMeasurement,
    SeriesQuery,
    SeriesResult,
)
from tether.telemetry.series import SERIES_LIMIT, compute_series
from tether.telemetry.store import MeasurementStore
from tether.tenants.models import Principal

R = "measurement"

_SEAL = object()


@dataclass(frozen=True, slots=True, eq=False)
class SourceGrant:
    """Proof, issued by :meth:`MeasurementService.grant`, that a caller may record measurements about one
    source. Protocol adapters keep one per connected device so that their ingest batches skip the
    per-message visibility check (a deleted source is still refused: by the storage's foreign key)."""

    tenant_id: str
    source_id: int
    seal: object = field(repr=False)


#: One measurement on the ingest path: (grant, type, time, fragments); the grant names source and tenant.
IngestRow = tuple[SourceGrant, str, int, Json]


def ingest_row(grant: SourceGrant, type_: str, time: int, fragments: Json) -> IngestRow:
    """One measurement of a protocol adapter, checked BEFORE it joins an ingest batch shared with other
    devices: the type, a time in the years 1..9999 and the fragments by core/values.py; InvalidInput
    otherwise."""
    if not type_ or "\x00" in type_ or len(type_) > MAX_TYPE_LENGTH:
        raise InvalidInput(f"'type' must be 1 to {MAX_TYPE_LENGTH} characters without NUL", resource=R)
    if type(time) is not int or not in_range(time):
        raise InvalidInput("'time' must be a date in the years 1..9999", resource=R)
    return (grant, type_, time, clean_fields(fragments, resource=R))


def series_row(
    grant: SourceGrant, fragment: str, series: str, value: int | float, unit: str | None, time: int
) -> IngestRow:
    """ingest_row of the commonest measurement, `{fragment: {series: {"value": value[, "unit": unit]}}}` of
    type `fragment` (SmartREST 200): the same rules, checked on the few values such a row holds instead of
    a walk of its document (a tenth of the event loop's time per ingested message, bench/README.md)."""
    for text in (fragment, series, unit):
        if text is not None and ("\x00" in text or not text.isascii()):
            # The rare cases (NUL, lone surrogates) and their wording: the general check.
            return ingest_row(grant, fragment, time, _series(fragment, series, value, unit))
    if not fragment or len(fragment) > MAX_TYPE_LENGTH:
        raise InvalidInput(f"'type' must be 1 to {MAX_TYPE_LENGTH} characters without NUL", resource=R)
    if type(time) is not int or not in_range(time):
        raise InvalidInput("'time' must be a date in the years 1..9999", resource=R)
    kind = type(value)
    if not ((kind is float and value - value == 0.0) or (kind is int and MIN_INT <= value <= MAX_INT)):
        value = number(value, where=f"{fragment}.{series}.value", resource=R)
    return (grant, fragment, time, _series(fragment, series, value, unit))


def _series(fragment: str, series: str, value: int | float, unit: str | None) -> Json:
    inner: Json = {"value": value} if unit is None else {"value": value, "unit": unit}
    return {fragment: {series: inner}}


class MeasurementService:
    def __init__(
        self,
        store: MeasurementStore,
        inventory: ReadableObjects,
        events: EventBus,
        *,
        series_limit: int = SERIES_LIMIT,
    ) -> None:
        self._store = store
        self._sources = Sources(inventory, R)
        self._announce = Announcer(events, "measurements")
        self._series_limit = series_limit
        #: (tenant, source) an administrator recorded measurements about. An administrator sees every object
        #: of its tenant, so such a source stays valid until it is deleted, and then the storage's foreign
        #: key refuses the insert (ids are never reused): these skip the read of the source (~6% of a
        #: single measurement POST). Forgotten all at once past the bound.
        self._known: set[tuple[str, int]] = set()

    async def create(
        self,
        who: Principal,
        new: Sequence[NewMeasurement],
        mode: ProcessingMode = ProcessingMode.PERSISTENT,
    ) -> list[Measurement]:
        """All or nothing: every measurement is checked before any is stored, in one write."""
        require_role(who)
        if not new:
            raise InvalidInput("At least one measurement is required", resource=R)
        drafts = [
            NewMeasurement(d.source_id, d.type, d.time, clean_fields(d.fragments, resource=R)) for d in new
        ]
        sources = list(dict.fromkeys(d.source_id for d in drafts))
        await self._require(who, sources)
        now = now_ms()
        if mode.stores:
            try:
                created = await self._store.create(who.tenant_id, drafts, now)
            except NotFound:
                # A source was deleted (since it was read, or since it was known): the answer of a read.
                self._known.difference_update((who.tenant_id, source_id) for source_id in sources)
                await self._require(who, sources)
                raise
        else:
            created = [
                Measurement(None, who.tenant_id, d.source_id, d.type, d.time, now, d.fragments)
                for d in drafts
            ]
        self._announce(mode, "CREATE", created)
        return created

    async def _require(self, who: Principal, sources: list[int]) -> None:
        """NotFound unless every source exists in the caller's tenant and the caller may see it."""
        known = self._known if who.is_admin else None
        for source_id in sources:
            key = (who.tenant_id, source_id)
            if known is not None and key in known:
                continue
            await self._sources.require(who, source_id)
            if known is not None:
                if len(known) >= 100_000:
                    known.clear()
                known.add(key)

    async def grant(self, who: Principal, source_id: int) -> SourceGrant:
        """A grant for recording about `source_id`: it exists and the caller may see it."""
        await self._sources.require(who, source_id)
        return SourceGrant(who.tenant_id, source_id, _SEAL)

    async def create_many(
        self, rows: Sequence[IngestRow], mode: ProcessingMode = ProcessingMode.PERSISTENT
    ) -> list[int | None]:
        """Measurements of many sources, even of many tenants, stored in ONE write (the ingest path of the
        device adapters); all or nothing; their ids (None when the mode does not store them). Each row's
        source is its grant's. Measurement objects are built only for tenants someone listens to."""
        return await self._create_many(rows, mode, True)

    async def ingest(
        self, rows: Sequence[IngestRow], mode: ProcessingMode = ProcessingMode.PERSISTENT
    ) -> None:
        """create_many without the ids: the cheapest write (PostgreSQL: one binary COPY). The ids are read
        back only when someone listens to a tenant of the rows (as of the start of the write)."""
        await self._create_many(rows, mode, False)

    async def _create_many(
        self, rows: Sequence[IngestRow], mode: ProcessingMode, want_ids: bool
    ) -> list[int | None]:
        for row in rows:
            if row[0].seal is not _SEAL:
                raise InvalidInput("Measurement source was not granted", resource=R)
        heard: set[str] = set()
        if mode.announces:
            tenants = {row[0].tenant_id for row in rows}
            heard = {tenant for tenant in tenants if self._announce.listens(tenant)}
        now = now_ms()
        ids: list[int | None]
        if mode.stores:
            plain = [(g.tenant_id, g.source_id, t, at, f) for g, t, at, f in rows]
            if want_ids or heard:
                ids = list(await self._store.create_many(plain, now))
            else:
                await self._store.insert_many(plain, now)
                ids = [None] * len(rows)
        else:
            ids = [None] * len(rows)
        if heard:
            self._announce(
                mode,
                "CREATE",
                [
                    Measurement(i, g.tenant_id, g.source_id, t, at, now, f)
                    for i, (g, t, at, f) in zip(ids, rows, strict=True)
                    if g.tenant_id in heard
                ],
            )
        return ids

    async def get(self, who: Principal, measurement_id: int) -> Measurement:
        require_role(who)
        found = await self._store.get(who.tenant_id, measurement_id)
        if found is None or not await self._sources.visible(who, found.source_id):
            raise NotFound(missing=Missing.of("measurement", measurement_id), resource=R)
        return found

    async def find(
        self, who: Principal, criteria: MeasurementCriteria, page: PageRequest
    ) -> Page[Measurement]:
        require_role(who)
        return await self._store.find(who.tenant_id, criteria, page, owner_scope=owner_scope(who))

    async def delete(
        self, who: Principal, measurement_id: int, mode: ProcessingMode = ProcessingMode.PERSISTENT
    ) -> None:
        found = await self.get(who, measurement_id)
        if await self._store.delete(who.tenant_id, measurement_id):
            self._announce(mode, "DELETE", [found])

    async def delete_matching(
        self, who: Principal, criteria: MeasurementCriteria, mode: ProcessingMode = ProcessingMode.PERSISTENT
    ) -> int:
        """Like Cumulocity, no filter at all deletes every measurement the caller may see."""
        require_role(who)
        deleted = await self._store.delete_matching(who.tenant_id, criteria, owner_scope=owner_scope(who))
        self._announce(mode, "DELETE", deleted)
        return len(deleted)

    async def supported_series(self, who: Principal, source_id: int) -> list[tuple[str, str]]:
        """What /supportedSeries and /supportedMeasurements list: computed from the stored measurements."""
        await self._sources.require(who, source_id)
        return await self._store.supported_series(who.tenant_id, source_id)

    async def series(self, who: Principal, query: SeriesQuery) -> SeriesResult:
        await self._sources.require(who, query.source_id)
        if query.date_from > query.date_to:
            raise InvalidInput("'dateFrom' must not be after 'dateTo'", resource=R)
        rows = await self._store.series(who.tenant_id, query, self._series_limit + 1)
        # thousands of rows times the requested series: pure CPU, kept off the event loop
        return await asyncio.to_thread(compute_series, rows, query, self._series_limit)
