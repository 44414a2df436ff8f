"""A real `tether serve` restarted on the same database keeps persistent MQTT sessions and retained messages.

Per storage backend: paho-mqtt clients (MQTT 5 with a Session Expiry Interval, MQTT 3.1.1 with Clean Session
0) subscribe, go away, messages are published for them, the server stops and starts again on the same
database, and the clients come back to their sessions.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties as PahoProperties
from tests.broker.conftest import Client, unique
from tests.support import ADMIN_PASSWORD, BOOTSTRAP_PASSWORD, ServerThread, backends, fresh_database

from tether.broker.storage import SessionRecord
from tether.config import Settings

MakeClient = Callable[..., Client]


class RestartableServer:
    """`tether serve` (MQTT clients without credentials allowed) that can be stopped and started again."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.thread: ServerThread | None = None

    def start(self) -> RestartableServer:
        self.thread = ServerThread(self.settings).start()
        return self

    def stop(self) -> None:
        if self.thread is not None:
            self.thread.stop()
            self.thread = None

    def restart(self) -> None:
        self.stop()
        self.start()

    @property
    def port(self) -> int:
        assert self.thread is not None
        url: str = self.thread.platform.services.readiness.addresses["mqtt"]
        return int(url.rsplit(":", 1)[1])

    def stored_sessions(self) -> dict[str, SessionRecord]:
        """Checkpoint now, then read the sessions back from the database."""
        thread = self.thread
        assert thread is not None
        assert thread.server.mqtt is not None and thread.server.mqtt.broker is not None
        persistence = thread.server.mqtt.broker.persistence
        assert persistence is not None
        storage = thread.platform.storage

        async def saved() -> dict[str, SessionRecord]:
            await persistence.commit_soon()
            return {s.client_id: s for s in (await storage.broker_state.load()).sessions}

        return thread.call(saved())


@pytest.fixture(params=backends())
def server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[RestartableServer]:
    settings = Settings(
        data_dir=tmp_path,
        database_url=asyncio.run(fresh_database(request.param, tmp_path)),
        http="127.0.0.1:0",
        mqtt="127.0.0.1:0",
        admin_password=ADMIN_PASSWORD,
        bootstrap_password=BOOTSTRAP_PASSWORD,
        allow_anonymous=True,
    )
    running = RestartableServer(settings).start()
    yield running
    running.stop()


def expiry(seconds: int, packet: int = PacketTypes.CONNECT) -> PahoProperties:
    props = PahoProperties(packet)
    props.SessionExpiryInterval = seconds
    return props


def stored(sessions: dict[str, SessionRecord], client_id: str) -> SessionRecord | None:
    """The stored session of a client id (the broker may prefix it with the client's mountpoint)."""
    found = [s for cid, s in sessions.items() if cid == client_id or cid.endswith("/" + client_id)]
    return found[0] if found else None


def publish_for_offline(server: RestartableServer, clients: MakeClient, prefix: str) -> list[Any]:
    """QoS 1 and 2 messages for the offline subscriber, and one retained message; returns what it expects."""
    pub = clients(server.port)
    pub.connect()
    sent = [
        (f"{prefix}/q1", b"one", 1),
        (f"{prefix}/q2", b"two", 2),
        (f"{prefix}/q1", b"three \x00\xff", 1),
        (f"{prefix}/q2", b"four", 2),
        (f"{prefix}/q1", b"five (QoS 2 to a QoS 1 subscription)", 2),
    ]
    for topic, payload, qos in sent:
        pub.publish(topic, payload, qos)
    pub.publish(f"{prefix}/retained", b"kept", 1, retain=True)
    pub.disconnect()
    return [(topic, payload, 1 if topic.endswith("q1") else qos) for topic, payload, qos in sent]


def received(client: Client, n: int) -> list[Any]:
    return [(m.topic, m.payload, m.qos) for m in client.get_many(n)]


def by_topic(messages: list[Any]) -> dict[str, list[Any]]:
    """Messages per topic, in order. Ordering is per topic (spec 4.6), and paho hands a QoS 2 message to the
    application only at PUBREL, so across topics of different QoS the order seen by the application varies."""
    topics: dict[str, list[Any]] = {}
    for topic, payload, qos in messages:
        topics.setdefault(topic, []).append((payload, qos))
    return topics


def test_mqtt5_session_survives_a_restart(server: RestartableServer, clients: MakeClient) -> None:
    cid, prefix = unique("dev5"), unique("r5")
    sub = clients(server.port, cid)
    sub.connect(properties=expiry(300))
    sub.subscribe([(f"{prefix}/q1", 1), (f"{prefix}/q2", 2)])
    sub.disconnect()
    expected = publish_for_offline(server, clients, prefix)

    server.restart()

    back = clients(server.port, cid)
    flags, _, _ = back.connect(clean_start=False, properties=expiry(300))
    assert flags.session_present
    assert by_topic(received(back, len(expected))) == by_topic(expected)
    # The subscriptions came back too, and the retained message is there for a new subscription.
    back.subscribe(f"{prefix}/retained", 1)
    kept = back.get()
    assert (kept.topic, kept.payload, kept.qos, kept.retain) == (f"{prefix}/retained", b"kept", 1, True)
    pub = clients(server.port)
    pub.connect()
    pub.publish(f"{prefix}/q2", b"live", 2)
    assert received(back, 1) == [(f"{prefix}/q2", b"live", 2)]


def test_mqtt311_persistent_session_survives_a_restart(
    server: RestartableServer, clients: MakeClient
) -> None:
    cid, prefix = unique("dev3"), unique("r3")
    sub = clients(server.port, cid, protocol=mqtt.MQTTv311, clean_session=False)
    sub.connect()
    sub.subscribe([(f"{prefix}/q1", 1), (f"{prefix}/q2", 2)])
    sub.disconnect()
    expected = publish_for_offline(server, clients, prefix)

    server.restart()

    back = clients(server.port, cid, protocol=mqtt.MQTTv311, clean_session=False)
    flags, _, _ = back.connect()
    assert flags.session_present
    assert by_topic(received(back, len(expected))) == by_topic(expected)
    back.subscribe(f"{prefix}/retained", 2)
    kept = back.get()
    assert (kept.payload, kept.qos, kept.retain) == (b"kept", 1, True)


def test_session_expired_while_the_server_was_down_is_gone(
    server: RestartableServer, clients: MakeClient
) -> None:
    cid, prefix = unique("exp"), unique("rx")
    sub = clients(server.port, cid)
    sub.connect(properties=expiry(1))
    sub.subscribe(f"{prefix}/q", 1)
    sub.disconnect()
    pub = clients(server.port)
    pub.connect()
    pub.publish(f"{prefix}/q", b"never delivered", 1)
    pub.disconnect()
    assert stored(server.stored_sessions(), cid) is not None
    server.stop()
    time.sleep(1.5)  # longer than the Session Expiry Interval, while the server is down
    server.start()
    assert stored(server.stored_sessions(), cid) is None  # deleted at the first checkpoint
    back = clients(server.port, cid)
    flags, _, _ = back.connect(clean_start=False, properties=expiry(300))
    assert not flags.session_present
    back.subscribe(f"{prefix}/q", 1)
    pub = clients(server.port)
    pub.connect()
    pub.publish(f"{prefix}/q", b"after", 1)
    assert received(back, 1) == [(f"{prefix}/q", b"after", 1)]  # the old queued message is not there


def test_clean_sessions_are_not_saved(server: RestartableServer, clients: MakeClient) -> None:
    prefix = unique("rc")
    clean5, clean3, kept = unique("c5"), unique("c3"), unique("k5")
    for cid, kwargs, props in (
        (clean5, {}, None),  # Session Expiry Interval 0
        (clean3, {"protocol": mqtt.MQTTv311, "clean_session": True}, None),
        (kept, {}, expiry(300)),
    ):
        client = clients(server.port, cid, **kwargs)
        client.connect(properties=props)
        client.subscribe(f"{prefix}/q", 1)
        client.disconnect()
    pub = clients(server.port)
    pub.connect()
    pub.publish(f"{prefix}/q", b"m", 1)
    pub.disconnect()
    sessions = server.stored_sessions()
    assert stored(sessions, clean5) is None and stored(sessions, clean3) is None
    record = stored(sessions, kept)
    assert record is not None and [d.message.payload for d in record.queued] == [b"m"]

    server.restart()

    for cid, kwargs in ((clean5, {}), (clean3, {"protocol": mqtt.MQTTv311, "clean_session": False})):
        back = clients(server.port, cid, **kwargs)
        flags, _, _ = back.connect(clean_start=False)  # (3.1.1: Clean Session from the client's kwargs)
        assert not flags.session_present
        back.disconnect()
    back = clients(server.port, kept)
    flags, _, _ = back.connect(clean_start=False, properties=expiry(300))
    assert flags.session_present
    assert received(back, 1) == [(f"{prefix}/q", b"m", 1)]
