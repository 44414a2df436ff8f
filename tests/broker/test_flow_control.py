"""Flow control (spec 4.9), maximum packet size towards the client, slow consumers."""

from __future__ import annotations

import socket

from tests.broker import raw
from tests.broker.conftest import BrokerFactory, BrokerThread, unique
from tests.broker.raw import RawClient


def test_client_receive_maximum_limits_the_inflight_window(broker: BrokerThread) -> None:
    topic = unique("rm")
    with RawClient(broker.port) as sub, RawClient(broker.port) as pub:
        sub.handshake(unique(), properties=raw.props(raw.p_receive_maximum(2)))
        sub.subscribe(1, (topic, 1))
        pub.handshake(unique())
        for i in range(5):
            pub.send(raw.publish(topic, b"%d" % i, qos=1, packet_id=i + 1))
            pub.expect(4)
        first, second = sub.expect_publish(), sub.expect_publish()
        assert (first.payload, second.payload) == (b"0", b"1")
        assert sub.nothing_within(0.3)  # [MQTT-3.3.4-9] no more than 2 unacknowledged
        sub.send(raw.ack(0x40, first.packet_id))
        assert sub.expect_publish().payload == b"2"
        assert sub.nothing_within(0.3)
        sub.send(raw.ack(0x40, second.packet_id))
        assert sub.expect_publish().payload == b"3"


def test_qos0_is_not_held_back_by_the_window(broker: BrokerThread) -> None:
    topic = unique("rm0")
    with RawClient(broker.port) as sub, RawClient(broker.port) as pub:
        sub.handshake(unique(), properties=raw.props(raw.p_receive_maximum(1)))
        sub.subscribe(1, (topic, 1))
        pub.handshake(unique())
        pub.send(raw.publish(topic, b"q1", qos=1, packet_id=1))
        pub.expect(4)
        assert sub.expect_publish().qos == 1
        pub.send(raw.publish(topic, b"q0"))
        msg = sub.expect_publish()
        assert (msg.payload, msg.qos) == (b"q0", 0)  # spec 4.9 counts QoS 1 and 2 only


def test_exceeding_the_broker_receive_maximum_gets_0x93(make_broker: BrokerFactory) -> None:
    b = make_broker(receive_maximum=3)
    with RawClient(b.port) as c:
        assert c.handshake(unique()).properties[0x21] == [3]
        for pid in range(1, 5):  # QoS 2 without PUBREL: each stays unacknowledged
            c.send(raw.publish("fc", b"x", qos=2, packet_id=pid))
        packets = c.expect_closed()
        assert [p.type for p in packets] == [5, 5, 5, 14]  # three PUBRECs, then DISCONNECT
        assert packets[-1].body[:1] == b"\x93"


def test_messages_larger_than_the_client_maximum_are_dropped(broker: BrokerThread) -> None:
    topic = unique("mps")
    with RawClient(broker.port) as sub, RawClient(broker.port) as pub:
        sub.handshake(unique(), properties=raw.props(raw.p_maximum_packet_size(100)))
        sub.subscribe(1, (topic, 1))
        pub.handshake(unique())
        pub.send(raw.publish(topic, b"x" * 200, qos=1, packet_id=1))
        pub.send(raw.publish(topic, b"small", qos=1, packet_id=2))
        pub.expect(4)
        pub.expect(4)
        # [MQTT-3.1.2-25] the big one is discarded as if sent; it does not block the window either.
        msg = sub.expect_publish()
        assert msg.payload == b"small"
        sub.send(raw.ack(0x40, msg.packet_id))
        assert sub.nothing_within(0.3)


def test_slow_consumer_does_not_grow_memory_without_bound(make_broker: BrokerFactory) -> None:
    b = make_broker(max_queued_messages=10)
    topic = unique("slow")
    slow = socket.socket()
    slow.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    slow.settimeout(10)
    slow.connect(("127.0.0.1", b.port))
    try:
        slow.sendall(raw.connect(unique()))
        slow.sendall(raw.subscribe(1, (topic, 1)))
        with RawClient(b.port) as pub:
            pub.handshake(unique())
            payload = b"y" * 16384
            for i in range(400):  # 6.5 MB towards a client that reads nothing
                pub.send(raw.publish(topic, payload, qos=i % 2, packet_id=i + 1 if i % 2 else 0))
            pub.send(raw.PINGREQ)
            while (p := pub.read()) is not None and p.type != 13:
                pass  # PUBACKs, then the PINGRESP: every PUBLISH has been routed

        def state() -> tuple[int, int, int]:
            session = next(s for s in b.broker.sessions if s.online and s.subscriptions)
            outbox = session.outbox
            return len(outbox.queue), len(outbox.inflight), b.broker.stats.dropped

        queued, inflight, dropped = b.run(state)
        assert queued <= 10  # the bounded queue
        assert dropped > 0  # the rest was dropped and counted
        assert inflight < 200  # and only what the socket took is in flight
    finally:
        slow.close()
