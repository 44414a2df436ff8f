"""Wills of the connections of a node that dies (docs/cluster.md, "Wills across nodes").

A will is published by the node holding the connection when the connection ends without a normal
DISCONNECT (broker/will.py). A node that dies (kill -9, a lost machine) publishes nothing, so:

- every node tells the others, on ``tether.mqtt.wills``, the will of each connection it accepts, and that
  the connection ended when it does (its will was then published, left pending in its session, or deleted,
  by that node, as without a cluster);
- every node keeps the open wills of the others; when membership declares a node gone without a clean
  leave, its open wills become **orphans**, due when their delay passes (the Will Delay Interval, bounded
  by the Session Expiry Interval: spec 3.1.3.2.2; MQTT 3.1.1: at once);
- the leader publishes each orphan when it is due and tells the others, so that a leader elected later
  does not publish it again;
- a client that connects again on any node before its delayed will is due deletes it (spec 3.1.3.2.2):
  that node tells the others. A will without delay is published even so: its connection did end.

A node that leaves cleanly has dealt with its connections' wills itself. A node cut off from NATS for
longer than the membership timeout counts as gone, so its clients' wills are published although they may
still be connected to it. Every node holds the open wills of the whole cluster (the message and ~100 bytes
each).
"""

from __future__ import annotations

import asyncio
import logging
import struct
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from itertools import count
from typing import Any

import orjson

from tether.broker import Broker
from tether.broker.ports import Connection

from .bus import Msg, undo_all
from .frames import Batch, encode_frame
from .leader import Duty, Leadership
from .membership import NodeInfo
from .node import ClusterNode

__all__ = ["WillKeeper", "install"]

log = logging.getLogger("tether.cluster")

WILLS = "tether.mqtt.wills"
_LENGTH = struct.Struct("!I")


@dataclass(slots=True)
class _Open:
    """The will of a connection open on another node."""

    key: str  # the session's key (client id as mounted)
    delay: float  # seconds from the end of the connection to the will
    frame: bytes  # the will message (cluster/frames.py)


@dataclass(slots=True)
class _Orphan:
    node: str
    frame: bytes
    due: float  # event-loop time
    timer: asyncio.TimerHandle | None = None


def _encode(header: dict[str, Any], frame: bytes = b"") -> bytes:
    head = orjson.dumps(header)
    return _LENGTH.pack(len(head)) + head + frame


class WillKeeper:
    def __init__(self, node: ClusterNode, broker: Broker, leadership: Leadership) -> None:
        self.node = node
        self.me = node.name
        self.broker = broker
        self.loop = broker.loop
        self.leadership = leadership
        self._serial = count(1)
        #: This node's connections with a will: id(connection) -> (serial, key, delay, frame).
        self._mine: dict[int, tuple[int, str, float, bytes]] = {}
        #: The other nodes' open wills: node -> serial -> will; and which node and serial hold each key.
        self._open: dict[str, dict[int, _Open]] = {}
        self._where: dict[str, tuple[str, int]] = {}
        self.orphans: dict[str, _Orphan] = {}
        self.published = 0  # orphans this node published (as the leader)
        self._undo: list[Callable[[], Any]] = []

    # ------------------------------------------------------------------------------------ life cycle

    async def start(self) -> None:
        broker, membership = self.broker, self.node.membership
        self._undo.append(await self.node.bus.subscribe(WILLS, self._received))
        broker.connection_watch = self._watch
        self._undo.append(lambda: setattr(broker, "connection_watch", None))
        membership.on_down.append(self._node_down)
        membership.on_up.append(self._node_up)
        self._undo.append(lambda: membership.on_down.remove(self._node_down))
        self._undo.append(lambda: membership.on_up.remove(self._node_up))
        self.node.bus.on_reconnected.append(self._announce_all)
        self._undo.append(lambda: self.node.bus.on_reconnected.remove(self._announce_all))
        duty = Duty("orphaned wills", self._lead, self._step_down)
        self.leadership.add(duty)
        self._undo.append(lambda: self.leadership.remove(duty))

    async def close(self) -> None:
        await undo_all(self._undo, "wills")
        self._step_down()

    # ------------------------------------------------------------------------------------ this node

    def _watch(self, connection: Connection, opened: bool) -> None:
        """The broker accepted a connection (``opened``) or one it had accepted ended."""
        if not opened:
            mine = self._mine.pop(id(connection), None)
            if mine is not None:
                self.node.bus.post(WILLS, _encode({"op": "clear", "node": self.me, "id": mine[0]}))
            return
        session = connection.session
        if session is None:
            return
        key = session.client_id
        if key in self._where or key in self.orphans:  # connected again: a delayed will is deleted
            self._gone(key, connected=True)
            self.node.bus.post(WILLS, _encode({"op": "back", "key": key}))
        will = connection.will
        if will is None:
            return
        delay = float(min(connection.will_delay, session.expiry_interval))
        mine = (next(self._serial), key, delay, encode_frame(will, self.loop.time()))
        self._mine[id(connection)] = mine
        self.node.bus.post(WILLS, self._set(mine))

    def _set(self, mine: tuple[int, str, float, bytes]) -> bytes:
        serial, key, delay, frame = mine
        return _encode({"op": "set", "node": self.me, "id": serial, "key": key, "delay": delay}, frame)

    def _announce_all(self) -> None:
        """Every open will of this node again (a newcomer, or NATS back: sets are idempotent)."""
        for mine in self._mine.values():
            self.node.bus.post(WILLS, self._set(mine))

    def _node_up(self, node: NodeInfo) -> None:
        self._announce_all()

    # ------------------------------------------------------------------------------------ the others

    async def _received(self, msg: Msg) -> None:
        data = msg.data
        (length,) = _LENGTH.unpack_from(data, 0)
        start = _LENGTH.size + length
        doc = orjson.loads(data[_LENGTH.size : start])
        op = doc["op"]
        if op == "set":
            node = str(doc["node"])
            if node == self.me or not self.node.membership.alive(node):
                return
            key = str(doc["key"])
            serial = int(doc["id"])
            self._open.setdefault(node, {})[serial] = _Open(key, float(doc["delay"]), data[start:])
            self._where[key] = (node, serial)
        elif op == "clear":
            node = str(doc["node"])
            held = self._open.get(node)
            if held is not None:
                will = held.pop(int(doc["id"]), None)
                if will is not None and self._where.get(will.key) == (node, int(doc["id"])):
                    del self._where[will.key]
        elif op == "back":
            self._gone(str(doc["key"]), connected=True)
        elif op == "done":
            self._gone(str(doc["key"]), connected=False)

    def _gone(self, key: str, connected: bool) -> None:
        """The orphaned will of `key` was published, or its client connected again: forget it (a will
        without delay still open on another node stays: should that node die, its connection ended)."""
        orphan = self.orphans.get(key)
        if orphan is not None and (not connected or orphan.due > self.loop.time()):
            del self.orphans[key]
            if orphan.timer is not None:
                orphan.timer.cancel()
        where = self._where.get(key)
        if connected and where is not None:
            node, serial = where
            will = self._open.get(node, {}).get(serial)
            if will is not None and will.delay > 0:
                del self._open[node][serial]
                del self._where[key]

    def _node_down(self, node: NodeInfo, clean: bool) -> None:
        held = self._open.pop(node.name, {})
        now = self.loop.time()
        for serial, will in held.items():
            if self._where.get(will.key) == (node.name, serial):
                del self._where[will.key]
            if clean:
                continue
            orphan = _Orphan(node.name, will.frame, now + will.delay)
            self.orphans[will.key] = orphan
            if self.leadership.is_leader:
                self._schedule(will.key, orphan)
        if held and not clean:
            log.warning("cluster: node %s is gone with %d open wills", node.name, len(held))

    # ------------------------------------------------------------------------------------ the leader

    def _lead(self) -> None:
        for key, orphan in self.orphans.items():
            self._schedule(key, orphan)

    def _step_down(self) -> None:
        for orphan in self.orphans.values():
            if orphan.timer is not None:
                orphan.timer.cancel()
                orphan.timer = None

    def _schedule(self, key: str, orphan: _Orphan) -> None:
        if orphan.timer is None:
            orphan.timer = self.loop.call_at(orphan.due, self._publish, key)

    def _publish(self, key: str) -> None:
        orphan = self.orphans.pop(key, None)
        if orphan is None or not self.leadership.is_leader:
            return
        for frame in Batch(0, 0, orphan.node, orphan.frame, 0).frames(self.loop.time()):
            self.broker.publish_will(frame.message)
        self.published += 1
        self.node.bus.post(WILLS, _encode({"op": "done", "key": key}))


def install(node: ClusterNode, broker: Broker, leadership: Leadership) -> Callable[[], Awaitable[None]]:
    """Keep the cluster's open wills; returns the coroutine function that stops."""
    keeper = WillKeeper(node, broker, leadership)
    task = broker.loop.create_task(keeper.start(), name="cluster-wills")

    async def close() -> None:
        task.cancel()
        await keeper.close()

    return close
