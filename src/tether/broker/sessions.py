"""Sessions (spec 4.1): clean start, session present, session expiry and session takeover.

A session outlives its network connection for Session Expiry Interval seconds (spec 3.1.2.11.2; MQTT 3.1.1:
Clean Session 0 means "until the client cleans it"). It holds the subscriptions, the QoS flows in both
directions and the messages queued while the client is away.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from types import MappingProxyType
from typing import Protocol, cast

from tether.mqtt.packets import Payload

from .inflight import Delivery, Outbox
from .settings import NEVER_EXPIRES
from .subscriptions import Subscription
from .will import PendingWill

__all__ = ["Session", "SessionOwner", "SessionRegistry"]


#: ``awaiting_rel`` of the sessions without QoS 2 flows (most): an empty set costs 216 bytes per session; a
#: frozenset reads the same and fails loudly if written to.
NO_PIDS: set[int] = cast("set[int]", frozenset())

_NO_SUBSCRIPTIONS: Mapping[str, Subscription] = MappingProxyType({})


class SessionOwner(Protocol):
    """The network connection a session is attached to (implemented by the client connection)."""

    def deliver(self, delivery: Delivery) -> None:
        """Send (or queue, if the window or the socket is full) one message."""

    def deliver_plain(self, topic: str, payloads: Sequence[Payload]) -> int:
        """Send QoS 0 copies without properties of one topic if they can go now: how many went."""

    def take_over(self) -> None:
        """Another connection with the same Client Identifier arrived: leave ([MQTT-3.1.4-3])."""


class Session(Outbox):
    """The state of one Client Identifier. It is its own :class:`Outbox` (the outgoing QoS state: one object
    less per session); :attr:`outbox` names that part."""

    __slots__ = (
        "_expiry_handle",
        "_subs",
        "awaiting_rel",
        "client_id",
        "created_at",
        "disconnected_at",
        "expiry_interval",
        "owner",
        "pending_will",
    )

    def __init__(self, client_id: str, max_queued: int) -> None:
        Outbox.__init__(self, max_queued)
        self.client_id = client_id
        # Its subscriptions (see `subscriptions`): none, the one a session has (most devices have one: a dict
        # of one entry costs ~184 bytes), or a dict by topic filter from the second on.
        self._subs: Subscription | dict[str, Subscription] | None = None
        #: Seconds the session survives its network connection; NEVER_EXPIRES for ever.
        self.expiry_interval = 0
        #: QoS 2 Packet Identifiers received and answered with PUBREC, waiting for PUBREL (spec 4.3.3).
        self.awaiting_rel: set[int] = NO_PIDS  # a set from the first one on: see await_rel()
        self.owner: SessionOwner | None = None
        self.pending_will: PendingWill | None = None
        #: When the last network connection ended (wall clock), for persistence.
        self.disconnected_at = 0.0
        #: When this process created (or restored) it, wall clock (the management API's `created_at`).
        self.created_at = time.time()
        self._expiry_handle: asyncio.TimerHandle | None = None

    def __repr__(self) -> str:
        return f"Session({self.client_id!r}, online={self.owner is not None})"

    @property
    def outbox(self) -> Outbox:
        """The outgoing QoS state: the session itself."""
        return self

    @property
    def subscriptions(self) -> Mapping[str, Subscription]:
        """Subscriptions by topic filter as subscribed (read-only: changed through :meth:`add_subscription`,
        :meth:`remove_subscription` and :meth:`clear_subscriptions`)."""
        subs = self._subs
        if subs is None:
            return _NO_SUBSCRIPTIONS
        if isinstance(subs, Subscription):
            return {subs.topic_filter: subs}
        return subs

    def add_subscription(self, sub: Subscription) -> None:
        """Add the subscription, or replace the one to the same topic filter."""
        subs = self._subs
        if subs is None or (isinstance(subs, Subscription) and subs.topic_filter == sub.topic_filter):
            self._subs = sub
        elif isinstance(subs, Subscription):
            self._subs = {subs.topic_filter: subs, sub.topic_filter: sub}
        else:
            subs[sub.topic_filter] = sub

    def remove_subscription(self, topic_filter: str) -> Subscription | None:
        """Remove the subscription to the topic filter; returns it, or ``None`` if there was none."""
        subs = self._subs
        if subs is None:
            return None
        if isinstance(subs, Subscription):
            if subs.topic_filter != topic_filter:
                return None
            self._subs = None
            return subs
        old = subs.pop(topic_filter, None)
        if len(subs) == 1:
            self._subs = next(iter(subs.values()))
        return old

    def clear_subscriptions(self) -> None:
        self._subs = None

    def await_rel(self, packet_id: int) -> None:
        """A QoS 2 PUBLISH answered with PUBREC: its identifier waits for the PUBREL."""
        if self.awaiting_rel is NO_PIDS:
            self.awaiting_rel = set()
        self.awaiting_rel.add(packet_id)

    @property
    def online(self) -> bool:
        return self.owner is not None


class SessionRegistry:
    """Every session by Client Identifier, with the timers that end them.

    ``on_end`` is called once for each session that ends (expired, replaced by Clean Start, or closed with
    Session Expiry Interval 0): the broker drops its subscriptions and publishes a will still pending.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop, on_end: Callable[[Session], None]) -> None:
        self._loop = loop
        self._sessions: dict[str, Session] = {}
        self._on_end = on_end

    def __len__(self) -> int:
        return len(self._sessions)

    def __iter__(self) -> Iterator[Session]:
        return iter(list(self._sessions.values()))

    def get(self, client_id: str) -> Session | None:
        return self._sessions.get(client_id)

    def open(self, client_id: str, clean_start: bool, max_queued: int) -> tuple[Session, bool]:
        """The session for a new network connection, and whether it already existed (Session Present).

        [MQTT-3.1.4-3] a connection already using the Client Identifier is taken over first (it gets
        DISCONNECT 0x8E and is closed; its will follows the usual rules). [MQTT-3.1.2-4] with Clean Start
        any existing session is discarded; [MQTT-3.1.2-5] without it an existing session is resumed.
        """
        session = self._sessions.get(client_id)
        if session is not None and session.owner is not None:
            session.owner.take_over()
            session.owner = None
            # Taking over may have ended the session (Session Expiry Interval 0 on the old connection).
            session = self._sessions.get(client_id)
        if session is not None and clean_start:
            self.end(session)
            session = None
        if session is None:
            session = Session(client_id, max_queued)
            self._sessions[client_id] = session
            return session, False
        self._cancel_expiry(session)
        session.outbox.max_queued = max_queued
        if session.pending_will is not None:
            # spec 3.1.3.2.2: reconnected before the Will Delay Interval passed: no will.
            session.pending_will.cancel()
            session.pending_will = None
        return session, True

    def restore(self, session: Session, remaining: float | None) -> None:
        """Add a session loaded from storage: offline, ending in ``remaining`` seconds (``None``: never)."""
        self._sessions[session.client_id] = session
        if remaining is not None:
            session._expiry_handle = self._loop.call_later(remaining, self.end, session)

    def release(self, session: Session) -> None:
        """Remove the (offline) session without ending it: it lives on elsewhere (another cluster node)."""
        if self._sessions.get(session.client_id) is session:
            del self._sessions[session.client_id]
        self._cancel_expiry(session)

    def detached(self, session: Session) -> None:
        """The network connection of the session ended: start the Session Expiry Interval.

        [MQTT-3.1.2-23] the Client and Server MUST store the Session State after the Network Connection is
        closed if the Session Expiry Interval is greater than 0.
        """
        session.owner = None
        session.disconnected_at = time.time()
        interval = session.expiry_interval
        if interval == 0:
            self.end(session)
        elif interval != NEVER_EXPIRES:
            self._cancel_expiry(session)
            session._expiry_handle = self._loop.call_later(interval, self.end, session)

    def end(self, session: Session) -> None:
        """Discard the session (expiry, Clean Start, or expiry interval 0 at disconnect)."""
        if self._sessions.get(session.client_id) is not session:
            return
        del self._sessions[session.client_id]
        self._cancel_expiry(session)
        self._on_end(session)

    def stop_timers(self) -> None:
        """Cancel every expiry and will-delay timer (the broker is stopping; no session ends early)."""
        for session in self._sessions.values():
            self._cancel_expiry(session)
            if session.pending_will is not None:
                session.pending_will.suspend()

    def _cancel_expiry(self, session: Session) -> None:
        if session._expiry_handle is not None:
            session._expiry_handle.cancel()
            session._expiry_handle = None
