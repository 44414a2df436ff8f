"""Live broker objects <-> the records of a :class:`~tether.broker.storage.BrokerStore` (messages, deliveries,
sessions), with times converted between the event loop's clock and the wall clock."""

from __future__ import annotations

import asyncio
import time
from itertools import chain

from tether.mqtt.constants import PacketType
from tether.mqtt.packets import RetainHandling
from tether.mqtt.properties import EMPTY_PROPERTIES, decode_properties, encode_properties

from .inflight import Delivery
from .message import Message
from .session_diff import SavedSession
from .sessions import Session
from .storage import DeliveryRecord, MessageRecord, SessionRecord
from .subscriptions import Subscription

__all__ = ["RecordDecoder", "RecordEncoder"]


class RecordEncoder:
    """Live objects -> records; a message shared by several sessions is encoded once."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._offset = time.time() - loop.time()
        self._messages: dict[int, MessageRecord] = {}

    def wall(self, loop_time: float) -> float:
        return loop_time + self._offset

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

    def delivery(self, d: Delivery, seq: int) -> DeliveryRecord:
        return DeliveryRecord(
            self.message(d.message), d.qos, d.retain, d.subscription_ids, d.packet_id, d.state, seq
        )


class RecordDecoder:
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

    def session(self, record: SessionRecord, max_queued: int) -> tuple[Session, SavedSession]:
        """The live session, and what the store holds of it (its header key is set by the caller)."""
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
        saved = SavedSession(session)
        saved.subscriptions = record.subscriptions
        outbox = session.outbox
        for rec in chain(record.inflight, record.queued):
            d = self.delivery(rec)
            if rec.state:
                outbox.put(rec.packet_id, d)
                saved.flows[d] = (rec.packet_id, rec.state)
            else:
                outbox.append(d)
            saved.seqs[d] = rec.seq
            saved.next_seq = max(saved.next_seq, rec.seq + 1)
        for pid in record.awaiting_rel:
            session.await_rel(pid)
        return session, saved
