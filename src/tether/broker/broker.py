"""The Broker: sessions, the subscription trie and the retained store; routing of Application Messages.

Routing a PUBLISH is one trie lookup plus one delivery per matching session (spec 4.5): overlapping
subscriptions of one session give one copy with the highest granted QoS and every Subscription Identifier
([MQTT-3.3.4-2], [MQTT-3.3.4-3]); each shared subscription group gives one copy to one of its members,
round-robin, online members first (spec 4.8.2).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from functools import partial
from typing import cast

from tether.mqtt.packets import Payload
from tether.mqtt.properties import EMPTY_PROPERTIES, Properties
from tether.mqtt.reason_codes import ReasonCode

from .handshake import PendingConnects
from .hooks import ClientInfo, DefaultHooks, Hooks
from .inflight import Delivery
from .memory import Trimmer, tune_malloc
from .message import Message
from .mountpoints import Mount, client_prefix
from .persistence import Persistence, Restored
from .ports import Connection, DeliveryListener, MessageHandler, Routed
from .retained import RetainedStore
from .sessions import NO_PIDS, Session, SessionRegistry
from .settings import BrokerConfig
from .stats import BrokerStats
from .storage import BrokerStore
from .subscriptions import InterestListener, SharedGroup, Subscription, SubscriptionTrie
from .transport import WriteBatcher
from .will import PendingWill

__all__ = ["Broker", "BrokerStats", "MessageHandler"]

log = logging.getLogger("tether.broker")

#: What routing returns when nothing went into durable state, by the number of sessions reached (no
#: allocation on the hot path).
_ROUTED = tuple(Routed(n) for n in range(256))


class Broker:
    """One MQTT broker. Create it inside the running event loop; listeners feed it connections.

    It implements :class:`~tether.broker.ports.BrokerPort` for its client connections and reports durable
    changes to its :class:`~tether.broker.persistence.Persistence` through the
    :class:`~tether.broker.ports.StateSink` events.
    """

    def __init__(
        self,
        config: BrokerConfig | None = None,
        hooks: Hooks | None = None,
        loop: asyncio.AbstractEventLoop | None = None,
        store: BrokerStore | None = None,
    ) -> None:
        self.config = config = config or BrokerConfig()
        self.hooks = hooks or DefaultHooks(
            allow_anonymous=config.allow_anonymous,
            acl_rules=config.acl_rules,
            acl_default_allow=config.acl_default_allow,
        )
        self.loop = loop or asyncio.get_running_loop()
        self.sessions = SessionRegistry(self.loop, self._session_ended)
        self.subscriptions = SubscriptionTrie()
        self.retained = RetainedStore(config.max_retained_messages)
        self.batcher = WriteBatcher(self.loop)
        self.stats = BrokerStats()
        #: The open network connections (keys; a dict, not a set: a set of 10,000 has 32,768 slots of 16
        #: bytes, a dict's table is about a third of that).
        self.connections: dict[Connection, None] = {}
        #: Connections still in their handshake, and the limits on them (see :mod:`.handshake`).
        self.handshakes = PendingConnects(
            self.loop, config.max_pending_connects, config.max_pending_connects_per_address
        )
        #: Memory is given back to the system after bursts of connections (see :mod:`.memory`).
        self.trimmer = Trimmer(self.loop)
        tune_malloc()
        #: Write-behind persistence of sessions and retained messages, with a store.
        self.persistence = (
            Persistence(store, config.persist_interval, self.loop, self.sessions, self.retained)
            if store is not None
            else None
        )
        #: Platform handlers by the first level of the topic as clients send it (see :meth:`add_handler`).
        self.handlers: dict[str, MessageHandler] = {}
        #: Observers of every routed message (see :meth:`add_tap`).
        self.taps: list[Callable[[Message], None]] = []
        #: Observers of what becomes of a message's copies (see :meth:`add_delivery_listener`); empty unless
        #: someone asked, so the delivery path pays one truth test.
        self.delivery_listeners: list[DeliveryListener] = []
        #: Resolved once the saved state is installed (:meth:`start`).
        self.started: asyncio.Future[None] = self.loop.create_future()
        #: TCP clients sending faster than they are served yield the event loop after each large read (see
        #: listener.FairMQTTProtocol); set before the listeners start (a cluster node sets it).
        self.fair_reads = False
        #: In a cluster, ``claim_session(session key, clean start)`` brings the session of a connecting client
        #: from another node into this broker before it is opened (None, or an awaitable the CONNECT waits
        #: for); None alone: the session is wherever this broker has it.
        self.claim_session: Callable[[str, bool], Awaitable[None] | None] | None = None
        #: In a cluster, ``interest_settled()``: None once every node knows this broker's topic filters as
        #: they are now, else a future done when they do; a SUBACK waits for it.
        self.interest_settled: Callable[[], asyncio.Future[None] | None] | None = None
        #: In a cluster, ``connection_watch(connection, True)`` when a connection is accepted and
        #: ``(connection, False)`` when it ends (cluster/wills.py keeps the wills where others can see them).
        self.connection_watch: Callable[[Connection, bool], None] | None = None

    def reroute(self, route: Callable[[Message], Routed]) -> Callable[[], None]:
        """Route every message accepted from now on through `route` instead of :meth:`route` (a cluster:
        this node's delivery, which it asks of ``Broker.route``, plus copies for the other nodes). Nothing
        changes, and nothing is paid per message, unless someone asks. Returns the function that undoes it."""
        self.__dict__["route"] = route

        def restore() -> None:
            self.__dict__.pop("route", None)

        return restore

    def watch_interest(self, listener: InterestListener) -> Callable[[], None]:
        """Tell `listener(topic_filter, added)` whenever a topic filter gets its first subscription on this
        broker or loses its last (see :class:`~tether.broker.subscriptions.SubscriptionTrie`); the filters
        subscribed now are read with ``broker.subscriptions.filters()``. Returns the function that stops."""
        self.subscriptions.listener = listener
        return lambda: setattr(self.subscriptions, "listener", None)

    def add_handler(self, root: str, handler: MessageHandler) -> None:
        """Give the platform every accepted PUBLISH whose topic (as the client sent it) starts with the level
        `root`: ``add_handler("s", smartrest)`` sees ``s/us`` and ``s/us/child``. Messages are still routed to
        subscribers as well. One handler per root."""
        if root in self.handlers:
            raise ValueError(f"a handler for {root!r} topics is already installed")
        self.handlers[root] = handler

    def add_tap(self, tap: Callable[[Message], None]) -> Callable[[], None]:
        """Show `tap` every message the broker routes once it is accepted (a client's PUBLISH that passed
        authorization, a will, the platform's own): it must only take note and return (the rule engine
        queues it), as it runs before the publisher is acknowledged. Returns the function that removes it."""
        self.taps.append(tap)
        return lambda: self.taps.remove(tap)

    def add_delivery_listener(self, listener: DeliveryListener) -> Callable[[], None]:
        """Tell `listener(kind, message, session_key, qos, reason)` what becomes of messages: ``delivered``
        (a copy handed to a subscriber's connection), ``acked`` (its PUBACK / PUBCOMP), ``dropped`` (no
        subscriber: `session_key` None, reason ``no_subscribers``) and ``delivery_dropped`` (reason
        ``queue_full`` or ``expired``). It runs on the delivery path: it must only take note and return.
        Returns the function that removes it."""
        self.delivery_listeners.append(listener)
        listeners = self.delivery_listeners
        return lambda: listeners.remove(listener) if listener in listeners else None

    def publish(
        self,
        topic: str,
        payload: Payload,
        *,
        qos: int = 0,
        retain: bool = False,
        mountpoint: str = "",
        client_id: str | None = None,
        properties: Properties = EMPTY_PROPERTIES,
    ) -> int:
        """Publish as the platform; returns the number of sessions reached.

        `topic` is as the clients of `mountpoint` see it. With `client_id`, the topic is that client's private
        one (a private root such as SmartREST's ``s/ds``; see :mod:`.mountpoints`).
        """
        prefix = client_prefix(mountpoint, client_id) if client_id is not None else mountpoint
        expiry = properties.message_expiry_interval
        expires_at = None if expiry is None else self.loop.time() + expiry
        message = Message(prefix + topic, payload, qos, retain, properties, expires_at, None)
        return self.route(message).matched

    async def start(self) -> None:
        """Restore the saved state (with a store) and start saving changes."""
        if self.persistence is not None:
            restored = await self.persistence.restore(self.config.max_queued_messages, self.publish_will)
            self.install(restored)
            self.persistence.start()
        if not self.started.done():
            self.started.set_result(None)

    def install(self, restored: Restored) -> None:
        """Install the state restored from the store: retained messages, then the sessions (offline, their
        expiry running; one whose client id has a session here already is left out), then the wills of
        sessions that ended while the broker was down."""
        for message in restored.retained:
            self.retained.set(message)
        for session, remaining in restored.sessions:
            if self.sessions.get(session.client_id) is not None:
                log.warning("MQTT session %s not installed: it has a session here", session.client_id)
                if session.pending_will is not None:
                    session.pending_will.cancel()
                continue
            for sub in session.subscriptions.values():
                self.subscriptions.add(sub)
            self.sessions.restore(session, remaining)
        for will in restored.wills:
            self.publish_will(will)
        if restored.sessions or restored.retained:
            log.info(
                "MQTT broker restored %d sessions and %d retained messages",
                len(restored.sessions),
                len(self.retained),
            )

    async def stop(self) -> None:
        """Disconnect every client and save the state of every persistent session."""
        self.close()
        if self.persistence is not None:
            await self.persistence.stop()

    @property
    def connection_count(self) -> int:
        return len(self.connections)

    # ----------------------------------------------------------------------------------- connections

    def opened(self, connection: Connection) -> None:
        self.connections[connection] = None
        self.stats.connections = len(self.connections)

    def open_session(self, client_id: str, clean_start: bool, max_queued: int) -> tuple[Session, bool]:
        return self.sessions.open(client_id, clean_start, max_queued)

    def connected(self, connection: Connection, session: Session, present: bool) -> None:
        assert connection.client is not None
        if self.connection_watch is not None:
            self.connection_watch(connection, True)
        self.hooks.on_connected(connection.client, present)

    def disconnected(
        self,
        connection: Connection,
        session: Session | None,
        will: Message | None,
        will_delay: int,
    ) -> None:
        """A network connection ended; ``session`` is ``None`` if it never had one (or lost it)."""
        self.connections.pop(connection, None)
        if self.connection_watch is not None:
            self.connection_watch(connection, False)
        self.stats.connections = len(self.connections)
        self.trimmer.connection_ended()
        if session is not None and session.owner is connection:
            if will is not None:
                publish: Callable[[Message], None] = self.publish_will
                if connection.client is not None and self.handlers:
                    publish = partial(self.publish_will, origin=(connection.client, connection.mount))
                if will_delay == 0 or session.expiry_interval == 0:
                    publish(will)
                else:
                    # spec 3.1.3.2.2: published when the delay passes or the session ends, if earlier.
                    if self.persistence is not None:
                        publish = self.persistence.will_publisher(session, publish)
                    session.pending_will = PendingWill(self.loop, will, will_delay, publish)
            self.sessions.detached(session)
            if self.persistence is not None:
                self.persistence.session_offline(session)
        client = connection.client
        self.stats.connection_ended(client.mountpoint if client is not None else None, connection.traffic)
        if client is not None:
            reason = connection.disconnect_reason
            self.hooks.on_disconnected(client, reason if reason is not None else 0x80)  # type: ignore[arg-type]

    def _session_ended(self, session: Session) -> None:
        if self.persistence is not None:
            self.persistence.session_ended(session.client_id)
        trie = self.subscriptions
        for topic_filter in session.subscriptions:
            trie.remove(session.client_id, topic_filter)
        session.clear_subscriptions()
        session.outbox.clear()
        session.awaiting_rel = NO_PIDS
        if session.pending_will is not None:
            session.pending_will.fire()
            session.pending_will = None

    def publish_will(self, message: Message, origin: tuple[ClientInfo, Mount | None] | None = None) -> None:
        """Publish a Will Message; `origin` (the client and its mount) lets a platform handler see it too
        (e.g. a SmartREST device's last will on s/us)."""
        if message.properties.message_expiry_interval is not None:
            message.expires_at = self.loop.time() + message.properties.message_expiry_interval
        self.route(message)
        if origin is not None:
            client, mount = origin
            topic = message.topic if mount is None else mount.unmount(message.topic)
            handler = self.handlers.get(topic.partition("/")[0])
            if handler is not None:
                try:
                    handler(client, topic, message)
                except Exception:
                    log.exception("MQTT message handler failed on the will of %s", client.client_id)

    def close(self) -> None:
        """Disconnect every client (MQTT 5: DISCONNECT 0x8B); stop the session and will timers."""
        for connection in list(self.connections):
            connection.shut_down()
        self.sessions.stop_timers()
        self.handshakes.close()
        self.trimmer.close()

    def disconnect_clients(self, select: Callable[[ClientInfo], bool], reason: ReasonCode) -> int:
        """Close every connection whose client `select` picks (e.g. the clients of a credential that was
        revoked): MQTT 5 gets a DISCONNECT with `reason` (spec 3.14.2.1, e.g. 0x98 Administrative action),
        3.1.1 a closed connection. Their sessions end with them, whatever their Session Expiry Interval: the
        state was granted to a client that is gone. Returns how many were closed."""
        chosen = [c for c in self.connections if c.client is not None and select(c.client)]
        for connection in chosen:
            session = connection.session
            connection.close_by_server(reason)
            if session is not None:
                self.sessions.end(session)
        return len(chosen)

    def connection_of(self, client_key: str) -> Connection | None:
        """The connection holding the session of `client_key` (mountpoint + client id), if it is online."""
        session = self.sessions.get(client_key)
        return None if session is None else cast("Connection | None", session.owner)

    def kick(self, client_key: str, reason: ReasonCode) -> bool:
        """End the session of `client_key` (mountpoint + client id); its connection, if online, is closed as
        by :meth:`disconnect_clients`. Whether there was such a session."""
        session = self.sessions.get(client_key)
        if session is None:
            return False
        connection = self.connection_of(client_key)
        if connection is not None:
            connection.close_by_server(reason)
        self.sessions.end(session)
        return True

    def release_session(self, client_key: str) -> Session | None:
        """Give up the session of `client_key` without ending it (another cluster node takes it): its
        connection, if online, is taken over ([MQTT-3.1.4-3]: DISCONNECT 0x8E, its will as for any
        takeover), then the session leaves the registry and the subscription trie, its expiry timer
        stopped and its delayed will left to whoever saves it. None if there is no session (or it ended
        with its connection: Session Expiry Interval 0)."""
        session = self.sessions.get(client_key)
        if session is not None and session.owner is not None:
            session.owner.take_over()
            session = self.sessions.get(client_key)
        if session is None:
            return None
        self.sessions.release(session)
        for topic_filter in session.subscriptions:
            self.subscriptions.remove(client_key, topic_filter)
        return session

    # ----------------------------------------------------------------------------------- session state

    def held_messages(self, mountpoint: str, client_id: str) -> list[Message]:
        """The messages the session of `client_id` (in `mountpoint`) still has to deliver: those in flight
        (sent, unacknowledged: they are sent again on a resumed session, [MQTT-4.4.0-1]), then the queued
        ones, in order; [] when it has no session. Topics are the broker's (mounted)."""
        session = self.sessions.get(mountpoint + client_id)
        if session is None:
            return []
        outbox = session.outbox
        return [d.message for d in outbox.inflight.values()] + [d.message for d in outbox.queue]

    def reaches(self, mountpoint: str, client_id: str, topic: str) -> bool:
        """Whether a message on `topic` (as the clients of `mountpoint` see it) is delivered to the session of
        `client_id`: it has a (non-shared) subscription that matches."""
        key = mountpoint + client_id
        subs, _ = self.subscriptions.match(mountpoint + topic)
        return any(sub.client_id == key for sub in subs)

    # ----------------------------------------------------------------------------------- subscriptions

    def subscribe(self, session: Session, sub: Subscription) -> Subscription | None:
        old = self.subscriptions.add(sub)
        session.add_subscription(sub)
        if self.persistence is not None:
            self.persistence.subscriptions_changed(session)
        return old

    def unsubscribe(self, session: Session, topic_filter: str) -> bool:
        if session.remove_subscription(topic_filter) is None:
            return False
        self.subscriptions.remove(session.client_id, topic_filter)
        if self.persistence is not None:
            self.persistence.subscriptions_changed(session)
        return True

    def send_retained(self, session: Session, sub: Subscription) -> None:
        """Send the retained messages matching a subscription, with the RETAIN flag set (spec 3.3.1.3;
        3.1.1: [MQTT-3.3.1-8])."""
        ids = (sub.identifier,) if sub.identifier is not None else ()
        for message in self.retained.match(sub.topic_filter, self.loop.time()):
            self._deliver(session, message, min(message.qos, sub.qos), True, ids, None)

    def retain(self, message: Message) -> bool:
        """Set (or with an empty payload delete) the retained message of its topic (spec 3.3.1.3); whether
        persistence has to commit the change."""
        if not self.retained.set(message):
            log.warning("retained message store full: %r not retained", message.topic)
            return False
        if self.persistence is not None:
            self.persistence.retained_changed(message.topic)
            return True
        return False

    # ----------------------------------------------------------------------------------- routing

    def route(
        self,
        message: Message,
        here: bool = True,
        ordinary: bool = True,
        shared: Callable[[SharedGroup], bool] | None = None,
        elsewhere: bool = False,
    ) -> Routed:
        """Retain it if it has the RETAIN flag, and deliver it to every matching subscription; says how many
        sessions it reached and what the publisher's acknowledgement waits for (see :class:`Routed`).

        A cluster (see :meth:`reroute`) also routes copies that other nodes accepted: ``here`` False (not
        shown to the taps, not retained again: that was done where it was accepted), ``shared`` choosing
        which shared groups this node serves (given, ``ordinary`` False: the copy is only for those groups);
        ``elsewhere``: copies went to other nodes, so no match here is no drop.
        """
        if here:
            self.stats.messages_received += 1
            if self.taps:
                for tap in self.taps:
                    tap(message)
            durable = message.retain and self.retain(message)
        else:
            durable = False
        subs, groups = self.subscriptions.match(message.topic)
        if shared is not None:  # a cluster's choice (a copy from another node always has one)
            if not ordinary:
                subs = []
            if groups:
                groups = [group for group in groups if shared(group)]
        if not subs and not groups:
            if not here or elsewhere:
                return Routed(0, True) if durable else _ROUTED[0]
            self.stats.no_subscribers += 1
            if self.delivery_listeners:
                for listener in self.delivery_listeners:
                    listener("dropped", message, None, message.qos, "no_subscribers")
            return Routed(0, True) if durable else _ROUTED[0]
        # Copies for online persistent sessions (only QoS 1/2 copies are saved, and only with a store).
        unsaved: list[Delivery] | None = [] if message.qos and self.persistence is not None else None
        sessions = self.sessions
        count = 0
        if len(subs) == 1:
            sub = subs[0]
            if not (sub.no_local and sub.client_id == message.sender):
                session = sessions.get(sub.client_id)
                if session is not None:
                    ids = (sub.identifier,) if sub.identifier is not None else ()
                    retain = message.retain and sub.retain_as_published
                    if self._deliver(session, message, min(message.qos, sub.qos), retain, ids, unsaved):
                        durable = True
                    count = 1
        elif subs:
            count, queued = self._route_many(message, subs, unsaved)
            durable = durable or queued
        for group in groups:
            into = self._route_shared(message, group, unsaved)
            if into is not None:
                count += 1
                durable = durable or into
        self.stats.messages_routed += count
        if unsaved or durable:
            return Routed(count, durable, tuple(unsaved) if unsaved else ())
        try:
            return _ROUTED[count]
        except IndexError:
            return Routed(count)

    def _route_many(
        self, message: Message, subs: list[Subscription], unsaved: list[Delivery] | None
    ) -> tuple[int, bool]:
        # One copy per session: highest QoS, RETAIN if any subscription keeps it, every identifier.
        merged: dict[str, tuple[int, bool, tuple[int, ...]]] = {}
        sender = message.sender
        msg_qos = message.qos
        msg_retain = message.retain
        for sub in subs:
            client_id = sub.client_id
            if sub.no_local and client_id == sender:
                # [MQTT-3.8.3-3] No Local: not forwarded to the connection that published it.
                continue
            qos = min(msg_qos, sub.qos)
            # [MQTT-3.3.1-12] / [MQTT-3.3.1-13] Retain As Published.
            retain = msg_retain and sub.retain_as_published
            ids: tuple[int, ...] = (sub.identifier,) if sub.identifier is not None else ()
            previous = merged.get(client_id)
            if previous is not None:
                qos = max(qos, previous[0])
                retain = retain or previous[1]
                ids = previous[2] + ids
            merged[client_id] = (qos, retain, ids)
        count = 0
        durable = False
        sessions = self.sessions
        for client_id, (qos, retain, ids) in merged.items():
            session = sessions.get(client_id)
            if session is not None:
                if self._deliver(session, message, qos, retain, ids, unsaved):
                    durable = True
                count += 1
        return count, durable

    def _route_shared(
        self, message: Message, group: SharedGroup, unsaved: list[Delivery] | None
    ) -> bool | None:
        """Give one member of the group a copy: ``None`` if no member has a session, else whether the copy
        went into durable state (see :meth:`_deliver`)."""
        order = group.order
        n = len(order)
        if not n:
            return None
        sessions = self.sessions
        start = group.next_index
        chosen: tuple[Subscription, Session] | None = None
        fallback: tuple[Subscription, Session] | None = None
        for k in range(n):
            index = (start + k) % n
            sub = order[index]
            session = sessions.get(sub.client_id)
            if session is None:
                continue
            if session.owner is not None:
                chosen = (sub, session)
                group.next_index = (index + 1) % n
                break
            if fallback is None:
                fallback = (sub, session)
        if chosen is None:
            # Nobody online: the next member's session queues it (spec 4.8.2 leaves the choice to us).
            if fallback is None:
                return None
            chosen = fallback
            group.next_index = (start + 1) % n
        sub, session = chosen
        ids = (sub.identifier,) if sub.identifier is not None else ()
        retain = message.retain and sub.retain_as_published
        return self._deliver(session, message, min(message.qos, sub.qos), retain, ids, unsaved)

    def _deliver(
        self,
        session: Session,
        message: Message,
        qos: int,
        retain: bool,
        ids: tuple[int, ...],
        unsaved: list[Delivery] | None,
    ) -> bool:
        """Hand one copy to the session's connection, or queue it for an offline session. Returns whether it
        went into the queue of an offline persistent session (to be committed before the publisher's
        acknowledgement); a QoS 1/2 copy for an online persistent session is added to ``unsaved``."""
        owner = session.owner
        delivery = Delivery(message, qos, retain, ids)
        if owner is not None:
            owner.deliver(delivery)
            self.stats.messages_sent += 1
            if qos and session.expiry_interval and self.persistence is not None:
                # In the window or queue of an online persistent session: part of its Session State (spec
                # 4.1), saved (or delivered) before the publisher's PUBACK/PUBREC.
                self.persistence.delivery_queued(session)
                if unsaved is not None:
                    unsaved.append(delivery)
        elif qos or self.config.queue_qos0_offline:
            # [MQTT-3.1.2-23] QoS 1 and 2 messages for an offline session are part of its state; a full
            # queue drops them.
            if not session.outbox.enqueue(delivery):
                self.stats.dropped += 1
                if self.delivery_listeners:
                    for listener in self.delivery_listeners:
                        listener("delivery_dropped", message, session.client_id, qos, "queue_full")
            elif self.persistence is not None and session.expiry_interval:
                self.persistence.delivery_queued(session)
                return True
        return False
