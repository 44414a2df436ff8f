"""Per-session QoS state (spec 4.3, 4.4, 4.9): outgoing inflight window and queue, incoming QoS 2 ids.

Outgoing (broker -> client):

* ``inflight``: QoS 1 and 2 messages sent and not yet completed, by Packet Identifier, in sending order. The
  window is the client's Receive Maximum (spec 4.9, [MQTT-3.3.4-9]).
* ``queue``: messages waiting for the window, for a writable connection, or for the client to come back; at
  most ``max_queued`` of them. Beyond that new messages are dropped and counted (spec 4.9 lets the broker
  discard QoS 0; for QoS 1/2 dropping is the only way to bound memory for a slow consumer).

Incoming (client -> broker): the Packet Identifiers of QoS 2 PUBLISH packets answered with PUBREC and not yet
released by PUBREL ("Method B" of spec 4.3.3: the message is forwarded once, on first receipt).
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Sequence
from types import MappingProxyType
from typing import Any, cast

from tether.mqtt.constants import MAX_PACKET_ID

from .message import Message

__all__ = [
    "AWAIT_PUBACK",
    "AWAIT_PUBCOMP",
    "AWAIT_PUBREC",
    "QUEUED",
    "Delivery",
    "Outbox",
    "SavedOrDelivered",
]

QUEUED = 0
AWAIT_PUBACK = 1  # QoS 1 PUBLISH sent
AWAIT_PUBREC = 2  # QoS 2 PUBLISH sent
AWAIT_PUBCOMP = 3  # QoS 2 PUBREL sent


class SavedOrDelivered:
    """Holds a publisher's acknowledgement until a commit has saved the deliveries of its message, or every
    one of them has been acknowledged by its subscriber (then there is nothing left to save), if earlier."""

    __slots__ = ("future", "remaining")

    def __init__(self, future: asyncio.Future[None], deliveries: Sequence[Delivery]) -> None:
        self.future = future
        self.remaining = len(deliveries)
        for delivery in deliveries:
            delivery.waiter = self

    def delivered(self) -> None:
        self.remaining -= 1
        if not self.remaining and not self.future.done():
            self.future.set_result(None)


class Delivery:
    """One message on its way to one session, with the QoS, RETAIN flag and identifiers of that copy."""

    __slots__ = ("message", "packet_id", "qos", "retain", "state", "subscription_ids", "waiter")

    def __init__(
        self, message: Message, qos: int, retain: bool, subscription_ids: tuple[int, ...] = ()
    ) -> None:
        self.message = message
        self.qos = qos
        self.retain = retain
        self.subscription_ids = subscription_ids
        self.packet_id = 0
        self.state = QUEUED
        #: A publisher's acknowledgement waiting for this copy to be saved or delivered.
        self.waiter: SavedOrDelivered | None = None

    def __repr__(self) -> str:
        return f"Delivery({self.message!r}, qos={self.qos}, packet_id={self.packet_id}, state={self.state})"


#: The queue of every session with nothing queued (most of them): an empty tuple reads like an empty deque
#: (falsy, len 0, iterable) and fails loudly if written to; an empty deque costs ~760 bytes per session.
NO_QUEUE: deque[Any] = cast("deque[Any]", ())
#: The in-flight map of every session with nothing in flight (most of them): read-only, shared; a dict from
#: the first QoS 1/2 delivery on (an empty dict costs 64 bytes per session).
NO_INFLIGHT: dict[int, Any] = cast("dict[int, Any]", MappingProxyType({}))


class Outbox:
    """Outgoing QoS state of a session."""

    __slots__ = ("_next_id", "dropped", "inflight", "max_queued", "queue")

    def __init__(self, max_queued: int) -> None:
        self.inflight: dict[int, Delivery] = NO_INFLIGHT  # a dict from the first one on
        self.queue: deque[Delivery] = NO_QUEUE  # a deque from the first queued message on
        self.max_queued = max_queued
        #: Messages dropped because the queue was full (or, for QoS 0, because the client was offline).
        self.dropped = 0
        self._next_id = 1

    def enqueue(self, delivery: Delivery) -> bool:
        """Queue a delivery; ``False`` (and counted as dropped) when the queue is full."""
        if len(self.queue) >= self.max_queued:
            self.dropped += 1
            return False
        self.append(delivery)
        return True

    def append(self, delivery: Delivery) -> None:
        """Queue a delivery whatever the queue's length (restoring stored state)."""
        queue = self.queue
        if queue is NO_QUEUE:
            queue = self.queue = deque()
        queue.append(delivery)

    def allocate(self, delivery: Delivery) -> int:
        """Give a QoS 1/2 delivery an unused Packet Identifier and put it in flight.

        [MQTT-2.2.1-3] a non-zero identifier not used by another unacknowledged PUBLISH of this session.
        """
        inflight = self.inflight
        if inflight is NO_INFLIGHT:
            inflight = self.inflight = {}
        pid = self._next_id
        while pid in inflight:
            pid = pid + 1 if pid < MAX_PACKET_ID else 1
        self._next_id = pid + 1 if pid < MAX_PACKET_ID else 1
        delivery.packet_id = pid
        delivery.state = AWAIT_PUBACK if delivery.qos == 1 else AWAIT_PUBREC
        inflight[pid] = delivery
        return pid

    def put(self, packet_id: int, delivery: Delivery) -> None:
        """Put a delivery in flight under its identifier (restoring stored state)."""
        if self.inflight is NO_INFLIGHT:
            self.inflight = {}
        self.inflight[packet_id] = delivery

    def release(self, packet_id: int) -> Delivery | None:
        """The flow of this identifier ended (PUBACK, PUBCOMP, or PUBREC with an error code)."""
        inflight = self.inflight
        return inflight.pop(packet_id, None) if inflight else None

    def clear(self) -> None:
        if self.inflight:
            self.inflight.clear()
        if self.queue:  # emptied in place: a loop over it (QoSFlows._pump) sees it end
            self.queue.clear()
