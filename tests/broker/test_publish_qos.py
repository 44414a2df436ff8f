"""PUBLISH at QoS 0, 1 and 2 in both directions (spec 3.3-3.7, 4.3), routing rules and pass-through."""

from __future__ import annotations

from collections.abc import Callable

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties as PahoProperties
from paho.mqtt.subscribeoptions import SubscribeOptions
from tests.broker import raw
from tests.broker.conftest import BrokerFactory, BrokerThread, Client, unique
from tests.broker.raw import RawClient

ClientFactory = Callable[..., Client]


@pytest.mark.parametrize("protocol", [mqtt.MQTTv5, mqtt.MQTTv311])
def test_round_trip_at_every_qos(broker: BrokerThread, clients: ClientFactory, protocol: int) -> None:
    topic = unique("qos")
    sub = clients(broker.port, protocol=protocol)
    sub.connect()
    assert [rc.value for rc in sub.subscribe(topic, 2)] == [2]
    pub = clients(broker.port, protocol=protocol)
    pub.connect()
    for qos in (0, 1, 2):
        pub.publish(topic, b"m%d" % qos, qos)
    got = sub.get_many(3)
    assert [(m.topic, m.payload, m.qos) for m in got] == [
        (topic, b"m0", 0),
        (topic, b"m1", 1),
        (topic, b"m2", 2),
    ]


def test_qos_is_the_minimum_of_publish_and_subscription(broker: BrokerThread, clients: ClientFactory) -> None:
    topic = unique("down")
    sub = clients(broker.port)
    sub.connect()
    sub.subscribe(topic, 1)
    pub = clients(broker.port)
    pub.connect()
    pub.publish(topic, b"two", 2)
    pub.publish(topic, b"zero", 0)
    assert [(m.payload, m.qos) for m in sub.get_many(2)] == [(b"two", 1), (b"zero", 0)]


def test_qos1_puback_and_no_matching_subscribers(broker: BrokerThread) -> None:
    with RawClient(broker.port) as c:
        c.handshake(unique())
        c.send(raw.publish(unique("nobody"), b"x", qos=1, packet_id=7))
        p = c.expect(4)
        # v5: 0x10 No matching subscribers is a success code (spec 3.4.2.1).
        assert p.body[:3] == b"\x00\x07\x10"
    with RawClient(broker.port) as c:
        c.handshake(unique(), version=4)
        c.send(raw.publish("t", b"x", qos=1, packet_id=9, version=4))
        assert c.expect(4).body == b"\x00\x09"


def test_qos2_inbound_flow_forwards_once(broker: BrokerThread) -> None:
    topic = unique("q2")
    with RawClient(broker.port) as sub, RawClient(broker.port) as pub:
        sub.handshake(unique())
        assert sub.subscribe(1, (topic, 0)) == b"\x00"
        pub.handshake(unique())
        pub.send(raw.publish(topic, b"once", qos=2, packet_id=5))
        assert pub.expect(5).body[:2] == b"\x00\x05"  # PUBREC
        # A re-sent PUBLISH (DUP) before PUBREL is answered again but not forwarded again (spec 4.3.3).
        pub.send(raw.publish(topic, b"once", qos=2, packet_id=5, dup=True))
        assert pub.expect(5).body[:2] == b"\x00\x05"
        pub.send(raw.ack(0x62, 5))  # PUBREL
        assert pub.expect(7).body[:2] == b"\x00\x05"  # PUBCOMP
        # An unknown PUBREL gets PUBCOMP 0x92 Packet Identifier not found.
        pub.send(raw.ack(0x62, 6))
        assert pub.expect(7).body == b"\x00\x06\x92"
        assert sub.expect_publish().payload == b"once"
        assert sub.nothing_within(0.3)


@pytest.mark.parametrize("version", [5, 4])
def test_qos2_outbound_flow(broker: BrokerThread, version: int) -> None:
    topic = unique("out2")
    with RawClient(broker.port) as sub, RawClient(broker.port) as pub:
        sub.handshake(unique(), version=version)
        sub.subscribe(1, (topic, 2), version=version)
        pub.handshake(unique())
        pub.send(raw.publish(topic, b"hello", qos=2, packet_id=1))
        msg = sub.expect_publish(version)
        assert (msg.topic, msg.payload, msg.qos, msg.dup) == (topic, b"hello", 2, False)
        sub.send(raw.ack(0x50, msg.packet_id))  # PUBREC
        rel = sub.expect(6)  # PUBREL
        assert rel.first == 0x62 and rel.body[:2] == raw.u16(msg.packet_id)
        sub.send(raw.ack(0x70, msg.packet_id))  # PUBCOMP
        assert broker.run(lambda: sum(len(s.outbox.inflight) for s in broker.broker.sessions)) == 0


def test_outbound_qos1_is_acknowledged(broker: BrokerThread) -> None:
    topic = unique("out1")
    with RawClient(broker.port) as sub, RawClient(broker.port) as pub:
        sub.handshake(unique())
        sub.subscribe(1, (topic, 1))
        pub.handshake(unique())
        pub.send(raw.publish(topic, b"a", qos=1, packet_id=1))
        msg = sub.expect_publish()
        assert msg.qos == 1 and msg.packet_id
        assert broker.run(lambda: sum(len(s.outbox.inflight) for s in broker.broker.sessions)) == 1
        sub.send(raw.ack(0x40, msg.packet_id))
        sub.send(raw.PINGREQ)
        sub.expect(13)
        assert broker.run(lambda: sum(len(s.outbox.inflight) for s in broker.broker.sessions)) == 0


def test_overlapping_subscriptions_give_one_copy_with_every_identifier(broker: BrokerThread) -> None:
    with RawClient(broker.port) as c:
        c.handshake(unique())
        c.subscribe(1, ("ov/+/x", 1), properties=raw.props(raw.p_subscription_id(11)))
        c.subscribe(2, ("ov/#", 2), properties=raw.props(raw.p_subscription_id(300)))
        c.send(raw.publish("ov/a/x", b"p", qos=2, packet_id=1))
        # The PUBREC and the forwarded PUBLISH, in either order.
        first, second = c.read(), c.read()
        assert first is not None and second is not None
        assert sorted((first.type, second.type)) == [3, 5]
        msg = raw.parse_publish(first if first.type == 3 else second)
        assert msg.qos == 2  # [MQTT-3.3.4-2] the highest QoS of the matching subscriptions
        assert sorted(raw.property_values(msg.properties)[0x0B]) == [11, 300]  # [MQTT-3.3.4-4]
        assert c.nothing_within(0.3)


def test_no_local(broker: BrokerThread, clients: ClientFactory) -> None:
    topic = unique("nl")
    a = clients(broker.port)
    a.connect()
    a.subscribe(topic, options=SubscribeOptions(qos=1, noLocal=True))
    b = clients(broker.port)
    b.connect()
    b.subscribe(topic, 1)
    a.publish(topic, b"from a", 1)
    assert b.get().payload == b"from a"
    assert a.none_within(0.3)  # [MQTT-3.8.3-3]
    b.publish(topic, b"from b", 1)
    assert a.get().payload == b"from b"


def test_retain_as_published(broker: BrokerThread, clients: ClientFactory) -> None:
    topic = unique("rap")
    keep = clients(broker.port)
    keep.connect()
    keep.subscribe(topic, options=SubscribeOptions(qos=1, retainAsPublished=True))
    clear = clients(broker.port)
    clear.connect()
    clear.subscribe(topic, 1)
    keep.publish(topic, b"r", 1, retain=True)
    assert keep.get().retain is True  # [MQTT-3.3.1-13]
    assert clear.get().retain is False  # [MQTT-3.3.1-12]


def test_dollar_topics_are_not_matched_by_leading_wildcards(broker: BrokerThread) -> None:
    with RawClient(broker.port) as c:
        c.handshake(unique())
        c.subscribe(1, ("#", 0), ("+/x", 0), ("$SYS/#", 0))
        # `$` topics are the server's (spec 4.7.2): published by the platform, not by a client.
        broker.run(lambda: broker.broker.publish("$SYS/x", b"dollar"))
        msg = c.expect_publish()
        # [MQTT-4.7.2-1] only the "$SYS/#" subscription matches: one copy, no other.
        assert (msg.topic, msg.payload) == ("$SYS/x", b"dollar")
        assert c.nothing_within(0.3)


def test_properties_pass_through(broker: BrokerThread, clients: ClientFactory) -> None:
    topic = unique("props")
    sub = clients(broker.port)
    sub.connect()
    sub.subscribe(topic, 1)
    pub = clients(broker.port)
    pub.connect()
    props = PahoProperties(PacketTypes.PUBLISH)
    props.ResponseTopic = "reply/here"
    props.CorrelationData = b"\x00\x01corr"
    props.UserProperty = [("a", "1"), ("b", "2"), ("a", "3")]
    props.ContentType = "text/plain"
    props.PayloadFormatIndicator = 1
    pub.publish(topic, b"req", 1, properties=props)
    got = sub.get().properties
    assert got is not None
    assert got.ResponseTopic == "reply/here"
    assert got.CorrelationData == b"\x00\x01corr"
    assert got.UserProperty == [("a", "1"), ("b", "2"), ("a", "3")]  # order kept [MQTT-3.3.2-18]
    assert got.ContentType == "text/plain"
    assert got.PayloadFormatIndicator == 1


def test_v5_properties_are_not_sent_to_v311_subscribers(broker: BrokerThread) -> None:
    topic = unique("v4")
    with RawClient(broker.port) as sub, RawClient(broker.port) as pub:
        sub.handshake(unique(), version=4)
        sub.subscribe(1, (topic, 0), version=4)
        pub.handshake(unique())
        pub.send(raw.publish(topic, b"body", properties=raw.props(raw.p_user_property("k", "v"))))
        msg = sub.expect_publish(version=4)
        assert (msg.topic, msg.payload) == (topic, b"body")


def test_subscribe_and_publish_acl(make_broker: BrokerFactory) -> None:
    from tether.broker.acl import AclRule

    rules = (
        AclRule(allow=False, topic="secret/#", subscribe=False),  # publish denied
        AclRule(allow=False, topic="private/+", publish=False),  # subscribe denied
    )
    b = make_broker(acl_rules=rules)
    with RawClient(b.port) as c:
        c.handshake(unique())
        # Subscribe denied: 0x80 (the reason is not revealed); the other filter is granted.
        assert c.subscribe(1, ("private/a", 1), ("secret/#", 1)) == b"\x80\x01"
        c.send(raw.publish("secret/x", b"no", qos=1, packet_id=3))
        assert c.expect(4).body[:3] == b"\x00\x03\x87"  # PUBACK Not authorized
        assert c.nothing_within(0.3)  # and not forwarded to the secret/# subscription


def test_unsubscribe(broker: BrokerThread) -> None:
    with RawClient(broker.port) as c:
        c.handshake(unique())
        c.subscribe(1, ("u/a", 0))
        c.send(raw.unsubscribe(2, "u/a", "u/b"))
        p = c.expect(11)
        # [MQTT-3.11.3-1] one reason code per filter: 0x00 Success, 0x11 No subscription existed.
        assert p.body == b"\x00\x02\x00\x00\x11"
        c.send(raw.publish("u/a", b"gone"))
        assert c.nothing_within(0.3)


def test_message_expiry_counts_down_in_the_queue(broker: BrokerThread) -> None:
    topic = unique("exp")
    cid = unique()
    with RawClient(broker.port) as sub:
        sub.handshake(cid, properties=raw.props(raw.p_session_expiry(60)))
        sub.subscribe(1, (topic, 1))
        sub.send(raw.DISCONNECT)
    with RawClient(broker.port) as pub:
        pub.handshake(unique())
        for pid, payload, expiry in ((1, b"short", 1), (2, b"long", 30)):
            expiring = raw.props(raw.p_message_expiry(expiry))
            pub.send(raw.publish(topic, payload, qos=1, packet_id=pid, properties=expiring))
        pub.expect(4)
        pub.expect(4)
    # Wait until the short one has expired (a timer on the broker's loop, no sleeping in the test).
    broker.call(_sleep(1.2))
    with RawClient(broker.port) as sub:
        assert sub.handshake(cid, clean=False).session_present
        msg = sub.expect_publish()
        assert msg.payload == b"long"  # spec 3.3.2.3.3: the expired copy is not sent
        [remaining] = raw.property_values(msg.properties)[0x02]
        assert isinstance(remaining, int) and remaining < 30  # [MQTT-3.3.2-6]
        assert sub.nothing_within(0.3)


async def _sleep(seconds: float) -> None:
    import asyncio

    await asyncio.sleep(seconds)
