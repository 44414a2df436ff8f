"""The fifteen MQTT Control Packets as frozen dataclasses (spec 2.1.2 and chapter 3).

One set of classes serves MQTT 3.1, 3.1.1 and 5.0. Fields that only exist in MQTT 5 (reason codes of acks,
properties) are ignored when encoding for 3.1.1 and get their defaults when decoding 3.1.1. Reason codes are
always :class:`ReasonCode` values; the codec maps CONNACK and SUBACK codes to and from their 3.1.1 forms.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import IntEnum
from typing import Any, ClassVar, TypeAlias

from .constants import PacketType, ProtocolVersion
from .properties import EMPTY_PROPERTIES, Properties
from .reason_codes import ReasonCode

__all__ = [
    "Auth",
    "ConnAck",
    "Connect",
    "Disconnect",
    "Packet",
    "PingReq",
    "PingResp",
    "PubAck",
    "PubComp",
    "PubRec",
    "PubRel",
    "Publish",
    "RetainHandling",
    "SubAck",
    "Subscribe",
    "Subscription",
    "SubscriptionOptions",
    "UnsubAck",
    "Unsubscribe",
    "Will",
    "new_publish",
]

Payload: TypeAlias = bytes | bytearray | memoryview


def _tuple(value: Iterable[Any]) -> tuple[Any, ...]:
    if type(value) is tuple:
        return value
    if isinstance(value, str):
        raise TypeError("expected a sequence of values, not a single string")
    return tuple(value)


class RetainHandling(IntEnum):
    """Subscription option bits 4-5 (spec 3.8.3.1)."""

    SEND_ON_SUBSCRIBE = 0
    SEND_IF_NEW_SUBSCRIPTION = 1
    DO_NOT_SEND = 2


@dataclass(frozen=True, slots=True)
class Will:
    """The Will Message of a CONNECT (spec 3.1.2.5, 3.1.3.2-3.1.3.4)."""

    topic: str
    payload: bytes = b""
    qos: int = 0
    retain: bool = False
    properties: Properties = EMPTY_PROPERTIES


@dataclass(frozen=True, slots=True)
class Connect:
    """CONNECT (spec 3.1). ``protocol_name`` defaults to "MQIsdp" for level 3 and "MQTT" otherwise."""

    packet_type: ClassVar[PacketType] = PacketType.CONNECT

    client_id: str = ""
    clean_start: bool = True
    keep_alive: int = 0
    username: str | None = None
    password: bytes | None = None
    will: Will | None = None
    properties: Properties = EMPTY_PROPERTIES
    protocol_level: int = ProtocolVersion.MQTT_3_1_1
    protocol_name: str = ""

    def __post_init__(self) -> None:
        if not self.protocol_name:
            name = "MQIsdp" if self.protocol_level == ProtocolVersion.MQTT_3_1 else "MQTT"
            object.__setattr__(self, "protocol_name", name)


@dataclass(frozen=True, slots=True)
class ConnAck:
    """CONNACK (spec 3.2). For 3.1.1 the reason code is mapped to a return code by the codec."""

    packet_type: ClassVar[PacketType] = PacketType.CONNACK

    session_present: bool = False
    reason_code: ReasonCode = ReasonCode.SUCCESS
    properties: Properties = EMPTY_PROPERTIES


@dataclass(frozen=True, slots=True)
class Publish:
    """PUBLISH (spec 3.3). ``packet_id`` is 0 for QoS 0.

    Decoded payloads are ``bytes``; for sending, ``bytearray``/``memoryview`` payloads are accepted too.
    """

    packet_type: ClassVar[PacketType] = PacketType.PUBLISH

    topic: str
    payload: Payload = b""
    qos: int = 0
    retain: bool = False
    dup: bool = False
    packet_id: int = 0
    properties: Properties = EMPTY_PROPERTIES


_PUBLISH_SETTERS: tuple[Any, ...] = tuple(
    Publish.__dict__[name].__set__
    for name in ("topic", "payload", "qos", "retain", "dup", "packet_id", "properties")
)


def new_publish(
    topic: str,
    payload: Payload,
    qos: int,
    retain: bool,
    dup: bool,
    packet_id: int,
    properties: Properties,
) -> Publish:
    """Build a :class:`Publish` with all fields given, bypassing the (slow) frozen dataclass ``__init__``.

    Used on the hot paths of the decoder and the connection; the result is an ordinary ``Publish``.
    """
    s_topic, s_payload, s_qos, s_retain, s_dup, s_packet_id, s_properties = _PUBLISH_SETTERS
    obj = object.__new__(Publish)
    s_topic(obj, topic)
    s_payload(obj, payload)
    s_qos(obj, qos)
    s_retain(obj, retain)
    s_dup(obj, dup)
    s_packet_id(obj, packet_id)
    s_properties(obj, properties)
    return obj


@dataclass(frozen=True, slots=True)
class PubAck:
    """PUBACK (spec 3.4)."""

    packet_type: ClassVar[PacketType] = PacketType.PUBACK

    packet_id: int
    reason_code: ReasonCode = ReasonCode.SUCCESS
    properties: Properties = EMPTY_PROPERTIES


@dataclass(frozen=True, slots=True)
class PubRec:
    """PUBREC (spec 3.5)."""

    packet_type: ClassVar[PacketType] = PacketType.PUBREC

    packet_id: int
    reason_code: ReasonCode = ReasonCode.SUCCESS
    properties: Properties = EMPTY_PROPERTIES


@dataclass(frozen=True, slots=True)
class PubRel:
    """PUBREL (spec 3.6)."""

    packet_type: ClassVar[PacketType] = PacketType.PUBREL

    packet_id: int
    reason_code: ReasonCode = ReasonCode.SUCCESS
    properties: Properties = EMPTY_PROPERTIES


@dataclass(frozen=True, slots=True)
class PubComp:
    """PUBCOMP (spec 3.7)."""

    packet_type: ClassVar[PacketType] = PacketType.PUBCOMP

    packet_id: int
    reason_code: ReasonCode = ReasonCode.SUCCESS
    properties: Properties = EMPTY_PROPERTIES


@dataclass(frozen=True, slots=True)
class SubscriptionOptions:
    """The Subscription Options byte (spec 3.8.3.1). MQTT 3.1.1 only has the QoS; the rest is dropped."""

    qos: int = 0
    no_local: bool = False
    retain_as_published: bool = False
    retain_handling: RetainHandling = RetainHandling.SEND_ON_SUBSCRIBE


#: One entry of a SUBSCRIBE payload: (topic filter, options).
Subscription: TypeAlias = tuple[str, SubscriptionOptions]


@dataclass(frozen=True, slots=True)
class Subscribe:
    """SUBSCRIBE (spec 3.8): ``(topic_filter, SubscriptionOptions)`` pairs, stored as a tuple."""

    packet_type: ClassVar[PacketType] = PacketType.SUBSCRIBE

    packet_id: int
    subscriptions: Sequence[Subscription]
    properties: Properties = EMPTY_PROPERTIES

    def __post_init__(self) -> None:
        subs: Iterable[Any] = self.subscriptions
        if type(subs) is not tuple or any(type(s) is not tuple for s in subs):
            object.__setattr__(self, "subscriptions", tuple((f, o) for f, o in subs))


@dataclass(frozen=True, slots=True)
class SubAck:
    """SUBACK (spec 3.9): one reason code per topic filter of the SUBSCRIBE."""

    packet_type: ClassVar[PacketType] = PacketType.SUBACK

    packet_id: int
    reason_codes: Sequence[ReasonCode]
    properties: Properties = EMPTY_PROPERTIES

    def __post_init__(self) -> None:
        object.__setattr__(self, "reason_codes", _tuple(self.reason_codes))


@dataclass(frozen=True, slots=True)
class Unsubscribe:
    """UNSUBSCRIBE (spec 3.10)."""

    packet_type: ClassVar[PacketType] = PacketType.UNSUBSCRIBE

    packet_id: int
    topic_filters: Sequence[str]
    properties: Properties = EMPTY_PROPERTIES

    def __post_init__(self) -> None:
        object.__setattr__(self, "topic_filters", _tuple(self.topic_filters))


@dataclass(frozen=True, slots=True)
class UnsubAck:
    """UNSUBACK (spec 3.11). MQTT 3.1.1 has no reason codes (decoded as an empty tuple)."""

    packet_type: ClassVar[PacketType] = PacketType.UNSUBACK

    packet_id: int
    reason_codes: Sequence[ReasonCode] = ()
    properties: Properties = EMPTY_PROPERTIES

    def __post_init__(self) -> None:
        object.__setattr__(self, "reason_codes", _tuple(self.reason_codes))


@dataclass(frozen=True, slots=True)
class PingReq:
    """PINGREQ (spec 3.12)."""

    packet_type: ClassVar[PacketType] = PacketType.PINGREQ


@dataclass(frozen=True, slots=True)
class PingResp:
    """PINGRESP (spec 3.13)."""

    packet_type: ClassVar[PacketType] = PacketType.PINGRESP


@dataclass(frozen=True, slots=True)
class Disconnect:
    """DISCONNECT (spec 3.14). Only the client sends it in 3.1.1; both sides may in 5.0."""

    packet_type: ClassVar[PacketType] = PacketType.DISCONNECT

    reason_code: ReasonCode = ReasonCode.NORMAL_DISCONNECTION
    properties: Properties = EMPTY_PROPERTIES


@dataclass(frozen=True, slots=True)
class Auth:
    """AUTH (spec 3.15, MQTT 5 only)."""

    packet_type: ClassVar[PacketType] = PacketType.AUTH

    reason_code: ReasonCode = ReasonCode.SUCCESS
    properties: Properties = EMPTY_PROPERTIES


Packet: TypeAlias = (
    Connect
    | ConnAck
    | Publish
    | PubAck
    | PubRec
    | PubRel
    | PubComp
    | Subscribe
    | SubAck
    | Unsubscribe
    | UnsubAck
    | PingReq
    | PingResp
    | Disconnect
    | Auth
)
