"""Topic aliases in both directions (spec 3.3.2.3.4)."""

from __future__ import annotations

from tests.broker import raw
from tests.broker.conftest import BrokerFactory, BrokerThread, unique
from tests.broker.raw import RawClient


def test_incoming_alias_is_resolved(broker: BrokerThread) -> None:
    topic = unique("alias")
    with RawClient(broker.port) as sub, RawClient(broker.port) as pub:
        sub.handshake(unique())
        sub.subscribe(1, (topic, 0))
        assert pub.handshake(unique()).properties[0x22] == [10]
        pub.send(raw.publish(topic, b"one", properties=raw.props(raw.p_topic_alias(3))))
        pub.send(raw.publish("", b"two", properties=raw.props(raw.p_topic_alias(3))))
        got = [sub.expect_publish() for _ in range(2)]
        assert [(m.topic, m.payload) for m in got] == [(topic, b"one"), (topic, b"two")]
        # The alias belongs to the publisher's connection only: not forwarded [MQTT-3.3.2-7].
        assert all(0x23 not in raw.property_values(m.properties) for m in got)


def test_alias_above_the_maximum_is_rejected(make_broker: BrokerFactory) -> None:
    b = make_broker(topic_alias_maximum=2)
    with RawClient(b.port) as c:
        c.handshake(unique())
        c.send(raw.publish("t", b"x", properties=raw.props(raw.p_topic_alias(3))))
        packets = c.expect_closed()
        assert [(p.first, p.body[:1]) for p in packets] == [(0xE0, b"\x94")]  # Topic Alias invalid


def test_unknown_alias_is_a_protocol_error(broker: BrokerThread) -> None:
    with RawClient(broker.port) as c:
        c.handshake(unique())
        c.send(raw.publish("", b"x", properties=raw.props(raw.p_topic_alias(1))))
        packets = c.expect_closed()
        assert [(p.first, p.body[:1]) for p in packets] == [(0xE0, b"\x82")]


def test_aliases_do_not_survive_the_connection(broker: BrokerThread) -> None:
    cid = unique()
    with RawClient(broker.port) as c:
        c.handshake(cid, properties=raw.props(raw.p_session_expiry(60)))
        c.send(raw.publish("t", b"x", properties=raw.props(raw.p_topic_alias(1))))
    with RawClient(broker.port) as c:
        c.handshake(cid, clean=False, properties=raw.props(raw.p_session_expiry(60)))
        c.send(raw.publish("", b"x", properties=raw.props(raw.p_topic_alias(1))))
        packets = c.expect_closed()
        assert [(p.first, p.body[:1]) for p in packets] == [(0xE0, b"\x82")]


def test_outgoing_aliases_when_the_client_allows_them(broker: BrokerThread) -> None:
    t1, t2, t3 = unique("a"), unique("b"), unique("c")
    with RawClient(broker.port) as sub, RawClient(broker.port) as pub:
        sub.handshake(unique(), properties=raw.props(raw.p_topic_alias_maximum(2)))
        sub.subscribe(1, ("#", 0))
        pub.handshake(unique())
        for topic in (t1, t1, t2, t1, t3, t3):
            pub.send(raw.publish(topic, topic.encode()))
        got = [sub.expect_publish() for _ in range(6)]
        seen: dict[int, str] = {}
        for msg in got:
            [alias] = raw.property_values(msg.properties)[0x23]
            assert isinstance(alias, int) and 1 <= alias <= 2  # [MQTT-3.3.2-11]
            if msg.topic:
                seen[alias] = msg.topic  # a topic with an alias (re)defines the mapping
            # Either way the client resolves the alias to the topic the payload was published on.
            assert seen[alias] == msg.payload.decode()
        assert got[1].topic == ""  # the second message to t1 uses the alias alone


def test_no_outgoing_aliases_without_the_clients_consent(broker: BrokerThread) -> None:
    topic = unique("na")
    with RawClient(broker.port) as sub:
        sub.handshake(unique())
        sub.subscribe(1, (topic, 0))
        for _ in range(2):
            sub.send(raw.publish(topic, b"x"))
            msg = sub.expect_publish()
            assert msg.topic == topic and 0x23 not in raw.property_values(msg.properties)
