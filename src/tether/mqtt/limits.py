"""What the two ends of a connection announced (a CONNECT's and a CONNACK's limits) and what the server was
configured with, as shared immutable values.

Most connections announce the same (the spec defaults for MQTT 3.1.1, the same properties for a fleet of
MQTT 5 devices), so :func:`shared` keeps one object per distinct set of values: a
:class:`~tether.mqtt.connection.ServerConnection` holds three references instead of fifteen fields.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypeVar

from .constants import MAX_PACKET_SIZE

__all__ = ["ClientLimits", "ServerLimits", "Settings", "shared"]


@dataclass(frozen=True, slots=True)
class Settings:
    """The server's own limits on a connection (ServerConnection's constructor arguments)."""

    #: Largest acceptable packet once the CONNECT is in (fixed header included).
    max_packet_size: int = MAX_PACKET_SIZE
    #: Longest Client Identifier accepted (characters).
    max_client_id_length: int = 65_535
    #: Choose topic aliases for PUBLISH packets to MQTT 5 clients that allow them.
    outgoing_topic_aliases: bool = False


@dataclass(frozen=True, slots=True)
class ClientLimits:
    """What the client's CONNECT said (MQTT 5 properties; absent: the spec defaults, as for 3.1.1)."""

    keep_alive: int = 0
    maximum_packet_size: int = MAX_PACKET_SIZE
    receive_maximum: int = 65_535  # spec 3.1.2.11.3: absent means 65,535
    topic_alias_maximum: int = 0
    request_problem_information: bool = True
    authentication_method: str | None = None
    session_expiry: int = 0


@dataclass(frozen=True, slots=True)
class ServerLimits:
    """What the server's CONNACK announced (MQTT 5; the spec defaults until then)."""

    maximum_qos: int = 2  # spec 3.2.2.3.4: absent means QoS 2
    retain_available: bool = True  # spec 3.2.2.3.5
    subscription_identifiers_available: bool = True  # spec 3.2.2.3.12
    server_keep_alive: int | None = None


T = TypeVar("T", Settings, ClientLimits, ServerLimits)

# Distinct values seen, each kept once; beyond _MAX_SHARED (clients announcing many different values, e.g.
# keep alives) a value is its own object.
_SHARED: dict[Any, Any] = {}
_MAX_SHARED = 4096


def shared(limits: T) -> T:
    """The one object with these values (``limits`` itself the first time)."""
    found = _SHARED.get(limits)
    if found is not None:
        return found  # type: ignore[no-any-return]
    if len(_SHARED) < _MAX_SHARED:
        _SHARED[limits] = limits
    return limits
