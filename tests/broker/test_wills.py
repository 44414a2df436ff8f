"""Will Messages (spec 3.1.2.5, 3.1.3.2): abnormal close, normal DISCONNECT, will delay, session end."""

from __future__ import annotations

from collections.abc import Callable

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties as PahoProperties
from paho.mqtt.reasoncodes import ReasonCode as PahoReasonCode
from tests.broker import raw
from tests.broker.conftest import BrokerFactory, BrokerThread, Client, unique
from tests.broker.raw import RawClient

ClientFactory = Callable[..., Client]


def _watcher(broker: BrokerThread, topic: str) -> RawClient:
    c = RawClient(broker.port)
    c.handshake(unique())
    c.subscribe(1, (topic, 1))
    return c


@pytest.mark.parametrize("version", [5, 4])
def test_will_is_published_when_the_connection_drops(broker: BrokerThread, version: int) -> None:
    topic = unique("will")
    with _watcher(broker, topic) as watch:
        dying = RawClient(broker.port)
        dying.handshake(unique(), version=version, will_topic=topic, will_payload=b"gone", will_qos=1)
        dying.close()  # no DISCONNECT
        msg = watch.expect_publish()
        assert (msg.topic, msg.payload, msg.qos) == (topic, b"gone", 1)


def test_no_will_after_normal_disconnect(broker: BrokerThread) -> None:
    topic = unique("nowill")
    with _watcher(broker, topic) as watch:
        with RawClient(broker.port) as c:
            c.handshake(unique(), will_topic=topic, will_payload=b"x")
            c.send(raw.DISCONNECT)
            assert c.expect_closed() == []
        assert watch.nothing_within(0.3)  # [MQTT-3.14.4-3]


def test_disconnect_with_will_message(broker: BrokerThread) -> None:
    topic = unique("withwill")
    with _watcher(broker, topic) as watch:
        with RawClient(broker.port) as c:
            c.handshake(unique(), will_topic=topic, will_payload=b"asked for")
            c.send(raw.packet(0xE0, b"\x04"))  # DISCONNECT 0x04 Disconnect with Will Message
            c.expect_closed()
        assert watch.expect_publish().payload == b"asked for"


def test_will_properties_and_retain(broker: BrokerThread) -> None:
    topic = unique("wprops")
    dying = RawClient(broker.port)
    dying.handshake(
        unique(),
        will_topic=topic,
        will_payload=b"bye",
        will_retain=True,
        will_properties=raw.props(raw.p_user_property("why", "test"), b"\x03" + raw.string("text/plain")),
    )
    dying.close()
    with _watcher(broker, topic) as watch:  # subscribes after the fact: gets the retained will
        msg = watch.expect_publish()
        assert (msg.payload, msg.retain) == (b"bye", True)
        values = raw.property_values(msg.properties)
        assert values[0x26] == [("why", "test")]
        assert values[0x03] == ["text/plain"]
        assert 0x18 not in values  # the Will Delay Interval is not a PUBLISH property


def test_will_delay(broker: BrokerThread) -> None:
    topic = unique("delay")
    with _watcher(broker, topic) as watch:
        dying = RawClient(broker.port)
        dying.handshake(
            unique(),
            properties=raw.props(raw.p_session_expiry(60)),
            will_topic=topic,
            will_payload=b"late",
            will_properties=raw.props(raw.p_will_delay(1)),
        )
        dying.close()
        assert watch.nothing_within(0.4)  # not yet: the delay runs
        assert watch.expect_publish().payload == b"late"


def test_reconnect_within_the_will_delay_cancels_the_will(broker: BrokerThread) -> None:
    topic = unique("cancel")
    cid = unique()
    with _watcher(broker, topic) as watch:
        dying = RawClient(broker.port)
        dying.handshake(
            cid,
            properties=raw.props(raw.p_session_expiry(60)),
            will_topic=topic,
            will_payload=b"never",
            will_properties=raw.props(raw.p_will_delay(1)),
        )
        dying.close()
        with RawClient(broker.port) as back:
            assert back.handshake(cid, clean=False).session_present
            assert watch.nothing_within(1.5)  # spec 3.1.3.2.2


def test_session_end_publishes_a_delayed_will_early(broker: BrokerThread) -> None:
    topic = unique("early")
    with _watcher(broker, topic) as watch:
        dying = RawClient(broker.port)
        # Will Delay 60 s but Session Expiry 0: the session ends at the disconnect, and the will with it.
        dying.handshake(
            unique(), will_topic=topic, will_payload=b"now", will_properties=raw.props(raw.p_will_delay(60))
        )
        dying.close()
        assert watch.expect_publish().payload == b"now"


def test_will_on_keep_alive_timeout(broker: BrokerThread) -> None:
    topic = unique("ka")
    with _watcher(broker, topic) as watch, RawClient(broker.port) as silent:
        silent.handshake(unique(), version=4, keep_alive=1, will_topic=topic, will_payload=b"timeout")
        assert watch.expect_publish().payload == b"timeout"
        assert silent.expect_closed() == []


def test_will_topic_is_authorized_at_connect(make_broker: BrokerFactory) -> None:
    from tether.broker.acl import AclRule

    b = make_broker(acl_rules=(AclRule(allow=False, topic="forbidden/#", subscribe=False),))
    with RawClient(b.port) as c:
        c.send(raw.connect(unique(), will_topic="forbidden/x", will_payload=b"x"))
        assert c.connack().code == 0x87


def test_paho_will_on_abnormal_close(broker: BrokerThread, clients: ClientFactory) -> None:
    topic = unique("pw")
    watch = clients(broker.port)
    watch.connect()
    watch.subscribe(topic, 1)
    dying = clients(broker.port, protocol=mqtt.MQTTv5)
    props = PahoProperties(PacketTypes.WILLMESSAGE)
    props.UserProperty = [("k", "v")]
    dying.paho.will_set(topic, b"paho will", 1, properties=props)
    dying.connect()
    dying.stop()
    m = watch.get()
    assert (m.payload, m.qos) == (b"paho will", 1)
    assert m.properties is not None and m.properties.UserProperty == [("k", "v")]


def test_session_takeover_publishes_the_will_of_the_old_connection(
    broker: BrokerThread, clients: ClientFactory
) -> None:
    topic = unique("tw")
    cid = unique()
    watch = clients(broker.port)
    watch.connect()
    watch.subscribe(topic, 1)
    old = clients(broker.port, cid)
    old.paho.will_set(topic, b"taken over", 1)
    old.connect()
    new = clients(broker.port, cid)
    new.connect()
    # [MQTT-3.1.4-3] the old connection gets DISCONNECT 0x8E; with no delay its will is published.
    assert old.disconnects.get(timeout=10) == PahoReasonCode(PacketTypes.DISCONNECT, "Session taken over")
    assert watch.get().payload == b"taken over"
