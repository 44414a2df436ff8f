"""How MQTT messages travel between nodes (cluster/routing.py): batches of frames in one NATS message.

A batch starts with its kind, its id and the sending node's name; each frame is one Application Message as
the broker holds it (topic as mounted, payload, QoS, RETAIN, the properties to forward, the time left of
its Message Expiry Interval) and, for a routed copy, which of the receiver's subscriptions it is for (its
ordinary ones, and the shared groups the sender chose this node for); for a retained change, its version.
Binary and length-prefixed: a payload is any bytes (spec 1.5.7), a topic any UTF-8 (spec 1.5.4).
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass

from tether.broker.message import Message
from tether.mqtt.constants import PacketType
from tether.mqtt.properties import EMPTY_PROPERTIES, decode_properties, encode_properties

__all__ = [
    "PLAIN_FLAGS",
    "Batch",
    "Frame",
    "decode_batch",
    "encode_frame",
    "encode_header",
    "pack_plain_head",
]

#: Kinds of batch: copies to deliver (no answer), copies whose delivery the sender waits for (the
#: receiver answers with the batch id once they are as durable as a local delivery), retained changes.
COPIES, CONFIRM, RETAINED = 0, 1, 2

_HEADER = struct.Struct("!BQB")
# flags, expiry left (s), version, topic length, number of groups, properties length, payload length
_FRAME = struct.Struct("!BdQHHII")
_GROUP = struct.Struct("!H")

_RETAIN, _ORDINARY, _EXPIRES = 4, 8, 16
#: ``pack_plain_head(PLAIN_FLAGS[retain], 0.0, 0, topic length, 0, 0, payload length)``: the head of a plain
#: copy (QoS 0, for ordinary subscriptions, no properties, no expiry, no groups), followed by the topic and
#: the payload; what :func:`encode_frame` makes of it, for a sender that keeps the topic encoded.
pack_plain_head = _FRAME.pack
PLAIN_FLAGS = (_ORDINARY, _ORDINARY | _RETAIN)
_NO_GROUPS: frozenset[str] = frozenset()


def encode_header(kind: int, batch_id: int, node: str) -> bytes:
    name = node.encode()
    return _HEADER.pack(kind, batch_id, len(name)) + name


def encode_frame(
    message: Message,
    now: float,
    ordinary: bool = True,
    groups: tuple[str, ...] = (),
    version: int = 0,
) -> bytes:
    """One message (``now``: the event-loop time, for the expiry left)."""
    topic = message.topic.encode()
    props = message.properties
    empty = props is EMPTY_PROPERTIES or props.is_empty
    if empty and not groups and message.expires_at is None:  # the common case, in one step
        payload = message.payload
        flags = message.qos | (_RETAIN if message.retain else 0) | (_ORDINARY if ordinary else 0)
        head = _FRAME.pack(flags, 0.0, version, len(topic), 0, 0, len(payload))
        return b"".join((head, topic, payload))
    encoded = b"" if empty else encode_properties(props, PacketType.PUBLISH)
    flags = message.qos | (_RETAIN if message.retain else 0) | (_ORDINARY if ordinary else 0)
    left = 0.0
    if message.expires_at is not None:
        flags |= _EXPIRES
        left = max(0.0, message.expires_at - now)
    payload = message.payload
    parts = [
        _FRAME.pack(flags, left, version, len(topic), len(groups), len(encoded), len(payload)),
        topic,
    ]
    for group in groups:
        name = group.encode()
        parts.append(_GROUP.pack(len(name)))
        parts.append(name)
    parts.append(encoded)
    parts.append(bytes(payload))
    return b"".join(parts)


@dataclass(slots=True)
class Frame:
    message: Message
    ordinary: bool
    groups: frozenset[str]
    version: int


@dataclass(slots=True)
class Batch:
    kind: int
    batch_id: int
    node: str
    data: bytes
    start: int

    def frames(self, now: float) -> Iterator[Frame]:
        """The messages, their expiry counted from ``now`` (this node's event-loop time)."""
        data = self.data
        pos = self.start
        end = len(data)
        while pos < end:
            frame, pos = self._frame(pos, now)
            yield frame

    def runs(self, now: float) -> Iterator[Frame | tuple[str, list[bytes]]]:
        """The messages as :meth:`frames` gives them, except that consecutive plain copies of one topic (QoS
        0, RETAIN 0, for ordinary subscriptions, no properties, no expiry, no groups) come as one
        ``(topic, payloads)``: one match and one subscriber lookup for all of them on the receiving node."""
        data = self.data
        pos = self.start
        end = len(data)
        unpack = _FRAME.unpack_from
        size = _FRAME.size
        raw = b""
        topic = ""
        payloads: list[bytes] = []
        while pos < end:
            flags, _, _, topic_len, n_groups, props_len, payload_len = unpack(data, pos)
            if flags != _ORDINARY or n_groups or props_len:
                if payloads:
                    yield topic, payloads
                    payloads = []
                frame, pos = self._frame(pos, now)
                yield frame
                continue
            start = pos + size
            pos = start + topic_len
            name = data[start:pos]
            if name != raw or not payloads:
                if payloads:
                    yield topic, payloads
                    payloads = []
                raw, topic = name, name.decode()
            payloads.append(data[pos : pos + payload_len])
            pos += payload_len
        if payloads:
            yield topic, payloads

    def _frame(self, pos: int, now: float) -> tuple[Frame, int]:
        data = self.data
        flags, left, version, topic_len, n_groups, props_len, payload_len = _FRAME.unpack_from(data, pos)
        pos += _FRAME.size
        topic = data[pos : pos + topic_len].decode()
        pos += topic_len
        groups = _NO_GROUPS
        if n_groups:
            names: list[str] = []
            for _ in range(n_groups):
                (length,) = _GROUP.unpack_from(data, pos)
                pos += 2
                names.append(data[pos : pos + length].decode())
                pos += length
            groups = frozenset(names)
        props = EMPTY_PROPERTIES
        if props_len:
            props, _ = decode_properties(data, pos, pos + props_len, PacketType.PUBLISH)
            pos += props_len
        payload = data[pos : pos + payload_len]
        pos += payload_len
        expires_at = now + left if flags & _EXPIRES else None
        message = Message(topic, payload, flags & 3, bool(flags & _RETAIN), props, expires_at, None)
        return Frame(message, bool(flags & _ORDINARY), groups, version), pos


def decode_batch(data: bytes) -> Batch:
    """The header of a batch (ValueError if it is not one)."""
    try:
        kind, batch_id, name_len = _HEADER.unpack_from(data, 0)
    except struct.error as exc:
        raise ValueError("not a batch of MQTT messages") from exc
    start = _HEADER.size + name_len
    node = data[_HEADER.size : start].decode()
    return Batch(kind, batch_id, node, data, start)
