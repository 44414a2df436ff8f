"""Which nodes are alive: every node says so on ``tether.node.heartbeat`` every second; one silent for
longer than ``timeout`` is gone, as is one that said ``tether.node.leave`` when it stopped.

A node that sees a newcomer answers with its own heartbeat at once, so a node knows its peers within one
round trip of joining. While this node's own NATS connection is down it declares nobody gone (it cannot
tell a dead peer from its own isolation) and, once reconnected, gives every peer a fresh ``timeout``.
A node that comes back under the same name with another start time was restarted: its previous incarnation
is gone (listeners hear ``down`` then ``up``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import orjson

from .bus import ClusterBus, Msg

__all__ = ["Membership", "NodeInfo"]

log = logging.getLogger("tether.cluster")

HEARTBEAT = "tether.node.heartbeat"
LEAVE = "tether.node.leave"


@dataclass
class NodeInfo:
    """A member as its heartbeats describe it; ``info`` holds what it advertises (its listeners)."""

    name: str
    started_at: float  # wall clock
    version: str = ""
    info: dict[str, Any] = field(default_factory=dict)
    last_seen: float = 0.0  # monotonic, on this node's clock

    def to_bytes(self) -> bytes:
        return orjson.dumps(
            {"node": self.name, "started_at": self.started_at, "version": self.version, "info": self.info}
        )

    @classmethod
    def from_bytes(cls, data: bytes) -> NodeInfo:
        doc = orjson.loads(data)
        info = doc.get("info")
        return cls(
            name=str(doc["node"]),
            started_at=float(doc["started_at"]),
            version=str(doc.get("version", "")),
            info=info if isinstance(info, dict) else {},
        )


class Membership:
    def __init__(self, bus: ClusterBus, me: NodeInfo, interval: float = 1.0, timeout: float = 3.5) -> None:
        self.bus = bus
        self.me = me
        self.interval = interval
        self.timeout = timeout
        self.peers: dict[str, NodeInfo] = {}
        #: Listeners: ``on_up(node)`` when a peer joins, ``on_down(node, clean)`` when it leaves (clean: it
        #: said so) or fell silent. They run synchronously and must not block.
        self.on_up: list[Callable[[NodeInfo], None]] = []
        self.on_down: list[Callable[[NodeInfo, bool], None]] = []
        self._task: asyncio.Task[None] | None = None
        self._unsubscribe: list[Any] = []
        self._isolated = False
        bus.on_disconnected.append(self._lost)
        bus.on_reconnected.append(self._back)

    @property
    def nodes(self) -> list[NodeInfo]:
        """Every live member, this node included, by name."""
        return sorted([self.me, *self.peers.values()], key=lambda node: node.name)

    def alive(self, name: str) -> bool:
        return name == self.me.name or name in self.peers

    async def start(self) -> None:
        self._unsubscribe = [
            await self.bus.subscribe(HEARTBEAT, self._heartbeat),
            await self.bus.subscribe(LEAVE, self._leave),
        ]
        await self.bus.publish(HEARTBEAT, self.me.to_bytes())
        self._task = asyncio.create_task(self._beat(), name="cluster-heartbeat")

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            self._task = None
        if self.bus.connected:
            leave = {"node": self.me.name, "started_at": self.me.started_at}
            await self.bus.publish(LEAVE, orjson.dumps(leave))
        for unsubscribe in self._unsubscribe:
            with contextlib.suppress(Exception):  # the connection may be closing
                await unsubscribe()

    async def _beat(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            if self.bus.connected:
                await self.bus.publish(HEARTBEAT, self.me.to_bytes())
            if not self._isolated:
                deadline = time.monotonic() - self.timeout
                for node in [n for n in self.peers.values() if n.last_seen < deadline]:
                    log.warning("cluster: node %s is silent for %.1f s: gone", node.name, self.timeout)
                    self._down(node, clean=False)

    async def _heartbeat(self, msg: Msg) -> None:
        try:
            node = NodeInfo.from_bytes(msg.data)
        except (ValueError, KeyError, TypeError):
            log.warning("cluster: ignored a malformed heartbeat")
            return
        if node.name == self.me.name:
            if node.started_at != self.me.started_at:
                log.error("cluster: another node runs under this node's name %s", node.name)
            return
        node.last_seen = time.monotonic()
        known = self.peers.get(node.name)
        if known is not None and known.started_at == node.started_at:
            known.last_seen = node.last_seen
            known.info = node.info
            return
        if known is not None:  # restarted under the same name
            self._down(known, clean=False)
        self.peers[node.name] = node
        log.info("cluster: node %s joined (%d nodes)", node.name, len(self.peers) + 1)
        await self.bus.publish(HEARTBEAT, self.me.to_bytes())  # the newcomer learns of us at once
        for listener in list(self.on_up):
            _call(listener, node)

    async def _leave(self, msg: Msg) -> None:
        try:
            doc = orjson.loads(msg.data)
            name, started_at = str(doc["node"]), float(doc["started_at"])
        except (ValueError, KeyError, TypeError):
            return
        node = self.peers.get(name)
        if node is not None and node.started_at == started_at:
            log.info("cluster: node %s left", name)
            self._down(node, clean=True)

    def _down(self, node: NodeInfo, clean: bool) -> None:
        if self.peers.get(node.name) is node:
            del self.peers[node.name]
        for listener in list(self.on_down):
            _call(listener, node, clean)

    def _lost(self) -> None:
        self._isolated = True

    def _back(self) -> None:
        self._isolated = False
        now = time.monotonic()
        for node in self.peers.values():
            node.last_seen = now


def _call(listener: Callable[..., None], *args: Any) -> None:
    try:
        listener(*args)
    except Exception:
        log.exception("cluster: membership listener %r failed", listener)
