"""MQTT 3.1.1 (and 3.1) conformance: expected bytes are written by hand from the spec, not by the codec."""

from __future__ import annotations

import pytest

from tether.mqtt import (
    ConnAck,
    Connect,
    ConnectReturnCode,
    Disconnect,
    EncodeError,
    MalformedPacket,
    Packet,
    PingReq,
    PingResp,
    ProtocolError,
    PubAck,
    PubComp,
    Publish,
    PubRec,
    PubRel,
    ReasonCode,
    SubAck,
    Subscribe,
    SubscriptionOptions,
    UnsubAck,
    Unsubscribe,
    UnsupportedProtocolVersion,
    Will,
    connack_reason_from_v311,
    connack_return_code_for,
    decode_packet,
    decode_vbi,
    encode,
    encode_vbi,
)

V311 = 4


def assert_wire(packet: Packet, data: bytes, version: int = V311) -> None:
    assert encode(packet, version) == data
    assert decode_packet(data, version) == packet


# --------------------------------------------------------------------------------------- spec 1.5.5 VBI


@pytest.mark.parametrize(
    ("value", "data"),
    [
        (0, b"\x00"),
        (127, b"\x7f"),
        (128, b"\x80\x01"),
        (16_383, b"\xff\x7f"),
        (16_384, b"\x80\x80\x01"),
        (2_097_151, b"\xff\xff\x7f"),
        (2_097_152, b"\x80\x80\x80\x01"),
        (268_435_455, b"\xff\xff\xff\x7f"),
    ],
)
def test_variable_byte_integer_table(value: int, data: bytes) -> None:
    # The boundary values of spec table 1.5.5.
    assert encode_vbi(value) == data
    assert decode_vbi(data, 0, len(data)) == (value, len(data))


def test_variable_byte_integer_limits() -> None:
    with pytest.raises(EncodeError):
        encode_vbi(268_435_456)
    with pytest.raises(EncodeError):
        encode_vbi(-1)
    with pytest.raises(MalformedPacket):
        decode_vbi(b"\xff\xff\xff\xff\x01", 0, 5)
    with pytest.raises(MalformedPacket):
        decode_vbi(b"\x80", 0, 1)


# --------------------------------------------------------------------------------------- CONNECT


def test_connect_minimal() -> None:
    data = (
        b"\x10\x0f"  # CONNECT, remaining length 15
        b"\x00\x04MQTT\x04"  # protocol name, level 4
        b"\x02"  # flags: clean session
        b"\x00\x3c"  # keep alive 60
        b"\x00\x03abc"  # client identifier
    )
    assert_wire(Connect(client_id="abc", clean_start=True, keep_alive=60), data)


def test_connect_with_will_username_password() -> None:
    data = (
        b"\x10\x23"
        b"\x00\x04MQTT\x04"
        b"\xee"  # user name, password, will retain, will QoS 1, will flag, clean session
        b"\x00\x0a"
        b"\x00\x03cid"
        b"\x00\x03w/t"
        b"\x00\x03bye"
        b"\x00\x04user"
        b"\x00\x02\x00\x01"
    )
    packet = Connect(
        client_id="cid",
        clean_start=True,
        keep_alive=10,
        username="user",
        password=b"\x00\x01",
        will=Will(topic="w/t", payload=b"bye", qos=1, retain=True),
    )
    assert_wire(packet, data)


def test_connect_mqtt_3_1() -> None:
    data = b"\x10\x11\x00\x06MQIsdp\x03\x02\x00\x3c\x00\x03abc"
    packet = Connect(client_id="abc", keep_alive=60, protocol_level=3)
    assert packet.protocol_name == "MQIsdp"
    assert_wire(packet, data)


def test_connect_persistent_session_username_only() -> None:
    data = b"\x10\x13\x00\x04MQTT\x04\x80\x00\x00\x00\x01c\x00\x04user"
    assert_wire(Connect(client_id="c", clean_start=False, username="user"), data)


@pytest.mark.parametrize(
    ("flags", "reason"),
    [
        (0x03, "reserved flag"),  # [MQTT-3.1.2-3]
        (0x1E, "will QoS 3"),  # [MQTT-3.1.2-14]
        (0x0A, "will QoS without will flag"),  # [MQTT-3.1.2-13]
        (0x22, "will retain without will flag"),  # [MQTT-3.1.2-15]
        (0x42, "password without user name"),  # [MQTT-3.1.2-22]
    ],
)
def test_connect_invalid_flags(flags: int, reason: str) -> None:
    data = b"\x10\x0f\x00\x04MQTT\x04" + bytes((flags,)) + b"\x00\x3c\x00\x03abc"
    with pytest.raises(MalformedPacket):
        decode_packet(data)


def test_connect_unsupported_level_and_name() -> None:
    with pytest.raises(UnsupportedProtocolVersion) as info:
        decode_packet(b"\x10\x0f\x00\x04MQTT\x06\x02\x00\x3c\x00\x03abc")
    assert info.value.reason_code == ReasonCode.UNSUPPORTED_PROTOCOL_VERSION
    assert info.value.protocol_level == 6
    with pytest.raises(UnsupportedProtocolVersion):
        decode_packet(b"\x10\x0f\x00\x04MQTX\x04\x02\x00\x3c\x00\x03abc")
    with pytest.raises(UnsupportedProtocolVersion):  # MQIsdp is only level 3
        decode_packet(b"\x10\x11\x00\x06MQIsdp\x04\x02\x00\x3c\x00\x03abc")


def test_connect_trailing_and_truncated() -> None:
    good = b"\x10\x0f\x00\x04MQTT\x04\x02\x00\x3c\x00\x03abc"
    with pytest.raises(MalformedPacket):
        decode_packet(good[:-1])  # remaining length says 15, 14 bytes follow
    with pytest.raises(MalformedPacket):
        decode_packet(b"\x10\x10" + good[2:] + b"x")  # trailing byte after the payload
    with pytest.raises(MalformedPacket):
        decode_packet(b"\x10\x0e\x00\x04MQTT\x04\x02\x00\x3c\x00\x03ab")  # client id truncated


def test_connect_will_topic_with_wildcard() -> None:
    data = b"\x10\x15\x00\x04MQTT\x04\x06\x00\x00\x00\x01c\x00\x03a/#\x00\x01x"
    with pytest.raises(ProtocolError) as info:
        decode_packet(data)
    assert info.value.reason_code == ReasonCode.TOPIC_NAME_INVALID


def test_connect_encode_rejects_password_without_username() -> None:
    with pytest.raises(EncodeError):
        encode(Connect(client_id="c", password=b"x"), V311)


# --------------------------------------------------------------------------------------- CONNACK


def test_connack() -> None:
    assert_wire(ConnAck(), b"\x20\x02\x00\x00")
    assert_wire(ConnAck(session_present=True), b"\x20\x02\x01\x00")


@pytest.mark.parametrize(
    ("reason", "code"),
    [
        (ReasonCode.UNSUPPORTED_PROTOCOL_VERSION, 1),
        (ReasonCode.CLIENT_IDENTIFIER_NOT_VALID, 2),
        (ReasonCode.SERVER_UNAVAILABLE, 3),
        (ReasonCode.BAD_USER_NAME_OR_PASSWORD, 4),
        (ReasonCode.NOT_AUTHORIZED, 5),
    ],
)
def test_connack_return_codes(reason: ReasonCode, code: int) -> None:
    assert_wire(ConnAck(reason_code=reason), b"\x20\x02\x00" + bytes((code,)))


def test_connack_v5_codes_map_to_v311() -> None:
    assert connack_return_code_for(ReasonCode.SUCCESS) == ConnectReturnCode.ACCEPTED
    assert connack_return_code_for(ReasonCode.UNSUPPORTED_PROTOCOL_VERSION) == 1
    assert connack_return_code_for(ReasonCode.CLIENT_IDENTIFIER_NOT_VALID) == 2
    assert connack_return_code_for(ReasonCode.BAD_USER_NAME_OR_PASSWORD) == 4
    assert connack_return_code_for(ReasonCode.NOT_AUTHORIZED) == 5
    assert connack_return_code_for(ReasonCode.SERVER_UNAVAILABLE) == 3
    assert connack_return_code_for(ReasonCode.SERVER_BUSY) == 3
    assert connack_return_code_for(ReasonCode.QUOTA_EXCEEDED) == 3
    assert connack_return_code_for(ReasonCode.BANNED) == 5
    assert connack_reason_from_v311(6) is None
    # Session Present is never sent with a refusal [MQTT-3.2.2-4].
    assert encode(ConnAck(True, ReasonCode.BANNED), V311) == b"\x20\x02\x00\x05"


def test_connack_invalid() -> None:
    with pytest.raises(MalformedPacket):
        decode_packet(b"\x20\x02\x02\x00")  # [MQTT-3.2.2-1] reserved ack flag bits
    with pytest.raises(ProtocolError):
        decode_packet(b"\x20\x02\x00\x06")  # reserved return code
    with pytest.raises(ProtocolError):
        decode_packet(b"\x20\x02\x01\x05")  # session present on a refusal
    with pytest.raises(MalformedPacket):
        decode_packet(b"\x20\x03\x00\x00\x00")


def test_connack_mqtt_3_1_has_no_session_present() -> None:
    assert encode(ConnAck(session_present=True), 3) == b"\x20\x02\x00\x00"
    assert decode_packet(b"\x20\x02\x00\x00", 3) == ConnAck()


# --------------------------------------------------------------------------------------- PUBLISH


def test_publish_qos0_retain() -> None:
    assert_wire(Publish("a/b", b"hi", retain=True), b"\x31\x07\x00\x03a/bhi")


def test_publish_qos1() -> None:
    assert_wire(Publish("a/b", b"hi", qos=1, packet_id=10), b"\x32\x09\x00\x03a/b\x00\x0ahi")


def test_publish_qos2_dup() -> None:
    assert_wire(Publish("a/b", b"", qos=2, dup=True, packet_id=0xFFFF), b"\x3c\x07\x00\x03a/b\xff\xff")


def test_publish_two_byte_remaining_length() -> None:
    payload = bytes(range(200))
    data = b"\x30\xcb\x01\x00\x01t" + payload  # 203 = 0xCB 0x01
    assert_wire(Publish("t", payload), data)


def test_publish_payload_is_bytes_and_memoryview_encodes() -> None:
    packet = decode_packet(b"\x30\x07\x00\x03a/bhi")
    assert isinstance(packet, Publish)
    assert type(packet.payload) is bytes
    assert encode(Publish("a/b", memoryview(b"hi"))) == b"\x30\x07\x00\x03a/bhi"
    assert encode(Publish("a/b", bytearray(b"hi"))) == b"\x30\x07\x00\x03a/bhi"


def test_publish_utf8_topic_and_bom_kept() -> None:
    # [MQTT-1.5.4-3] a BOM 0xEF 0xBB 0xBF is not skipped or stripped.
    data = b"\x30\x08\x00\x06\xef\xbb\xbf\xc3\xa9x"
    packet = Publish("\ufeff\u00e9x", b"")
    assert_wire(packet, data)


@pytest.mark.parametrize(
    ("data", "exc", "reason"),
    [
        (b"\x36\x07\x00\x03a/b\x00\x01", MalformedPacket, ReasonCode.MALFORMED_PACKET),  # QoS 3
        (b"\x38\x05\x00\x03a/b", MalformedPacket, ReasonCode.MALFORMED_PACKET),  # DUP with QoS 0
        (b"\x32\x07\x00\x03a/b\x00\x00", ProtocolError, ReasonCode.PROTOCOL_ERROR),  # packet id 0
        (b"\x30\x05\x00\x03a/+", ProtocolError, ReasonCode.TOPIC_NAME_INVALID),  # wildcard
        (b"\x30\x05\x00\x03#/b", ProtocolError, ReasonCode.TOPIC_NAME_INVALID),
        (b"\x30\x02\x00\x00", ProtocolError, ReasonCode.TOPIC_NAME_INVALID),  # empty topic (3.1.1)
        (b"\x30\x05\x00\x03a\x00b", MalformedPacket, ReasonCode.MALFORMED_PACKET),  # U+0000
        (b"\x30\x05\x00\x03\xed\xa0\x80", MalformedPacket, ReasonCode.MALFORMED_PACKET),  # surrogate
        (b"\x30\x04\x00\x02\xc0\xaf", MalformedPacket, ReasonCode.MALFORMED_PACKET),  # overlong
        (b"\x30\x03\x00\x03a", MalformedPacket, ReasonCode.MALFORMED_PACKET),  # topic too short
        (b"\x32\x06\x00\x03a/b\x00", MalformedPacket, ReasonCode.MALFORMED_PACKET),  # no packet id
    ],
)
def test_publish_invalid(data: bytes, exc: type[ProtocolError], reason: ReasonCode) -> None:
    with pytest.raises(exc) as info:
        decode_packet(data)
    assert info.value.reason_code == reason


def test_publish_encode_validation() -> None:
    with pytest.raises(EncodeError):
        encode(Publish("a/#", b""))
    with pytest.raises(EncodeError):
        encode(Publish("", b""))
    with pytest.raises(EncodeError):
        encode(Publish("a", b"", qos=1))  # packet id 0
    with pytest.raises(EncodeError):
        encode(Publish("a", b"", qos=3, packet_id=1))
    with pytest.raises(EncodeError):
        encode(Publish("a", b"", dup=True))  # [MQTT-3.3.1-2]
    with pytest.raises(EncodeError):
        encode(Publish("a\x00", b""))
    with pytest.raises(EncodeError):
        encode(Publish("\ud800", b""))


# --------------------------------------------------------------------------------------- acks


@pytest.mark.parametrize(
    ("packet", "data"),
    [
        (PubAck(7), b"\x40\x02\x00\x07"),
        (PubRec(7), b"\x50\x02\x00\x07"),
        (PubRel(7), b"\x62\x02\x00\x07"),  # [MQTT-3.6.1-1] PUBREL flags 0b0010
        (PubComp(7), b"\x70\x02\x00\x07"),
    ],
)
def test_publish_acks(packet: Packet, data: bytes) -> None:
    assert_wire(packet, data)


def test_acks_drop_v5_fields() -> None:
    assert encode(PubAck(7, ReasonCode.NO_MATCHING_SUBSCRIBERS), V311) == b"\x40\x02\x00\x07"


@pytest.mark.parametrize(
    "data",
    [
        b"\x60\x02\x00\x07",  # PUBREL with flags 0 [MQTT-2.1.3-1]
        b"\x42\x02\x00\x07",  # PUBACK with flags 2
        b"\x40\x03\x00\x07\x00",  # 3.1.1 PUBACK has remaining length 2
        b"\x40\x01\x00",
    ],
)
def test_acks_malformed(data: bytes) -> None:
    with pytest.raises(MalformedPacket):
        decode_packet(data)


def test_ack_packet_id_zero() -> None:
    with pytest.raises(ProtocolError):
        decode_packet(b"\x40\x02\x00\x00")
    with pytest.raises(EncodeError):
        encode(PubAck(0))
    with pytest.raises(EncodeError):
        encode(PubAck(65_536))


# --------------------------------------------------------------------------------------- SUBSCRIBE


def test_subscribe() -> None:
    data = b"\x82\x0e\x00\x01\x00\x03a/+\x01\x00\x03b/#\x02"
    packet = Subscribe(1, [("a/+", SubscriptionOptions(qos=1)), ("b/#", SubscriptionOptions(qos=2))])
    assert_wire(packet, data)


def test_subscribe_lists_are_normalised_to_tuples() -> None:
    packet = Subscribe(1, [["a", SubscriptionOptions()]])  # type: ignore[list-item]
    assert type(packet.subscriptions) is tuple
    assert packet.subscriptions == (("a", SubscriptionOptions()),)


@pytest.mark.parametrize(
    ("data", "exc", "reason"),
    [
        (b"\x80\x06\x00\x01\x00\x01a\x00", MalformedPacket, ReasonCode.MALFORMED_PACKET),  # flags 0
        (b"\x82\x02\x00\x01", ProtocolError, ReasonCode.PROTOCOL_ERROR),  # [MQTT-3.8.3-3] no filter
        (b"\x82\x06\x00\x01\x00\x01a\x03", MalformedPacket, ReasonCode.MALFORMED_PACKET),  # QoS 3
        (b"\x82\x06\x00\x01\x00\x01a\x04", MalformedPacket, ReasonCode.MALFORMED_PACKET),  # [MQTT-3-8.3-4]
        (b"\x82\x05\x00\x01\x00\x01a", MalformedPacket, ReasonCode.MALFORMED_PACKET),  # options missing
        (b"\x82\x08\x00\x01\x00\x03a#b\x00", ProtocolError, ReasonCode.TOPIC_FILTER_INVALID),
        (b"\x82\x0a\x00\x01\x00\x05a/#/b\x00", ProtocolError, ReasonCode.TOPIC_FILTER_INVALID),
        (b"\x82\x05\x00\x01\x00\x00\x00", ProtocolError, ReasonCode.TOPIC_FILTER_INVALID),  # empty filter
        (b"\x82\x0c\x00\x01\x00\x07$share/\x00", ProtocolError, ReasonCode.TOPIC_FILTER_INVALID),
        (b"\x82\x06\x00\x00\x00\x01a\x00", ProtocolError, ReasonCode.PROTOCOL_ERROR),  # packet id 0
    ],
)
def test_subscribe_invalid(data: bytes, exc: type[ProtocolError], reason: ReasonCode) -> None:
    with pytest.raises(exc) as info:
        decode_packet(data)
    assert info.value.reason_code == reason


def test_suback() -> None:
    packet = SubAck(1, (ReasonCode.GRANTED_QOS_1, ReasonCode.UNSPECIFIED_ERROR, ReasonCode.GRANTED_QOS_0))
    assert_wire(packet, b"\x90\x05\x00\x01\x01\x80\x00")
    # v5 failure codes all become 0x80 in 3.1.1 [MQTT-3.9.3-2].
    assert encode(SubAck(1, (ReasonCode.NOT_AUTHORIZED,)), V311) == b"\x90\x03\x00\x01\x80"
    with pytest.raises(ProtocolError):
        decode_packet(b"\x90\x03\x00\x01\x03")
    with pytest.raises(ProtocolError):
        decode_packet(b"\x90\x02\x00\x01")


def test_unsubscribe_and_unsuback() -> None:
    assert_wire(Unsubscribe(2, ("a/+",)), b"\xa2\x07\x00\x02\x00\x03a/+")
    assert_wire(Unsubscribe(2, ("a", "b/#")), b"\xa2\x0a\x00\x02\x00\x01a\x00\x03b/#")
    assert_wire(UnsubAck(2), b"\xb0\x02\x00\x02")
    with pytest.raises(ProtocolError):
        decode_packet(b"\xa2\x02\x00\x02")  # [MQTT-3.10.3-2]
    with pytest.raises(MalformedPacket):
        decode_packet(b"\xa0\x07\x00\x02\x00\x03a/+")  # flags must be 0b0010
    with pytest.raises(MalformedPacket):
        decode_packet(b"\xb0\x03\x00\x02\x00")


# --------------------------------------------------------------------------------------- PING, DISCONNECT


def test_ping_and_disconnect() -> None:
    assert_wire(PingReq(), b"\xc0\x00")
    assert_wire(PingResp(), b"\xd0\x00")
    assert_wire(Disconnect(), b"\xe0\x00")
    assert encode(Disconnect(ReasonCode.SERVER_SHUTTING_DOWN), V311) == b"\xe0\x00"
    for data in (b"\xc0\x01\x00", b"\xd0\x01\x00", b"\xe0\x01\x00", b"\xc1\x00", b"\xe2\x00"):
        with pytest.raises(MalformedPacket):
            decode_packet(data)


def test_reserved_packet_types() -> None:
    with pytest.raises(MalformedPacket):
        decode_packet(b"\x00\x00")
    with pytest.raises(MalformedPacket):
        decode_packet(b"\xf0\x00", V311)  # AUTH does not exist in 3.1.1


def test_remaining_length_too_long() -> None:
    with pytest.raises(MalformedPacket):
        decode_packet(b"\x30\xff\xff\xff\xff\x01")


def test_decode_accepts_bytearray_and_memoryview() -> None:
    data = b"\x32\x09\x00\x03a/b\x00\x0ahi"
    expected = Publish("a/b", b"hi", qos=1, packet_id=10)
    assert decode_packet(bytearray(data)) == expected
    assert decode_packet(memoryview(data)) == expected
