"""What the broker persists, as plain records, and the small interface a store implements.

Persistent sessions (Session Expiry Interval > 0: subscriptions, QoS 1/2 messages in flight and queued, QoS 2
identifiers awaiting PUBREL, a will waiting for its delay) and retained messages survive a restart. The broker
writes behind: it collects what changed and hands it to :meth:`BrokerStore.save` in one batch (one transaction
for a SQL store) every checkpoint interval and at shutdown. Times are wall-clock (``time.time()``) so that
they mean the same after a restart.

:class:`MemoryBrokerStore` keeps the records in memory (tests; a broker without a database); the SQL store of
the storage layer implements the same interface.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

__all__ = [
    "BrokerStore",
    "DeliveryRecord",
    "MemoryBrokerStore",
    "MessageRecord",
    "SessionRecord",
    "StoredState",
    "SubscriptionRecord",
]


@dataclass(frozen=True, slots=True)
class MessageRecord:
    """An Application Message. ``properties`` is the encoded MQTT 5 property block of a PUBLISH."""

    topic: str
    payload: bytes
    qos: int
    retain: bool
    properties: bytes = b"\x00"
    expires_at: float | None = None  # wall clock


@dataclass(frozen=True, slots=True)
class DeliveryRecord:
    """A message on its way to one session: queued (state 0) or in flight (packet id and flow state)."""

    message: MessageRecord
    qos: int
    retain: bool
    subscription_ids: tuple[int, ...] = ()
    packet_id: int = 0
    state: int = 0


@dataclass(frozen=True, slots=True)
class SubscriptionRecord:
    topic_filter: str
    qos: int
    no_local: bool = False
    retain_as_published: bool = False
    retain_handling: int = 0
    identifier: int | None = None


@dataclass(frozen=True, slots=True)
class SessionRecord:
    client_id: str
    expiry_interval: int
    #: When the network connection ended (wall clock); the expiry interval runs from there.
    disconnected_at: float
    subscriptions: tuple[SubscriptionRecord, ...] = ()
    inflight: tuple[DeliveryRecord, ...] = ()
    queued: tuple[DeliveryRecord, ...] = ()
    awaiting_rel: tuple[int, ...] = ()
    will: MessageRecord | None = None
    will_at: float | None = None  # when a delayed will is due (wall clock)


@dataclass
class StoredState:
    sessions: list[SessionRecord] = field(default_factory=list)
    retained: list[MessageRecord] = field(default_factory=list)


class BrokerStore(Protocol):
    """Durable broker state. ``save`` applies one batch atomically; ``load`` returns everything saved."""

    async def load(self) -> StoredState: ...

    async def save(
        self,
        sessions: Sequence[SessionRecord],
        deleted_sessions: Sequence[str],
        retained: Sequence[MessageRecord],
        deleted_retained: Sequence[str],
    ) -> None: ...


class MemoryBrokerStore:
    """A :class:`BrokerStore` in memory: survives a broker restart within one process."""

    def __init__(self) -> None:
        self.sessions: dict[str, SessionRecord] = {}
        self.retained: dict[str, MessageRecord] = {}
        self.saves = 0

    async def load(self) -> StoredState:
        return StoredState(list(self.sessions.values()), list(self.retained.values()))

    async def save(
        self,
        sessions: Sequence[SessionRecord],
        deleted_sessions: Sequence[str],
        retained: Sequence[MessageRecord],
        deleted_retained: Sequence[str],
    ) -> None:
        for client_id in deleted_sessions:
            self.sessions.pop(client_id, None)
        for record in sessions:
            self.sessions[record.client_id] = record
        for topic in deleted_retained:
            self.retained.pop(topic, None)
        for message in retained:
            self.retained[message.topic] = message
        self.saves += 1
