"""Time as stored (integer milliseconds since the epoch, UTC) and as shown (ISO-8601, Cumulocity style)."""

from __future__ import annotations

import time
from datetime import UTC, datetime

from tether.core.errors import BadRequest


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def to_iso(ms: int) -> str:
    """Render as `2013-08-30T10:12:24.378Z`; fixed width, so strings sort like the instants."""
    dt = datetime.fromtimestamp(ms / 1000, tz=UTC)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


def parse_iso(text: str, *, field: str = "time", resource: str = "general") -> int:
    """Parse an ISO-8601 date-time with zone; a date without zone is taken as UTC."""
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
    delta = dt - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * 1000 + delta.microseconds // 1000
