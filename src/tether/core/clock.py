"""Time as stored (integer milliseconds since the epoch, UTC) and as shown (ISO-8601, Cumulocity style).

Every stored instant lies in the years 1..9999 UTC (`MIN_MS`..`MAX_MS`): what an ISO-8601 date-time with a
four-digit year can show, and what Python's datetime (to_iso) can render. :func:`parse_iso` refuses other
instants AFTER the conversion to UTC, so `9999-12-31T23:59:59-14:00` (year 10000 in UTC) is refused on every
entry path that reads a date (docs/security.md, Poison input).
"""

from __future__ import annotations

import functools
import logging
import time
from datetime import UTC, datetime, timedelta

from tether.core.errors import BadRequest

log = logging.getLogger("tether.clock")

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
#: 0001-01-01T00:00:00.000Z and 9999-12-31T23:59:59.999Z in milliseconds since the epoch.
MIN_MS = -62_135_596_800_000
MAX_MS = 253_402_300_799_999


class OutOfRange(BadRequest):
    """A date-time outside the years 1..9999 once converted to UTC."""


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def in_range(ms: int) -> bool:
    return MIN_MS <= ms <= MAX_MS


def to_iso(ms: int) -> str:
    """Render as `2013-08-30T10:12:24.378Z`; fixed width, so strings sort like the instants.

    An instant outside the years 1..9999 (only a row stored before parse_iso refused them can hold one) is
    shown as the nearest bound, so that listing it still works and it can be found and deleted."""
    if not MIN_MS <= ms <= MAX_MS:
        log.warning("time %d ms is outside the years 1..9999; shown as the nearest bound", ms)
        ms = MIN_MS if ms < MIN_MS else MAX_MS
    return f"{_second(ms // 1000)}.{ms % 1000:03d}Z"


@functools.lru_cache(maxsize=4096)
def _second(seconds: int) -> str:
    """`2013-08-30T10:12:24` of a second since the epoch: rendering a page of measurements or a collection
    shows many times of the same seconds, and strftime was a tenth of the CPU of such a request."""
    dt = _EPOCH + timedelta(seconds=seconds)
    return f"{dt.year:04d}-{dt.month:02d}-{dt.day:02d}T{dt.hour:02d}:{dt.minute:02d}:{dt.second:02d}"


def parse_iso(text: str, *, field: str = "time", resource: str = "general") -> int:
    """Parse an ISO-8601 date-time with zone; a date without zone is taken as UTC. BadRequest unless it is
    a date-time in the years 1..9999 once converted to UTC."""
    value = text.strip()
    if value.endswith(("Z", "z")):
        value = value[:-1] + "+00:00"
    try:
        dt = datetime.fromisoformat(value)
    except ValueError:
        raise BadRequest(
            f"Invalid date for '{field}': {text!r}; expected ISO-8601", resource=resource
        ) from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    # Integer arithmetic: float timestamp() * 1000 truncated lost a millisecond for ~0.6% of inputs.
    delta = dt - _EPOCH
    ms = (delta.days * 86_400 + delta.seconds) * 1000 + delta.microseconds // 1000
    if not MIN_MS <= ms <= MAX_MS:
        raise OutOfRange(
            f"Invalid date for '{field}': {text!r} is outside the years 1..9999 in UTC", resource=resource
        )
    return ms
