"""CONNECT / CONNACK (spec 3.1, 3.2): raw bytes and paho-mqtt, MQTT 5.0 and 3.1.1."""

from __future__ import annotations

from collections.abc import Callable

import paho.mqtt.client as mqtt
import pytest
from tests.broker import raw
from tests.broker.conftest import BrokerFactory, BrokerThread, Client, unique
from tests.broker.raw import RawClient


def test_v5_connack_announces_the_limits(make_broker: BrokerFactory) -> None:
    b = make_broker(receive_maximum=20, topic_alias_maximum=7, max_packet_size=4096)
    with RawClient(b.port) as c:
        ack = c.handshake(unique())
        assert not ack.session_present
        assert ack.properties[0x21] == [20]  # Receive Maximum
        assert ack.properties[0x22] == [7]  # Topic Alias Maximum
        assert ack.properties[0x27] == [4096]  # Maximum Packet Size
        assert 0x12 not in ack.properties  # no Assigned Client Identifier: the client named itself
        assert 0x13 not in ack.properties  # no Server Keep Alive without a cap


def test_v311_connack_is_four_bytes(broker: BrokerThread) -> None:
    with RawClient(broker.port) as c:
        c.send(raw.connect(unique(), version=4))
        p = c.read()
        assert p is not None
        assert (p.first, p.body) == (0x20, b"\x00\x00")


def test_v5_empty_client_id_gets_an_assigned_one(broker: BrokerThread) -> None:
    with RawClient(broker.port) as c:
        ack = c.handshake("")
        [assigned] = ack.properties[0x12]
        assert isinstance(assigned, str) and assigned
    with RawClient(broker.port) as c:
        # [MQTT-3.1.3-7] ... it is unique: another client gets another one.
        assert c.handshake("").properties[0x12] != [assigned]


def test_v311_empty_client_id_without_clean_session_is_rejected(broker: BrokerThread) -> None:
    with RawClient(broker.port) as c:
        c.send(raw.connect("", version=4, clean=False))
        packets = c.expect_closed()
        # [MQTT-3.1.3-8] CONNACK return code 0x02 Identifier rejected, then close.
        assert [(p.first, p.body) for p in packets] == [(0x20, b"\x00\x02")]


def test_unsupported_protocol_level_gets_return_code_1(broker: BrokerThread) -> None:
    with RawClient(broker.port) as c:
        c.send(raw.packet(0x10, raw.string("MQTT") + b"\x06\x02\x00\x3c" + raw.string("x")))
        packets = c.expect_closed()
        assert [(p.first, p.body) for p in packets] == [(0x20, b"\x00\x01")]  # [MQTT-3.1.2-2]


def test_first_packet_must_be_connect(broker: BrokerThread) -> None:
    with RawClient(broker.port) as c:
        c.send(raw.PINGREQ)
        assert c.expect_closed() == []  # [MQTT-3.1.0-1]: just close


def test_second_connect_is_a_protocol_error(broker: BrokerThread) -> None:
    with RawClient(broker.port) as c:
        c.handshake(unique())
        c.send(raw.connect(unique()))
        packets = c.expect_closed()
        assert [(p.first, p.body[:1]) for p in packets] == [(0xE0, b"\x82")]  # [MQTT-3.1.0-2]


def test_malformed_packet_gets_disconnect_0x81(broker: BrokerThread) -> None:
    with RawClient(broker.port) as c:
        c.handshake(unique())
        c.send(b"\x36\x00")  # PUBLISH with QoS 3 [MQTT-3.3.1-4]
        packets = c.expect_closed()
        assert [(p.first, p.body[:1]) for p in packets] == [(0xE0, b"\x81")]


def test_v311_malformed_packet_just_closes(broker: BrokerThread) -> None:
    with RawClient(broker.port) as c:
        c.handshake(unique(), version=4)
        c.send(b"\x36\x00")
        assert c.expect_closed() == []  # no DISCONNECT from a 3.1.1 server (spec 4.8)


def test_oversized_packet_gets_disconnect_0x95(make_broker: BrokerFactory) -> None:
    b = make_broker(max_packet_size=1024)
    with RawClient(b.port) as c:
        c.handshake(unique())
        c.send(raw.publish("big", b"x" * 2000))
        packets = c.expect_closed()
        assert [(p.first, p.body[:1]) for p in packets] == [(0xE0, b"\x95")]


def test_anonymous_refused_when_not_allowed(make_broker: BrokerFactory) -> None:
    b = make_broker(allow_anonymous=False)
    with RawClient(b.port) as c:
        c.send(raw.connect(unique()))
        assert c.connack().code == 0x87  # Not authorized
        assert c.expect_closed() == []
    with RawClient(b.port) as c:
        c.send(raw.connect(unique(), username="u", password=b"p"))
        assert c.connack().code == 0x86  # Bad User Name or Password
    with RawClient(b.port) as c:
        c.send(raw.connect(unique(), version=4))
        assert c.connack(4).code == 5  # 3.1.1: not authorized


@pytest.mark.parametrize(("asked", "announced"), [(120, 60), (0, 60), (30, None), (60, None)])
def test_server_keep_alive_caps_the_keep_alive(
    make_broker: BrokerFactory, asked: int, announced: int | None
) -> None:
    b = make_broker(max_keep_alive=60)
    with RawClient(b.port) as c:
        ack = c.handshake(unique(), keep_alive=asked)
        assert ack.properties.get(0x13) == ([announced] if announced is not None else None)


def test_enhanced_authentication_is_refused(broker: BrokerThread) -> None:
    with RawClient(broker.port) as c:
        c.send(raw.connect(unique(), properties=raw.props(b"\x15" + raw.string("SCRAM-SHA-1"))))
        assert c.connack().code == 0x8C  # Bad authentication method


def test_socket_without_connect_is_dropped(make_broker: BrokerFactory) -> None:
    b = make_broker(connect_timeout=0.2)
    with RawClient(b.port) as c:
        assert c.expect_closed() == []
    assert b.run(lambda: b.broker.connection_count) == 0


def test_connect_trickled_byte_by_byte_still_times_out(make_broker: BrokerFactory) -> None:
    b = make_broker(connect_timeout=0.5)
    data = raw.connect(unique())
    with RawClient(b.port) as c:
        closed = False
        for byte in data[:-1]:  # never complete
            try:
                c.send(bytes((byte,)))
            except OSError:
                closed = True
                break
            if not c.nothing_within(0.1):
                break  # EOF arrived
        assert closed or c.expect_closed() == []


def test_connection_limit(make_broker: BrokerFactory) -> None:
    b = make_broker(max_connections=2)
    with RawClient(b.port) as c1, RawClient(b.port) as c2:
        c1.handshake(unique())
        c2.handshake(unique())
        with RawClient(b.port) as c3:
            c3.send(raw.connect(unique()))
            assert c3.connack().code == 0x89  # Server busy
            assert c3.expect_closed() == []
        with RawClient(b.port) as c4:
            c4.send(raw.connect(unique(), version=4))
            assert c4.connack(4).code == 3  # 3.1.1: server unavailable
    # Once connections closed, new ones are accepted again.
    with RawClient(b.port) as c5:
        c5.handshake(unique())


@pytest.mark.parametrize("protocol", [mqtt.MQTTv5, mqtt.MQTTv311, mqtt.MQTTv31])
def test_paho_connects_with_every_protocol_version(
    broker: BrokerThread, clients: Callable[..., Client], protocol: int
) -> None:
    client = clients(broker.port, unique("c")[:20], protocol=protocol)
    flags, rc, _ = client.connect()
    assert rc == 0
    assert not flags.session_present
    client.disconnect()
