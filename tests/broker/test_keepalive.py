"""Keep alive (spec 3.1.2.10): 1.5 times the keep alive, PINGREQ/PINGRESP, the Server Keep Alive cap."""

from __future__ import annotations

import time

from tests.broker import raw
from tests.broker.conftest import BrokerFactory, BrokerThread, unique
from tests.broker.raw import RawClient


def test_pingreq_gets_pingresp(broker: BrokerThread) -> None:
    with RawClient(broker.port) as c:
        c.handshake(unique())
        c.send(raw.PINGREQ)
        p = c.expect(13)
        assert (p.first, p.body) == (0xD0, b"")  # [MQTT-3.12.4-1]


def test_silent_client_is_disconnected_with_0x8d(broker: BrokerThread) -> None:
    with RawClient(broker.port) as c:
        c.handshake(unique(), keep_alive=1)
        packets = c.expect_closed()
        # [MQTT-3.1.2-22] closed after 1.5 x keep alive; MQTT 5 says why first.
        assert [(p.first, p.body[:1]) for p in packets] == [(0xE0, b"\x8d")]


def test_v311_silent_client_is_closed(broker: BrokerThread) -> None:
    with RawClient(broker.port) as c:
        c.handshake(unique(), version=4, keep_alive=1)
        assert c.expect_closed() == []


def test_traffic_keeps_the_connection_alive(broker: BrokerThread) -> None:
    with RawClient(broker.port) as c:
        c.handshake(unique(), keep_alive=1)
        # Pings every 0.5 s for 2.5 s: more than 1.5 x keep alive in total, never 1.5 s of silence.
        deadline = time.monotonic() + 2.5
        while time.monotonic() < deadline:
            c.send(raw.PINGREQ)
            c.expect(13)
            time.sleep(0.5)
        c.send(raw.PINGREQ)
        c.expect(13)


def test_zero_keep_alive_means_no_timeout(broker: BrokerThread) -> None:
    with RawClient(broker.port) as c:
        c.handshake(unique(), keep_alive=0)
        assert c.nothing_within(2.0)
        c.send(raw.PINGREQ)
        c.expect(13)


def test_server_keep_alive_is_enforced(make_broker: BrokerFactory) -> None:
    b = make_broker(max_keep_alive=1)
    with RawClient(b.port) as c:
        ack = c.handshake(unique(), keep_alive=0)  # asks for no keep alive, gets 1 s
        assert ack.properties[0x13] == [1]
        packets = c.expect_closed()
        assert [(p.first, p.body[:1]) for p in packets] == [(0xE0, b"\x8d")]
