"""The broker's counters."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

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
    #: In a cluster: copies of messages accepted here sent to other nodes (one per node), and copies that
    #: other nodes sent here.
    messages_forwarded: int = 0
    messages_from_nodes: int = 0
    #: Per namespace (a tenant's mountpoint; "" the whole topic space; None connections that never logged
    #: in): the traffic of its connections that ended, and its connection and authorization counts in EMQX's
    #: metric names (`client.connect`, `authentication.success`, `authorization.deny`, ...).
    ended: dict[str | None, Traffic] = field(default_factory=dict)
    events: dict[str | None, Counter[str]] = field(default_factory=dict)

    def count(self, mountpoint: str | None, key: str) -> None:
        counter = self.events.get(mountpoint)
        if counter is None:
            counter = self.events[mountpoint] = Counter()
        counter[key] += 1

    def connection_ended(self, mountpoint: str | None, traffic: Traffic) -> None:
        total = self.ended.get(mountpoint)
        if total is None:
            total = self.ended[mountpoint] = Traffic()
        total.add(traffic)


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

    def add(self, other: Traffic) -> None:
        self.recv_oct += other.recv_oct
        self.recv_pkt += other.recv_pkt
        self.recv_msg += other.recv_msg
        self.send_oct += other.send_oct
        self.send_msg += other.send_msg
