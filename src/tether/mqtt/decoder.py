"""Decoding of MQTT Control Packets (3.1, 3.1.1 and 5.0) from bytes.

Every decoder works on an immutable ``bytes`` buffer between ``pos`` and ``end`` (the packet body) and raises
only :class:`ProtocolError` / :class:`MalformedPacket`.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from typing import Final

from .constants import WILL_PROPERTIES, PacketType, ProtocolVersion
from .datatypes import decode_binary, decode_string
from .errors import MalformedPacket, ProtocolError, UnsupportedProtocolVersion
from .fixed_header import check_first_byte, parse_fixed_header
from .packets import (
    Auth,
    ConnAck,
    Connect,
    Disconnect,
    Packet,
    PingReq,
    PingResp,
    PubAck,
    PubComp,
    Publish,
    PubRec,
    PubRel,
    RetainHandling,
    SubAck,
    Subscribe,
    Subscription,
    SubscriptionOptions,
    UnsubAck,
    Unsubscribe,
    Will,
    new_publish,
)
from .properties import EMPTY_PROPERTIES, Properties, decode_properties
from .reason_codes import (
    AUTH_REASON_CODES,
    CONNACK_REASON_CODES,
    DISCONNECT_REASON_CODES,
    PUBACK_REASON_CODES,
    PUBCOMP_REASON_CODES,
    PUBREC_REASON_CODES,
    PUBREL_REASON_CODES,
    SUBACK_REASON_CODES,
    UNSUBACK_REASON_CODES,
    ReasonCode,
    connack_reason_from_v311,
)
from .topics import SHARE_PREFIX, topic_filter_problem

__all__ = ["DECODERS", "decode_body", "decode_packet"]

_V5: Final = ProtocolVersion.MQTT_5
_V3: Final = ProtocolVersion.MQTT_3_1
_T = PacketType
_RC = ReasonCode


_RC_TABLE: tuple[ReasonCode | None, ...] = tuple(
    ReasonCode(i) if i in ReasonCode._value2member_map_ else None for i in range(256)
)


def _reason(byte: int, allowed: frozenset[ReasonCode], what: str) -> ReasonCode:
    rc = _RC_TABLE[byte]
    if rc is None or rc not in allowed:
        raise ProtocolError(_RC.PROTOCOL_ERROR, f"invalid {what} reason code 0x{byte:02X}")
    return rc


def _packet_id(buf: bytes, pos: int, end: int) -> tuple[int, int]:
    if pos + 2 > end:
        raise MalformedPacket("truncated packet identifier")
    pid = (buf[pos] << 8) | buf[pos + 1]
    if pid == 0:
        # [MQTT-2.3.1-1] (3.1.1) / [MQTT-2.2.1-3] (5.0): a Packet Identifier is non-zero.
        raise ProtocolError(_RC.PROTOCOL_ERROR, "packet identifier 0")
    return pid, pos + 2


def _decode_connect(first: int, buf: bytes, pos: int, end: int, version: int) -> Connect:
    name, pos = decode_string(buf, pos, end)
    if pos >= end:
        raise MalformedPacket("truncated CONNECT")
    level = buf[pos]
    pos += 1
    # [MQTT-3.1.2-1] protocol name "MQTT" (3.1 used "MQIsdp"); [MQTT-3.1.2-2] unsupported level -> reject
    # with 0x84 / 3.1.1 return code 0x01.
    if not ((name == "MQTT" and level in (4, 5)) or (name == "MQIsdp" and level == 3)):
        raise UnsupportedProtocolVersion(name, level)
    if pos + 3 > end:
        raise MalformedPacket("truncated CONNECT")
    flags = buf[pos]
    keep_alive = (buf[pos + 1] << 8) | buf[pos + 2]
    pos += 3
    # [MQTT-3.1.2-3] the reserved flag in the CONNECT flags MUST be 0.
    if flags & 0x01:
        raise MalformedPacket("CONNECT reserved flag set")
    will_flag = bool(flags & 0x04)
    will_qos = (flags >> 3) & 0x03
    will_retain = bool(flags & 0x20)
    has_password = bool(flags & 0x40)
    has_username = bool(flags & 0x80)
    if will_flag:
        # [MQTT-3.1.2-14] (3.1.1 numbering) Will QoS MUST NOT be 3.
        if will_qos == 3:
            raise MalformedPacket("Will QoS 3")
    elif will_qos or will_retain:
        # [MQTT-3.1.2-13] [MQTT-3.1.2-15] (3.1.1 numbering) without a Will, Will QoS and Will Retain are 0.
        raise MalformedPacket("Will QoS/Retain set without Will Flag")
    # [MQTT-3.1.2-22] (3.1.1) if the User Name Flag is 0, the Password Flag MUST be 0. MQTT 5 allows a
    # password without a user name (spec 3.1.2.9).
    if has_password and not has_username and level < _V5:
        raise MalformedPacket("Password Flag set without User Name Flag")
    props = EMPTY_PROPERTIES
    if level == _V5:
        props, pos = decode_properties(buf, pos, end, _T.CONNECT)
    # [MQTT-3.1.3-1] payload order: Client Identifier, Will Properties, Will Topic, Will Payload, User Name,
    # Password.
    client_id, pos = decode_string(buf, pos, end)
    will = None
    if will_flag:
        will_props = EMPTY_PROPERTIES
        if level == _V5:
            will_props, pos = decode_properties(buf, pos, end, WILL_PROPERTIES)
        will_topic, pos = decode_string(buf, pos, end)
        # [MQTT-3.1.3-10] the Will Topic is a Topic Name: no wildcards, at least one character [MQTT-4.7.3-1].
        if not will_topic or "+" in will_topic or "#" in will_topic:
            raise ProtocolError(_RC.TOPIC_NAME_INVALID, f"invalid will topic {will_topic!r}")
        will_payload, pos = decode_binary(buf, pos, end)
        will = Will(will_topic, will_payload, will_qos, will_retain, will_props)
    username = None
    if has_username:
        username, pos = decode_string(buf, pos, end)
    password = None
    if has_password:
        password, pos = decode_binary(buf, pos, end)
    if pos != end:
        raise MalformedPacket("trailing bytes after CONNECT payload")
    return Connect(
        client_id,
        bool(flags & 0x02),
        keep_alive,
        username,
        password,
        will,
        props,
        level,
        name,
    )


_V311_CONNACK_CODES = frozenset(range(6))


def _decode_connack(first: int, buf: bytes, pos: int, end: int, version: int) -> ConnAck:
    if end - pos < 2:
        raise MalformedPacket("truncated CONNACK")
    ack_flags = buf[pos]
    # [MQTT-3.2.2-1] bits 7-1 of the Connect Acknowledge Flags are reserved and MUST be 0 (3.1: whole byte).
    if ack_flags & 0xFE:
        raise MalformedPacket("CONNACK reserved flags set")
    code = buf[pos + 1]
    pos += 2
    props = EMPTY_PROPERTIES
    if version == _V5:
        rc = _reason(code, CONNACK_REASON_CODES, "CONNACK")
        props, pos = decode_properties(buf, pos, end, _T.CONNACK)
    else:
        maybe = connack_reason_from_v311(code)
        if maybe is None:
            raise ProtocolError(_RC.PROTOCOL_ERROR, f"reserved CONNACK return code {code}")
        rc = maybe
    if pos != end:
        raise MalformedPacket("trailing bytes after CONNACK")
    session_present = bool(ack_flags) and version != _V3
    # [MQTT-3.2.2-4] / [MQTT-3.2.2-6] Session Present MUST be 0 when the connection is refused.
    if session_present and rc:
        raise ProtocolError(_RC.PROTOCOL_ERROR, "Session Present set on a refused connection")
    return ConnAck(session_present, rc, props)


def _decode_publish(first: int, buf: bytes, pos: int, end: int, version: int) -> Publish:
    qos = (first >> 1) & 0x03
    if qos == 3:
        raise MalformedPacket("PUBLISH with QoS 3")  # [MQTT-3.3.1-4]
    dup = bool(first & 0x08)
    if dup and not qos:
        raise MalformedPacket("PUBLISH with DUP set and QoS 0")  # [MQTT-3.3.1-2]
    if pos + 2 > end:
        raise MalformedPacket("truncated PUBLISH")
    stop = pos + 2 + ((buf[pos] << 8) | buf[pos + 1])
    if stop > end:
        raise MalformedPacket("PUBLISH topic runs past the end of the packet")
    try:
        topic = buf[pos + 2 : stop].decode("utf-8")  # [MQTT-3.3.2-1] the Topic Name is a UTF-8 string
    except UnicodeDecodeError:
        raise MalformedPacket("topic name is not well-formed UTF-8") from None  # [MQTT-1.5.4-1]
    if "+" in topic or "#" in topic:
        # [MQTT-3.3.2-2] The Topic Name in the PUBLISH packet MUST NOT contain wildcard characters.
        raise ProtocolError(_RC.TOPIC_NAME_INVALID, f"wildcard in topic name {topic!r}")
    if "\x00" in topic:
        raise MalformedPacket("topic name contains U+0000")  # [MQTT-1.5.4-2] [MQTT-4.7.3-2]
    pos = stop
    packet_id = 0
    if qos:
        if pos + 2 > end:
            raise MalformedPacket("truncated packet identifier")
        packet_id = (buf[pos] << 8) | buf[pos + 1]
        if not packet_id:
            raise ProtocolError(
                _RC.PROTOCOL_ERROR, "PUBLISH packet identifier 0"
            )  # [MQTT-2.3.1-1] [MQTT-2.2.1-3]
        pos += 2
    if version == _V5:
        if pos < end and buf[pos] == 0:
            props = EMPTY_PROPERTIES
            pos += 1
        else:
            props, pos = decode_properties(buf, pos, end, _T.PUBLISH)
        # spec 3.3.2.3.4: "It is a Protocol Error if the Topic Name is zero length and there is no Topic
        # Alias".
        if not topic and props.topic_alias is None:
            raise ProtocolError(_RC.PROTOCOL_ERROR, "empty topic name without topic alias")
    else:
        props = EMPTY_PROPERTIES
        if not topic:
            # [MQTT-4.7.3-1] All Topic Names MUST be at least one character long.
            raise ProtocolError(_RC.TOPIC_NAME_INVALID, "empty topic name")
    return new_publish(topic, buf[pos:end], qos, bool(first & 0x01), dup, packet_id, props)


def _ack_decoder(
    cls: type[PubAck | PubRec | PubRel | PubComp], ptype: PacketType, allowed: frozenset[ReasonCode]
) -> Callable[[int, bytes, int, int, int], Packet]:
    what = ptype.name

    def decode(first: int, buf: bytes, pos: int, end: int, version: int) -> Packet:
        packet_id, pos = _packet_id(buf, pos, end)
        if pos == end:
            # spec 3.4.2.1: Remaining Length 2 means Success with no properties.
            return cls(packet_id)
        if version != _V5:
            raise MalformedPacket(f"{what} Remaining Length must be 2")
        rc = _reason(buf[pos], allowed, what)
        pos += 1
        props = EMPTY_PROPERTIES
        # spec 3.4.2.2: "If the Remaining Length is less than 4 there is no Property Length".
        if pos < end:
            props, pos = decode_properties(buf, pos, end, ptype)
            if pos != end:
                raise MalformedPacket(f"trailing bytes after {what}")
        return cls(packet_id, rc, props)

    return decode


# Subscription Options byte -> SubscriptionOptions, precomputed for the 48 valid values (spec 3.8.3.1).
_SUB_OPTIONS: tuple[SubscriptionOptions | None, ...] = tuple(
    SubscriptionOptions(b & 0x03, bool(b & 0x04), bool(b & 0x08), RetainHandling((b >> 4) & 0x03))
    if b & 0x03 != 3 and (b >> 4) & 0x03 != 3 and not b & 0xC0
    else None
    for b in range(256)
)


def _decode_subscribe(first: int, buf: bytes, pos: int, end: int, version: int) -> Subscribe:
    packet_id, pos = _packet_id(buf, pos, end)
    props = EMPTY_PROPERTIES
    if version == _V5:
        props, pos = decode_properties(buf, pos, end, _T.SUBSCRIBE)
    subs: list[Subscription] = []
    while pos < end:
        topic_filter, pos = decode_string(buf, pos, end)
        if pos >= end:
            raise MalformedPacket("missing subscription options")
        byte = buf[pos]
        pos += 1
        options = _SUB_OPTIONS[byte]
        if options is None:
            if version != _V5 or byte & 0xC0 or byte & 0x03 == 3:
                # [MQTT-3.8.3-4] (3.1.1) / [MQTT-3.8.3-5] (5.0) reserved bits MUST be 0, and QoS 3 is not
                # allowed (3.1.1 spec 3.8.3.1 "malformed").
                raise MalformedPacket(f"invalid subscription options 0x{byte:02X}")
            # spec 3.8.3.1: "It is a Protocol Error to send a Retain Handling value of 3".
            raise ProtocolError(_RC.PROTOCOL_ERROR, "Retain Handling 3")
        if version != _V5 and byte & 0xFC:
            # [MQTT-3.8.3-4] (3.1.1) the upper 6 bits of the Requested QoS byte are reserved and MUST be 0.
            raise MalformedPacket(f"reserved subscription option bits set 0x{byte:02X}")
        problem = topic_filter_problem(topic_filter)
        if problem is not None:
            # [MQTT-4.7.1-2] [MQTT-4.7.1-3] [MQTT-4.8.2-1] [MQTT-4.8.2-2]
            raise ProtocolError(_RC.TOPIC_FILTER_INVALID, f"topic filter {topic_filter!r} {problem}")
        if options.no_local and topic_filter.startswith(SHARE_PREFIX) and version == _V5:
            # [MQTT-3.8.3-4] It is a Protocol Error to set the No Local bit to 1 on a Shared Subscription.
            raise ProtocolError(_RC.PROTOCOL_ERROR, "No Local on a shared subscription")
        subs.append((topic_filter, options))
    if not subs:
        # [MQTT-3.8.3-3] (3.1.1) / [MQTT-3.8.3-2] (5.0) a SUBSCRIBE carries at least one Topic Filter.
        raise ProtocolError(_RC.PROTOCOL_ERROR, "SUBSCRIBE without topic filters")
    return Subscribe(packet_id, tuple(subs), props)


_V311_SUBACK_CODES: dict[int, ReasonCode] = {
    0x00: _RC.GRANTED_QOS_0,
    0x01: _RC.GRANTED_QOS_1,
    0x02: _RC.GRANTED_QOS_2,
    0x80: _RC.UNSPECIFIED_ERROR,
}


def _decode_suback(first: int, buf: bytes, pos: int, end: int, version: int) -> SubAck:
    packet_id, pos = _packet_id(buf, pos, end)
    props = EMPTY_PROPERTIES
    codes: list[ReasonCode] = []
    if version == _V5:
        props, pos = decode_properties(buf, pos, end, _T.SUBACK)
        codes = [_reason(buf[i], SUBACK_REASON_CODES, "SUBACK") for i in range(pos, end)]
    else:
        for i in range(pos, end):
            rc = _V311_SUBACK_CODES.get(buf[i])
            if rc is None:
                # [MQTT-3.9.3-2] return codes other than 0x00, 0x01, 0x02 and 0x80 are reserved.
                raise ProtocolError(_RC.PROTOCOL_ERROR, f"reserved SUBACK return code 0x{buf[i]:02X}")
            codes.append(rc)
    if not codes:
        # spec 3.9.3: one return code per Topic Filter of the SUBSCRIBE, which has at least one.
        raise ProtocolError(_RC.PROTOCOL_ERROR, "SUBACK without return codes")
    return SubAck(packet_id, tuple(codes), props)


def _decode_unsubscribe(first: int, buf: bytes, pos: int, end: int, version: int) -> Unsubscribe:
    packet_id, pos = _packet_id(buf, pos, end)
    props = EMPTY_PROPERTIES
    if version == _V5:
        props, pos = decode_properties(buf, pos, end, _T.UNSUBSCRIBE)
    filters: list[str] = []
    while pos < end:
        topic_filter, pos = decode_string(buf, pos, end)
        problem = topic_filter_problem(topic_filter)
        if problem is not None:
            raise ProtocolError(_RC.TOPIC_FILTER_INVALID, f"topic filter {topic_filter!r} {problem}")
        filters.append(topic_filter)
    if not filters:
        # [MQTT-3.10.3-2] The Payload of an UNSUBSCRIBE packet MUST contain at least one Topic Filter.
        raise ProtocolError(_RC.PROTOCOL_ERROR, "UNSUBSCRIBE without topic filters")
    return Unsubscribe(packet_id, tuple(filters), props)


def _decode_unsuback(first: int, buf: bytes, pos: int, end: int, version: int) -> UnsubAck:
    packet_id, pos = _packet_id(buf, pos, end)
    if version != _V5:
        if pos != end:
            raise MalformedPacket("UNSUBACK Remaining Length must be 2")  # 3.1.1 spec 3.11.1
        return UnsubAck(packet_id)
    props, pos = decode_properties(buf, pos, end, _T.UNSUBACK)
    codes = tuple(_reason(buf[i], UNSUBACK_REASON_CODES, "UNSUBACK") for i in range(pos, end))
    if not codes:
        # spec 3.11.3: one Reason Code per Topic Filter of the UNSUBSCRIBE.
        raise ProtocolError(_RC.PROTOCOL_ERROR, "UNSUBACK without reason codes")
    return UnsubAck(packet_id, codes, props)


_PINGREQ: Final = PingReq()
_PINGRESP: Final = PingResp()


def _decode_pingreq(first: int, buf: bytes, pos: int, end: int, version: int) -> PingReq:
    if pos != end:
        raise MalformedPacket("PINGREQ with a body")  # spec 3.12: no variable header, no payload
    return _PINGREQ


def _decode_pingresp(first: int, buf: bytes, pos: int, end: int, version: int) -> PingResp:
    if pos != end:
        raise MalformedPacket("PINGRESP with a body")  # spec 3.13: no variable header, no payload
    return _PINGRESP


def _decode_reason_and_properties(
    buf: bytes, pos: int, end: int, ptype: PacketType, allowed: frozenset[ReasonCode]
) -> tuple[ReasonCode, Properties]:
    if pos == end:
        # spec 3.14.2.1 / 3.15.2.1: Remaining Length 0 means reason 0x00 and no properties.
        return _RC.SUCCESS, EMPTY_PROPERTIES
    rc = _reason(buf[pos], allowed, ptype.name)
    pos += 1
    props = EMPTY_PROPERTIES
    # spec 3.14.2.2.1: "If the Remaining Length is less than 2, a value of 0 is used" for the Property Length.
    if pos < end:
        props, pos = decode_properties(buf, pos, end, ptype)
        if pos != end:
            raise MalformedPacket(f"trailing bytes after {ptype.name}")
    return rc, props


def _decode_disconnect(first: int, buf: bytes, pos: int, end: int, version: int) -> Disconnect:
    if version != _V5:
        if pos != end:
            raise MalformedPacket("DISCONNECT with a body")  # 3.1.1 spec 3.14: no variable header/payload
        return Disconnect()
    rc, props = _decode_reason_and_properties(buf, pos, end, _T.DISCONNECT, DISCONNECT_REASON_CODES)
    return Disconnect(rc, props)


def _decode_auth(first: int, buf: bytes, pos: int, end: int, version: int) -> Auth:
    if version != _V5:
        raise MalformedPacket("reserved packet type 15")
    rc, props = _decode_reason_and_properties(buf, pos, end, _T.AUTH, AUTH_REASON_CODES)
    return Auth(rc, props)


_Decoder = Callable[[int, bytes, int, int, int], Packet]

#: Body decoder per packet type (index = first byte >> 4); the fixed header must be checked first.
DECODERS: tuple[_Decoder | None, ...] = (
    None,
    _decode_connect,
    _decode_connack,
    _decode_publish,
    _ack_decoder(PubAck, _T.PUBACK, PUBACK_REASON_CODES),
    _ack_decoder(PubRec, _T.PUBREC, PUBREC_REASON_CODES),
    _ack_decoder(PubRel, _T.PUBREL, PUBREL_REASON_CODES),
    _ack_decoder(PubComp, _T.PUBCOMP, PUBCOMP_REASON_CODES),
    _decode_subscribe,
    _decode_suback,
    _decode_unsubscribe,
    _decode_unsuback,
    _decode_pingreq,
    _decode_pingresp,
    _decode_disconnect,
    _decode_auth,
)


def decode_body(first: int, buf: bytes, pos: int, end: int, protocol_version: int) -> Packet:
    """Decode one packet whose first fixed header byte is ``first`` and whose body is ``buf[pos:end]``.

    ``protocol_version`` selects the 3.1.1 or 5.0 layout (CONNECT carries its own level).
    """
    check_first_byte(first, protocol_version)
    decoder = DECODERS[first >> 4]
    assert decoder is not None  # type 0 rejected by check_first_byte
    try:
        return decoder(first, buf, pos, end, protocol_version)
    except ProtocolError:
        raise
    except (IndexError, ValueError, struct.error) as exc:  # pragma: no cover - a safety net
        raise MalformedPacket(f"cannot decode packet: {exc}") from exc


def decode_packet(data: bytes | bytearray | memoryview, protocol_version: int = 4) -> Packet:
    """Decode exactly one complete packet (fixed header included)."""
    buf = data if type(data) is bytes else bytes(data)
    end = len(buf)
    if end < 2:
        raise MalformedPacket("incomplete packet")
    header = parse_fixed_header(buf, 0, end)
    if header is None:
        raise MalformedPacket("incomplete fixed header")
    remaining, header_len = header
    if header_len + remaining != end:
        raise MalformedPacket(f"Remaining Length {remaining} does not match {end - header_len} bytes of body")
    return decode_body(buf[0], buf, header_len, end, protocol_version)
