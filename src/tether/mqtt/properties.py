"""MQTT 5 properties (spec 2.2.2.2): the :class:`Properties` value type and its encoder/decoder.

Which property may appear in which packet is checked in both directions. Following the spec:

* an identifier not valid for the packet type is a Malformed Packet (0x81) (spec 2.2.2.2);
* a property given more than once, when it may not repeat, is a Protocol Error (0x82);
* out-of-range values that the spec names (e.g. Receive Maximum 0) are a Protocol Error (0x82).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Final

from .constants import WILL_PROPERTIES, PacketType
from .datatypes import (
    decode_binary,
    decode_string,
    decode_u16,
    decode_u32,
    decode_vbi,
    encode_binary,
    encode_string,
    encode_u16,
    encode_u32,
    encode_vbi,
)
from .errors import EncodeError, MalformedPacket, ProtocolError
from .reason_codes import ReasonCode

__all__ = [
    "EMPTY_PROPERTIES",
    "PROPERTY_IDS",
    "Properties",
    "UserProperties",
    "allowed_properties",
    "decode_properties",
    "encode_properties",
]

UserProperties = Sequence[tuple[str, str]]


@dataclass(frozen=True, repr=False)
class Properties:
    """The properties of one MQTT 5 packet. ``None`` (or an empty tuple) means "absent".

    ``subscription_identifiers`` and ``user_properties`` accept any sequence and are stored as tuples, so the
    value stays immutable and hashable; user properties keep their order and may repeat (spec 3.1.2.11.8).

    Deliberately not ``slots=True``: the defaults live on the class and an instance's ``__dict__`` holds only
    the properties present, so the decoder can build one by filling ``__dict__`` (several times faster than
    the frozen ``__init__``) and the encoder visits only what is set.
    """

    payload_format_indicator: int | None = None  # 0x01
    message_expiry_interval: int | None = None  # 0x02
    content_type: str | None = None  # 0x03
    response_topic: str | None = None  # 0x08
    correlation_data: bytes | None = None  # 0x09
    subscription_identifiers: Sequence[int] = ()  # 0x0B
    session_expiry_interval: int | None = None  # 0x11
    assigned_client_identifier: str | None = None  # 0x12
    server_keep_alive: int | None = None  # 0x13
    authentication_method: str | None = None  # 0x15
    authentication_data: bytes | None = None  # 0x16
    request_problem_information: bool | None = None  # 0x17
    will_delay_interval: int | None = None  # 0x18
    request_response_information: bool | None = None  # 0x19
    response_information: str | None = None  # 0x1A
    server_reference: str | None = None  # 0x1C
    reason_string: str | None = None  # 0x1F
    receive_maximum: int | None = None  # 0x21
    topic_alias_maximum: int | None = None  # 0x22
    topic_alias: int | None = None  # 0x23
    maximum_qos: int | None = None  # 0x24
    retain_available: bool | None = None  # 0x25
    user_properties: UserProperties = ()  # 0x26
    maximum_packet_size: int | None = None  # 0x27
    wildcard_subscription_available: bool | None = None  # 0x28
    subscription_identifier_available: bool | None = None  # 0x29
    shared_subscription_available: bool | None = None  # 0x2A

    def __post_init__(self) -> None:
        values = self.__dict__
        ids = values["subscription_identifiers"]
        if type(ids) is not tuple:
            values["subscription_identifiers"] = tuple(ids)
        ups: Iterable[Any] = values["user_properties"]
        if type(ups) is not tuple or (ups and type(ups[0]) is not tuple):
            values["user_properties"] = tuple((k, v) for k, v in ups)
        # Keep only the properties present: absent ones read the class defaults. Encoding then only visits
        # what is set, and an instance built here equals one built by the decoder.
        for name in [name for name, value in values.items() if value is None or value == ()]:
            del values[name]

    @classmethod
    def _from_values(cls, values: dict[str, Any]) -> Properties:
        """Fast constructor for already validated values (only the properties present)."""
        obj = object.__new__(cls)
        obj.__dict__.update(values)
        return obj

    def __repr__(self) -> str:
        fields = ", ".join(
            f"{f.name}={getattr(self, f.name)!r}"
            for f in dataclasses.fields(self)
            if getattr(self, f.name) not in (None, ())
        )
        return f"Properties({fields})"

    @property
    def is_empty(self) -> bool:
        return not self.__dict__

    def replace(self, **changes: Any) -> Properties:
        """A copy with some fields changed (``dataclasses.replace``)."""
        return dataclasses.replace(self, **changes)


EMPTY_PROPERTIES: Final = Properties._from_values({})

# Property value kinds (spec 2.2.2.2, table 2-4).
_BYTE, _BOOL, _U16, _U32, _VBI, _STR, _BIN, _PAIR = range(8)

_P = PacketType
_ALL_CONTEXTS = (
    _P.CONNECT,
    _P.CONNACK,
    _P.PUBLISH,
    WILL_PROPERTIES,
    _P.PUBACK,
    _P.PUBREC,
    _P.PUBREL,
    _P.PUBCOMP,
    _P.SUBSCRIBE,
    _P.SUBACK,
    _P.UNSUBSCRIBE,
    _P.UNSUBACK,
    _P.DISCONNECT,
    _P.AUTH,
)
_ACKS = (_P.PUBACK, _P.PUBREC, _P.PUBREL, _P.PUBCOMP, _P.SUBACK, _P.UNSUBACK)


@dataclass(frozen=True, slots=True)
class _Spec:
    ident: int
    field: str
    kind: int
    contexts: int  # bit mask: 1 << packet type (0 = will properties)
    repeat_in: int = 0  # bit mask of contexts in which the property may appear more than once


def _mask(*contexts: int) -> int:
    mask = 0
    for c in contexts:
        mask |= 1 << c
    return mask


_SPECS: tuple[_Spec, ...] = (
    _Spec(0x01, "payload_format_indicator", _BYTE, _mask(_P.PUBLISH, WILL_PROPERTIES)),
    _Spec(0x02, "message_expiry_interval", _U32, _mask(_P.PUBLISH, WILL_PROPERTIES)),
    _Spec(0x03, "content_type", _STR, _mask(_P.PUBLISH, WILL_PROPERTIES)),
    _Spec(0x08, "response_topic", _STR, _mask(_P.PUBLISH, WILL_PROPERTIES)),
    _Spec(0x09, "correlation_data", _BIN, _mask(_P.PUBLISH, WILL_PROPERTIES)),
    # Several Subscription Identifiers may be sent to a client in one PUBLISH (spec 3.3.2.3.8); only one in
    # SUBSCRIBE (spec 3.8.2.1.2).
    _Spec(0x0B, "subscription_identifiers", _VBI, _mask(_P.PUBLISH, _P.SUBSCRIBE), _mask(_P.PUBLISH)),
    _Spec(0x11, "session_expiry_interval", _U32, _mask(_P.CONNECT, _P.CONNACK, _P.DISCONNECT)),
    _Spec(0x12, "assigned_client_identifier", _STR, _mask(_P.CONNACK)),
    _Spec(0x13, "server_keep_alive", _U16, _mask(_P.CONNACK)),
    _Spec(0x15, "authentication_method", _STR, _mask(_P.CONNECT, _P.CONNACK, _P.AUTH)),
    _Spec(0x16, "authentication_data", _BIN, _mask(_P.CONNECT, _P.CONNACK, _P.AUTH)),
    _Spec(0x17, "request_problem_information", _BOOL, _mask(_P.CONNECT)),
    _Spec(0x18, "will_delay_interval", _U32, _mask(WILL_PROPERTIES)),
    _Spec(0x19, "request_response_information", _BOOL, _mask(_P.CONNECT)),
    _Spec(0x1A, "response_information", _STR, _mask(_P.CONNACK)),
    _Spec(0x1C, "server_reference", _STR, _mask(_P.CONNACK, _P.DISCONNECT)),
    _Spec(0x1F, "reason_string", _STR, _mask(_P.CONNACK, *_ACKS, _P.DISCONNECT, _P.AUTH)),
    _Spec(0x21, "receive_maximum", _U16, _mask(_P.CONNECT, _P.CONNACK)),
    _Spec(0x22, "topic_alias_maximum", _U16, _mask(_P.CONNECT, _P.CONNACK)),
    _Spec(0x23, "topic_alias", _U16, _mask(_P.PUBLISH)),
    _Spec(0x24, "maximum_qos", _BYTE, _mask(_P.CONNACK)),
    _Spec(0x25, "retain_available", _BOOL, _mask(_P.CONNACK)),
    _Spec(0x26, "user_properties", _PAIR, _mask(*_ALL_CONTEXTS), _mask(*_ALL_CONTEXTS)),
    _Spec(0x27, "maximum_packet_size", _U32, _mask(_P.CONNECT, _P.CONNACK)),
    _Spec(0x28, "wildcard_subscription_available", _BOOL, _mask(_P.CONNACK)),
    _Spec(0x29, "subscription_identifier_available", _BOOL, _mask(_P.CONNACK)),
    _Spec(0x2A, "shared_subscription_available", _BOOL, _mask(_P.CONNACK)),
)

#: Property identifier by field name.
PROPERTY_IDS: Final[dict[str, int]] = {s.field: s.ident for s in _SPECS}
_BY_ID: tuple[_Spec | None, ...] = tuple(next((s for s in _SPECS if s.ident == i), None) for i in range(256))


def allowed_properties(context: int) -> frozenset[str]:
    """Names of the properties allowed in a packet type (or ``WILL_PROPERTIES``)."""
    bit = 1 << context
    return frozenset(s.field for s in _SPECS if s.contexts & bit)


# Value rules named by the spec, checked after decoding; each violation is a Protocol Error.
_ZERO_ONE = (
    # spec 3.3.2.3.2 / 3.1.3.2.3 payload format indicator is 0 or 1
    "payload_format_indicator",
    # spec 3.2.2.3.4 "It is a Protocol Error to ... have a value other than 0 or 1"
    "maximum_qos",
)


def _protocol_error(message: str) -> ProtocolError:
    return ProtocolError(ReasonCode.PROTOCOL_ERROR, message)


def decode_properties(buf: bytes, pos: int, end: int, context: int) -> tuple[Properties, int]:
    """Decode the Property Length and the properties that follow it (spec 2.2.2).

    ``context`` is the packet type (or ``WILL_PROPERTIES``). Returns the properties and the position after
    them.
    """
    if pos >= end:
        raise MalformedPacket("missing property length")
    length = buf[pos]
    if length == 0:
        return EMPTY_PROPERTIES, pos + 1
    if length < 0x80:
        pos += 1
    else:
        length, pos = decode_vbi(buf, pos, end)
    stop = pos + length
    if stop > end:
        raise MalformedPacket("properties run past the end of the packet")
    bit = 1 << context
    values: dict[str, Any] = {}
    user: list[tuple[str, str]] | None = None
    sub_ids: list[int] | None = None
    while pos < stop:
        # The identifier is a Variable Byte Integer; every defined identifier fits one byte, so a byte with
        # the continuation bit set can never name a valid property.
        spec = _BY_ID[buf[pos]]
        if spec is None or not spec.contexts & bit:
            # spec 2.2.2.2: an identifier not valid for the packet type makes the packet malformed.
            raise MalformedPacket(f"property 0x{buf[pos]:02X} is not valid in this packet")
        pos += 1
        kind = spec.kind
        value: Any
        if kind == _PAIR:
            key, pos = decode_string(buf, pos, stop)
            val, pos = decode_string(buf, pos, stop)
            if user is None:
                user = []
            user.append((key, val))
            continue
        if kind == _VBI:
            value, pos = decode_vbi(buf, pos, stop)
            # spec 3.3.2.3.8 / 3.8.2.1.2: a Subscription Identifier of 0 is a Protocol Error.
            if value == 0:
                raise _protocol_error("subscription identifier 0")
            if sub_ids is None:
                sub_ids = [value]
            elif spec.repeat_in & bit:
                sub_ids.append(value)
            else:
                raise _protocol_error("subscription identifier given more than once")
            continue
        if kind in (_BYTE, _BOOL):
            if pos >= stop:
                raise MalformedPacket("truncated byte property")
            value = buf[pos]
            pos += 1
            if kind == _BOOL:
                # "It is a Protocol Error to include ... a value other than 0 or 1" (spec 3.1.2.11.6/7,
                # 3.2.2.3.5, 3.2.2.3.11-13).
                if value > 1:
                    raise _protocol_error(f"{spec.field} must be 0 or 1")
                value = bool(value)
        elif kind == _U16:
            value, pos = decode_u16(buf, pos, stop)
        elif kind == _U32:
            value, pos = decode_u32(buf, pos, stop)
        elif kind == _STR:
            value, pos = decode_string(buf, pos, stop)
        else:  # _BIN
            value, pos = decode_binary(buf, pos, stop)
        if spec.field in values:
            # Every property except User Property (and Subscription Identifier in PUBLISH) may appear at most
            # once: "It is a Protocol Error to include the <property> more than once" (spec 3.x.2.x).
            raise _protocol_error(f"{spec.field} given more than once")
        values[spec.field] = value
    if pos != stop:
        raise MalformedPacket("property overruns the property length")
    if user is not None:
        values["user_properties"] = tuple(user)
    if sub_ids is not None:
        values["subscription_identifiers"] = tuple(sub_ids)
    if not _RULE_FIELDS.isdisjoint(values):
        problem = _value_problem(values.get)
        if problem is not None:
            raise _protocol_error(problem)
    return Properties._from_values(values), stop


# The fields _value_problem looks at (Authentication Method matters only together with Authentication Data).
_RULE_FIELDS = frozenset(
    {*_ZERO_ONE, "receive_maximum", "maximum_packet_size", "authentication_data", "response_topic"}
)


def _value_problem(get: Callable[[str], Any]) -> str | None:
    """The first value rule violated by a set of properties, or ``None``."""
    for name in _ZERO_ONE:
        v = get(name)
        if v is not None and not 0 <= v <= 1:
            return f"{name} must be 0 or 1"
    # spec 3.1.2.11.3 / 3.2.2.3.3: "It is a Protocol Error to include the Receive Maximum value of 0".
    if get("receive_maximum") == 0:
        return "receive maximum 0"
    # spec 3.1.2.11.4 / 3.2.2.3.6: "It is a Protocol Error to include ... Maximum Packet Size ... zero".
    if get("maximum_packet_size") == 0:
        return "maximum packet size 0"
    # spec 3.1.2.11.10 / 3.15.2.2.3: "It is a Protocol Error to include Authentication Data if there is no
    # Authentication Method".
    if get("authentication_data") is not None and get("authentication_method") is None:
        return "authentication data without authentication method"
    # [MQTT-3.3.2-14] the Response Topic MUST NOT contain wildcard characters.
    rt = get("response_topic")
    if rt is not None and ("+" in rt or "#" in rt or not rt):
        return "response topic is not a valid topic name"
    return None


def encode_properties(props: Properties, context: int) -> bytes:
    """Encode Property Length + properties for a packet type (or ``WILL_PROPERTIES``)."""
    if props is EMPTY_PROPERTIES or not props.__dict__:
        return b"\x00"
    body = _encode_body(props, context)
    return encode_vbi(len(body)) + body


_FIELD_ORDER: dict[str, int] = {s.field: i for i, s in enumerate(_SPECS)}
_BY_FIELD: dict[str, _Spec] = {s.field: s for s in _SPECS}


def _encode_body(props: Properties, context: int) -> bytes:
    bit = 1 << context
    parts: list[bytes] = []
    values = props.__dict__  # only the properties present (see Properties)
    names = sorted(values, key=_FIELD_ORDER.__getitem__) if len(values) > 1 else values
    for name in names:
        value = values[name]
        if value is None or value == ():
            continue
        spec = _BY_FIELD[name]
        if not spec.contexts & bit:
            raise EncodeError(f"property {spec.field} is not allowed in this packet")
        ident = bytes((spec.ident,))
        kind = spec.kind
        if kind == _PAIR:
            for key, val in value:
                parts.append(ident)
                parts.append(encode_string(key, "user property name"))
                parts.append(encode_string(val, "user property value"))
        elif kind == _VBI:
            if len(value) > 1 and not spec.repeat_in & bit:
                raise EncodeError(f"{spec.field} may be given only once in this packet")
            for v in value:
                if v == 0:
                    raise EncodeError("subscription identifier 0")
                parts.append(ident + encode_vbi(v))
        elif kind in (_BYTE, _BOOL):
            v = int(value)
            if not 0 <= v <= (1 if kind == _BOOL or spec.field in _ZERO_ONE else 255):
                raise EncodeError(f"{spec.field}={value!r} is out of range")
            parts.append(bytes((spec.ident, v)))
        elif kind == _U16:
            parts.append(ident + encode_u16(value))
        elif kind == _U32:
            parts.append(ident + encode_u32(value))
        elif kind == _STR:
            parts.append(ident + encode_string(value, spec.field))
        else:
            parts.append(ident + encode_binary(value, spec.field))
    if not _RULE_FIELDS.isdisjoint(values):
        problem = _value_problem(values.get)
        if problem is not None:
            raise EncodeError(problem)
    # [MQTT-3.3.2-8] a sender MUST NOT send a Topic Alias of 0.
    if values.get("topic_alias") == 0:
        raise EncodeError("topic alias 0")
    return b"".join(parts)
