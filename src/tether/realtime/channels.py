"""Channel names: which subscriptions an endpoint accepts, and where a domain event is delivered.

Cumulocity has two families of Bayeux endpoints:

* real-time (``/notification/realtime``, legacy ``/cep/realtime``): ``/<resource>/<id>`` or ``/<resource>/*``
  for managedobjects, measurements, events, alarms and operations; data is wrapped as
  ``{"realtimeAction": ..., "data": ...}``.
* operations (``/devicecontrol/notifications``, ``/notification/operations``): ``/<agentId>``; data is the
  operation itself.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from tether.core.events import DomainEvent

RESOURCES = frozenset({"managedobjects", "measurements", "events", "alarms", "operations"})
WILDCARD = "*"
_ID = r"[0-9]{1,18}"
_REALTIME = re.compile(rf"/({'|'.join(sorted(RESOURCES))})/({_ID}|\*)")
_OPERATIONS = re.compile(rf"/({_ID}|\*)")


class Endpoint(StrEnum):
    """The family of a Bayeux endpoint; paths map onto it in the HTTP layer."""

    REALTIME = "realtime"
    OPERATIONS = "operations"


class InvalidChannel(ValueError):
    """A subscription that names no channel of the endpoint."""


def validate(endpoint: Endpoint, channel: object) -> str:
    """The subscription channel if `endpoint` serves it, else InvalidChannel."""
    if not isinstance(channel, str) or not channel:
        raise InvalidChannel("Subscription must be a channel name")
    pattern = _REALTIME if endpoint is Endpoint.REALTIME else _OPERATIONS
    if pattern.fullmatch(channel) is None:
        raise InvalidChannel(f"Invalid channel {channel} for this endpoint")
    return channel


def subject(endpoint: Endpoint, channel: str) -> tuple[str, int | None]:
    """(resource, object id) of a validated channel; the id is None for a wildcard. On the operations
    endpoints the resource is "operations" and the id the agent's."""
    parts = channel.strip("/").split("/")
    resource = parts[0] if endpoint is Endpoint.REALTIME else "operations"
    return resource, None if parts[-1] == WILDCARD else int(parts[-1])


@dataclass(frozen=True, slots=True)
class Target:
    """One delivery of an event: the concrete channel, and the subscriptions that match it."""

    endpoint: Endpoint
    channel: str  # what the data message carries, e.g. /measurements/123
    wildcard: str  # the subscription that matches every id, e.g. /measurements/*

    @property
    def subscriptions(self) -> tuple[str, str]:
        return (self.channel, self.wildcard)


def targets(event: DomainEvent) -> list[Target]:
    """Every channel an event is delivered on, per endpoint family."""
    found: list[Target] = []
    if event.resource not in RESOURCES:
        return found
    if event.source_id is not None:
        found.append(
            Target(Endpoint.REALTIME, f"/{event.resource}/{event.source_id}", f"/{event.resource}/*")
        )
    if event.resource == "operations":
        # The agent executes the operations of its children; a device without an agent is its own.
        agent = event.agent_id if event.agent_id is not None else event.source_id
        if agent is not None:
            found.append(Target(Endpoint.OPERATIONS, f"/{agent}", "/*"))
    return found
