"""Encoding of MQTT Control Packets (3.1, 3.1.1 and 5.0) to bytes."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

from .constants import MAX_PACKET_ID, WILL_PROPERTIES, PacketType, ProtocolVersion
from .datatypes import encode_binary, encode_string, encode_vbi, pack_u16
from .errors import EncodeError
from .fixed_header import FIXED_HEADER_FLAGS
from .packets import (
    Auth,
    ConnAck,
    Connect,
    Disconnect,
    Packet,
    Payload,
    PingReq,
    PingResp,
    PubAck,
    PubComp,
    Publish,
    PubRec,
    PubRel,
    SubAck,
    Subscribe,
    UnsubAck,
    Unsubscribe,
)
from .properties import EMPTY_PROPERTIES, Properties, encode_properties
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
    connack_return_code_for,
    suback_code_for_v311,
)
from .topics import SHARE_PREFIX, topic_filter_problem

__all__ = ["encode", "encode_plain_publish_head", "encode_publish", "encode_publish_parts"]

_V5: Final = ProtocolVersion.MQTT_5
_V3: Final = ProtocolVersion.MQTT_3_1
_T = PacketType


_FIRST_BYTE: dict[PacketType, bytes] = {t: bytes(((t << 4) | (FIXED_HEADER_FLAGS[t] or 0),)) for t in _T}


def _frame(ptype: PacketType, *parts: bytes) -> bytes:
    remaining = sum(map(len, parts))
    return b"".join((_FIRST_BYTE[ptype], encode_vbi(remaining), *parts))


def _check_packet_id(packet_id: int) -> bytes:
    # [MQTT-2.3.1-1] (3.1.1) / [MQTT-2.2.1-3] (5.0) a non-zero Packet Identifier.
    if not 0 < packet_id <= MAX_PACKET_ID:
        raise EncodeError(f"invalid packet identifier {packet_id!r}")
    return pack_u16(packet_id)


def _check_qos(qos: int) -> int:
    if qos not in (0, 1, 2):
        raise EncodeError(f"invalid QoS {qos!r}")
    return qos


def _check_reason(rc: ReasonCode, allowed: frozenset[ReasonCode], what: str) -> bytes:
    if rc not in allowed:
        raise EncodeError(f"reason code {rc!r} is not valid in {what}")
    return bytes((rc,))


def _encode_connect(p: Connect, version: int) -> bytes:
    level = p.protocol_level
    if level not in (3, 4, 5):
        raise EncodeError(f"unsupported protocol level {level}")
    v5 = level == _V5
    flags = 0x02 if p.clean_start else 0
    parts = [encode_string(p.protocol_name, "protocol name"), b""]
    if not 0 <= p.keep_alive <= 0xFFFF:
        raise EncodeError(f"invalid keep alive {p.keep_alive}")
    if v5:
        parts.append(encode_properties(p.properties, _T.CONNECT))
    parts.append(encode_string(p.client_id, "client identifier"))
    will = p.will
    if will is not None:
        flags |= 0x04 | (_check_qos(will.qos) << 3) | (0x20 if will.retain else 0)
        if not will.topic or "+" in will.topic or "#" in will.topic:
            raise EncodeError(f"invalid will topic {will.topic!r}")
        if v5:
            parts.append(encode_properties(will.properties, WILL_PROPERTIES))
        parts.append(encode_string(will.topic, "will topic"))
        parts.append(encode_binary(will.payload, "will payload"))
    if p.username is not None:
        flags |= 0x80
        parts.append(encode_string(p.username, "user name"))
    if p.password is not None:
        if p.username is None and not v5:
            raise EncodeError("MQTT 3.1.1 does not allow a password without a user name")  # [MQTT-3.1.2-22]
        flags |= 0x40
        parts.append(encode_binary(p.password, "password"))
    parts[1] = bytes((level, flags)) + pack_u16(p.keep_alive)
    return _frame(_T.CONNECT, *parts)


def _encode_connack(p: ConnAck, version: int) -> bytes:
    rc = p.reason_code
    # [MQTT-3.2.2-4] / [MQTT-3.2.2-6] Session Present is 0 on a refused connection (3.1: the byte is
    # reserved).
    flags = b"\x01" if p.session_present and not rc and version != _V3 else b"\x00"
    if version != _V5:
        return _frame(_T.CONNACK, flags, bytes((connack_return_code_for(rc),)))
    code = _check_reason(rc, CONNACK_REASON_CODES, "CONNACK")
    return _frame(_T.CONNACK, flags, code, encode_properties(p.properties, _T.CONNACK))


# Encoded topic names (length prefix included), validated once. Bounded: cleared when it grows too large.
_TOPIC_CACHE: dict[str, bytes] = {}
_TOPIC_CACHE_SIZE = 4096


def _topic_bytes(topic: str) -> bytes:
    data = _TOPIC_CACHE.get(topic)
    if data is not None:
        return data
    # [MQTT-3.3.2-2] no wildcards in a Topic Name.
    if "+" in topic or "#" in topic:
        raise EncodeError(f"wildcard in topic name {topic!r}")
    data = encode_string(topic, "topic name")
    if len(_TOPIC_CACHE) >= _TOPIC_CACHE_SIZE:
        _TOPIC_CACHE.clear()
    _TOPIC_CACHE[topic] = data
    return data


def _publish_head(p: Publish, version: int, payload_len: int) -> bytes:
    """Fixed header + variable header of a PUBLISH."""
    qos = p.qos
    topic = _topic_bytes(p.topic)
    props = p.properties
    if version == _V5:
        prop_bytes = b"\x00" if props is EMPTY_PROPERTIES else encode_properties(props, _T.PUBLISH)
        # spec 3.3.2.3.4: a zero length Topic Name needs a Topic Alias.
        if topic == b"\x00\x00" and props.topic_alias is None:
            raise EncodeError("empty topic name without topic alias")
    else:
        prop_bytes = b""
        if topic == b"\x00\x00":
            raise EncodeError("empty topic name")  # [MQTT-4.7.3-1]
    if qos:
        if qos != 1 and qos != 2:
            raise EncodeError(f"invalid QoS {qos!r}")
        pid = _check_packet_id(p.packet_id)
        first = 0x30 | (qos << 1) | (0x08 if p.dup else 0) | (0x01 if p.retain else 0)
        remaining = len(topic) + 2 + len(prop_bytes) + payload_len
        return b"".join((bytes((first,)), encode_vbi(remaining), topic, pid, prop_bytes))
    if qos != 0:
        raise EncodeError(f"invalid QoS {qos!r}")
    if p.dup:
        raise EncodeError("DUP set on a QoS 0 PUBLISH")  # [MQTT-3.3.1-2]
    first = 0x31 if p.retain else 0x30
    remaining = len(topic) + len(prop_bytes) + payload_len
    return b"".join((bytes((first,)), encode_vbi(remaining), topic, prop_bytes))


_PLAIN_FIRST: Final = (b"\x30", b"\x31")


def encode_plain_publish_head(topic: str, retain: bool, payload_len: int, v5: bool) -> bytes:
    """The headers of a QoS 0 PUBLISH without properties (5.0: a zero property length), the copy most
    subscribers get: what :func:`encode_publish_parts` makes of it, without building a :class:`Publish`."""
    data = _topic_bytes(topic)
    if data == b"\x00\x00":
        raise EncodeError("empty topic name")  # [MQTT-4.7.3-1]; 5.0 would need a Topic Alias
    if v5:
        return b"".join((_PLAIN_FIRST[retain], encode_vbi(len(data) + 1 + payload_len), data, b"\x00"))
    return b"".join((_PLAIN_FIRST[retain], encode_vbi(len(data) + payload_len), data))


def _nbytes(payload: Payload) -> int:
    return len(payload) if type(payload) is not memoryview else payload.nbytes


def encode_publish_parts(packet: Publish, protocol_version: int = 4) -> tuple[bytes, Payload]:
    """Encode a PUBLISH as ``(headers, payload)`` so a transport can ``writelines`` it without copying."""
    payload = packet.payload
    return _publish_head(packet, protocol_version, _nbytes(payload)), payload


def encode_publish(p: Publish, version: int) -> bytes:
    """Encode a PUBLISH (the hot path of :func:`encode`)."""
    payload = p.payload
    return _publish_head(p, version, _nbytes(payload)) + payload


def _ack_encoder(ptype: PacketType, allowed: frozenset[ReasonCode]) -> Callable[[Any, int], bytes]:
    short = bytes(((ptype << 4) | (FIXED_HEADER_FLAGS[ptype] or 0), 2))

    def encode_ack(p: PubAck | PubRec | PubRel | PubComp, version: int) -> bytes:
        pid = _check_packet_id(p.packet_id)
        rc = p.reason_code
        props = p.properties
        if version != _V5:
            return short + pid
        empty = props is EMPTY_PROPERTIES or props.is_empty
        if rc == 0 and empty:
            return short + pid
        code = _check_reason(rc, allowed, ptype.name)
        if empty:
            # spec 3.4.2.2: the Property Length may be omitted when there are no properties.
            return _frame(ptype, pid, code)
        return _frame(ptype, pid, code, encode_properties(props, ptype))

    return encode_ack


def _check_filter(topic_filter: str) -> bytes:
    problem = topic_filter_problem(topic_filter)
    if problem is not None:
        raise EncodeError(f"invalid topic filter {topic_filter!r}: {problem}")
    return encode_string(topic_filter, "topic filter")


def _encode_subscribe(p: Subscribe, version: int) -> bytes:
    if not p.subscriptions:
        raise EncodeError("SUBSCRIBE needs at least one topic filter")  # [MQTT-3.8.3-3]
    parts = [_check_packet_id(p.packet_id)]
    v5 = version == _V5
    if v5:
        parts.append(encode_properties(p.properties, _T.SUBSCRIBE))
    for topic_filter, opts in p.subscriptions:
        parts.append(_check_filter(topic_filter))
        byte = _check_qos(opts.qos)
        if v5:
            if opts.retain_handling not in (0, 1, 2):
                raise EncodeError(f"invalid retain handling {opts.retain_handling!r}")
            if opts.no_local and topic_filter.startswith(SHARE_PREFIX):
                raise EncodeError("No Local on a shared subscription")  # [MQTT-3.8.3-4]
            byte |= (
                (0x04 if opts.no_local else 0)
                | (0x08 if opts.retain_as_published else 0)
                | (int(opts.retain_handling) << 4)
            )
        parts.append(bytes((byte,)))
    return _frame(_T.SUBSCRIBE, *parts)


def _encode_suback(p: SubAck, version: int) -> bytes:
    if not p.reason_codes:
        raise EncodeError("SUBACK needs at least one reason code")
    pid = _check_packet_id(p.packet_id)
    if version != _V5:
        return _frame(_T.SUBACK, pid, bytes(suback_code_for_v311(rc) for rc in p.reason_codes))
    codes = b"".join(_check_reason(rc, SUBACK_REASON_CODES, "SUBACK") for rc in p.reason_codes)
    return _frame(_T.SUBACK, pid, encode_properties(p.properties, _T.SUBACK), codes)


def _encode_unsubscribe(p: Unsubscribe, version: int) -> bytes:
    if not p.topic_filters:
        raise EncodeError("UNSUBSCRIBE needs at least one topic filter")  # [MQTT-3.10.3-2]
    parts = [_check_packet_id(p.packet_id)]
    if version == _V5:
        parts.append(encode_properties(p.properties, _T.UNSUBSCRIBE))
    parts.extend(_check_filter(f) for f in p.topic_filters)
    return _frame(_T.UNSUBSCRIBE, *parts)


def _encode_unsuback(p: UnsubAck, version: int) -> bytes:
    pid = _check_packet_id(p.packet_id)
    if version != _V5:
        return _frame(_T.UNSUBACK, pid)
    if not p.reason_codes:
        raise EncodeError("UNSUBACK needs one reason code per topic filter")
    codes = b"".join(_check_reason(rc, UNSUBACK_REASON_CODES, "UNSUBACK") for rc in p.reason_codes)
    return _frame(_T.UNSUBACK, pid, encode_properties(p.properties, _T.UNSUBACK), codes)


def _encode_reason_and_properties(
    ptype: PacketType, rc: ReasonCode, props: Properties, allowed: frozenset[ReasonCode]
) -> bytes:
    code = _check_reason(rc, allowed, ptype.name)
    if props is EMPTY_PROPERTIES or props.is_empty:
        if rc == 0:
            return _FIRST_BYTE[ptype] + b"\x00"  # spec 3.14.2.1 / 3.15.2.1: Remaining Length 0
        return _frame(ptype, code)
    return _frame(ptype, code, encode_properties(props, ptype))


def _encode_disconnect(p: Disconnect, version: int) -> bytes:
    if version != _V5:
        return b"\xe0\x00"
    return _encode_reason_and_properties(_T.DISCONNECT, p.reason_code, p.properties, DISCONNECT_REASON_CODES)


def _encode_auth(p: Auth, version: int) -> bytes:
    if version != _V5:
        raise EncodeError("AUTH exists only in MQTT 5")
    return _encode_reason_and_properties(_T.AUTH, p.reason_code, p.properties, AUTH_REASON_CODES)


def _encode_pingreq(p: PingReq, version: int) -> bytes:
    return b"\xc0\x00"


def _encode_pingresp(p: PingResp, version: int) -> bytes:
    return b"\xd0\x00"


_ENCODERS: dict[type, Callable[[Any, int], bytes]] = {
    Connect: _encode_connect,
    ConnAck: _encode_connack,
    Publish: encode_publish,
    PubAck: _ack_encoder(_T.PUBACK, PUBACK_REASON_CODES),
    PubRec: _ack_encoder(_T.PUBREC, PUBREC_REASON_CODES),
    PubRel: _ack_encoder(_T.PUBREL, PUBREL_REASON_CODES),
    PubComp: _ack_encoder(_T.PUBCOMP, PUBCOMP_REASON_CODES),
    Subscribe: _encode_subscribe,
    SubAck: _encode_suback,
    Unsubscribe: _encode_unsubscribe,
    UnsubAck: _encode_unsuback,
    PingReq: _encode_pingreq,
    PingResp: _encode_pingresp,
    Disconnect: _encode_disconnect,
    Auth: _encode_auth,
}


def encode(packet: Packet, protocol_version: int = 4) -> bytes:
    """Encode ``packet`` for ``protocol_version`` (3, 4 or 5; CONNECT uses its own ``protocol_level``).

    Fields MQTT 3.1.1 cannot express (properties, ack reason codes, v5 subscription options) are dropped.
    Raises :class:`EncodeError` for values the protocol does not allow.
    """
    encoder = _ENCODERS.get(type(packet))
    if encoder is None:
        raise EncodeError(f"not an MQTT packet: {packet!r}")
    return encoder(packet, protocol_version)
