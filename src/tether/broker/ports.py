"""The seams between the broker and its parts: what a client connection needs of the broker
(:class:`BrokerPort`), what the broker needs of a connection (:class:`Connection`), and how durable state
changes reach persistence (:class:`StateSink`, :class:`Durability`).

:class:`~tether.broker.broker.Broker` implements :class:`BrokerPort`; :mod:`.client` and :mod:`.qos` know the
broker only through it (a cluster wraps the broker here). :class:`~tether.broker.persistence.Persistence`
implements :class:`Durability`: the broker tells it what changed, as a persistence plugin is told events, and
it never reads the broker itself (see docs/architecture.md, "MQTT broker").
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import NamedTuple, Protocol

from tether.mqtt.connection import ServerConnection
from tether.mqtt.reason_codes import ReasonCode

from .hooks import ClientInfo, Hooks
from .inflight import Delivery
from .message import Message
from .mountpoints import Mount
from .sessions import Session, SessionOwner
from .settings import BrokerConfig
from .stats import BrokerStats, Traffic
from .subscriptions import Subscription
from .transport import WriteBatcher

__all__ = [
    "BrokerPort",
    "Connection",
    "DeliveryListener",
    "Durability",
    "MessageHandler",
    "Routed",
    "StateSink",
]

#: A platform handler (a protocol adapter) for the messages clients publish under one first topic level:
#: ``handler(client, topic as the client sent it, message)``. It returns ``None`` to let the broker
#: acknowledge at once, or a future that holds the PUBACK/PUBREC until the adapter has stored the message;
#: its result is ``None`` (success) or a reason code >= 0x80 for the MQTT 5 acknowledgement.
MessageHandler = Callable[[ClientInfo, str, Message], "asyncio.Future[ReasonCode | None] | None"]

#: ``listener(kind, message, session key of the receiver or None, qos of the copy, reason or None)``: what
#: became of a message (see :meth:`Broker.add_delivery_listener`).
DeliveryListener = Callable[[str, Message, "str | None", int, "str | None"], None]


class Routed(NamedTuple):
    """What routing one message did (:meth:`BrokerPort.route`)."""

    #: Sessions reached (a NamedTuple field may not be called ``count``).
    matched: int
    #: It went into the queue of an offline persistent session or into the retained store, with
    #: persistence: the publisher's PUBACK/PUBREC waits for the commit that saves it.
    durable: bool = False
    #: Its QoS 1/2 copies in the window or queue of online persistent sessions, with persistence: the
    #: acknowledgement waits until they are saved or every one of them is acknowledged, if earlier.
    unsaved: tuple[Delivery, ...] = ()
    #: Copies sent to other nodes of a cluster: the acknowledgement also waits until each of them confirmed
    #: its copy (the future fails when one did not: the publisher is told to send it again).
    confirmed: asyncio.Future[None] | None = None


class StateSink(Protocol):
    """Where the broker reports changes of durable state (sessions with a Session Expiry Interval, retained
    messages), one event per change; the receiver decides when and how to save them."""

    def session_offline(self, session: Session) -> None:
        """Its network connection ended: the Session Expiry Interval runs ([MQTT-3.1.2-23])."""

    def subscriptions_changed(self, session: Session) -> None:
        """A subscription was added, replaced or removed."""

    def delivery_queued(self, session: Session) -> None:
        """A message went into its window or queue."""

    def delivery_acked(self, session: Session) -> None:
        """Its client acknowledged a message (PUBACK, PUBREC, PUBCOMP)."""

    def session_ended(self, client_id: str) -> None:
        """The session is gone (expired, Clean Start, Session Expiry Interval 0): forget it."""

    def retained_changed(self, topic: str) -> None:
        """The retained message of ``topic`` was set or deleted."""


class Durability(StateSink, Protocol):
    """A :class:`StateSink` that can be asked to commit: acknowledgements wait for durability."""

    def commit_soon(self) -> asyncio.Future[None]:
        """A future resolved once every change reported before this call is committed."""
        ...


class Connection(SessionOwner, Protocol):
    """What the broker needs of one client connection (implemented by the client connection)."""

    @property
    def client(self) -> ClientInfo | None:
        """The client, once its CONNECT was accepted."""
        ...

    @property
    def session(self) -> Session | None: ...

    @property
    def mount(self) -> Mount | None:
        """The client's namespace (``None``: the broker's whole topic space)."""
        ...

    @property
    def disconnect_reason(self) -> ReasonCode | None: ...

    @property
    def will(self) -> Message | None:
        """The Will Message of the open connection (None: none, or deleted by a normal DISCONNECT)."""
        ...

    @property
    def will_delay(self) -> int:
        """Its Will Delay Interval in seconds (MQTT 3.1.1: 0)."""
        ...

    # What the management API shows of an accepted connection.
    @property
    def connected_at(self) -> float:
        """When the CONNECT was accepted (wall clock)."""
        ...

    @property
    def clean_start(self) -> bool: ...

    @property
    def keep_alive(self) -> int:
        """The Keep Alive in force (the Server Keep Alive if the server chose one)."""
        ...

    @property
    def receive_maximum(self) -> int:
        """The client's Receive Maximum."""
        ...

    @property
    def traffic(self) -> Traffic: ...

    def close_by_server(self, reason: ReasonCode) -> None:
        """DISCONNECT with ``reason`` (MQTT 5), close."""

    def shut_down(self) -> None:
        """The broker stops: DISCONNECT 0x8B (MQTT 5), close without the will."""


class BrokerPort(Protocol):
    """What a client connection (:mod:`.client`, :mod:`.qos`) needs of the broker."""

    @property
    def config(self) -> BrokerConfig: ...

    @property
    def hooks(self) -> Hooks: ...

    @property
    def loop(self) -> asyncio.AbstractEventLoop: ...

    @property
    def batcher(self) -> WriteBatcher:
        """Flushes each connection's output once per event-loop turn."""
        ...

    @property
    def stats(self) -> BrokerStats: ...

    @property
    def delivery_listeners(self) -> list[DeliveryListener]:
        """Observers of deliveries, acknowledgements and drops (see :meth:`Broker.add_delivery_listener`)."""
        ...

    @property
    def handlers(self) -> dict[str, MessageHandler]:
        """Platform handlers by the first topic level (see :meth:`Broker.add_handler`)."""
        ...

    @property
    def persistence(self) -> Durability | None:
        """Where durable changes go, and acknowledgements wait for them; ``None`` without a store."""
        ...

    @property
    def connection_count(self) -> int: ...

    @property
    def claim_session(self) -> Callable[[str, bool], Awaitable[None] | None] | None:
        """In a cluster: bring the session of a connecting client (session key, Clean Start) from another
        node before :meth:`open_session` (an awaitable to wait for, or None); None without a cluster."""
        ...

    @property
    def interest_settled(self) -> Callable[[], asyncio.Future[None] | None] | None:
        """In a cluster: None once every node knows this broker's topic filters as they are now, else a
        future done when they do (a SUBACK waits for it); None without a cluster."""
        ...

    def open_session(self, client_id: str, clean_start: bool, max_queued: int) -> tuple[Session, bool]:
        """The session for a new connection and whether it existed (Session Present); a connection still
        holding it is taken over ([MQTT-3.1.4-3])."""
        ...

    def connected(self, connection: Connection, session: Session, present: bool) -> None: ...

    def disconnected(
        self, connection: Connection, session: Session | None, will: Message | None, will_delay: int
    ) -> None: ...

    def route(self, message: Message) -> Routed:
        """Retain (with the RETAIN flag) and deliver one message to every matching subscription."""
        ...

    def subscribe(self, session: Session, sub: Subscription) -> Subscription | None:
        """Add or replace a subscription; returns the one it replaced."""
        ...

    def unsubscribe(self, session: Session, topic_filter: str) -> bool: ...

    def send_retained(self, session: Session, sub: Subscription) -> None: ...


class ConnectionParts:
    """What the handlers mixed into :class:`~tether.broker.client.ClientConnection` (:mod:`.qos`,
    :mod:`.subscribe`) read of the connection, which provides it."""

    __slots__ = ()

    broker: BrokerPort
    conn: ServerConnection
    session: Session | None
    client: ClientInfo | None
    version: int
    _closed: bool
    _mount: Mount | None
