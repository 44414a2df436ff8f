"""The hook interface: authentication (also asynchronous), authorization and connection events."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable

from tests.broker import raw
from tests.broker.conftest import BrokerFactory, unique
from tests.broker.raw import RawClient

from tether.broker import AuthResult, ClientInfo, ConnectionInfo, Hooks
from tether.mqtt import Connect, ReasonCode


class Recorder(Hooks):
    """Checks a password asynchronously, keeps the tenant as the login record, records every event."""

    def __init__(self) -> None:
        self.events: list[tuple[object, ...]] = []
        self.lock = threading.Lock()
        self.disconnected = threading.Event()

    def _record(self, *event: object) -> None:
        with self.lock:
            self.events.append(event)

    def authenticate(self, connect: Connect, connection: ConnectionInfo) -> Awaitable[AuthResult]:
        async def check() -> AuthResult:
            await asyncio.sleep(0.05)  # e.g. a database lookup
            if connect.username == "t1/dev" and connect.password == b"secret":
                return AuthResult(login="t1")
            return AuthResult(ReasonCode.BAD_USER_NAME_OR_PASSWORD)

        return check()

    def authorize_publish(self, client: ClientInfo, topic: str, qos: int = 0, retain: bool = False) -> bool:
        return topic.startswith(f"{client.login}/")

    def authorize_subscribe(self, client: ClientInfo, topic_filter: str, qos: int = 0) -> bool:
        return topic_filter.startswith(f"{client.login}/")

    def on_connected(self, client: ClientInfo, session_present: bool) -> None:
        self._record("connected", client.client_id, client.listener, session_present)

    def on_disconnected(self, client: ClientInfo, reason: ReasonCode) -> None:
        self._record("disconnected", client.client_id, int(reason))
        self.disconnected.set()

    def on_subscribed(self, client: ClientInfo, topic_filter: str, qos: int) -> None:
        self._record("subscribed", topic_filter, qos)

    def on_unsubscribed(self, client: ClientInfo, topic_filter: str) -> None:
        self._record("unsubscribed", topic_filter)


def test_async_authentication_and_events(make_broker: BrokerFactory) -> None:
    hooks = Recorder()
    b = make_broker(hooks=hooks, allow_anonymous=False)
    with RawClient(b.port) as c:
        c.send(raw.connect(unique(), username="t1/dev", password=b"wrong"))
        assert c.connack().code == 0x86
    cid = unique()
    with RawClient(b.port) as c:
        # CONNECT and SUBSCRIBE in one write: the SUBSCRIBE waits for the authentication to finish.
        c.send(raw.connect(cid, username="t1/dev", password=b"secret") + raw.subscribe(1, ("t1/#", 1)))
        assert c.connack().code == 0
        assert c.expect(9).body[-1:] == b"\x01"
        assert c.subscribe(2, ("t2/#", 1)) == b"\x80"  # another tenant's topics
        c.send(raw.publish("t2/x", b"x", qos=1, packet_id=5))
        assert c.expect(4).body[:3] == b"\x00\x05\x87"
        c.send(raw.publish("t1/x", b"mine", qos=1, packet_id=6))
        assert sorted(p.type for p in (c.read(), c.read()) if p is not None) == [3, 4]  # PUBLISH, PUBACK
        c.send(raw.unsubscribe(3, "t1/#"))
        c.expect(11)
        c.send(raw.packet(0xE0, b"\x04"))  # DISCONNECT 0x04 Disconnect with Will Message
        c.expect_closed()
    assert hooks.disconnected.wait(10)
    with hooks.lock:
        assert hooks.events == [
            ("connected", cid, "tcp", False),
            ("subscribed", "t1/#", 1),
            ("unsubscribed", "t1/#"),
            ("disconnected", cid, 0x04),
        ]


def test_disconnect_reason_of_a_lost_connection(make_broker: BrokerFactory) -> None:
    hooks = Recorder()
    b = make_broker(hooks=hooks)
    cid = unique()
    c = RawClient(b.port)
    c.send(raw.connect(cid, username="t1/dev", password=b"secret"))
    c.connack()
    c.close()
    assert hooks.disconnected.wait(10)
    with hooks.lock:
        assert hooks.events[-1] == ("disconnected", cid, 0x80)
