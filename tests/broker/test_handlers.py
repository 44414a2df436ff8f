"""Platform message handlers (Broker.add_handler): what a protocol adapter sees, and acknowledgements held
until the adapter has stored a message, in arrival order ([MQTT-4.6.0-2])."""

from __future__ import annotations

import asyncio
import queue

from tests.broker import raw
from tests.broker.conftest import BrokerFactory, BrokerThread, unique
from tests.broker.raw import RawClient

from tether.broker import AuthResult, ClientInfo, ConnectionInfo, Hooks, Message
from tether.mqtt import Connect, ReasonCode


class Mounted(Hooks):
    def authenticate(self, connect: Connect, connection: ConnectionInfo) -> AuthResult:
        return AuthResult(login=connect.username, mountpoint="$tenant/t1/", private_roots=frozenset({"s"}))


class Recorder:
    """A handler that holds every acknowledgement until the test resolves it."""

    def __init__(self, broker: BrokerThread, hold: bool = True) -> None:
        self.broker = broker
        self.hold = hold
        self.seen: queue.Queue[tuple[str, str, bytes, str | None]] = queue.Queue()
        self.pending: queue.Queue[asyncio.Future[ReasonCode | None]] = queue.Queue()

    def __call__(
        self, client: ClientInfo, topic: str, message: Message
    ) -> asyncio.Future[ReasonCode | None] | None:
        self.seen.put(
            (
                client.client_id,
                topic,
                bytes(message.payload),
                client.login if isinstance(client.login, str) else None,
            )
        )
        if not self.hold:
            return None
        future: asyncio.Future[ReasonCode | None] = self.broker.loop.create_future()
        self.pending.put(future)
        return future

    def resolve(self, future: asyncio.Future[ReasonCode | None], result: ReasonCode | None = None) -> None:
        self.broker.loop.call_soon_threadsafe(future.set_result, result)

    def fail(self, future: asyncio.Future[ReasonCode | None]) -> None:
        self.broker.loop.call_soon_threadsafe(future.set_exception, OSError("disk full"))


def _connect(b: BrokerThread, version: int = 5, client_id: str = "dev-1") -> RawClient:
    c = RawClient(b.port)
    c.send(raw.connect(client_id, version=version, username="t1/dev", password=b"x"))
    c.expect(2)
    return c


def test_handler_sees_the_topic_as_sent_and_holds_the_puback(make_broker: BrokerFactory) -> None:
    b = make_broker(hooks=Mounted())
    handler = Recorder(b)
    b.run(lambda: b.broker.add_handler("s", handler))
    with _connect(b) as c:
        c.send(raw.publish("s/us", b"200,c8y_T,T,25", qos=1, packet_id=1))
        assert handler.seen.get(timeout=5) == ("dev-1", "s/us", b"200,c8y_T,T,25", "t1/dev")
        held = handler.pending.get(timeout=5)
        assert c.nothing_within(0.2)  # no PUBACK before the handler has stored it
        handler.resolve(held)
        assert c.expect(4).body == b"\x00\x01"  # PUBACK 1, success (remaining length 2)


def test_acknowledgements_stay_in_arrival_order(make_broker: BrokerFactory) -> None:
    b = make_broker(hooks=Mounted())
    handler = Recorder(b)
    b.run(lambda: b.broker.add_handler("s", handler))
    with _connect(b) as c:
        c.send(raw.publish("s/us", b"1", qos=1, packet_id=1))
        first = handler.pending.get(timeout=5)
        c.send(
            raw.publish("other", b"2", qos=1, packet_id=2)
        )  # no handler: acknowledged at once, but after 1
        c.send(raw.publish("s/us", b"3", qos=2, packet_id=3))
        third = handler.pending.get(timeout=5)
        assert c.nothing_within(0.2)
        handler.resolve(third)
        assert c.nothing_within(0.2)  # 3 is stored, but 1 is not yet
        handler.resolve(first)
        assert c.expect(4).body[:2] == b"\x00\x01"
        assert c.expect(4).body[:2] == b"\x00\x02"  # v5: 0x10 no matching subscribers
        assert c.expect(5).body[:2] == b"\x00\x03"  # PUBREC


def test_a_refusal_reaches_an_mqtt5_client(make_broker: BrokerFactory) -> None:
    b = make_broker(hooks=Mounted())
    handler = Recorder(b)
    b.run(lambda: b.broker.add_handler("s", handler))
    with _connect(b) as c:
        c.send(raw.publish("s/us", b"bad", qos=1, packet_id=7))
        handler.resolve(handler.pending.get(timeout=5), ReasonCode.PAYLOAD_FORMAT_INVALID)
        assert c.expect(4).body[:3] == b"\x00\x07\x99"
        c.send(raw.publish("s/us", b"fails", qos=1, packet_id=8))
        handler.fail(handler.pending.get(timeout=5))
        assert c.expect(4).body[:3] == b"\x00\x08\x80"  # not stored: Unspecified error


def test_a_storage_failure_closes_an_mqtt311_connection_unacknowledged(make_broker: BrokerFactory) -> None:
    # 3.1.1 has no negative PUBACK: the client must send the message again on a new connection.
    b = make_broker(hooks=Mounted())
    handler = Recorder(b)
    b.run(lambda: b.broker.add_handler("s", handler))
    with _connect(b, version=4) as c:
        c.send(raw.publish("s/us", b"fails", qos=1, packet_id=1, version=4))
        handler.fail(handler.pending.get(timeout=5))
        assert c.read() is None


def test_a_will_reaches_the_handler(make_broker: BrokerFactory) -> None:
    b = make_broker(hooks=Mounted())
    handler = Recorder(b, hold=False)
    b.run(lambda: b.broker.add_handler("s", handler))
    client_id = unique("dev")
    c = RawClient(b.port)
    c.send(
        raw.connect(
            client_id, username="t1/dev", password=b"x", will_topic="s/us", will_payload=b"400,c8y_Lost,gone"
        )
    )
    c.expect(2)
    c.close()  # no DISCONNECT: the will is published
    assert handler.seen.get(timeout=5) == (client_id, "s/us", b"400,c8y_Lost,gone", "t1/dev")


def test_one_handler_per_root(make_broker: BrokerFactory) -> None:
    b = make_broker(hooks=Mounted())
    handler = Recorder(b, hold=False)
    b.run(lambda: b.broker.add_handler("s", handler))
    try:
        b.run(lambda: b.broker.add_handler("s", handler))
    except ValueError as exc:
        assert "already installed" in str(exc)
    else:
        raise AssertionError("a second handler for one root was accepted")
