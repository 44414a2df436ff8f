"""What the broker persists, as plain records, and the small interface a store implements.

Persistent sessions (Session Expiry Interval > 0: subscriptions, QoS 1/2 messages in flight and queued, QoS 2
identifiers awaiting PUBREL, a will waiting for its delay) and retained messages survive a restart. The broker
writes behind: it collects what changed and hands it to :meth:`BrokerStore.save` in one batch (one transaction
for a SQL store) every checkpoint interval, when a publisher waits for durability, and at shutdown. Times are
wall-clock (``time.time()``) so that they mean the same after a restart.

A save is incremental: a session's deliveries are keyed by ``seq`` (increasing in delivery order within the
session), so a message queued for a session with a long queue costs one new delivery, not a rewrite of the
queue (see :class:`SessionChange`).

:class:`MemoryBrokerStore` keeps the records in memory (tests; a broker without a database); the SQL store of
the storage layer (tether.storage.sql.broker_state) implements the same interface.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Protocol

__all__ = [
    "BrokerStore",
    "DeliveryRecord",
    "MemoryBrokerStore",
    "MessageRecord",
    "SessionChange",
    "SessionHeader",
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
    """A message on its way to one session: queued (state 0) or in flight (packet id and flow state).

    ``seq`` orders the deliveries of a session and identifies one of them in a :class:`SessionChange`.
    """

    message: MessageRecord
    qos: int
    retain: bool
    subscription_ids: tuple[int, ...] = ()
    packet_id: int = 0
    state: int = 0
    seq: int = 0


@dataclass(frozen=True, slots=True)
class SubscriptionRecord:
    topic_filter: str
    qos: int
    no_local: bool = False
    retain_as_published: bool = False
    retain_handling: int = 0
    identifier: int | None = None


@dataclass(frozen=True, slots=True)
class SessionHeader:
    """The fields of a session besides its subscriptions and deliveries."""

    expiry_interval: int
    #: When the network connection ended (wall clock); the expiry interval runs from there.
    disconnected_at: float
    awaiting_rel: tuple[int, ...] = ()
    will: MessageRecord | None = None
    will_at: float | None = None  # when a delayed will is due (wall clock)
    #: Saved while its client was connected (``disconnected_at`` is then the time of the save).
    online: bool = False


@dataclass(frozen=True, slots=True)
class SessionRecord:
    """A whole session as :meth:`BrokerStore.load` returns it (deliveries in ``seq`` order)."""

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
    online: bool = False  # saved while its client was connected

    @property
    def header(self) -> SessionHeader:
        return SessionHeader(
            self.expiry_interval,
            self.disconnected_at,
            self.awaiting_rel,
            self.will,
            self.will_at,
            self.online,
        )


@dataclass(frozen=True, slots=True)
class SessionChange:
    """What changed in one session since its last save.

    With ``replace`` the store forgets whatever it holds for the session and stores it anew: ``header`` and
    ``subscriptions`` are set and ``added`` holds every delivery. Otherwise ``header`` and ``subscriptions``
    are ``None`` when unchanged, ``removed`` names stored deliveries that are gone (acknowledged, expired),
    ``updated`` gives ``(seq, packet_id, state)`` of stored deliveries whose QoS flow advanced and ``added``
    the new ones.
    """

    client_id: str
    header: SessionHeader | None = None
    subscriptions: tuple[SubscriptionRecord, ...] | None = None
    added: tuple[DeliveryRecord, ...] = ()
    updated: tuple[tuple[int, int, int], ...] = ()
    removed: tuple[int, ...] = ()
    replace: bool = False

    @classmethod
    def whole(cls, record: SessionRecord) -> SessionChange:
        """The change that stores ``record`` as it is (its deliveries' ``seq`` set and increasing)."""
        return cls(
            record.client_id,
            record.header,
            record.subscriptions,
            record.inflight + record.queued,
            replace=True,
        )


@dataclass
class StoredState:
    sessions: list[SessionRecord] = field(default_factory=list)
    retained: list[MessageRecord] = field(default_factory=list)


class BrokerStore(Protocol):
    """Durable broker state. ``save`` applies one batch atomically; ``load`` returns everything saved
    (with ``client_ids``: only those sessions, and no retained messages).

    A batch applies ``deleted_sessions`` first, then the session changes (a client id may be in both: the
    session ended and a new one began), then ``deleted_retained`` and the retained messages (by topic,
    replacing). Deliveries with a non-zero ``state`` are loaded as ``inflight``, the others as
    ``queued``, each in ``seq`` order.
    """

    async def load(self, client_ids: Sequence[str] | None = None) -> StoredState: ...

    async def save(
        self,
        sessions: Sequence[SessionChange],
        deleted_sessions: Sequence[str],
        retained: Sequence[MessageRecord],
        deleted_retained: Sequence[str],
    ) -> None: ...


class _StoredSession:
    __slots__ = ("deliveries", "header", "subscriptions")

    def __init__(self, header: SessionHeader, subscriptions: tuple[SubscriptionRecord, ...]) -> None:
        self.header = header
        self.subscriptions = subscriptions
        self.deliveries: dict[int, DeliveryRecord] = {}

    def record(self, client_id: str) -> SessionRecord:
        h = self.header
        ordered = [self.deliveries[seq] for seq in sorted(self.deliveries)]
        return SessionRecord(
            client_id,
            h.expiry_interval,
            h.disconnected_at,
            self.subscriptions,
            tuple(d for d in ordered if d.state),
            tuple(d for d in ordered if not d.state),
            h.awaiting_rel,
            h.will,
            h.will_at,
            h.online,
        )


class MemoryBrokerStore:
    """A :class:`BrokerStore` in memory: survives a broker restart within one process."""

    def __init__(self) -> None:
        self._sessions: dict[str, _StoredSession] = {}
        self.retained: dict[str, MessageRecord] = {}
        self.saves = 0

    @property
    def sessions(self) -> dict[str, SessionRecord]:
        """The stored sessions by client id."""
        return {cid: s.record(cid) for cid, s in self._sessions.items()}

    async def load(self, client_ids: Sequence[str] | None = None) -> StoredState:
        if client_ids is not None:
            return StoredState([s for cid, s in self.sessions.items() if cid in client_ids])
        return StoredState(list(self.sessions.values()), list(self.retained.values()))

    async def save(
        self,
        sessions: Sequence[SessionChange],
        deleted_sessions: Sequence[str],
        retained: Sequence[MessageRecord],
        deleted_retained: Sequence[str],
    ) -> None:
        # Validate first so that a bad batch changes nothing (a SQL store rolls back).
        stored = {cid: s for cid, s in self._sessions.items() if cid not in deleted_sessions}
        for change in sessions:
            if change.replace:
                if change.header is None or change.subscriptions is None:
                    raise ValueError(f"replacing session {change.client_id!r} needs its header")
            elif change.client_id not in stored:
                raise KeyError(f"no stored session {change.client_id!r} to change")
        self._sessions = stored
        for change in sessions:
            if change.replace:
                assert change.header is not None and change.subscriptions is not None
                session = stored[change.client_id] = _StoredSession(change.header, change.subscriptions)
            else:
                session = stored[change.client_id]
                if change.header is not None:
                    session.header = change.header
                if change.subscriptions is not None:
                    session.subscriptions = change.subscriptions
            deliveries = session.deliveries
            for seq in change.removed:
                deliveries.pop(seq, None)
            for seq, packet_id, state in change.updated:
                if seq in deliveries:
                    deliveries[seq] = replace(deliveries[seq], packet_id=packet_id, state=state)
            for d in change.added:
                deliveries[d.seq] = d
        for topic in deleted_retained:
            self.retained.pop(topic, None)
        for message in retained:
            self.retained[message.topic] = message
        self.saves += 1
