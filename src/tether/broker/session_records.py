"""Live broker objects <-> the records of a :class:`~tether.broker.storage.BrokerStore` (messages, deliveries,
sessions), with times converted between the event loop's clock and the wall clock."""

from __future__ import annotations

import asyncio
import time

from tether.mqtt.constants import PacketType
from tether.mqtt.properties import EMPTY_PROPERTIES, decode_properties, encode_properties

from .inflight import Delivery
from .message import Message
from .storage import DeliveryRecord, MessageRecord

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
