"""This process as a cluster member: its name, its NATS connection, its view of the other nodes."""

from __future__ import annotations

import os
import socket
import time

from tether import __version__

from .bus import ClusterBus
from .membership import HEARTBEAT, Membership, NodeInfo

__all__ = ["ClusterNode", "default_node_name"]


def default_node_name() -> str:
    """``host-pid``: unique among the processes of one machine, and new at every start."""
    return f"{socket.gethostname()}-{os.getpid()}"


class ClusterNode:
    """Connect with :meth:`start` (before the platform is built: its parts subscribe as they are wired),
    leave with :meth:`close` (after the broker and the listeners stopped)."""

    def __init__(self, url: str, name: str) -> None:
        self.name = name
        self.bus = ClusterBus(url, name)
        self.membership = Membership(self.bus, NodeInfo(name, time.time(), __version__))

    async def start(self) -> None:
        await self.bus.connect()
        await self.membership.start()

    def advertise(self, **info: str) -> None:
        """Add to what this node's heartbeats tell the others (e.g. its listeners), told at once."""
        self.membership.me.info.update(info)
        if self.bus.connected:
            self.bus.post(HEARTBEAT, self.membership.me.to_bytes())

    async def close(self) -> None:
        await self.membership.close()
        await self.bus.close()
