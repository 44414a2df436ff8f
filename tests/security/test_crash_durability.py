"""Acknowledged means durable, for online subscribers too (docs/security.md).

`tether serve` is killed with SIGKILL (no shutdown checkpoint) right after an acknowledgement; after the
restart, what was acknowledged is there:
- a QoS 1 PUBACK / QoS 2 PUBREC of a message for an ONLINE persistent session that has not acknowledged it
  (it is in the session's window): the subscriber resuming its session gets it;
- a SUBACK of a persistent session: the subscription exists after the restart;
- an UNSUBACK: the subscription stays removed.
Then, on a broker in this process with a store that commits on demand: what waits for a commit and what
does not (QoS 0, clean sessions; a copy the subscriber already acknowledged).
Harness: tests/broker/test_crash.py (a `tether serve` process); raw socket clients (tests/broker/raw.py).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
from tests.broker import raw, test_crash
from tests.broker.conftest import BrokerFactory, BrokerThread, make_broker, unique
from tests.broker.test_crash import Serve

from tether.broker import MemoryBrokerStore

# The fixtures of the crash harness: `serve` (`tether serve` as a process on `database_url`, which is SQLite,
# and PostgreSQL when TETHER_TEST_DATABASE_URL is set).
serve = test_crash.serve
database_url = test_crash.database_url
make_broker = make_broker  # a broker in this process (tests/broker/conftest.py)

VERSIONS = pytest.mark.parametrize("version", [5, 4], ids=["v5", "v311"])


def _resume(port: int, client_id: str, version: int) -> tuple[raw.RawClient, raw.ConnAckIn]:
    """A persistent session: MQTT 5 Session Expiry Interval 3600, 3.1.1 Clean Session 0."""
    client = raw.RawClient(port)
    props = raw.props(raw.p_session_expiry(3600)) if version == 5 else None
    return client, client.handshake(client_id, version=version, clean=False, properties=props)


def _publish_acknowledged(
    port: int, topic: str, payload: bytes, qos: int, version: int, code: int = 0
) -> None:
    """Publish and wait for the PUBACK (QoS 1) or PUBREC (QoS 2) with the reason ``code``, nothing more."""
    with raw.RawClient(port) as publisher:
        publisher.handshake(unique("pub"), version=version)
        publisher.send(raw.publish(topic, payload, qos=qos, packet_id=7, version=version))
        acknowledgement = publisher.expect(4 if qos == 1 else 5)
        assert acknowledgement.body[:2] == raw.u16(7)
        if version == 5:
            assert (acknowledgement.body[2] if len(acknowledgement.body) > 2 else 0) == code


@VERSIONS
@pytest.mark.parametrize("qos", [1, 2])
def test_message_for_an_online_subscriber_survives_a_kill(serve: Serve, version: int, qos: int) -> None:
    serve.start()
    client_id = unique("online")
    subscriber, _ = _resume(serve.port, client_id, version)
    assert subscriber.subscribe(1, ("alerts/#", qos), version=version) == bytes((qos,))
    subscriber.close()
    # Offline: this one is queued, and saved with the session before its acknowledgement (as before).
    _publish_acknowledged(serve.port, "alerts/smoke", b"check", qos, version)

    subscriber, connack = _resume(serve.port, client_id, version)
    assert connack.session_present
    assert subscriber.expect_publish(version).payload == b"check"
    # Online: the subscriber gets the message but never acknowledges it.
    _publish_acknowledged(serve.port, "alerts/fire", b"evacuate", qos, version)
    delivered = subscriber.expect_publish(version)
    assert (delivered.topic, delivered.payload, delivered.qos) == ("alerts/fire", b"evacuate", qos)
    serve.kill()
    subscriber.close()

    serve.start()
    subscriber, connack = _resume(serve.port, client_id, version)
    assert connack.session_present
    # [MQTT-4.4.0-1] the unacknowledged PUBLISH packets are sent again, in order, with DUP set.
    again = [subscriber.expect_publish(version) for _ in range(2)]
    assert [(m.topic, m.payload, m.qos, m.dup) for m in again] == [
        ("alerts/smoke", b"check", qos, True),
        ("alerts/fire", b"evacuate", qos, True),
    ]
    subscriber.close()


@VERSIONS
def test_queued_behind_the_window_survives_a_kill(serve: Serve, version: int) -> None:
    """Messages waiting behind a full window (Receive Maximum 1) of an online session are saved too."""
    serve.start()
    client_id = unique("window")
    subscriber = raw.RawClient(serve.port)
    props = raw.props(raw.p_session_expiry(3600), raw.p_receive_maximum(1)) if version == 5 else None
    subscriber.handshake(client_id, version=version, clean=False, properties=props)
    subscriber.subscribe(1, ("jobs/#", 1), version=version)
    for n in range(3):
        _publish_acknowledged(serve.port, f"jobs/{n}", f"job {n}".encode(), 1, version)
    first = subscriber.expect_publish(version)
    assert first.payload == b"job 0"
    serve.kill()
    subscriber.close()

    serve.start()
    subscriber, connack = _resume(serve.port, client_id, version)
    assert connack.session_present
    received = []
    for _ in range(3):
        message = subscriber.expect_publish(version)
        received.append(message.payload)
        subscriber.send(raw.ack(0x40, message.packet_id))
    assert received == [b"job 0", b"job 1", b"job 2"]
    subscriber.close()


@VERSIONS
def test_subscription_acknowledged_right_before_a_kill_survives(serve: Serve, version: int) -> None:
    serve.start()
    client_id = unique("fresh-sub")
    subscriber, _ = _resume(serve.port, client_id, version)
    assert subscriber.subscribe(1, ("orders/#", 1), version=version) == b"\x01"
    serve.kill()  # right after the SUBACK
    subscriber.close()

    serve.start()
    subscriber, connack = _resume(serve.port, client_id, version)
    assert connack.session_present
    _publish_acknowledged(serve.port, "orders/42", b"ship it", 1, version)
    message = subscriber.expect_publish(version)
    assert (message.topic, message.payload) == ("orders/42", b"ship it")
    subscriber.close()


@VERSIONS
def test_unsubscription_acknowledged_right_before_a_kill_survives(serve: Serve, version: int) -> None:
    serve.start()
    client_id = unique("unsub")
    subscriber, _ = _resume(serve.port, client_id, version)
    subscriber.subscribe(1, ("orders/#", 1), ("audit/#", 1), version=version)
    subscriber.send(raw.unsubscribe(2, "orders/#", version=version))
    assert subscriber.expect(11).body[:2] == raw.u16(2)  # UNSUBACK
    serve.kill()
    subscriber.close()

    serve.start()
    subscriber, connack = _resume(serve.port, client_id, version)
    assert connack.session_present
    # MQTT 5: 0x10 No matching subscribers.
    _publish_acknowledged(serve.port, "orders/42", b"not for me", 1, version, code=0x10)
    _publish_acknowledged(serve.port, "audit/1", b"for me", 1, version)
    message = subscriber.expect_publish(version)  # the orders message, had it been delivered, came first
    assert (message.topic, message.payload) == ("audit/1", b"for me")
    subscriber.close()


# ----------------------------------------------------------------- when the acknowledgement goes out


class GatedStore(MemoryBrokerStore):
    """Commits only while its gate is open: shows what waits for a commit."""

    def __init__(self) -> None:
        super().__init__()
        self.open = True
        self.opened: asyncio.Event | None = None

    async def save(self, *args: Any) -> None:
        while not self.open:
            self.opened = asyncio.Event()
            await self.opened.wait()
        await super().save(*args)

    def set_open(self, value: bool) -> None:
        """Call on the broker's loop."""
        self.open = value
        if value and self.opened is not None:
            self.opened.set()


@pytest.fixture
def gated(make_broker: BrokerFactory) -> Iterator[tuple[BrokerThread, GatedStore]]:
    store = GatedStore()
    broker = make_broker(store=store, persist_interval=3600)
    yield broker, store
    broker.run(lambda: store.set_open(True))  # lets the broker stop even after a failed test


def _online_subscriber(port: int, version: int, clean: bool = False) -> raw.RawClient:
    subscriber = raw.RawClient(port)
    props = raw.props(raw.p_session_expiry(0 if clean else 3600)) if version == 5 else None
    subscriber.handshake(unique("sub"), version=version, clean=clean, properties=props)
    subscriber.subscribe(1, ("held/#", 1), version=version)
    return subscriber


@VERSIONS
def test_puback_for_an_online_persistent_session_waits_for_the_commit(
    gated: tuple[BrokerThread, GatedStore], version: int
) -> None:
    broker, store = gated
    subscriber = _online_subscriber(broker.port, version)
    broker.run(lambda: store.set_open(False))
    with raw.RawClient(broker.port) as publisher:
        publisher.handshake(unique("pub"), version=version)
        publisher.send(raw.publish("held/1", b"x", qos=1, packet_id=3, version=version))
        assert subscriber.expect_publish(version).payload == b"x"  # not acknowledged by the subscriber
        assert publisher.nothing_within(0.3)  # no PUBACK while the commit cannot happen
        broker.run(lambda: store.set_open(True))
        assert publisher.expect(4).body[:2] == raw.u16(3)
    (stored,) = [s for s in store.sessions.values() if s.subscriptions]
    assert [d.message.payload for d in stored.inflight] == [b"x"]
    subscriber.close()


@VERSIONS
def test_puback_goes_out_once_every_subscriber_has_acknowledged(
    gated: tuple[BrokerThread, GatedStore], version: int
) -> None:
    """Saved or delivered, whichever comes first: a copy the subscriber acknowledged needs no commit."""
    broker, store = gated
    subscriber = _online_subscriber(broker.port, version)
    broker.run(lambda: store.set_open(False))
    with raw.RawClient(broker.port) as publisher:
        publisher.handshake(unique("pub"), version=version)
        publisher.send(raw.publish("held/2", b"y", qos=1, packet_id=4, version=version))
        message = subscriber.expect_publish(version)
        subscriber.send(raw.ack(0x40, message.packet_id))
        assert publisher.expect(4).body[:2] == raw.u16(4)  # while the store is still closed
    broker.run(lambda: store.set_open(True))
    subscriber.close()


@VERSIONS
@pytest.mark.parametrize("kind", ["qos0", "clean-session"])
def test_qos0_and_clean_sessions_do_not_wait(
    gated: tuple[BrokerThread, GatedStore], version: int, kind: str
) -> None:
    broker, store = gated
    subscriber = _online_subscriber(broker.port, version, clean=kind == "clean-session")
    broker.run(lambda: store.set_open(False))
    with raw.RawClient(broker.port) as publisher:
        publisher.handshake(unique("pub"), version=version)
        qos = 0 if kind == "qos0" else 1
        publisher.send(raw.publish("held/3", b"z", qos=qos, packet_id=5, version=version))
        if qos:
            assert publisher.expect(4).body[:2] == raw.u16(5)  # with the store closed
        assert subscriber.expect_publish(version).payload == b"z"
        publisher.send(raw.PINGREQ)
        assert publisher.expect(13)  # PINGRESP: nothing else was sent before it
    broker.run(lambda: store.set_open(True))
    subscriber.close()
