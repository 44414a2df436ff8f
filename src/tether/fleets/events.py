"""Fleets events as Cumulocity events of the thing (docs/protocols.md section 10): what a device publishes on
`$emqx/things/<name>/events/<type>` (or posts to the ThingDatas API) becomes an event of that type on the
thing's managed object, visible in /event/events and real-time notifications.

The payload is a JSON object; its fields are kept as the event's fragments, except the names Cumulocity
gives an event itself (id, self, source, type, text, time, creationTime, lastUpdated), which go into the
fragment `fleets_Event` with the thing's name. The text is the payload's `message` (or `text`), else the
type; the time its `timestamp` (epoch seconds, or milliseconds from 10^11 on) or `time` (ISO 8601), else now.
"""

from __future__ import annotations

from typing import Any, Final

from tether.core.clock import MAX_MS, MIN_MS, parse_iso
from tether.core.errors import InvalidInput
from tether.fleets.models import Json, R, Thing
from tether.telemetry.models import NewEvent

FRAGMENT: Final = "fleets_Event"
_OWN: Final = frozenset({"id", "self", "source", "type", "text", "time", "creationTime", "lastUpdated"})
MAX_TYPE: Final = 128
_SECONDS_BELOW: Final = 10**11  # an epoch timestamp below this is in seconds (until the year 5138)


def event_type(value: str) -> str:
    if not value or len(value) > MAX_TYPE or not value.isprintable():
        raise InvalidInput(f"The event type must be 1 to {MAX_TYPE} printable characters", resource=R)
    return value


def _time(payload: Json, now: int) -> int:
    stamp = payload.get("timestamp")
    if isinstance(stamp, int) and not isinstance(stamp, bool):
        ms = stamp * 1000 if abs(stamp) < _SECONDS_BELOW else stamp
        if not MIN_MS <= ms <= MAX_MS:
            raise InvalidInput("'timestamp' is outside the years 1..9999", resource=R)
        return ms
    if stamp is not None:
        raise InvalidInput("'timestamp' must be epoch seconds or milliseconds", resource=R)
    text = payload.get("time")
    if isinstance(text, str):
        return parse_iso(text, resource=R)
    return now


def draft(thing: Thing, kind: str, payload: Any, now: int) -> NewEvent:
    """The event a device's payload makes; InvalidInput for one that is not a JSON object."""
    if not isinstance(payload, dict):
        raise InvalidInput("An event must be a JSON object", resource=R)
    kind = event_type(kind)
    message = payload.get("message", payload.get("text"))
    text = message if isinstance(message, str) and message else kind
    fragments: Json = {k: v for k, v in payload.items() if k not in _OWN}
    own: Json = {"thingName": thing.name}
    own.update({k: v for k, v in payload.items() if k in _OWN})
    fragments[FRAGMENT] = own
    return NewEvent(thing.mo_id, kind, text, _time(payload, now), fragments)
