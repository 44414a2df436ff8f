"""The broker's counters."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["BrokerStats"]


@dataclass
class BrokerStats:
    """Counters for monitoring (the management API and $SYS-style topics read them)."""

    messages_received: int = 0
    messages_routed: int = 0
    #: Copies handed to an online session's connection.
    messages_sent: int = 0
    #: Messages routed while no subscription matched them.
    no_subscribers: int = 0
    #: Messages dropped because a session's queue was full.
    dropped: int = 0
    connections: int = 0
