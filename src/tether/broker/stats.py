"""The broker's counters."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["BrokerStats", "Traffic"]


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


class Traffic:
    """One connection's counters (the management API's client details): bytes and packets received,
    Application Messages received and sent, bytes handed to the transport."""

    __slots__ = ("recv_msg", "recv_oct", "recv_pkt", "send_msg", "send_oct")

    def __init__(self) -> None:
        self.recv_oct = 0
        self.recv_pkt = 0
        self.recv_msg = 0
        self.send_oct = 0
        self.send_msg = 0
