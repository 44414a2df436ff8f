"""What the measurement, event and alarm routers share: the processing-mode header, query parameters and
the Cumulocity JSON of the three (render_measurement, render_event, render_alarm; also used for real-time
notifications, so they accept objects without an id: processing mode TRANSIENT)."""

from __future__ import annotations

from enum import StrEnum
from typing import Any, TypeVar

from starlette.requests import Request

from tether.api.c8y.render import mo_url
from tether.api.http import query_flag
from tether.core.clock import parse_iso, to_iso
from tether.core.errors import InvalidInput
from tether.core.ids import parse_id
from tether.core.processing import ProcessingMode
from tether.telemetry.models import Alarm, Event, Measurement

S = TypeVar("S", bound=StrEnum)

PROCESSING_MODE = "X-Cumulocity-Processing-Mode"
# Characters a fragment or series name in a query may not hold: they would end a JSON path early.
_NAME_FORBIDDEN = frozenset('"\\\x00')


def processing_mode(request: Request, *, resource: str) -> ProcessingMode:
    """PERSISTENT unless the header names another mode; an unknown mode is a 422."""
    raw = request.headers.get(PROCESSING_MODE, "").strip()
    if not raw:
        return ProcessingMode.PERSISTENT
    try:
        return ProcessingMode(raw.upper())
    except ValueError:
        names = ", ".join(ProcessingMode)
        raise InvalidInput(
            f"Invalid {PROCESSING_MODE} {raw!r}; expected one of {names}", resource=resource
        ) from None


# -- query parameters -----------------------------------------------------------------------------


def query_id(request: Request, name: str, *, resource: str) -> int | None:
    raw = request.query_params.get(name, "").strip()
    if not raw:
        return None
    value = parse_id(raw)
    if value is None:
        raise InvalidInput(f"Query parameter '{name}' must be an id, got {raw!r}", resource=resource)
    return value


def query_date(request: Request, name: str, *, resource: str) -> int | None:
    """An ISO-8601 date or date-time; a `+` of the zone sent unencoded arrives as a space."""
    raw = request.query_params.get(name, "").strip()
    if not raw:
        return None
    return parse_iso(raw.replace(" ", "+"), field=name, resource=resource)


def _no_nul(value: str, name: str, resource: str) -> str:
    if "\x00" in value:
        raise InvalidInput(f"Query parameter '{name}' must not contain NUL characters", resource=resource)
    return value


def query_text(request: Request, name: str, *, resource: str) -> str | None:
    value = request.query_params.get(name)
    return _no_nul(value, name, resource) if value else None


def fragment_name(value: str, name: str, *, resource: str) -> str:
    if not value or _NAME_FORBIDDEN.intersection(value):
        raise InvalidInput(
            f"Query parameter '{name}' is not a valid fragment name: {value!r}", resource=resource
        )
    return value


def query_fragment(request: Request, name: str, *, resource: str) -> str | None:
    value = request.query_params.get(name)
    return None if not value else fragment_name(value, name, resource=resource)


def query_list(request: Request, name: str, *, resource: str) -> list[str]:
    """Values of a parameter given repeatedly and/or comma-separated, in order, without blanks."""
    values: list[str] = []
    for raw in request.query_params.getlist(name):
        values += [_no_nul(part.strip(), name, resource) for part in raw.split(",") if part.strip()]
    return values


def query_enums(request: Request, name: str, enum: type[S], *, resource: str) -> tuple[S, ...] | None:
    values = query_list(request, name, resource=resource)
    if not values:
        return None
    names = [member.value for member in enum]
    for value in values:
        if value not in names:
            raise InvalidInput(
                f"Query parameter '{name}' must be one of {', '.join(names)}, got {value!r}",
                resource=resource,
            )
    return tuple(dict.fromkeys(enum(value) for value in values))


def query_bool(request: Request, name: str, *, resource: str) -> bool | None:
    raw = request.query_params.get(name, "").strip().lower()
    if not raw:
        return None
    if raw not in ("true", "false"):
        raise InvalidInput(f"Query parameter '{name}' must be true or false, got {raw!r}", resource=resource)
    return raw == "true"


def reject_related_sources(request: Request, *, resource: str) -> None:
    """withSourceAssets / withSourceDevices are not supported: refuse rather than silently ignore them."""
    for name in ("withSourceAssets", "withSourceDevices"):
        if query_flag(request, name):
            raise InvalidInput(f"Query parameter '{name}' is not supported", resource=resource)


def check_range(start: int | None, end: int | None, *, resource: str) -> None:
    if start is not None and end is not None and start > end:
        raise InvalidInput("'dateFrom' must not be after 'dateTo'", resource=resource)


# -- rendering ------------------------------------------------------------------------------------


def measurement_url(base: str, measurement_id: int) -> str:
    return f"{base}/measurement/measurements/{measurement_id}"


def event_url(base: str, event_id: int) -> str:
    return f"{base}/event/events/{event_id}"


def alarm_url(base: str, alarm_id: int) -> str:
    return f"{base}/alarm/alarms/{alarm_id}"


def _identity(body: dict[str, Any], item_id: int | None, url: str) -> None:
    if item_id is not None:
        body["id"] = str(item_id)
        body["self"] = url


def _source(base: str, source_id: int, name: str | None = None) -> dict[str, Any]:
    source: dict[str, Any] = {"id": str(source_id)}
    if name is not None:
        source["name"] = name
    source["self"] = mo_url(base, source_id)
    return source


def _fragments(body: dict[str, Any], fragments: dict[str, Any]) -> dict[str, Any]:
    for key, value in fragments.items():
        body.setdefault(key, value)  # never let a stored fragment shadow a field of the server
    return body


def render_measurement(base: str, m: Measurement) -> dict[str, Any]:
    body: dict[str, Any] = {}
    _identity(body, m.id, measurement_url(base, m.id or 0))
    body["source"] = _source(base, m.source_id)
    if m.type is not None:
        body["type"] = m.type
    body["time"] = to_iso(m.time)
    return _fragments(body, m.fragments)


def render_event(base: str, e: Event) -> dict[str, Any]:
    body: dict[str, Any] = {}
    _identity(body, e.id, event_url(base, e.id or 0))
    body["creationTime"] = to_iso(e.creation_time)
    body["lastUpdated"] = to_iso(e.last_updated)
    body["source"] = _source(base, e.source_id)
    body["type"] = e.type
    body["text"] = e.text
    body["time"] = to_iso(e.time)
    return _fragments(body, e.fragments)


def render_alarm(base: str, a: Alarm) -> dict[str, Any]:
    body: dict[str, Any] = {}
    _identity(body, a.id, alarm_url(base, a.id or 0))
    body["creationTime"] = to_iso(a.creation_time)
    body["lastUpdated"] = to_iso(a.last_updated)
    body["source"] = _source(base, a.source_id, a.source_name)
    body["type"] = a.type
    body["text"] = a.text
    body["status"] = a.status.value
    body["severity"] = a.severity.value
    body["count"] = a.count
    body["time"] = to_iso(a.time)
    if a.count > 1:  # the spec: "only present when count is greater than 1"
        body["firstOccurrenceTime"] = to_iso(a.first_occurrence_time)
    return _fragments(body, a.fragments)
