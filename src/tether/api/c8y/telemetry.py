"""What the measurement, event and alarm routers share: the processing-mode header and query parameters
(their documents in and out: c8y/documents.py, c8y/render.py)."""

from __future__ import annotations

from enum import StrEnum
from typing import TypeVar

from starlette.requests import Request

from tether.core.clock import parse_iso
from tether.core.errors import InvalidInput
from tether.core.ids import parse_id
from tether.core.processing import ProcessingMode

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


def check_range(start: int | None, end: int | None, *, resource: str) -> None:
    if start is not None and end is not None and start > end:
        raise InvalidInput("'dateFrom' must not be after 'dateTo'", resource=resource)
