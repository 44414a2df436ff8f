"""Sessions, subscriptions, queued and in-flight messages and retained messages survive a broker restart."""

from __future__ import annotations

import asyncio
import time

from tests.broker import raw
from tests.broker.conftest import BrokerFactory, unique
from tests.broker.raw import RawClient

from tether.broker import MemoryBrokerStore


def test_restart_keeps_persistent_sessions_and_retained_messages(make_broker: BrokerFactory) -> None:
    store = MemoryBrokerStore()
    first = make_broker(store=store)
    cid, topic, retained_topic = unique(), unique("p"), unique("r")
    with RawClient(first.port) as c:
        c.handshake(cid, properties=raw.props(raw.p_session_expiry(300)))
        c.subscribe(1, (topic, 2), properties=raw.props(raw.p_subscription_id(7)))
        c.send(raw.DISCONNECT)
    with RawClient(first.port) as pub:
        pub.handshake(unique())
        user = raw.props(raw.p_user_property("k", "v"), raw.p_message_expiry(300))
        pub.send(raw.publish(topic, b"queued", qos=1, packet_id=1, properties=user))
        pub.send(raw.publish(retained_topic, b"kept", qos=1, packet_id=2, retain=True))
        pub.expect(4)
        pub.expect(4)
    first.stop()
    assert cid in store.sessions and retained_topic in store.retained

    second = make_broker(store=store)
    with RawClient(second.port) as c:
        assert c.handshake(cid, clean=False, properties=raw.props(raw.p_session_expiry(300))).session_present
        msg = c.expect_publish()
        values = raw.property_values(msg.properties)
        assert (msg.topic, msg.payload, msg.qos) == (topic, b"queued", 1)
        assert values[0x26] == [("k", "v")] and values[0x0B] == [7]
        assert isinstance(values[0x02][0], int) and values[0x02][0] <= 300
        c.send(raw.ack(0x40, msg.packet_id))
        # The subscription itself survived too.
        with RawClient(second.port) as pub:
            pub.handshake(unique())
            pub.send(raw.publish(topic, b"live", qos=1, packet_id=1))
            pub.expect(4)
        assert c.expect_publish().payload == b"live"
    with RawClient(second.port) as c:
        c.handshake(unique())
        c.subscribe(1, (retained_topic, 1))
        msg = c.expect_publish()
        assert (msg.payload, msg.retain) == (b"kept", True)


def test_restart_redelivers_in_flight_messages_with_dup(make_broker: BrokerFactory) -> None:
    store = MemoryBrokerStore()
    first = make_broker(store=store)
    cid, topic = unique(), unique("inflight")
    with RawClient(first.port) as c:
        c.handshake(cid, properties=raw.props(raw.p_session_expiry(300)))
        c.subscribe(1, (topic, 1))
        c.send(raw.publish(topic, b"unacked", qos=1, packet_id=9))
        got = [c.read(), c.read()]
        pub = next(raw.parse_publish(p) for p in got if p is not None and p.type == 3)
        # No PUBACK from us: the message stays in flight while the broker restarts.
        first.stop()
    second = make_broker(store=store)
    with RawClient(second.port) as c:
        assert c.handshake(cid, clean=False, properties=raw.props(raw.p_session_expiry(300))).session_present
        again = c.expect_publish()
        assert (again.payload, again.packet_id, again.dup) == (b"unacked", pub.packet_id, True)


def test_clean_sessions_are_not_kept_and_ended_sessions_are_deleted(make_broker: BrokerFactory) -> None:
    store = MemoryBrokerStore()
    b = make_broker(store=store, persist_interval=0.05)
    keep, gone = unique(), unique()
    with RawClient(b.port) as c:
        c.handshake(gone)  # Session Expiry Interval 0: nothing to keep
        c.subscribe(1, ("x", 0))
    with RawClient(b.port) as c:
        c.handshake(keep, properties=raw.props(raw.p_session_expiry(300)))
        c.subscribe(1, ("x", 0))
    b.call(asyncio.sleep(0.3))  # a few checkpoints
    assert set(store.sessions) == {keep}
    with RawClient(b.port) as c:
        c.handshake(keep, clean=True)  # Clean Start ends the stored session
        c.send(raw.DISCONNECT)
        c.expect_closed()
    b.call(asyncio.sleep(0.3))
    assert store.sessions == {}


def test_expired_sessions_are_not_restored(make_broker: BrokerFactory) -> None:
    store = MemoryBrokerStore()
    first = make_broker(store=store)
    cid = unique()
    with RawClient(first.port) as c:
        c.handshake(cid, properties=raw.props(raw.p_session_expiry(1)))
        c.subscribe(1, ("x", 0))
    first.stop()
    time.sleep(1.2)  # longer than the Session Expiry Interval
    second = make_broker(store=store)
    with RawClient(second.port) as c:
        ack = c.handshake(cid, clean=False, properties=raw.props(raw.p_session_expiry(1)))
        assert not ack.session_present
    assert second.run(lambda: len(second.broker.subscriptions)) == 0


def test_pending_will_survives_a_restart(make_broker: BrokerFactory) -> None:
    store = MemoryBrokerStore()
    first = make_broker(store=store)
    topic = unique("pw")
    dying = RawClient(first.port)
    dying.handshake(
        unique(),
        properties=raw.props(raw.p_session_expiry(300)),
        will_topic=topic,
        will_payload=b"after restart",
        will_properties=raw.props(raw.p_will_delay(1)),
    )
    dying.close()
    first.wait_until(lambda broker: not any(s.online for s in broker.sessions))  # the will is pending now
    first.stop()
    second = make_broker(store=store)
    with RawClient(second.port) as watch:
        watch.handshake(unique())
        watch.subscribe(1, (topic, 1))
        assert watch.expect_publish().payload == b"after restart"
