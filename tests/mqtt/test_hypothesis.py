"""Property-based tests: round trips, robustness against arbitrary bytes, and chunking independence."""

from __future__ import annotations

import itertools
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tether.mqtt import (
    EMPTY_PROPERTIES,
    Auth,
    ConnAck,
    Connect,
    Disconnect,
    EncodeError,
    OutgoingTopicAliases,
    Packet,
    PacketType,
    PingReq,
    PingResp,
    Properties,
    ProtocolError,
    PubAck,
    PubComp,
    Publish,
    PubRec,
    PubRel,
    ReasonCode,
    RetainHandling,
    ServerConnection,
    SubAck,
    Subscribe,
    SubscriptionOptions,
    UnsubAck,
    Unsubscribe,
    Will,
    decode_packet,
    encode,
    is_valid_topic_filter,
    matches,
)
from tether.mqtt.constants import WILL_PROPERTIES
from tether.mqtt.encoder import encode_plain_publish_head, encode_publish_parts
from tether.mqtt.packets import new_publish
from tether.mqtt.properties import allowed_properties
from tether.mqtt.reason_codes import (
    AUTH_REASON_CODES,
    CONNACK_REASON_CODES,
    DISCONNECT_REASON_CODES,
    PUBACK_REASON_CODES,
    PUBREL_REASON_CODES,
    SUBACK_REASON_CODES,
    UNSUBACK_REASON_CODES,
)

SETTINGS = settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])

T = PacketType
chars = st.characters(blacklist_categories=["Cs"], blacklist_characters="\x00")
utf8 = st.text(chars, max_size=10)
level = st.text(st.characters(blacklist_categories=["Cs"], blacklist_characters="\x00+#/"), max_size=5)
topic_names = st.lists(level, min_size=1, max_size=4).map("/".join).filter(bool)
plain_filters = st.builds(
    lambda levels, multi: "/".join(levels + (["#"] if multi else [])),
    st.lists(st.one_of(level, st.just("+")), max_size=4),
    st.booleans(),
).filter(is_valid_topic_filter)
shared_filters = st.builds(lambda g, f: f"$share/{g}/{f}", level.filter(bool), plain_filters).filter(
    is_valid_topic_filter
)
topic_filters = st.one_of(plain_filters, shared_filters)
u16 = st.integers(0, 0xFFFF)
u32 = st.integers(0, 0xFFFF_FFFF)
packet_ids = st.integers(1, 0xFFFF)
small_binary = st.binary(max_size=12)


def _codes(codes: frozenset[ReasonCode]) -> st.SearchStrategy[ReasonCode]:
    return st.sampled_from(sorted(codes))


VALUES: dict[str, st.SearchStrategy[Any]] = {
    "payload_format_indicator": st.integers(0, 1),
    "message_expiry_interval": u32,
    "content_type": utf8,
    "response_topic": topic_names,
    "correlation_data": small_binary,
    "session_expiry_interval": u32,
    "assigned_client_identifier": utf8,
    "server_keep_alive": u16,
    "authentication_method": utf8,
    "authentication_data": small_binary,
    "request_problem_information": st.booleans(),
    "will_delay_interval": u32,
    "request_response_information": st.booleans(),
    "response_information": utf8,
    "server_reference": utf8,
    "reason_string": utf8,
    "receive_maximum": st.integers(1, 0xFFFF),
    "topic_alias_maximum": u16,
    "topic_alias": st.integers(1, 0xFFFF),
    "maximum_qos": st.integers(0, 1),
    "retain_available": st.booleans(),
    "user_properties": st.lists(st.tuples(utf8, utf8), max_size=3).map(tuple),
    "maximum_packet_size": st.integers(1, 0xFFFF_FFFF),
    "wildcard_subscription_available": st.booleans(),
    "subscription_identifier_available": st.booleans(),
    "shared_subscription_available": st.booleans(),
}


ACKS: dict[str, tuple[type[PubAck | PubRec | PubRel | PubComp], PacketType]] = {
    "puback": (PubAck, T.PUBACK),
    "pubrec": (PubRec, T.PUBREC),
    "pubrel": (PubRel, T.PUBREL),
    "pubcomp": (PubComp, T.PUBCOMP),
}


@st.composite
def properties(draw: st.DrawFn, context: int, exclude: tuple[str, ...] = ()) -> Properties:
    names = sorted(allowed_properties(context) - set(exclude))
    chosen = draw(st.lists(st.sampled_from(names), unique=True, max_size=4))
    values: dict[str, Any] = {}
    for name in chosen:
        if name == "subscription_identifiers":
            size = 3 if context == T.PUBLISH else 1
            ids = st.integers(1, 268_435_455)
            values[name] = tuple(draw(st.lists(ids, min_size=1, max_size=size)))
        else:
            values[name] = draw(VALUES[name])
    if "authentication_data" in values and "authentication_method" not in values:
        values["authentication_method"] = draw(utf8)
    return Properties(**values)


@st.composite
def connects(draw: st.DrawFn, version: int, for_server: bool = False) -> Connect:
    v5 = version == 5
    exclude = ("authentication_method", "authentication_data") if for_server else ()
    props = draw(properties(T.CONNECT, exclude)) if v5 else EMPTY_PROPERTIES
    clean = draw(st.booleans())
    if version == 3:
        client_id = draw(
            st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=1, max_size=23)
        )
    else:
        client_id = draw(utf8)
        if for_server and not v5 and not client_id:
            clean = True  # [MQTT-3.1.3-8]
    will = None
    if draw(st.booleans()):
        will_props = draw(properties(WILL_PROPERTIES)) if v5 else EMPTY_PROPERTIES
        will = Will(
            draw(topic_names), draw(small_binary), draw(st.integers(0, 2)), draw(st.booleans()), will_props
        )
    username = draw(st.none() | utf8)
    password = draw(st.none() | small_binary)
    if not v5 and username is None:
        password = None  # [MQTT-3.1.2-22]
    return Connect(client_id, clean, draw(u16), username, password, will, props, version)


@st.composite
def packets(draw: st.DrawFn, version: int, client_only: bool = False) -> Packet:
    """Any valid packet for ``version``; with ``client_only`` one a client may send after CONNECT."""
    v5 = version == 5

    def props(context: int, exclude: tuple[str, ...] = ()) -> Properties:
        return draw(properties(context, exclude)) if v5 else EMPTY_PROPERTIES

    kinds = ["publish", "puback", "pubrec", "pubrel", "pubcomp", "subscribe", "unsubscribe", "pingreq"]
    if not client_only:
        kinds += ["connect", "connack", "suback", "unsuback", "pingresp", "disconnect"] + (
            ["auth"] if v5 else []
        )
    kind = draw(st.sampled_from(kinds))
    if kind == "connect":
        return draw(connects(version))
    if kind == "connack":
        if v5:
            rc = draw(_codes(CONNACK_REASON_CODES))
        else:
            rc = draw(st.sampled_from([0x00, 0x84, 0x85, 0x88, 0x86, 0x87]).map(ReasonCode))
        present = draw(st.booleans()) and rc == 0 and version != 3
        return ConnAck(present, rc, props(T.CONNACK))
    if kind == "publish":
        qos = draw(st.integers(0, 2))
        exclude = ("topic_alias", "subscription_identifiers") if client_only else ()
        p = props(T.PUBLISH, exclude)
        topic = draw(topic_names)
        if v5 and p.topic_alias is not None and draw(st.booleans()):
            topic = ""
        return Publish(
            topic,
            draw(st.binary(max_size=40)),
            qos,
            draw(st.booleans()),
            draw(st.booleans()) if qos else False,
            draw(packet_ids) if qos else 0,
            p,
        )
    if kind in ("puback", "pubrec", "pubrel", "pubcomp"):
        cls, ptype = ACKS[kind]
        allowed = PUBACK_REASON_CODES if kind in ("puback", "pubrec") else PUBREL_REASON_CODES
        rc = draw(_codes(allowed)) if v5 else ReasonCode.SUCCESS
        return cls(draw(packet_ids), rc, props(ptype))
    if kind == "subscribe":
        subs = []
        for topic_filter in draw(st.lists(topic_filters, min_size=1, max_size=3)):
            if v5:
                shared = topic_filter.startswith("$share/")
                options = SubscriptionOptions(
                    draw(st.integers(0, 2)),
                    False if shared else draw(st.booleans()),
                    draw(st.booleans()),
                    draw(st.sampled_from(list(RetainHandling))),
                )
            else:
                options = SubscriptionOptions(draw(st.integers(0, 2)))
            subs.append((topic_filter, options))
        return Subscribe(draw(packet_ids), tuple(subs), props(T.SUBSCRIBE))
    if kind == "suback":
        allowed = SUBACK_REASON_CODES if v5 else frozenset(map(ReasonCode, (0, 1, 2, 0x80)))
        return SubAck(
            draw(packet_ids), tuple(draw(st.lists(_codes(allowed), min_size=1, max_size=3))), props(T.SUBACK)
        )
    if kind == "unsubscribe":
        filters = tuple(draw(st.lists(topic_filters, min_size=1, max_size=3)))
        return Unsubscribe(draw(packet_ids), filters, props(T.UNSUBSCRIBE))
    if kind == "unsuback":
        if not v5:
            return UnsubAck(draw(packet_ids))
        codes = tuple(draw(st.lists(_codes(UNSUBACK_REASON_CODES), min_size=1, max_size=3)))
        return UnsubAck(draw(packet_ids), codes, props(T.UNSUBACK))
    if kind == "pingreq":
        return PingReq()
    if kind == "pingresp":
        return PingResp()
    if kind == "disconnect":
        return Disconnect(draw(_codes(DISCONNECT_REASON_CODES)), props(T.DISCONNECT)) if v5 else Disconnect()
    return Auth(draw(_codes(AUTH_REASON_CODES)), props(T.AUTH))


versions = st.sampled_from([3, 4, 5])


@SETTINGS
@given(st.data())
def test_round_trip(data: st.DataObject) -> None:
    version = data.draw(versions)
    packet = data.draw(packets(version))
    wire = encode(packet, version)
    assert decode_packet(wire, version) == packet
    # Decoding accepts every copy flavour of the bytes.
    assert decode_packet(memoryview(bytearray(wire)), version) == packet


@SETTINGS
@given(versions.flatmap(connects))
def test_connect_round_trip(packet: Connect) -> None:
    assert decode_packet(encode(packet)) == packet


@st.composite
def client_streams(draw: st.DrawFn) -> tuple[list[Packet], bytes]:
    version = draw(versions)
    connect = draw(connects(version, for_server=True))
    body = draw(st.lists(packets(version, client_only=True), max_size=6))
    if draw(st.booleans()):
        body.append(Disconnect())
    stream = [connect, *body]
    return stream, b"".join(encode(p, version) for p in stream)


def _feed(chunks: list[bytes]) -> list[Packet]:
    conn = ServerConnection()
    got: list[Packet] = []
    for chunk in chunks:
        conn.receive_data(chunk)
        got.extend(conn.next_events())
    return got


@SETTINGS
@given(client_streams(), st.data())
def test_chunking_does_not_change_events(stream: tuple[list[Packet], bytes], data: st.DataObject) -> None:
    expected, wire = stream
    assert _feed([wire]) == expected
    assert _feed([wire[i : i + 1] for i in range(len(wire))]) == expected
    assert _feed(_chunks(data, wire)) == expected


@st.composite
def noisy_bytes(draw: st.DrawFn, version: int) -> bytes:
    """Random bytes, or valid packets with random corruption (more likely to reach deep code paths)."""
    if draw(st.booleans()):
        return draw(st.binary(max_size=64))
    wire = bytearray(
        b"".join(encode(p, version) for p in draw(st.lists(packets(version), min_size=1, max_size=3)))
    )
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(["flip", "insert", "delete", "truncate"]))
        i = draw(st.integers(0, max(len(wire) - 1, 0)))
        if op == "flip" and wire:
            wire[i] ^= 1 << draw(st.integers(0, 7))
        elif op == "insert":
            wire.insert(i, draw(st.integers(0, 255)))
        elif op == "delete" and wire:
            del wire[i]
        elif op == "truncate":
            del wire[i:]
    return bytes(wire)


def _pull_all(conn: ServerConnection, chunks: list[bytes]) -> None:
    error: ProtocolError | None = None
    for chunk in chunks:
        conn.receive_data(chunk)  # never raises: errors surface from next_event()
        try:
            for _ in conn.next_events():
                pass
        except ProtocolError as exc:
            assert error is None or exc is error  # the error is sticky
            error = exc
    if error is not None:
        assert isinstance(error.reason_code, ReasonCode)
        assert isinstance(conn.send_protocol_error(error), bytes)


def _chunks(data: st.DataObject, wire: bytes) -> list[bytes]:
    cuts = sorted(data.draw(st.lists(st.integers(0, len(wire)), max_size=6)))
    bounds = [0, *cuts, len(wire)]
    return [wire[a:b] for a, b in itertools.pairwise(bounds)]


@SETTINGS
@given(st.data())
def test_arbitrary_bytes_before_connect(data: st.DataObject) -> None:
    junk = data.draw(st.one_of(st.binary(max_size=80), noisy_bytes(data.draw(versions))))
    _pull_all(ServerConnection(max_packet_size=data.draw(st.integers(2, 200))), _chunks(data, junk))


@SETTINGS
@given(st.data())
def test_arbitrary_bytes_after_connect(data: st.DataObject) -> None:
    version = data.draw(versions)
    connect_bytes = encode(data.draw(connects(version, for_server=True)))
    conn = ServerConnection(max_packet_size=max(len(connect_bytes), data.draw(st.integers(20, 1000))))
    conn.receive_data(connect_bytes)
    [connect] = list(conn.next_events())
    assert isinstance(connect, Connect)
    if data.draw(st.booleans()):
        connack_props = data.draw(properties(T.CONNACK, ("authentication_method", "authentication_data")))
        # try_send: a client may announce a Maximum Packet Size too small even for the CONNACK.
        conn.try_send(ConnAck(properties=connack_props if version == 5 else EMPTY_PROPERTIES))
    _pull_all(conn, _chunks(data, data.draw(noisy_bytes(version))))


@SETTINGS
@given(versions, st.data())
def test_decode_packet_only_raises_protocol_errors(version: int, data: st.DataObject) -> None:
    wire = data.draw(noisy_bytes(version))
    try:
        packet = decode_packet(wire, version)
    except ProtocolError:
        return
    try:
        again = encode(packet, version)
    except EncodeError:
        return  # e.g. a Topic Alias of 0 is accepted on input (the connection reports it) but never sent
    assert decode_packet(again, version) == packet


def _reference_match(topic_filter: list[str], topic: list[str]) -> bool:
    if not topic_filter:
        return not topic
    head, rest = topic_filter[0], topic_filter[1:]
    if head == "#":
        return True
    if not topic:
        return False
    return (head == "+" or head == topic[0]) and _reference_match(rest, topic[1:])


@SETTINGS
@given(
    st.lists(st.sampled_from(["a", "b", "$x", "", "+", "#"]), min_size=1, max_size=4),
    st.lists(st.sampled_from(["a", "b", "$x", ""]), min_size=1, max_size=4),
)
def test_matches_agrees_with_reference(filter_levels: list[str], topic_levels: list[str]) -> None:
    topic_filter, topic = "/".join(filter_levels), "/".join(topic_levels)
    if not is_valid_topic_filter(topic_filter):
        return
    expected = _reference_match(filter_levels, topic_levels)
    if topic.startswith("$") and topic_filter[0] in "+#":
        expected = False  # [MQTT-4.7.2-1]
    assert matches(topic_filter, topic) is expected


@SETTINGS
@given(st.integers(1, 4), st.lists(st.sampled_from(["a", "b", "c", "d", "e", "f"]), max_size=30))
def test_outgoing_aliases_always_resolve(maximum: int, topics: list[str]) -> None:
    # Simulate the receiving client: it records every (topic, alias) pair and resolves empty topics.
    aliases = OutgoingTopicAliases(maximum)
    client_map: dict[int, str] = {}
    for topic in topics:
        sent = aliases.apply(Publish(topic, b""))
        alias = sent.properties.topic_alias
        assert alias is not None and 1 <= alias <= maximum
        if sent.topic:
            client_map[alias] = sent.topic
        assert client_map[alias] == topic


@given(
    topic_names,
    st.booleans(),
    st.integers(0, 300_000),
    st.booleans(),
)
def test_plain_publish_head_is_the_encoders(topic: str, retain: bool, payload_len: int, v5: bool) -> None:
    """The broker's shortcut for QoS 0 copies without properties makes the encoder's own headers."""
    payload = b"p" * payload_len
    packet = new_publish(topic, payload, 0, retain, False, 0, EMPTY_PROPERTIES)
    head, _ = encode_publish_parts(packet, 5 if v5 else 4)
    assert encode_plain_publish_head(topic, retain, payload_len, v5) == head
