"""Retained messages (spec 3.3.1.3) and Retain Handling at subscribe (spec 3.8.3.1)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from tests.broker import raw
from tests.broker.conftest import BrokerThread, Client, unique
from tests.broker.raw import RawClient

ClientFactory = Callable[..., Client]


def _retain(port: int, topic: str, payload: bytes, qos: int = 1) -> None:
    with RawClient(port) as c:
        c.handshake(unique())
        c.send(raw.publish(topic, payload, qos=qos, packet_id=1 if qos else 0, retain=True))
        if qos:
            c.expect(4 if qos == 1 else 5)
        else:
            c.send(raw.PINGREQ)
            c.expect(13)


def test_retained_message_is_sent_on_subscribe_with_retain_flag(broker: BrokerThread) -> None:
    topic = unique("ret")
    _retain(broker.port, topic, b"last", qos=1)
    with RawClient(broker.port) as c:
        c.handshake(unique())
        c.subscribe(1, (topic, 2))
        msg = c.expect_publish()
        # RETAIN 1 for a retained message sent because of a subscription (spec 3.3.1.3); QoS as published.
        assert (msg.topic, msg.payload, msg.retain, msg.qos) == (topic, b"last", True, 1)


def test_retained_message_is_replaced_and_deleted(broker: BrokerThread) -> None:
    topic = unique("rep")
    _retain(broker.port, topic, b"one")
    _retain(broker.port, topic, b"two")
    with RawClient(broker.port) as c:
        c.handshake(unique())
        c.subscribe(1, (topic, 1))
        assert c.expect_publish().payload == b"two"  # [MQTT-3.3.1-5]
        assert c.nothing_within(0.2)
    _retain(broker.port, topic, b"")  # [MQTT-3.3.1-6] an empty payload deletes it
    with RawClient(broker.port) as c:
        c.handshake(unique())
        c.subscribe(1, (topic, 1))
        assert c.nothing_within(0.3)
    assert broker.run(lambda: broker.broker.retained.get(topic)) is None


@pytest.mark.parametrize(
    ("subscription", "expected"),
    [
        ("{p}/+", ["{p}/a"]),
        ("{p}/#", ["{p}", "{p}/a", "{p}/a/b"]),
        ("{p}/+/b", ["{p}/a/b"]),
        ("+/a", ["{p}/a"]),
        ("{p}/a/b/+", []),
    ],
)
def test_wildcard_subscriptions_find_retained_messages(
    broker: BrokerThread, subscription: str, expected: list[str]
) -> None:
    prefix = unique("w")
    for topic in (prefix, f"{prefix}/a", f"{prefix}/a/b"):
        _retain(broker.port, topic, topic.encode())
    with RawClient(broker.port) as c:
        c.handshake(unique())
        c.subscribe(1, (subscription.format(p=prefix), 0))
        want = sorted(t.format(p=prefix) for t in expected)
        got = sorted(c.expect_publish().topic for _ in want)
        assert got == want
        assert c.nothing_within(0.3)


def test_dollar_topics_are_not_retained_for_root_wildcards(broker: BrokerThread) -> None:
    # `$` topics are the server's (spec 4.7.2): the platform retains one, clients may not.
    broker.run(lambda: broker.broker.publish("$internal/x", b"hidden", qos=1, retain=True))
    with RawClient(broker.port) as c:
        c.handshake(unique())
        c.subscribe(1, ("#", 0))
        topics = []
        while not c.nothing_within(0.3):
            topics.append(c.expect_publish().topic)
        assert "$internal/x" not in topics  # [MQTT-4.7.2-1]
        c.subscribe(2, ("$internal/#", 0))
        assert c.expect_publish().topic == "$internal/x"


def test_retain_handling(broker: BrokerThread) -> None:
    topic = unique("rh")
    _retain(broker.port, topic, b"kept")
    with RawClient(broker.port) as c:
        c.handshake(unique())
        # Retain Handling 1: only for a new subscription.
        c.subscribe(1, (topic, 0x10))
        assert c.expect_publish().payload == b"kept"
        c.subscribe(2, (topic, 0x10))
        assert c.nothing_within(0.3)
        # Retain Handling 0: at every subscribe.
        c.subscribe(3, (topic, 0x00))
        assert c.expect_publish().payload == b"kept"
    with RawClient(broker.port) as c:
        c.handshake(unique())
        # Retain Handling 2: never.
        c.subscribe(1, (topic, 0x20))
        assert c.nothing_within(0.3)


def test_expired_retained_message_is_not_sent(broker: BrokerThread) -> None:
    topic = unique("rexp")
    with RawClient(broker.port) as c:
        c.handshake(unique())
        c.send(raw.publish(topic, b"soon gone", retain=True, properties=raw.props(raw.p_message_expiry(1))))
        c.send(raw.PINGREQ)
        c.expect(13)
    broker.call(_sleep(1.2))
    with RawClient(broker.port) as c:
        c.handshake(unique())
        c.subscribe(1, (topic, 0))
        assert c.nothing_within(0.3)  # spec 3.3.2.3.3


def test_shared_subscriptions_get_no_retained_messages(broker: BrokerThread) -> None:
    topic = unique("rs")
    _retain(broker.port, topic, b"r")
    with RawClient(broker.port) as c:
        c.handshake(unique())
        c.subscribe(1, (f"$share/g/{topic}", 1))
        assert c.nothing_within(0.3)


def test_paho_v311_retained(broker: BrokerThread, clients: ClientFactory) -> None:
    import paho.mqtt.client as mqtt

    topic = unique("p311")
    pub = clients(broker.port, protocol=mqtt.MQTTv311)
    pub.connect()
    pub.publish(topic, b"v311", 2, retain=True)
    sub = clients(broker.port, protocol=mqtt.MQTTv311)
    sub.connect()
    sub.subscribe(topic, 2)
    m = sub.get()
    assert (m.payload, m.retain, m.qos) == (b"v311", True, 2)


async def _sleep(seconds: float) -> None:
    import asyncio

    await asyncio.sleep(seconds)
