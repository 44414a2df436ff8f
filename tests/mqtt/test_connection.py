"""The server-side connection state machine (h11 style)."""

from __future__ import annotations

import pytest

from tether.mqtt import (
    Auth,
    ConnAck,
    Connect,
    ConnectionState,
    Disconnect,
    LocalProtocolError,
    MalformedPacket,
    OutgoingTopicAliases,
    Packet,
    PacketTooLarge,
    PacketTooLargeForPeer,
    PingReq,
    PingResp,
    Properties,
    ProtocolError,
    PubAck,
    Publish,
    ReasonCode,
    ServerConnection,
    SubAck,
    Subscribe,
    SubscriptionOptions,
    UnsupportedProtocolVersion,
    encode,
)

# Hand-built CONNECT packets: client id "c", clean session/start, keep alive 60.
CONNECT_V4 = b"\x10\x0d\x00\x04MQTT\x04\x02\x00\x3c\x00\x01c"
CONNECT_V5 = b"\x10\x0e\x00\x04MQTT\x05\x02\x00\x3c\x00\x00\x01c"
PUBLISH_QOS1 = b"\x32\x09\x00\x03a/b\x00\x0ahi"  # 3.1.1 layout
PINGREQ = b"\xc0\x00"


def state(conn: ServerConnection) -> ConnectionState:
    return conn.state


def events(conn: ServerConnection) -> list[Packet]:
    return list(conn.next_events())


def connected(
    version: int = 5,
    connack: ConnAck | None = None,
    connect_props: Properties | None = None,
    **kwargs: bool | int,
) -> ServerConnection:
    conn = ServerConnection(**kwargs)  # type: ignore[arg-type]
    if connect_props is None:
        conn.receive_data(CONNECT_V5 if version == 5 else CONNECT_V4)
    else:
        conn.receive_data(encode(Connect(client_id="c", protocol_level=version, properties=connect_props)))
    [packet] = events(conn)
    assert isinstance(packet, Connect)
    conn.send(connack or ConnAck())
    assert state(conn) is ConnectionState.CONNECTED
    return conn


def protocol_error(conn: ServerConnection, data: bytes) -> ProtocolError:
    conn.receive_data(data)
    with pytest.raises(ProtocolError) as info:
        events(conn)
    return info.value


# --------------------------------------------------------------------------------------- receiving


def test_connect_and_packets_in_one_chunk() -> None:
    conn = ServerConnection()
    assert state(conn) is ConnectionState.AWAIT_CONNECT
    conn.receive_data(CONNECT_V4 + PUBLISH_QOS1 + PINGREQ)
    assert events(conn) == [
        Connect(client_id="c", keep_alive=60),
        Publish("a/b", b"hi", qos=1, packet_id=10),
        PingReq(),
    ]
    assert conn.protocol_version == 4
    assert conn.keep_alive == 60
    assert state(conn) is ConnectionState.CONNECTING
    assert conn.send(ConnAck()) == b"\x20\x02\x00\x00"
    assert state(conn) is ConnectionState.CONNECTED
    assert conn.send(PingResp()) == b"\xd0\x00"
    assert conn.send(PubAck(10)) == b"\x40\x02\x00\x0a"


def test_one_byte_at_a_time() -> None:
    stream = CONNECT_V4 + PUBLISH_QOS1 + PINGREQ
    conn = ServerConnection()
    got: list[Packet] = []
    for i in range(len(stream)):
        conn.receive_data(stream[i : i + 1])
        got.extend(conn.next_events())
    assert got == [Connect(client_id="c", keep_alive=60), Publish("a/b", b"hi", 1, packet_id=10), PingReq()]


def test_partial_packet_waits() -> None:
    conn = connected(4)
    conn.receive_data(PUBLISH_QOS1[:5])
    assert conn.next_event() is None
    conn.receive_data(PUBLISH_QOS1[5:] + PINGREQ[:1])
    assert conn.next_event() == Publish("a/b", b"hi", 1, packet_id=10)
    assert conn.next_event() is None
    conn.receive_data(PINGREQ[1:])
    assert conn.next_event() == PingReq()


def test_receive_twice_before_reading() -> None:
    conn = connected(4)
    conn.receive_data(PUBLISH_QOS1 + PINGREQ[:1])
    conn.receive_data(PINGREQ[1:] + PINGREQ)
    assert events(conn) == [Publish("a/b", b"hi", 1, packet_id=10), PingReq(), PingReq()]


def test_version_learned_from_connect() -> None:
    conn = connected(5)
    assert conn.protocol_version == 5
    # A v5 PUBACK with a reason code is only valid once the client is known to speak MQTT 5.
    conn.receive_data(b"\x40\x03\x00\x07\x10")
    assert events(conn) == [PubAck(7, ReasonCode.NO_MATCHING_SUBSCRIBERS)]
    conn4 = connected(4)
    with pytest.raises(MalformedPacket):
        conn4.receive_data(b"\x40\x03\x00\x07\x10")
        events(conn4)


def test_first_packet_must_be_connect() -> None:
    conn = ServerConnection()
    # [MQTT-3.1.0-1] rejected on the first byte, before the rest arrives.
    err = protocol_error(conn, b"\x30")
    assert err.reason_code == ReasonCode.PROTOCOL_ERROR
    assert state(conn) is ConnectionState.ERROR
    with pytest.raises(ProtocolError):  # errors are sticky
        conn.next_event()
    assert conn.send_protocol_error(err) == b""  # not an MQTT client: just close


def test_second_connect_is_protocol_error() -> None:
    conn = connected(5)
    err = protocol_error(conn, b"\x10")  # [MQTT-3.1.0-2]
    assert err.reason_code == ReasonCode.PROTOCOL_ERROR
    assert conn.send_protocol_error(err) == b"\xe0\x01\x82"


@pytest.mark.parametrize(
    "data", [b"\x20\x02\x00\x00", b"\x90\x03\x00\x01\x00", b"\xb0\x02\x00\x01", b"\xd0\x00"]
)
def test_server_to_client_packets_are_rejected(data: bytes) -> None:
    conn = connected(4)
    assert protocol_error(conn, data).reason_code == ReasonCode.PROTOCOL_ERROR


def test_packet_too_large_before_body() -> None:
    conn = connected(4, max_packet_size=100)
    conn.receive_data(b"\x30\xc8\x01")  # remaining length 200: only the fixed header has arrived
    with pytest.raises(PacketTooLarge) as info:
        conn.next_event()
    assert info.value.reason_code == ReasonCode.PACKET_TOO_LARGE
    assert info.value.size == 203


def test_packet_too_large_when_fed_byte_by_byte() -> None:
    conn = connected(4, max_packet_size=100)
    conn.receive_data(b"\x30")
    assert conn.next_event() is None
    conn.receive_data(b"\xc8")
    assert conn.next_event() is None
    conn.receive_data(b"\x01")
    with pytest.raises(PacketTooLarge):
        conn.next_event()


def test_bad_remaining_length_fed_in_pieces() -> None:
    conn = connected(4)
    for byte in b"\x30\xff\xff\xff\xff\x01\x00":
        conn.receive_data(bytes((byte,)))  # receive_data never raises
    with pytest.raises(MalformedPacket):
        conn.next_event()


def test_packet_at_the_size_limit_is_accepted() -> None:
    conn = connected(4, max_packet_size=15)  # the CONNECT is 15 bytes as well
    conn.receive_data(b"\x32\x0d\x00\x03a/b\x00\x0ahello!")
    assert events(conn) == [Publish("a/b", b"hello!", 1, packet_id=10)]
    conn.receive_data(b"\x32\x0e\x00\x03a/b\x00\x0ahello!!")
    with pytest.raises(PacketTooLarge):
        events(conn)


def test_connect_too_large() -> None:
    conn = ServerConnection(max_packet_size=10)
    with pytest.raises(PacketTooLarge):
        conn.receive_data(CONNECT_V4)
        events(conn)


def test_connack_maximum_packet_size_lowers_the_limit() -> None:
    conn = connected(5, ConnAck(properties=Properties(maximum_packet_size=10)))
    assert conn.max_packet_size == 10
    conn.receive_data(b"\x30\x0a\x00\x03a/b\x00hello")  # 12 bytes
    with pytest.raises(PacketTooLarge):
        events(conn)


def test_unsupported_protocol_version() -> None:
    conn = ServerConnection()
    err = protocol_error(conn, b"\x10\x0d\x00\x04MQTT\x07\x02\x00\x3c\x00\x01c")
    assert isinstance(err, UnsupportedProtocolVersion)
    # [MQTT-3.1.2-2] CONNACK with return code 0x01 in the 3.1.1 format.
    assert conn.send_protocol_error(err) == b"\x20\x02\x00\x01"
    assert conn.send_protocol_error(err) == b""


def test_v311_empty_client_id_needs_clean_session() -> None:
    conn = ServerConnection()
    err = protocol_error(conn, b"\x10\x0c\x00\x04MQTT\x04\x00\x00\x3c\x00\x00")
    assert err.reason_code == ReasonCode.CLIENT_IDENTIFIER_NOT_VALID  # [MQTT-3.1.3-8]
    assert conn.send_protocol_error(err) == b"\x20\x02\x00\x02"


def test_v311_empty_client_id_with_clean_session_is_fine() -> None:
    conn = ServerConnection()
    conn.receive_data(b"\x10\x0c\x00\x04MQTT\x04\x02\x00\x3c\x00\x00")
    assert events(conn) == [Connect(client_id="", keep_alive=60)]


def test_mqtt_3_1_client_id_length() -> None:
    conn = ServerConnection()
    cid = b"x" * 24
    data = b"\x10\x26\x00\x06MQIsdp\x03\x02\x00\x3c\x00\x18" + cid
    assert protocol_error(conn, data).reason_code == ReasonCode.CLIENT_IDENTIFIER_NOT_VALID
    conn = ServerConnection()
    conn.receive_data(b"\x10\x0f\x00\x06MQIsdp\x03\x02\x00\x3c\x00\x01c")
    [packet] = events(conn)
    assert packet == Connect(client_id="c", keep_alive=60, protocol_level=3)
    assert conn.send(ConnAck(session_present=True)) == b"\x20\x02\x00\x00"


def test_malformed_v5_connect_gets_v5_connack() -> None:
    conn = ServerConnection()
    err = protocol_error(conn, b"\x10\x0e\x00\x04MQTT\x05\x03\x00\x3c\x00\x00\x01c")  # reserved flag
    assert isinstance(err, MalformedPacket)
    assert conn.protocol_version is None and conn.error_protocol_version == 5
    assert conn.send_protocol_error(err) == b"\x20\x03\x00\x81\x00"


def test_malformed_v311_connect_just_closes() -> None:
    conn = ServerConnection()
    err = protocol_error(conn, b"\x10\x0d\x00\x04MQTT\x04\x03\x00\x3c\x00\x01c")
    assert conn.send_protocol_error(err) == b""


def test_v311_error_after_connack_just_closes() -> None:
    conn = connected(4)
    err = protocol_error(conn, b"\x36\x00")
    assert conn.send_protocol_error(err) == b""


def test_events_before_an_error_are_delivered() -> None:
    conn = ServerConnection()
    conn.receive_data(CONNECT_V4 + PINGREQ + b"\x00\x00" + PINGREQ)
    got: list[Packet] = []
    with pytest.raises(MalformedPacket):
        for packet in conn.next_events():
            got.append(packet)
    assert got == [Connect(client_id="c", keep_alive=60), PingReq()]
    conn.receive_data(PINGREQ)  # ignored after an error
    with pytest.raises(MalformedPacket):
        conn.next_event()


def test_disconnect_closes_the_connection() -> None:
    conn = connected(4)
    conn.receive_data(b"\xe0\x00")
    assert events(conn) == [Disconnect()]
    assert state(conn) is ConnectionState.CLOSED
    # [MQTT-3.14.4-1] nothing may follow a DISCONNECT.
    assert protocol_error(conn, PINGREQ).reason_code == ReasonCode.PROTOCOL_ERROR


def test_disconnect_session_expiry_rules() -> None:
    # spec 3.14.2.2.2: non-zero Session Expiry on DISCONNECT after 0 in CONNECT is a Protocol Error.
    conn = connected(5)
    assert (
        protocol_error(conn, b"\xe0\x07\x00\x05\x11\x00\x00\x00\x0a").reason_code == ReasonCode.PROTOCOL_ERROR
    )
    conn = connected(5, connect_props=Properties(session_expiry_interval=60))
    conn.receive_data(b"\xe0\x07\x00\x05\x11\x00\x00\x00\x0a")
    assert events(conn) == [Disconnect(properties=Properties(session_expiry_interval=10))]


# --------------------------------------------------------------------------------------- v5 limits


def test_incoming_topic_aliases() -> None:
    conn = connected(5, ConnAck(properties=Properties(topic_alias_maximum=2)))
    assert conn.topic_alias_maximum == 2
    conn.receive_data(b"\x30\x0a\x00\x03a/b\x03\x23\x00\x01x")  # topic a/b, alias 1
    conn.receive_data(b"\x30\x07\x00\x00\x03\x23\x00\x01y")  # empty topic, alias 1
    conn.receive_data(b"\x30\x0a\x00\x03c/d\x03\x23\x00\x01z")  # alias 1 re-mapped to c/d
    conn.receive_data(b"\x30\x07\x00\x00\x03\x23\x00\x01w")
    assert events(conn) == [
        Publish("a/b", b"x"),
        Publish("a/b", b"y"),
        Publish("c/d", b"z"),
        Publish("c/d", b"w"),
    ]


def test_incoming_alias_keeps_other_properties() -> None:
    conn = connected(5, ConnAck(properties=Properties(topic_alias_maximum=1)))
    conn.receive_data(b"\x30\x0f\x00\x01t\x0a\x02\x00\x00\x00\x05\x23\x00\x01\x01\x01x")
    [packet] = events(conn)
    assert packet == Publish(
        "t", b"x", properties=Properties(message_expiry_interval=5, payload_format_indicator=1)
    )


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"\x30\x0a\x00\x03a/b\x03\x23\x00\x03x", ReasonCode.TOPIC_ALIAS_INVALID),  # above the maximum
        (b"\x30\x0a\x00\x03a/b\x03\x23\x00\x00x", ReasonCode.TOPIC_ALIAS_INVALID),  # [MQTT-3.3.2-8] alias 0
        (b"\x30\x07\x00\x00\x03\x23\x00\x02x", ReasonCode.PROTOCOL_ERROR),  # alias never mapped
        (b"\x30\x04\x00\x00\x00x", ReasonCode.PROTOCOL_ERROR),  # empty topic, no alias
        (b"\x30\x08\x00\x03a/b\x02\x0b\x01", ReasonCode.PROTOCOL_ERROR),  # [MQTT-3.3.4-6] subscription id
    ],
)
def test_incoming_alias_errors(data: bytes, reason: ReasonCode) -> None:
    conn = connected(5, ConnAck(properties=Properties(topic_alias_maximum=2)))
    err = protocol_error(conn, data)
    assert err.reason_code == reason
    assert conn.send_protocol_error(err) == b"\xe0\x01" + bytes((reason,))


def test_aliases_not_allowed_without_connack_maximum() -> None:
    conn = connected(5)  # CONNACK without Topic Alias Maximum: 0 (spec 3.2.2.3.8)
    assert protocol_error(conn, b"\x30\x0a\x00\x03a/b\x03\x23\x00\x01x").reason_code == 0x94


def test_maximum_qos_and_retain_available() -> None:
    conn = connected(5, ConnAck(properties=Properties(maximum_qos=1, retain_available=False)))
    conn.receive_data(b"\x32\x07\x00\x01t\x00\x01\x00x")
    assert events(conn) == [Publish("t", b"x", qos=1, packet_id=1)]
    assert protocol_error(conn, b"\x34\x07\x00\x01t\x00\x01\x00x").reason_code == ReasonCode.QOS_NOT_SUPPORTED
    conn = connected(5, ConnAck(properties=Properties(retain_available=False)))
    assert protocol_error(conn, b"\x31\x05\x00\x01t\x00x").reason_code == ReasonCode.RETAIN_NOT_SUPPORTED


def test_subscription_identifiers_not_available() -> None:
    conn = connected(5, ConnAck(properties=Properties(subscription_identifier_available=False)))
    err = protocol_error(conn, b"\x82\x09\x00\x01\x02\x0b\x01\x00\x01a\x00")
    assert err.reason_code == ReasonCode.SUBSCRIPTION_IDENTIFIERS_NOT_SUPPORTED


def test_keep_alive_override() -> None:
    conn = connected(5, ConnAck(properties=Properties(server_keep_alive=15)))
    assert conn.keep_alive == 15


# --------------------------------------------------------------------------------------- sending


def test_send_rules() -> None:
    conn = ServerConnection()
    with pytest.raises(LocalProtocolError):
        conn.send(ConnAck())  # nothing received yet
    conn.receive_data(CONNECT_V4)
    events(conn)
    with pytest.raises(LocalProtocolError):
        conn.send(Publish("a", b""))  # [MQTT-3.2.0-1] CONNACK first
    conn.send(ConnAck())
    with pytest.raises(LocalProtocolError):
        conn.send(ConnAck())
    with pytest.raises(LocalProtocolError):
        conn.send(Subscribe(1, (("a", SubscriptionOptions()),)))
    with pytest.raises(LocalProtocolError):
        conn.send(Disconnect())  # no server DISCONNECT in 3.1.1
    with pytest.raises(LocalProtocolError):
        conn.send(Auth())


def test_refusing_connack_closes() -> None:
    conn = ServerConnection()
    conn.receive_data(CONNECT_V4)
    events(conn)
    assert conn.send(ConnAck(reason_code=ReasonCode.NOT_AUTHORIZED)) == b"\x20\x02\x00\x05"
    assert state(conn) is ConnectionState.CLOSED
    conn.receive_data(PINGREQ)
    assert conn.next_event() is None
    with pytest.raises(LocalProtocolError):
        conn.send(PingResp())


def test_server_disconnect_v5() -> None:
    conn = connected(5)
    assert conn.send(Disconnect(ReasonCode.SERVER_SHUTTING_DOWN)) == b"\xe0\x01\x8b"
    assert state(conn) is ConnectionState.CLOSED
    with pytest.raises(LocalProtocolError):
        conn.send(PingResp())
    conn = connected(5)
    with pytest.raises(LocalProtocolError):  # [MQTT-3.14.2-2]
        conn.send(Disconnect(properties=Properties(session_expiry_interval=0)))


def test_client_maximum_packet_size() -> None:
    conn = connected(5, connect_props=Properties(maximum_packet_size=11))
    assert conn.client_limits.maximum_packet_size == 11
    small = Publish("t", b"12345")  # 2 + 3 + 1 + 5 = 11 bytes
    big = Publish("t", b"123456")
    assert conn.fits(small) and not conn.fits(big)
    assert conn.send(small) == b"\x30\x09\x00\x01t\x0012345"
    assert conn.try_send(big) is None
    with pytest.raises(PacketTooLargeForPeer) as info:
        conn.send(big)
    assert (info.value.size, info.value.maximum) == (12, 11)


def test_reason_string_and_user_properties_dropped_to_fit() -> None:
    # [MQTT-3.4.2-2] [MQTT-3.4.2-3] drop the Reason String, then User Properties, rather than exceed the size.
    conn = connected(5, connect_props=Properties(maximum_packet_size=16))
    ack = PubAck(
        7, ReasonCode.NOT_AUTHORIZED, Properties(reason_string="r" * 20, user_properties=[("a", "b")])
    )
    assert conn.send(ack) == b"\x40\x0b\x00\x07\x87\x07\x26\x00\x01a\x00\x01b"
    conn = connected(5, connect_props=Properties(maximum_packet_size=6))
    assert conn.send(ack) == b"\x40\x03\x00\x07\x87"


def test_request_problem_information_zero() -> None:
    conn = connected(5, connect_props=Properties(request_problem_information=False))
    ack = PubAck(7, ReasonCode.NOT_AUTHORIZED, Properties(reason_string="no"))
    assert conn.send(ack) == b"\x40\x03\x00\x07\x87"  # [MQTT-3.1.2-29]
    disconnect = Disconnect(ReasonCode.NOT_AUTHORIZED, Properties(reason_string="no"))
    assert conn.send(disconnect) == b"\xe0\x07\x87\x05\x1f\x00\x02no"


def test_outgoing_topic_aliases() -> None:
    conn = connected(5, connect_props=Properties(topic_alias_maximum=1), outgoing_topic_aliases=True)
    assert conn.send(Publish("a/b", b"x")) == b"\x30\x0a\x00\x03a/b\x03\x23\x00\x01x"
    assert conn.send(Publish("a/b", b"y")) == b"\x30\x07\x00\x00\x03\x23\x00\x01y"
    assert conn.send(Publish("c/d", b"z")) == b"\x30\x0a\x00\x03c/d\x03\x23\x00\x01z"
    assert conn.send(Publish("a/b", b"w")) == b"\x30\x0a\x00\x03a/b\x03\x23\x00\x01w"


def test_outgoing_alias_not_committed_for_discarded_packet() -> None:
    conn = connected(
        5,
        connect_props=Properties(topic_alias_maximum=5, maximum_packet_size=20),
        outgoing_topic_aliases=True,
    )
    assert conn.try_send(Publish("a/b", b"x" * 20)) is None
    # The mapping was not committed, so the next PUBLISH still carries the topic name.
    assert conn.send(Publish("a/b", b"x")) == b"\x30\x0a\x00\x03a/b\x03\x23\x00\x01x"


def test_outgoing_aliases_disabled_without_client_maximum() -> None:
    conn = connected(5, outgoing_topic_aliases=True)
    assert conn.outgoing_aliases is None
    assert conn.send(Publish("a/b", b"x")) == b"\x30\x07\x00\x03a/b\x00x"
    with pytest.raises(LocalProtocolError):  # [MQTT-3.3.2-11]
        conn.send(Publish("a/b", b"x", properties=Properties(topic_alias=1)))


def test_outgoing_topic_aliases_lru() -> None:
    aliases = OutgoingTopicAliases(2)
    assert aliases.apply(Publish("a", b"")).properties.topic_alias == 1
    assert aliases.apply(Publish("b", b"")).properties.topic_alias == 2
    assert aliases.apply(Publish("a", b"")).topic == ""  # a is now most recently used
    c = aliases.apply(Publish("c", b""))
    assert (c.topic, c.properties.topic_alias) == ("c", 2)  # b was least recently used
    b = aliases.apply(Publish("b", b""))
    assert (b.topic, b.properties.topic_alias) == ("b", 1)
    assert OutgoingTopicAliases(0).apply(Publish("a", b"")) == Publish("a", b"")


def test_enhanced_authentication_flow() -> None:
    method = Properties(authentication_method="SCRAM")
    conn = ServerConnection()
    conn.receive_data(encode(Connect(client_id="c", protocol_level=5, properties=method)))
    events(conn)
    assert conn.send(Auth(ReasonCode.CONTINUE_AUTHENTICATION, method)) == b"\xf0\x0a\x18\x08\x15\x00\x05SCRAM"
    conn.receive_data(b"\xf0\x0a\x18\x08\x15\x00\x05SCRAM")
    assert events(conn) == [Auth(ReasonCode.CONTINUE_AUTHENTICATION, method)]
    with pytest.raises(LocalProtocolError):  # [MQTT-4.12.0-5]
        conn.send(ConnAck())
    conn.send(ConnAck(properties=method))
    conn.receive_data(b"\xf0\x0a\x19\x08\x15\x00\x05SCRAM")  # re-authentication
    assert events(conn) == [Auth(ReasonCode.RE_AUTHENTICATE, method)]
    with pytest.raises(LocalProtocolError):
        conn.send(Auth(ReasonCode.RE_AUTHENTICATE, method))
    assert conn.send(Auth(properties=method)) == b"\xf0\x0a\x00\x08\x15\x00\x05SCRAM"


def test_only_auth_before_connack_when_authenticating() -> None:
    conn = ServerConnection()
    conn.receive_data(
        encode(Connect(client_id="c", protocol_level=5, properties=Properties(authentication_method="M")))
    )
    events(conn)
    assert protocol_error(conn, PINGREQ).reason_code == ReasonCode.PROTOCOL_ERROR  # [MQTT-3.1.2-30]


@pytest.mark.parametrize(
    "data",
    [
        b"\xf0\x06\x18\x04\x15\x00\x01N",  # another method [MQTT-4.12.0-5]
        b"\xf0\x02\x18\x00",  # no method
        b"\xf0\x06\x00\x04\x15\x00\x01M",  # a client never sends Success
    ],
)
def test_bad_auth_from_client(data: bytes) -> None:
    conn = connected(
        5, ConnAck(properties=Properties(authentication_method="M")), Properties(authentication_method="M")
    )
    assert protocol_error(conn, data).reason_code == ReasonCode.PROTOCOL_ERROR


def test_auth_without_method_in_connect() -> None:
    conn = connected(5)
    assert (
        protocol_error(conn, b"\xf0\x06\x18\x04\x15\x00\x01M").reason_code == ReasonCode.PROTOCOL_ERROR
    )  # [MQTT-4.12.0-7]
    conn = connected(5)
    with pytest.raises(LocalProtocolError):
        conn.send(Auth(ReasonCode.CONTINUE_AUTHENTICATION, Properties(authentication_method="M")))


def test_suback_with_v5_codes_for_v311_client() -> None:
    conn = connected(4)
    assert (
        conn.send(SubAck(1, (ReasonCode.GRANTED_QOS_1, ReasonCode.NOT_AUTHORIZED)))
        == b"\x90\x04\x00\x01\x01\x80"
    )
