"""Measurements, events and alarms: time-stamped data about one source (a managed object).

Times are integer milliseconds since the epoch (UTC), as everywhere in the domain. An `id` of None
marks data that was never stored (processing mode TRANSIENT).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any, Self

Json = dict[str, Any]
MAX_TYPE_LENGTH = 255  # the width of the `type` columns
#: A measurement as the bulk store takes it: (tenant id, source id, type, time, fragments).
MeasurementRow = tuple[str, int, str, int, Json]


# -- measurements ---------------------------------------------------------------------------------


# NewMeasurement and Measurement are not frozen: a frozen dataclass sets each field through
# object.__setattr__, which made building them (hundreds per collection, a hundred per page) about four
# times slower (bench/README.md, REST throughput). Nothing changes them after construction.
@dataclass(slots=True)
class NewMeasurement:
    source_id: int
    type: str
    time: int
    fragments: Json  # e.g. {"c8y_Temperature": {"T": {"value": 21.5, "unit": "C"}}}


@dataclass(slots=True)
class Measurement:
    id: int | None
    tenant_id: str
    source_id: int
    type: str | None
    time: int
    creation_time: int
    fragments: Json = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class MeasurementCriteria:
    """Filters of GET and DELETE /measurement/measurements; all given ones must hold.

    `date_from` is inclusive, `date_to` exclusive. Results are in time order, oldest first unless
    `newest_first`."""

    source_id: int | None = None
    type: str | None = None
    value_fragment_type: str | None = None
    value_fragment_series: str | None = None  # only together with value_fragment_type
    date_from: int | None = None
    date_to: int | None = None
    newest_first: bool = False


class Aggregation(StrEnum):
    """Series aggregation: one {min, max} per series and UTC minute, hour or day."""

    MINUTELY = "MINUTELY"
    HOURLY = "HOURLY"
    DAILY = "DAILY"

    @property
    def period_ms(self) -> int:
        return {"MINUTELY": 60_000, "HOURLY": 3_600_000, "DAILY": 86_400_000}[self.value]


@dataclass(frozen=True, slots=True)
class SeriesName:
    """`<fragment>.<series>`, e.g. c8y_Temperature.T: the value at fragments[fragment][series].value."""

    fragment: str
    series: str

    def __str__(self) -> str:
        return f"{self.fragment}.{self.series}"


@dataclass(frozen=True, slots=True)
class SeriesQuery:
    source_id: int
    date_from: int
    date_to: int
    series: tuple[SeriesName, ...] = ()  # empty: every series found
    aggregation: Aggregation | None = None
    newest_first: bool = False


@dataclass(frozen=True, slots=True)
class SeriesSpec:
    name: SeriesName
    unit: str | None


@dataclass(frozen=True, slots=True)
class MinMax:
    min: float
    max: float


@dataclass(frozen=True, slots=True)
class SeriesResult:
    """`values` maps a time (the bucket start when aggregated) to one entry per spec, None where that
    series has no value at that time. `truncated`: more source rows matched than were read."""

    specs: list[SeriesSpec]
    values: list[tuple[int, list[MinMax | None]]]
    truncated: bool


# -- events ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class NewEvent:
    source_id: int
    type: str
    text: str
    time: int
    fragments: Json


@dataclass(frozen=True, slots=True)
class EventChange:
    """An update of an event: the text when given; a fragment given replaces the stored one, None removes
    it. Source, type and time never change."""

    text: str | None = None
    fragments: Json = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Event:
    id: int | None
    tenant_id: str
    source_id: int
    type: str
    text: str
    time: int
    creation_time: int
    last_updated: int
    fragments: Json = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class EventCriteria:
    """Filters of GET and DELETE /event/events; newest first unless `newest_first` is False."""

    source_id: int | None = None
    type: str | None = None
    fragment_type: str | None = None
    fragment_value: str | None = None  # only together with fragment_type: its string value
    date_from: int | None = None
    date_to: int | None = None
    created_from: int | None = None
    created_to: int | None = None
    #: withSourceAssets / withSourceDevices (with `source_id`): also the data of the source's child assets /
    #: devices at any depth; the service resolves them into `source_ids` (the source first).
    with_source_assets: bool = False
    with_source_devices: bool = False
    source_ids: tuple[int, ...] | None = None
    newest_first: bool = True

    def with_related(self, ids: tuple[int, ...]) -> Self:
        return replace(self, source_ids=ids)


# -- alarms ---------------------------------------------------------------------------------------


class AlarmStatus(StrEnum):
    ACTIVE = "ACTIVE"
    ACKNOWLEDGED = "ACKNOWLEDGED"
    CLEARED = "CLEARED"

    @property
    def is_open(self) -> bool:
        """Open alarms are de-duplicated: at most one per source and type."""
        return self is not AlarmStatus.CLEARED


OPEN_STATUSES = (AlarmStatus.ACTIVE, AlarmStatus.ACKNOWLEDGED)


class AlarmSeverity(StrEnum):
    CRITICAL = "CRITICAL"
    MAJOR = "MAJOR"
    MINOR = "MINOR"
    WARNING = "WARNING"


@dataclass(frozen=True, slots=True)
class NewAlarm:
    source_id: int
    type: str
    text: str
    severity: AlarmSeverity
    status: AlarmStatus
    time: int
    fragments: Json


@dataclass(frozen=True, slots=True)
class Alarm:
    id: int | None
    tenant_id: str
    source_id: int
    type: str
    text: str
    status: AlarmStatus
    severity: AlarmSeverity
    count: int
    time: int
    first_occurrence_time: int
    creation_time: int
    last_updated: int
    fragments: Json = field(default_factory=dict)
    source_name: str | None = None  # the source's name when it was read, for display


@dataclass(frozen=True, slots=True)
class AlarmChange:
    """PUT /alarm/alarms/{id}: the fields given change; a fragment set to None is removed."""

    status: AlarmStatus | None = None
    severity: AlarmSeverity | None = None
    text: str | None = None
    fragments: Json = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class AlarmCriteria:
    """Filters of GET, PUT (bulk) and DELETE /alarm/alarms and of /alarm/alarms/count.

    A tuple filter matches any of its values; `resolved` True means CLEARED, False means open.
    Newest first unless `newest_first` is False."""

    source_id: int | None = None
    types: tuple[str, ...] | None = None
    statuses: tuple[AlarmStatus, ...] | None = None
    severities: tuple[AlarmSeverity, ...] | None = None
    resolved: bool | None = None
    fragment_type: str | None = None
    date_from: int | None = None
    date_to: int | None = None
    created_from: int | None = None
    created_to: int | None = None
    #: withSourceAssets / withSourceDevices (with `source_id`): also the data of the source's child assets /
    #: devices at any depth; the service resolves them into `source_ids` (the source first).
    with_source_assets: bool = False
    with_source_devices: bool = False
    source_ids: tuple[int, ...] | None = None
    newest_first: bool = True

    def with_related(self, ids: tuple[int, ...]) -> Self:
        return replace(self, source_ids=ids)

    @property
    def is_unfiltered(self) -> bool:
        return all(
            value is None
            for value in (
                self.source_id,
                self.types,
                self.statuses,
                self.severities,
                self.resolved,
                self.fragment_type,
                self.date_from,
                self.date_to,
                self.created_from,
                self.created_to,
            )
        )
