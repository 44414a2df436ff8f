"""MQTT 5 properties (spec 2.2.2.2): encoding, decoding and where each property may appear."""

from __future__ import annotations

import dataclasses

import pytest

from tether.mqtt import EncodeError, MalformedPacket, PacketType, Properties, ProtocolError, ReasonCode
from tether.mqtt.constants import WILL_PROPERTIES
from tether.mqtt.properties import EMPTY_PROPERTIES, allowed_properties, decode_properties, encode_properties

P = PacketType
W = WILL_PROPERTIES

# Spec table 2-4, transcribed independently of the implementation:
# identifier -> (field, a valid value, raw value bytes, packet types where it is allowed)
SPEC: dict[int, tuple[str, object, bytes, set[int]]] = {
    0x01: ("payload_format_indicator", 1, b"\x01", {P.PUBLISH, W}),
    0x02: ("message_expiry_interval", 3600, b"\x00\x00\x0e\x10", {P.PUBLISH, W}),
    0x03: ("content_type", "text/plain", b"\x00\x0atext/plain", {P.PUBLISH, W}),
    0x08: ("response_topic", "r/t", b"\x00\x03r/t", {P.PUBLISH, W}),
    0x09: ("correlation_data", b"\x00\xff", b"\x00\x02\x00\xff", {P.PUBLISH, W}),
    0x0B: ("subscription_identifiers", (300,), b"\xac\x02", {P.PUBLISH, P.SUBSCRIBE}),
    0x11: ("session_expiry_interval", 0xFFFFFFFF, b"\xff\xff\xff\xff", {P.CONNECT, P.CONNACK, P.DISCONNECT}),
    0x12: ("assigned_client_identifier", "auto-1", b"\x00\x06auto-1", {P.CONNACK}),
    0x13: ("server_keep_alive", 30, b"\x00\x1e", {P.CONNACK}),
    0x15: ("authentication_method", "PLAIN", b"\x00\x05PLAIN", {P.CONNECT, P.CONNACK, P.AUTH}),
    0x16: ("authentication_data", b"d", b"\x00\x01d", {P.CONNECT, P.CONNACK, P.AUTH}),
    0x17: ("request_problem_information", False, b"\x00", {P.CONNECT}),
    0x18: ("will_delay_interval", 10, b"\x00\x00\x00\x0a", {W}),
    0x19: ("request_response_information", True, b"\x01", {P.CONNECT}),
    0x1A: ("response_information", "resp/", b"\x00\x05resp/", {P.CONNACK}),
    0x1C: ("server_reference", "other:1883", b"\x00\x0aother:1883", {P.CONNACK, P.DISCONNECT}),
    0x1F: (
        "reason_string",
        "why",
        b"\x00\x03why",
        {P.CONNACK, P.PUBACK, P.PUBREC, P.PUBREL, P.PUBCOMP, P.SUBACK, P.UNSUBACK, P.DISCONNECT, P.AUTH},
    ),
    0x21: ("receive_maximum", 10, b"\x00\x0a", {P.CONNECT, P.CONNACK}),
    0x22: ("topic_alias_maximum", 0, b"\x00\x00", {P.CONNECT, P.CONNACK}),
    0x23: ("topic_alias", 1, b"\x00\x01", {P.PUBLISH}),
    0x24: ("maximum_qos", 0, b"\x00", {P.CONNACK}),
    0x25: ("retain_available", True, b"\x01", {P.CONNACK}),
    0x26: (
        "user_properties",
        (("k", "v"),),
        b"\x00\x01k\x00\x01v",
        {P.CONNECT, P.CONNACK, P.PUBLISH, W, P.PUBACK, P.PUBREC, P.PUBREL, P.PUBCOMP, P.SUBSCRIBE}
        | {P.SUBACK, P.UNSUBSCRIBE, P.UNSUBACK, P.DISCONNECT, P.AUTH},
    ),
    0x27: ("maximum_packet_size", 1024, b"\x00\x00\x04\x00", {P.CONNECT, P.CONNACK}),
    0x28: ("wildcard_subscription_available", False, b"\x00", {P.CONNACK}),
    0x29: ("subscription_identifier_available", True, b"\x01", {P.CONNACK}),
    0x2A: ("shared_subscription_available", False, b"\x00", {P.CONNACK}),
}
CONTEXTS = [W, *(t for t in P if t not in (P.PINGREQ, P.PINGRESP))]


def test_every_field_is_in_the_spec_table() -> None:
    assert {f.name for f in dataclasses.fields(Properties)} == {v[0] for v in SPEC.values()}


@pytest.mark.parametrize("ident", sorted(SPEC))
@pytest.mark.parametrize("context", CONTEXTS)
def test_property_allowed_or_malformed(ident: int, context: int) -> None:
    field, value, raw, where = SPEC[ident]
    values: dict[str, object] = {field: value}
    prefix = b""
    if field == "authentication_data":
        # Authentication Data needs an Authentication Method (spec 3.1.2.11.10).
        values["authentication_method"] = "M"
        prefix = b"\x15\x00\x01M"
    data = bytes((len(prefix) + 1 + len(raw),)) + prefix + bytes((ident,)) + raw
    props = Properties(**values)  # type: ignore[arg-type]
    if context in where:
        assert field in allowed_properties(context)
        assert encode_properties(props, context) == data
        assert decode_properties(data, 0, len(data), context) == (props, len(data))
    else:
        assert field not in allowed_properties(context)
        # spec 2.2.2.2: an identifier not valid for the packet type is a Malformed Packet.
        with pytest.raises(MalformedPacket):
            decode_properties(data, 0, len(data), context)
        with pytest.raises(EncodeError):
            encode_properties(props, context)


def test_empty_properties() -> None:
    assert encode_properties(EMPTY_PROPERTIES, P.PUBLISH) == b"\x00"
    assert encode_properties(Properties(), P.PUBLISH) == b"\x00"
    props, pos = decode_properties(b"\x00", 0, 1, P.PUBLISH)
    assert props == Properties() and props.is_empty and pos == 1
    assert not Properties(topic_alias=1).is_empty


def test_user_properties_keep_order_and_duplicates() -> None:
    data = b"\x15\x26\x00\x01b\x00\x011\x26\x00\x01a\x00\x012\x26\x00\x01b\x00\x013"
    props, _ = decode_properties(data, 0, len(data), P.PUBLISH)
    assert props.user_properties == (("b", "1"), ("a", "2"), ("b", "3"))
    assert encode_properties(props, P.PUBLISH) == data


def test_lists_are_normalised_to_tuples() -> None:
    props = Properties(user_properties=[["a", "b"]], subscription_identifiers=[1, 2])  # type: ignore[list-item]
    assert props.user_properties == (("a", "b"),)
    assert props.subscription_identifiers == (1, 2)
    assert hash(props) == hash(Properties(user_properties=(("a", "b"),), subscription_identifiers=(1, 2)))


def test_properties_are_immutable() -> None:
    props = Properties(topic_alias=1)
    with pytest.raises(dataclasses.FrozenInstanceError):
        props.topic_alias = 2  # type: ignore[misc]
    assert props.replace(topic_alias=2).topic_alias == 2
    assert repr(props) == "Properties(topic_alias=1)"


def test_decoded_and_constructed_properties_are_equal() -> None:
    data = b"\x08\x02\x00\x00\x00\x0a\x23\x00\x05"
    decoded, _ = decode_properties(data, 0, len(data), P.PUBLISH)
    built = Properties(message_expiry_interval=10, topic_alias=5)
    assert decoded == built and hash(decoded) == hash(built)
    assert decoded.content_type is None and decoded.user_properties == ()
    assert encode_properties(decoded, P.PUBLISH) == encode_properties(built, P.PUBLISH) == data


def test_two_byte_property_length() -> None:
    value = "x" * 200
    props = Properties(reason_string=value)
    data = encode_properties(props, P.PUBACK)
    assert data[:2] == b"\xcb\x01"  # 203 = 1 + 2 + 200
    assert decode_properties(data, 0, len(data), P.PUBACK)[0] == props


@pytest.mark.parametrize(
    ("data", "context"),
    [
        (b"\x06\x02\x00\x00\x00\x01\x02", P.PUBLISH),  # truncated value
        (b"\x06\x02\x00\x00\x00\x01", P.PUBLISH),  # property length past the end
        (b"\x02\x7f\x00", P.PUBLISH),  # unknown identifier
        (b"\x02\x80\x01", P.PUBLISH),  # identifier with continuation bit
        (b"\x04\x03\x00\x02\xff", P.PUBLISH),  # string too short for its length
        (b"\x05\x03\x00\x02\xc3\x28", P.PUBLISH),  # invalid UTF-8
        (b"\x05\x03\x00\x02a\x00", P.PUBLISH),  # U+0000 [MQTT-1.5.4-2]
        (b"\x05\x0b\xff\xff\xff\xff", P.PUBLISH),  # VBI longer than 4 bytes
    ],
)
def test_malformed_properties(data: bytes, context: int) -> None:
    with pytest.raises(MalformedPacket) as info:
        decode_properties(data, 0, len(data), context)
    assert info.value.reason_code == ReasonCode.MALFORMED_PACKET


@pytest.mark.parametrize(
    ("data", "context"),
    [
        (b"\x0a\x02\x00\x00\x00\x01\x02\x00\x00\x00\x02", P.PUBLISH),  # message expiry twice
        (b"\x04\x0b\x01\x0b\x02", P.SUBSCRIBE),  # subscription identifier twice in SUBSCRIBE
        (b"\x02\x0b\x00", P.PUBLISH),  # subscription identifier 0
        (b"\x02\x01\x02", P.PUBLISH),  # payload format indicator 2
        (b"\x02\x17\x02", P.CONNECT),  # request problem information 2
        (b"\x02\x19\x05", P.CONNECT),  # request response information 5
        (b"\x02\x24\x02", P.CONNACK),  # maximum QoS 2
        (b"\x02\x25\x02", P.CONNACK),  # retain available 2
        (b"\x02\x28\x02", P.CONNACK),
        (b"\x02\x29\x02", P.CONNACK),
        (b"\x02\x2a\x02", P.CONNACK),
        (b"\x03\x21\x00\x00", P.CONNECT),  # receive maximum 0
        (b"\x05\x27\x00\x00\x00\x00", P.CONNECT),  # maximum packet size 0
        (b"\x04\x16\x00\x01x", P.CONNECT),  # authentication data without method
        (b"\x06\x08\x00\x03a/#", P.PUBLISH),  # [MQTT-3.3.2-14] wildcard in response topic
        (b"\x06\x15\x00\x01a\x15\x00\x01b"[:7], P.AUTH),  # authentication method twice (truncated variant)
    ],
)
def test_protocol_errors(data: bytes, context: int) -> None:
    with pytest.raises(ProtocolError) as info:
        decode_properties(data, 0, len(data), context)
    assert info.value.reason_code in (ReasonCode.PROTOCOL_ERROR, ReasonCode.MALFORMED_PACKET)


def test_duplicate_is_protocol_error_not_malformed() -> None:
    data = b"\x08\x15\x00\x01a\x15\x00\x01b"
    with pytest.raises(ProtocolError) as info:
        decode_properties(data, 0, len(data), P.AUTH)
    assert type(info.value) is ProtocolError
    assert info.value.reason_code == ReasonCode.PROTOCOL_ERROR


def test_subscription_identifiers_repeat_in_publish() -> None:
    data = b"\x06\x0b\x01\x0b\xff\xff\x7f"
    props, _ = decode_properties(data, 0, len(data), P.PUBLISH)
    assert props.subscription_identifiers == (1, 2_097_151)
    assert encode_properties(props, P.PUBLISH) == data
    with pytest.raises(EncodeError):
        encode_properties(props, P.SUBSCRIBE)


@pytest.mark.parametrize(
    "props",
    [
        Properties(receive_maximum=0),
        Properties(maximum_packet_size=0),
        Properties(authentication_data=b"x"),
        Properties(payload_format_indicator=2),
        Properties(maximum_qos=2),
        Properties(message_expiry_interval=-1),
        Properties(message_expiry_interval=2**32),
        Properties(server_keep_alive=70_000),
        Properties(topic_alias=0),
        Properties(content_type="a\x00"),
        Properties(correlation_data=b"x" * 70_000),
        Properties(subscription_identifiers=(0,)),
        Properties(subscription_identifiers=(268_435_456,)),
        Properties(response_topic="a/+"),
    ],
)
def test_encode_rejects_invalid_values(props: Properties) -> None:
    context = P.CONNACK if props.maximum_qos is not None or props.server_keep_alive is not None else P.CONNECT
    if any(
        getattr(props, f) not in (None, ())
        for f in (
            "payload_format_indicator",
            "message_expiry_interval",
            "topic_alias",
            "content_type",
            "correlation_data",
            "subscription_identifiers",
            "response_topic",
        )
    ):
        context = P.PUBLISH
    with pytest.raises(EncodeError):
        encode_properties(props, context)
