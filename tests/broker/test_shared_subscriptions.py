"""Shared subscriptions `$share/<group>/<filter>` (spec 4.8.2)."""

from __future__ import annotations

from collections.abc import Callable

from tests.broker import raw
from tests.broker.conftest import BrokerThread, Client, unique
from tests.broker.raw import RawClient

ClientFactory = Callable[..., Client]


def _drain(c: RawClient) -> list[bytes]:
    got = []
    while not c.nothing_within(0.3):
        got.append(c.expect_publish().payload)
    return got


def _publish_many(port: int, topic: str, n: int) -> None:
    with RawClient(port) as pub:
        pub.handshake(unique())
        for i in range(n):
            pub.send(raw.publish(topic, b"%d" % i, qos=1, packet_id=i + 1))
            pub.expect(4)


def test_each_message_goes_to_one_member_round_robin(broker: BrokerThread) -> None:
    topic = unique("sh")
    with RawClient(broker.port) as a, RawClient(broker.port) as b:
        for c in (a, b):
            c.handshake(unique())
            assert c.subscribe(1, (f"$share/grp/{topic}", 0)) == b"\x00"
        _publish_many(broker.port, topic, 10)
        got_a, got_b = _drain(a), _drain(b)
        assert sorted(got_a + got_b, key=int) == [b"%d" % i for i in range(10)]  # exactly once each
        assert len(got_a) == len(got_b) == 5  # round-robin


def test_groups_and_ordinary_subscriptions_each_get_a_copy(broker: BrokerThread) -> None:
    topic = unique("shg")
    with RawClient(broker.port) as a, RawClient(broker.port) as b, RawClient(broker.port) as plain:
        a.handshake(unique())
        a.subscribe(1, (f"$share/one/{topic}", 0))
        b.handshake(unique())
        b.subscribe(1, (f"$share/two/{topic}", 0))
        plain.handshake(unique())
        plain.subscribe(1, (topic, 0))
        _publish_many(broker.port, topic, 3)
        assert _drain(a) == _drain(b) == _drain(plain) == [b"0", b"1", b"2"]


def test_wildcard_shared_filter(broker: BrokerThread) -> None:
    prefix = unique("shw")
    with RawClient(broker.port) as a:
        a.handshake(unique())
        a.subscribe(1, (f"$share/g/{prefix}/+/temp", 0))
        _publish_many(broker.port, f"{prefix}/dev1/temp", 1)
        assert _drain(a) == [b"0"]


def test_offline_members_are_skipped(broker: BrokerThread) -> None:
    topic = unique("sho")
    member = unique()
    with RawClient(broker.port) as c:
        c.handshake(member, properties=raw.props(raw.p_session_expiry(60)))
        c.subscribe(1, (f"$share/g/{topic}", 1))
    with RawClient(broker.port) as online:
        online.handshake(unique())
        online.subscribe(1, (f"$share/g/{topic}", 1))
        _publish_many(broker.port, topic, 4)
        got = []
        for _ in range(4):
            msg = online.expect_publish()
            online.send(raw.ack(0x40, msg.packet_id))
            got.append(msg.payload)
        assert got == [b"0", b"1", b"2", b"3"]  # the online member gets them all


def test_unsubscribe_leaves_the_group(broker: BrokerThread) -> None:
    topic = unique("shu")
    with RawClient(broker.port) as a, RawClient(broker.port) as b:
        for c in (a, b):
            c.handshake(unique())
            c.subscribe(1, (f"$share/g/{topic}", 0))
        a.send(raw.unsubscribe(2, f"$share/g/{topic}"))
        assert a.expect(11).body[-1:] == b"\x00"
        _publish_many(broker.port, topic, 4)
        assert _drain(a) == []
        assert len(_drain(b)) == 4


def test_no_local_on_a_shared_subscription_is_a_protocol_error(broker: BrokerThread) -> None:
    with RawClient(broker.port) as c:
        c.handshake(unique())
        c.send(raw.subscribe(1, ("$share/g/x", 0x04)))
        packets = c.expect_closed()
        assert [(p.first, p.body[:1]) for p in packets] == [(0xE0, b"\x82")]  # [MQTT-3.8.3-4]


def test_paho_shared_subscription(broker: BrokerThread, clients: ClientFactory) -> None:
    topic = unique("psh")
    members = [clients(broker.port) for _ in range(3)]
    for m in members:
        m.connect()
        m.subscribe(f"$share/workers/{topic}", 1)
    pub = clients(broker.port)
    pub.connect()
    for i in range(9):
        pub.publish(topic, b"job%d" % i, 1)
    counts = [len(m.get_many(3)) for m in members]
    assert counts == [3, 3, 3]
    assert all(m.none_within(0.2) for m in members)
