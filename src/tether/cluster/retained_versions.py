"""Retained messages as one store in a cluster (cluster/routing.py, "Retained messages"): each change accepted
on a node is sent to every node with a version (a hybrid clock, ties broken by node name), and a node applies
a change only if it is newer than what it holds for the topic."""

from __future__ import annotations

import asyncio
import time
from collections import deque

from tether.broker import Broker
from tether.broker.message import Message

from .bus import ClusterBus, Msg
from .frames import RETAINED, decode_batch, encode_frame, encode_header

__all__ = ["RETAINED_CHANGES", "TOMBSTONE_TTL", "RetainedVersions"]

RETAINED_CHANGES = "tether.mqtt.retained"
#: Seconds a cleared retained topic keeps its version: enough for any change sent before the clear to have
#: arrived (NATS delivers within milliseconds), so that the versions of cleared topics do not pile up.
TOMBSTONE_TTL = 60.0
#: Bytes of changes per batch (NATS refuses messages over 1 MB by default).
_BATCH_BYTES = 256 * 1024


class RetainedVersions:
    """Mixed into :class:`~tether.cluster.routing.Router`, which sets the attributes below."""

    me: str
    bus: ClusterBus
    broker: Broker
    loop: asyncio.AbstractEventLoop
    _clock: int
    _versions: dict[str, tuple[int, str]]
    _tombstones: deque[tuple[float, str, tuple[int, str]]]
    _retained_out: list[bytes]
    _retained_size: int
    _early_retained: list[bytes] | None

    def _schedule(self) -> None:
        raise NotImplementedError

    def _tick(self) -> int:
        self._clock = max(self._clock + 1, time.time_ns())
        return self._clock

    def _retained_changed(self, message: Message) -> None:
        version = self._tick()
        self._set_version(message, (version, self.me))
        frame = encode_frame(message, self.loop.time(), version=version)
        if self._retained_out and self._retained_size + len(frame) > _BATCH_BYTES:
            self._send_retained()
        self._retained_out.append(frame)
        self._retained_size += len(frame)
        self._schedule()

    def _set_version(self, message: Message, stamp: tuple[int, str]) -> None:
        topic = message.topic
        self._versions[topic] = stamp
        tombstones = self._tombstones
        now = self.loop.time()
        if not len(message.payload):  # a clear: its version is kept for a while, then forgotten
            tombstones.append((now, topic, stamp))
        while tombstones and tombstones[0][0] < now - TOMBSTONE_TTL:
            _, old, old_stamp = tombstones.popleft()
            if self._versions.get(old) == old_stamp:
                del self._versions[old]

    def _send_retained(self) -> None:
        frames, self._retained_out, self._retained_size = self._retained_out, [], 0
        self.bus.post(RETAINED_CHANGES, encode_header(RETAINED, 0, self.me) + b"".join(frames))

    async def _retained(self, msg: Msg) -> None:
        if self._early_retained is not None:  # the broker is still loading the saved ones
            self._early_retained.append(msg.data)
            return
        self._apply_retained(msg.data)

    def _apply_retained(self, data: bytes) -> None:
        batch = decode_batch(data)
        if batch.node == self.me:
            return
        retained = self.broker.retained
        for frame in batch.frames(self.loop.time()):
            self._clock = max(self._clock, frame.version)
            topic = frame.message.topic
            stamp = (frame.version, batch.node)
            if stamp > self._versions.get(topic, (0, "")):
                self._set_version(frame.message, stamp)
                retained.set(frame.message)
