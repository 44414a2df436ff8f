"""MQTT 5.0 conformance: expected bytes are written by hand from the spec, not by the codec."""

from __future__ import annotations

import pytest

from tether.mqtt import (
    Auth,
    ConnAck,
    Connect,
    Disconnect,
    EncodeError,
    MalformedPacket,
    Packet,
    Properties,
    ProtocolError,
    PubAck,
    PubComp,
    Publish,
    PubRec,
    PubRel,
    ReasonCode,
    RetainHandling,
    SubAck,
    Subscribe,
    SubscriptionOptions,
    UnsubAck,
    Unsubscribe,
    Will,
    decode_packet,
    encode,
    encode_publish_parts,
)

V5 = 5


def assert_wire(packet: Packet, data: bytes) -> None:
    assert encode(packet, V5) == data
    assert decode_packet(data, V5) == packet


def test_connect_with_properties() -> None:
    data = (
        b"\x10\x21"
        b"\x00\x04MQTT\x05\x02\x00\x3c"
        b"\x12"  # property length 18
        b"\x11\x00\x00\x00\x78"  # session expiry interval 120
        b"\x21\x00\x14"  # receive maximum 20
        b"\x22\x00\x05"  # topic alias maximum 5
        b"\x26\x00\x01k\x00\x01v"  # user property k=v
        b"\x00\x02c1"
    )
    packet = Connect(
        client_id="c1",
        keep_alive=60,
        protocol_level=5,
        properties=Properties(
            session_expiry_interval=120,
            receive_maximum=20,
            topic_alias_maximum=5,
            user_properties=[("k", "v")],
        ),
    )
    assert_wire(packet, data)


def test_connect_with_will_properties_and_password_only() -> None:
    data = (
        b"\x10\x1f"
        b"\x00\x04MQTT\x05"
        b"\x46"  # password, will flag, clean start (MQTT 5 allows a password without user name)
        b"\x00\x00"
        b"\x00"  # no properties
        b"\x00\x00"  # empty client identifier
        b"\x07\x01\x01\x18\x00\x00\x00\x05"  # will properties: payload format 1, will delay 5
        b"\x00\x01w"
        b"\x00\x01x"
        b"\x00\x02pw"
    )
    packet = Connect(
        client_id="",
        protocol_level=5,
        password=b"pw",
        will=Will("w", b"x", properties=Properties(payload_format_indicator=1, will_delay_interval=5)),
    )
    assert_wire(packet, data)


def test_connect_v5_without_property_length_is_malformed() -> None:
    with pytest.raises(MalformedPacket):
        decode_packet(b"\x10\x0a\x00\x04MQTT\x05\x02\x00\x3c")


def test_connack_with_properties() -> None:
    data = (
        b"\x20\x0f\x01\x00\x0c"
        b"\x12\x00\x02id"  # assigned client identifier
        b"\x22\x00\x0a"  # topic alias maximum 10
        b"\x24\x01"  # maximum QoS 1
        b"\x25\x00"  # retain not available
    )
    packet = ConnAck(
        session_present=True,
        properties=Properties(
            assigned_client_identifier="id", topic_alias_maximum=10, maximum_qos=1, retain_available=False
        ),
    )
    assert_wire(packet, data)


def test_connack_v5_reason_codes() -> None:
    assert_wire(ConnAck(reason_code=ReasonCode.BANNED), b"\x20\x03\x00\x8a\x00")
    assert_wire(ConnAck(reason_code=ReasonCode.QUOTA_EXCEEDED), b"\x20\x03\x00\x97\x00")
    with pytest.raises(ProtocolError):
        decode_packet(b"\x20\x03\x00\x10\x00", V5)  # 0x10 is not a CONNACK reason code
    with pytest.raises(ProtocolError):
        decode_packet(b"\x20\x03\x01\x80\x00", V5)  # [MQTT-3.2.2-6] session present with an error
    with pytest.raises(EncodeError):
        encode(ConnAck(reason_code=ReasonCode.NO_MATCHING_SUBSCRIBERS), V5)


def test_publish_with_properties() -> None:
    data = (
        b"\x32\x27"
        b"\x00\x03a/b"
        b"\x00\x05"
        b"\x1d"  # property length 29
        b"\x01\x01"  # payload format indicator: UTF-8
        b"\x02\x00\x00\x00\x3c"  # message expiry 60
        b"\x03\x00\x01t"  # content type
        b"\x08\x00\x01r"  # response topic
        b"\x09\x00\x01\x01"  # correlation data
        b"\x23\x00\x03"  # topic alias 3
        b"\x26\x00\x01a\x00\x01b"  # user property
        b"hi"
    )
    props = Properties(
        payload_format_indicator=1,
        message_expiry_interval=60,
        content_type="t",
        response_topic="r",
        correlation_data=b"\x01",
        topic_alias=3,
        user_properties=[("a", "b")],
    )
    assert_wire(Publish("a/b", b"hi", qos=1, packet_id=5, properties=props), data)


def test_publish_with_subscription_identifiers() -> None:
    # A server may send several Subscription Identifiers in one PUBLISH (spec 3.3.2.3.8).
    data = b"\x30\x09\x00\x01x\x05\x0b\x01\x0b\xc8\x01"
    assert_wire(Publish("x", b"", properties=Properties(subscription_identifiers=(1, 200))), data)


def test_publish_empty_topic_needs_alias() -> None:
    assert_wire(Publish("", b"p", properties=Properties(topic_alias=1)), b"\x30\x07\x00\x00\x03\x23\x00\x01p")
    with pytest.raises(ProtocolError) as info:
        decode_packet(b"\x30\x04\x00\x00\x00p", V5)
    assert info.value.reason_code == ReasonCode.PROTOCOL_ERROR
    with pytest.raises(EncodeError):
        encode(Publish("", b"p"), V5)


def test_publish_without_properties_and_parts() -> None:
    assert_wire(Publish("a", b"xy", qos=1, packet_id=1), b"\x32\x08\x00\x01a\x00\x01\x00xy")
    head, payload = encode_publish_parts(Publish("a", memoryview(b"xy"), qos=1, packet_id=1), V5)
    assert head == b"\x32\x08\x00\x01a\x00\x01\x00"
    assert bytes(payload) == b"xy"


def test_publish_property_not_allowed_is_malformed() -> None:
    # 0x11 Session Expiry Interval is not valid in PUBLISH (spec 2.2.2.2).
    with pytest.raises(MalformedPacket):
        decode_packet(b"\x30\x09\x00\x01x\x05\x11\x00\x00\x00\x01", V5)
    with pytest.raises(EncodeError):
        encode(Publish("x", b"", properties=Properties(session_expiry_interval=1)), V5)


def test_publish_properties_dropped_for_v311() -> None:
    packet = Publish("a", b"", properties=Properties(message_expiry_interval=5))
    assert encode(packet, 4) == b"\x30\x03\x00\x01a"


@pytest.mark.parametrize(
    ("packet", "data"),
    [
        (PubAck(7), b"\x40\x02\x00\x07"),
        (PubAck(7, ReasonCode.NO_MATCHING_SUBSCRIBERS), b"\x40\x03\x00\x07\x10"),
        (
            PubAck(7, ReasonCode.NOT_AUTHORIZED, Properties(reason_string="no")),
            b"\x40\x09\x00\x07\x87\x05\x1f\x00\x02no",
        ),
        (PubRec(7, ReasonCode.QUOTA_EXCEEDED), b"\x50\x03\x00\x07\x97"),
        (PubRel(7, ReasonCode.PACKET_IDENTIFIER_NOT_FOUND), b"\x62\x03\x00\x07\x92"),
        (PubComp(7), b"\x70\x02\x00\x07"),
        (
            PubComp(7, properties=Properties(user_properties=[("a", "b")])),
            b"\x70\x0b\x00\x07\x00\x07\x26\x00\x01a\x00\x01b",
        ),
    ],
)
def test_acks(packet: Packet, data: bytes) -> None:
    assert_wire(packet, data)


def test_ack_short_forms() -> None:
    # spec 3.4.2.1: reason code and property length may be omitted; both forms decode the same.
    assert decode_packet(b"\x40\x04\x00\x07\x10\x00", V5) == PubAck(7, ReasonCode.NO_MATCHING_SUBSCRIBERS)
    assert decode_packet(b"\x40\x04\x00\x07\x00\x00", V5) == PubAck(7)
    with pytest.raises(ProtocolError):
        decode_packet(b"\x40\x03\x00\x07\x92", V5)  # 0x92 is for PUBREL/PUBCOMP
    with pytest.raises(ProtocolError):
        decode_packet(b"\x62\x03\x00\x07\x10", V5)  # 0x10 is not a PUBREL reason code
    with pytest.raises(MalformedPacket):
        decode_packet(b"\x40\x05\x00\x07\x10\x00\x00", V5)  # trailing byte


def test_subscribe_with_options_and_identifier() -> None:
    data = (
        b"\x82\x18\x00\x03"
        b"\x02\x0b\x07"  # subscription identifier 7
        b"\x00\x03a/#\x2e"  # QoS 2, No Local, Retain As Published, Retain Handling 2
        b"\x00\x0a$share/g/x\x10"  # QoS 0, Retain Handling 1
    )
    packet = Subscribe(
        3,
        (
            ("a/#", SubscriptionOptions(2, True, True, RetainHandling.DO_NOT_SEND)),
            ("$share/g/x", SubscriptionOptions(0, retain_handling=RetainHandling.SEND_IF_NEW_SUBSCRIPTION)),
        ),
        Properties(subscription_identifiers=(7,)),
    )
    assert_wire(packet, data)


@pytest.mark.parametrize(
    ("data", "exc"),
    [
        (b"\x82\x07\x00\x01\x00\x00\x01a\x30", ProtocolError),  # Retain Handling 3
        (b"\x82\x07\x00\x01\x00\x00\x01a\x40", MalformedPacket),  # [MQTT-3.8.3-5] reserved bits
        (b"\x82\x07\x00\x01\x00\x00\x01a\x03", MalformedPacket),  # QoS 3
        (b"\x82\x0f\x00\x01\x00\x00\x09$share/g/a\x04", ProtocolError),  # [MQTT-3.8.3-4] No Local on shared
        (b"\x82\x0b\x00\x01\x04\x0b\x01\x0b\x02\x00\x01a\x00", ProtocolError),  # two subscription ids
        (b"\x82\x09\x00\x01\x02\x0b\x00\x00\x01a\x00", ProtocolError),  # subscription identifier 0
    ],
)
def test_subscribe_invalid(data: bytes, exc: type[ProtocolError]) -> None:
    with pytest.raises(exc):
        decode_packet(data, V5)


def test_suback_unsubscribe_unsuback() -> None:
    assert_wire(
        SubAck(
            3,
            (
                ReasonCode.GRANTED_QOS_2,
                ReasonCode.GRANTED_QOS_0,
                ReasonCode.WILDCARD_SUBSCRIPTIONS_NOT_SUPPORTED,
            ),
            Properties(reason_string="ok"),
        ),
        b"\x90\x0b\x00\x03\x05\x1f\x00\x02ok\x02\x00\xa2",
    )
    assert_wire(
        Unsubscribe(4, ("a/#",), Properties(user_properties=[("a", "b")])),
        b"\xa2\x0f\x00\x04\x07\x26\x00\x01a\x00\x01b\x00\x03a/#",
    )
    assert_wire(
        UnsubAck(4, (ReasonCode.SUCCESS, ReasonCode.NO_SUBSCRIPTION_EXISTED)), b"\xb0\x05\x00\x04\x00\x00\x11"
    )
    with pytest.raises(ProtocolError):
        decode_packet(b"\xb0\x03\x00\x04\x00", V5)  # no reason codes
    with pytest.raises(ProtocolError):
        decode_packet(b"\x90\x04\x00\x03\x00\x10", V5)  # 0x10 is not a SUBACK code
    with pytest.raises(EncodeError):
        encode(UnsubAck(4), V5)


def test_disconnect() -> None:
    assert_wire(Disconnect(), b"\xe0\x00")
    assert_wire(Disconnect(ReasonCode.DISCONNECT_WITH_WILL_MESSAGE), b"\xe0\x01\x04")
    assert_wire(
        Disconnect(properties=Properties(session_expiry_interval=0, reason_string="x")),
        b"\xe0\x0b\x00\x09\x11\x00\x00\x00\x00\x1f\x00\x01x",
    )
    assert decode_packet(b"\xe0\x02\x8b\x00", V5) == Disconnect(ReasonCode.SERVER_SHUTTING_DOWN)
    with pytest.raises(ProtocolError):
        decode_packet(b"\xe0\x01\x01", V5)
    with pytest.raises(MalformedPacket):
        decode_packet(b"\xe0\x02\x00\x05", V5)  # property length runs past the end


def test_auth() -> None:
    assert_wire(Auth(), b"\xf0\x00")
    assert_wire(
        Auth(
            ReasonCode.CONTINUE_AUTHENTICATION,
            Properties(authentication_method="SCRAM", authentication_data=b"\x01\x02"),
        ),
        b"\xf0\x0f\x18\x0d\x15\x00\x05SCRAM\x16\x00\x02\x01\x02",
    )
    with pytest.raises(ProtocolError):
        decode_packet(b"\xf0\x01\x87", V5)
    with pytest.raises(MalformedPacket):
        decode_packet(b"\xf1\x00", V5)  # reserved flags
    with pytest.raises(EncodeError):
        encode(Auth(), 4)


def test_reason_code_enum() -> None:
    # 0x00 means Success, Normal disconnection or Granted QoS 0 depending on the packet (spec 2.4).
    assert {ReasonCode.SUCCESS, ReasonCode.NORMAL_DISCONNECTION, ReasonCode.GRANTED_QOS_0} == {ReasonCode(0)}
    assert ReasonCode(0x95) is ReasonCode.PACKET_TOO_LARGE
    assert ReasonCode.PACKET_TOO_LARGE.is_error
    assert not ReasonCode.NO_MATCHING_SUBSCRIBERS.is_error
    assert len({rc.value for rc in ReasonCode}) == 43
