"""Write-behind persistence of sessions and retained messages through a :class:`BrokerStore`.

The broker notes what changed (a persistent session went offline, got a queued message or a subscription; a
retained topic changed; a session ended) and :meth:`Persistence.checkpoint` saves those in one batch, every
``persist_interval`` seconds and at shutdown (then every persistent session). What changes while a client is
online (its window of messages in flight) is saved when it goes offline or at shutdown.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING

from tether.mqtt.constants import PacketType
from tether.mqtt.packets import RetainHandling
from tether.mqtt.properties import EMPTY_PROPERTIES, decode_properties, encode_properties

from .inflight import Delivery
from .message import Message
from .sessions import Session
from .storage import (
    BrokerStore,
    DeliveryRecord,
    MessageRecord,
    SessionRecord,
    SubscriptionRecord,
)
from .subscriptions import Subscription
from .will import PendingWill

if TYPE_CHECKING:
    from .broker import Broker

__all__ = ["Persistence"]

log = logging.getLogger("tether.broker")


class Persistence:
    """Tracks changes and saves them to the store; restores the broker's state at start."""

    def __init__(self, broker: Broker, store: BrokerStore, interval: float) -> None:
        self.broker = broker
        self.store = store
        self.interval = interval
        self._sessions: set[str] = set()
        self._ended: set[str] = set()
        self._retained: set[str] = set()
        self._task: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()

    # ------------------------------------------------------------------------------- change tracking

    def session_changed(self, session: Session) -> None:
        if session.expiry_interval:
            self._sessions.add(session.client_id)

    def session_ended(self, client_id: str) -> None:
        self._sessions.discard(client_id)
        self._ended.add(client_id)

    def retained_changed(self, topic: str) -> None:
        self._retained.add(topic)

    # ------------------------------------------------------------------------------- saving

    def start(self) -> None:
        self._task = self.broker.loop.create_task(self._run())

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            try:
                await self.checkpoint()
            except Exception:
                log.exception("saving the MQTT broker state failed; retrying")

    async def stop(self) -> None:
        """Stop the periodic checkpoints and save every persistent session."""
        if self._task is not None:
            self._task.cancel()
            self._task = None
        await self.checkpoint(everything=True)

    async def checkpoint(self, everything: bool = False) -> None:
        async with self._lock:
            broker = self.broker
            registry = broker.sessions
            names = [s.client_id for s in registry] if everything else list(self._sessions)
            ended, retained_topics = list(self._ended), list(self._retained)
            self._sessions.clear()
            self._ended.clear()
            self._retained.clear()
            encoder = _Encoder(broker.loop)
            sessions = []
            for client_id in names:
                session = registry.get(client_id)
                if session is not None and session.expiry_interval:
                    sessions.append(encoder.session(session))
            retained, deleted_retained = [], []
            for topic in retained_topics:
                message = broker.retained.get(topic)
                if message is None:
                    deleted_retained.append(topic)
                else:
                    retained.append(encoder.message(message))
            if not (sessions or ended or retained or deleted_retained):
                return
            try:
                await self.store.save(sessions, ended, retained, deleted_retained)
            except BaseException:
                # Keep the changes for the next attempt.
                self._sessions.update(names)
                self._ended.update(ended)
                self._retained.update(retained_topics)
                raise

    # ------------------------------------------------------------------------------- restoring

    async def restore(self) -> None:
        """Load the saved state: retained messages, and sessions (offline, their expiry running)."""
        state = await self.store.load()
        broker = self.broker
        decoder = _Decoder(broker.loop)
        now = time.time()
        for record in state.retained:
            message = decoder.message(record)
            if message.expired(broker.loop.time()):
                self._retained.add(record.topic)  # deleted at the next checkpoint
            else:
                broker.retained.set(message)
        restored = 0
        for srec in state.sessions:
            remaining = srec.disconnected_at + srec.expiry_interval - now
            if srec.expiry_interval != 0xFFFF_FFFF and remaining <= 0:
                self._ended.add(srec.client_id)
                if srec.will is not None:
                    broker.publish_will(decoder.message(srec.will))  # the session ended while we were down
                continue
            session = decoder.session(srec, broker.config.max_queued_messages)
            for sub in session.subscriptions.values():
                broker.subscriptions.add(sub)
            if srec.will is not None:
                delay = max(0.0, (srec.will_at or now) - now)
                session.pending_will = PendingWill(
                    broker.loop, decoder.message(srec.will), delay, broker.publish_will
                )
            broker.sessions.restore(session, None if srec.expiry_interval == 0xFFFF_FFFF else remaining)
            restored += 1
        if restored or state.retained:
            log.info(
                "MQTT broker restored %d sessions and %d retained messages", restored, len(broker.retained)
            )


class _Encoder:
    """Live objects -> records; a message shared by several sessions is encoded once."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._offset = time.time() - loop.time()
        self._messages: dict[int, MessageRecord] = {}

    def message(self, message: Message) -> MessageRecord:
        record = self._messages.get(id(message))
        if record is None:
            props = message.properties
            record = MessageRecord(
                message.topic,
                bytes(message.payload),
                message.qos,
                message.retain,
                b"\x00" if props.is_empty else encode_properties(props, PacketType.PUBLISH),
                None if message.expires_at is None else message.expires_at + self._offset,
            )
            self._messages[id(message)] = record
        return record

    def delivery(self, d: Delivery) -> DeliveryRecord:
        return DeliveryRecord(
            self.message(d.message), d.qos, d.retain, d.subscription_ids, d.packet_id, d.state
        )

    def session(self, session: Session) -> SessionRecord:
        will = session.pending_will
        return SessionRecord(
            client_id=session.client_id,
            expiry_interval=session.expiry_interval,
            # An online session is saved as if disconnected now (what a restart will do to it).
            disconnected_at=time.time() if session.online else session.disconnected_at,
            subscriptions=tuple(
                SubscriptionRecord(
                    s.topic_filter,
                    s.qos,
                    s.no_local,
                    s.retain_as_published,
                    int(s.retain_handling),
                    s.identifier,
                )
                for s in session.subscriptions.values()
            ),
            inflight=tuple(self.delivery(d) for d in session.outbox.inflight.values()),
            queued=tuple(self.delivery(d) for d in session.outbox.queue),
            awaiting_rel=tuple(sorted(session.awaiting_rel)),
            will=self.message(will.message) if will is not None and will.pending else None,
            will_at=will.due + self._offset if will is not None and will.pending else None,
        )


class _Decoder:
    """Records -> live objects; identical message records become one shared message again."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._offset = loop.time() - time.time()
        self._messages: dict[MessageRecord, Message] = {}

    def message(self, record: MessageRecord) -> Message:
        message = self._messages.get(record)
        if message is None:
            props = EMPTY_PROPERTIES
            if record.properties != b"\x00":
                props, _ = decode_properties(record.properties, 0, len(record.properties), PacketType.PUBLISH)
            expires_at = None if record.expires_at is None else record.expires_at + self._offset
            message = Message(
                record.topic, record.payload, record.qos, record.retain, props, expires_at, None
            )
            self._messages[record] = message
        return message

    def delivery(self, record: DeliveryRecord) -> Delivery:
        d = Delivery(self.message(record.message), record.qos, record.retain, record.subscription_ids)
        d.packet_id = record.packet_id
        d.state = record.state
        return d

    def session(self, record: SessionRecord, max_queued: int) -> Session:
        session = Session(record.client_id, max_queued)
        session.expiry_interval = record.expiry_interval
        session.disconnected_at = record.disconnected_at
        for s in record.subscriptions:
            share = s.topic_filter.split("/", 2)[1] if s.topic_filter.startswith("$share/") else None
            session.subscriptions[s.topic_filter] = Subscription(
                record.client_id,
                s.topic_filter,
                s.qos,
                s.no_local,
                s.retain_as_published,
                RetainHandling(s.retain_handling),
                s.identifier,
                share,
            )
        outbox = session.outbox
        for d in record.inflight:
            outbox.inflight[d.packet_id] = self.delivery(d)
        outbox.queue.extend(self.delivery(d) for d in record.queued)
        session.awaiting_rel.update(record.awaiting_rel)
        return session
