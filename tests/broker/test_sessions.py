"""Sessions (spec 4.1, 3.1.2.4, 3.1.2.11.2): clean start, session present, expiry, takeover, redelivery."""

from __future__ import annotations

import asyncio

import pytest
from tests.broker import raw
from tests.broker.conftest import BrokerFactory, BrokerThread, unique
from tests.broker.raw import RawClient


async def _sleep(seconds: float) -> None:
    await asyncio.sleep(seconds)


def _persistent(c: RawClient, cid: str, *, clean: bool = True, expiry: int = 60) -> bool:
    return c.handshake(cid, clean=clean, properties=raw.props(raw.p_session_expiry(expiry))).session_present


def _publish(port: int, topic: str, *payloads: bytes, qos: int = 1) -> None:
    with RawClient(port) as c:
        c.handshake(unique())
        for i, payload in enumerate(payloads, 1):
            c.send(raw.publish(topic, payload, qos=qos, packet_id=i if qos else 0))
            if qos:
                c.expect(4 if qos == 1 else 5)
        c.send(raw.PINGREQ)
        c.expect(13)


def test_session_present_and_subscriptions_survive(broker: BrokerThread) -> None:
    cid, topic = unique(), unique("s")
    with RawClient(broker.port) as c:
        assert not _persistent(c, cid)
        c.subscribe(1, (topic, 1))
    with RawClient(broker.port) as c:
        assert _persistent(c, cid, clean=False)  # [MQTT-3.2.2-3]
        _publish(broker.port, topic, b"still subscribed")
        assert c.expect_publish().payload == b"still subscribed"
    with RawClient(broker.port) as c:
        assert not _persistent(c, cid, clean=True)  # [MQTT-3.1.2-4] Clean Start discards it
        _publish(broker.port, topic, b"nobody")
        assert c.nothing_within(0.3)


def test_offline_messages_are_queued_and_delivered_in_order(broker: BrokerThread) -> None:
    cid, topic = unique(), unique("q")
    with RawClient(broker.port) as c:
        _persistent(c, cid)
        c.subscribe(1, (topic, 2))
        c.send(raw.DISCONNECT)
    _publish(broker.port, topic, b"q0", qos=0)  # QoS 0 is not queued for an offline session
    _publish(broker.port, topic, b"1", b"2", qos=1)
    _publish(broker.port, topic, b"3", qos=2)
    with RawClient(broker.port) as c:
        assert _persistent(c, cid, clean=False)
        got = [c.expect_publish() for _ in range(3)]
        assert [(m.payload, m.qos) for m in got] == [(b"1", 1), (b"2", 1), (b"3", 2)]
        assert c.nothing_within(0.3)


def test_session_expiry(broker: BrokerThread) -> None:
    cid = unique()
    with RawClient(broker.port) as c:
        _persistent(c, cid, expiry=1)
        c.subscribe(1, ("x", 0))
    broker.call(_sleep(1.3))
    with RawClient(broker.port) as c:
        assert not _persistent(c, cid, clean=False)
    assert broker.run(lambda: len(broker.broker.subscriptions)) == 0


def test_expiry_zero_ends_the_session_at_disconnect(broker: BrokerThread) -> None:
    cid = unique()
    with RawClient(broker.port) as c:
        c.handshake(cid)
        c.subscribe(1, ("x", 0))
        c.send(raw.DISCONNECT)
        c.expect_closed()
    with RawClient(broker.port) as c:
        assert not c.handshake(cid, clean=False).session_present


def test_disconnect_can_change_the_session_expiry(broker: BrokerThread) -> None:
    cid = unique()
    with RawClient(broker.port) as c:
        _persistent(c, cid, expiry=60)
        c.send(raw.packet(0xE0, b"\x00" + raw.props(raw.p_session_expiry(0))))
        c.expect_closed()
    with RawClient(broker.port) as c:
        assert not _persistent(c, cid, clean=False)


def test_v311_clean_session(broker: BrokerThread) -> None:
    cid, topic = unique(), unique("v4")
    with RawClient(broker.port) as c:
        assert not c.handshake(cid, version=4, clean=False).session_present
        c.subscribe(1, (topic, 1), version=4)
    _publish(broker.port, topic, b"kept")
    with RawClient(broker.port) as c:
        assert c.handshake(cid, version=4, clean=False).session_present
        assert c.expect_publish(version=4).payload == b"kept"
    with RawClient(broker.port) as c:
        assert not c.handshake(cid, version=4, clean=True).session_present


def test_takeover_disconnects_the_old_connection_with_0x8e(broker: BrokerThread) -> None:
    cid = unique()
    with RawClient(broker.port) as old, RawClient(broker.port) as new:
        _persistent(old, cid)
        old.subscribe(1, ("t", 0))
        assert _persistent(new, cid, clean=False)
        packets = old.expect_closed()
        assert [(p.first, p.body[:1]) for p in packets] == [(0xE0, b"\x8e")]  # [MQTT-3.1.4-3]
        new.send(raw.PINGREQ)
        new.expect(13)


def test_v311_takeover_just_closes(broker: BrokerThread) -> None:
    cid = unique()
    with RawClient(broker.port) as old, RawClient(broker.port) as new:
        old.handshake(cid, version=4)
        new.handshake(cid, version=4)
        assert old.expect_closed() == []


@pytest.mark.parametrize("version", [5, 4])
def test_unacknowledged_qos1_is_redelivered_with_dup(broker: BrokerThread, version: int) -> None:
    cid, topic = unique(), unique("dup")
    kwargs = {"properties": raw.props(raw.p_session_expiry(60))} if version == 5 else {}
    with RawClient(broker.port) as c:
        c.handshake(cid, version=version, clean=False, **kwargs)  # type: ignore[arg-type]
        c.subscribe(1, (topic, 1), version=version)
        _publish(broker.port, topic, b"ack me")
        first = c.expect_publish(version)
        assert not first.dup
    with RawClient(broker.port) as c:
        c.handshake(cid, version=version, clean=False, **kwargs)  # type: ignore[arg-type]
        again = c.expect_publish(version)
        # [MQTT-4.4.0-1] [MQTT-3.3.1-1] same packet identifier, DUP set.
        assert (again.payload, again.packet_id, again.dup) == (b"ack me", first.packet_id, True)
        c.send(raw.ack(0x40, again.packet_id))
    with RawClient(broker.port) as c:
        c.handshake(cid, version=version, clean=False, **kwargs)  # type: ignore[arg-type]
        assert c.nothing_within(0.3)


def test_qos2_pubrel_is_resent_after_reconnect(broker: BrokerThread) -> None:
    cid, topic = unique(), unique("rel")
    with RawClient(broker.port) as c:
        _persistent(c, cid)
        c.subscribe(1, (topic, 2))
        _publish(broker.port, topic, b"two", qos=2)
        msg = c.expect_publish()
        c.send(raw.ack(0x50, msg.packet_id))  # PUBREC
        assert c.expect(6).body[:2] == raw.u16(msg.packet_id)
    with RawClient(broker.port) as c:
        assert _persistent(c, cid, clean=False)
        rel = c.expect(6)  # the PUBREL again, not the PUBLISH
        assert rel.body[:2] == raw.u16(msg.packet_id)
        c.send(raw.ack(0x70, msg.packet_id))
        assert c.nothing_within(0.3)


def test_inbound_qos2_state_survives_reconnect(broker: BrokerThread) -> None:
    cid, topic = unique(), unique("in2")
    with RawClient(broker.port) as watch:
        watch.handshake(unique())
        watch.subscribe(1, (topic, 2))
        with RawClient(broker.port) as c:
            _persistent(c, cid)
            c.send(raw.publish(topic, b"x", qos=2, packet_id=42))
            c.expect(5)
        with RawClient(broker.port) as c:
            _persistent(c, cid, clean=False)
            # The client re-sends the PUBLISH (DUP) then PUBREL: forwarded only once (spec 4.3.3).
            c.send(raw.publish(topic, b"x", qos=2, packet_id=42, dup=True))
            c.expect(5)
            c.send(raw.ack(0x62, 42))
            assert c.expect(7).body[:2] == raw.u16(42)
        first = watch.expect_publish()
        watch.send(raw.ack(0x50, first.packet_id))
        watch.expect(6)
        assert watch.nothing_within(0.3)


def test_offline_queue_is_bounded_and_drops_are_counted(make_broker: BrokerFactory) -> None:
    b = make_broker(max_queued_messages=5)
    cid, topic = unique(), unique("bound")
    with RawClient(b.port) as c:
        _persistent(c, cid)
        c.subscribe(1, (topic, 1))
    _publish(b.port, topic, *[b"%d" % i for i in range(12)])
    assert b.run(lambda: b.broker.stats.dropped) == 7
    with RawClient(b.port) as c:
        _persistent(c, cid, clean=False)
        got = [c.expect_publish().payload for _ in range(5)]
        assert got == [b"0", b"1", b"2", b"3", b"4"]  # the oldest are kept, newer ones dropped
        assert c.nothing_within(0.3)
