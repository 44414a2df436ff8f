"""MQTT sessions across nodes (docs/cluster.md, "Sessions across nodes"): a client id connecting to another
node takes its session over with everything it held, and the persistent sessions of a node killed with -9
resume elsewhere with every message that was acknowledged.

Messages are published on the node holding the subscriber's session (routing between nodes is not what
these tests are about)."""

from __future__ import annotations

import asyncio
import contextlib
import queue
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import asyncpg
import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from tests.cluster.support import Cluster, Node

WAIT = 60.0  # seconds; only guards against hangs


class Client:
    """A paho client (MQTT 5) with its network loop in a thread."""

    def __init__(self, node: Node, client_id: str, **kwargs: Any) -> None:
        self.paho = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=client_id,
            protocol=mqtt.MQTTv5,
            reconnect_on_failure=False,
            **kwargs,
        )
        self.node = node
        self.messages: queue.Queue[mqtt.MQTTMessage] = queue.Queue()
        self.connacks: queue.Queue[tuple[Any, Any]] = queue.Queue()
        self.disconnects: queue.Queue[int] = queue.Queue()
        self.subacks: queue.Queue[Any] = queue.Queue()
        self.paho.on_message = lambda c, u, m: self.messages.put(m)
        self.paho.on_connect = lambda c, u, flags, rc, p: self.connacks.put((flags, rc))
        self.paho.on_disconnect = lambda c, u, flags, rc, p: self.disconnects.put(rc.value)
        self.paho.on_subscribe = lambda c, u, mid, rcs, p: self.subacks.put(rcs)

    def connect(self, clean_start: bool = False, expiry: int = 300, **props: Any) -> bool:
        """Connect; returns Session Present."""
        properties = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
        if expiry:
            properties.SessionExpiryInterval = expiry
        for name, value in props.items():
            setattr(properties, name, value)
        self.paho.connect("127.0.0.1", self.node.mqtt_port, clean_start=clean_start, properties=properties)
        self.paho.loop_start()
        flags, rc = self.connacks.get(timeout=WAIT)
        assert not rc.is_failure, f"CONNACK {rc}"
        return bool(flags.session_present)

    def subscribe(self, topic: str, qos: int = 1) -> None:
        self.paho.subscribe(topic, qos)
        self.subacks.get(timeout=WAIT)

    def publish(self, topic: str, payload: bytes, qos: int = 1) -> None:
        self.paho.publish(topic, payload, qos).wait_for_publish(timeout=WAIT)

    def payloads(self, n: int) -> list[bytes]:
        return [bytes(self.messages.get(timeout=WAIT).payload) for _ in range(n)]

    def drop(self) -> None:
        """Close the socket without DISCONNECT (the will is due)."""
        self.paho.loop_stop()
        sock = self.paho.socket()
        if sock is not None:
            sock.close()

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.paho.disconnect()
        self.paho.loop_stop()


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def query(url: str, sql: str, *args: Any) -> Any:
    async def run() -> Any:
        conn = await asyncpg.connect(url)
        try:
            return await conn.fetchval(sql, *args)
        finally:
            await conn.close()

    return asyncio.run(run())


@pytest.fixture(scope="module")
def nodes(empty_cluster: Cluster) -> Iterator[dict[str, Node]]:
    """n1, n2, n3 accepting anonymous MQTT clients; n1 is killed by the last test."""
    started = [empty_cluster.launch(name, "--allow-anonymous") for name in ("n1", "n2", "n3")]
    empty_cluster.wait_healthy(*started)
    for node in started:
        empty_cluster.wait_members(node, {"n1", "n2", "n3"})
    yield empty_cluster.nodes


@pytest.fixture
def clients() -> Iterator[list[Client]]:
    made: list[Client] = []
    yield made
    for client in made:
        client.close()


def test_a_client_id_connecting_to_another_node_takes_its_session_over(
    nodes: dict[str, Node], clients: list[Client], empty_cluster: Cluster
) -> None:
    n1, n2, n3 = nodes["n1"], nodes["n2"], nodes["n3"]
    client_id = unique("take")
    # Online on n1, acknowledging nothing: 2 messages in flight (its Receive Maximum), 3 queued.
    old = Client(n1, client_id, manual_ack=True)
    publisher = Client(n1, unique("pub"))
    clients += [old, publisher]
    assert old.connect(clean_start=True, ReceiveMaximum=2) is False
    old.subscribe("take/#")
    publisher.connect(clean_start=True, expiry=0)
    for i in range(5):
        publisher.publish("take/x", b"%d" % i)
    assert sorted(old.payloads(2)) == [b"0", b"1"]

    # The same client id on n2: the old connection is taken over, the session comes with everything.
    new = Client(n2, client_id)
    clients.append(new)
    assert new.connect(clean_start=False) is True
    assert old.disconnects.get(timeout=WAIT) == 0x8E  # Session taken over
    received = new.payloads(5)
    assert sorted(received) == [b"0", b"1", b"2", b"3", b"4"]
    assert received[:2] == [b"0", b"1"]  # the unacknowledged ones first, again ([MQTT-4.4.0-1])
    assert (
        query(empty_cluster.database_url, "SELECT node FROM mqtt_sessions WHERE client_id = $1", client_id)
        == "n2"
    )
    # Its subscription came too: a message published on n2 reaches it.
    local = Client(n2, unique("pub"))
    clients.append(local)
    local.connect(clean_start=True, expiry=0)
    local.publish("take/y", b"after")
    assert new.payloads(1) == [b"after"]

    # A session without expiry ends with its connection: the new one starts afresh (Session Present 0).
    plain_id = unique("plain")
    first, second = Client(n1, plain_id), Client(n3, plain_id)
    clients += [first, second]
    first.connect(clean_start=True, expiry=0)
    assert second.connect(clean_start=False, expiry=0) is False
    assert first.disconnects.get(timeout=WAIT) == 0x8E


class Load:
    """A publisher sending QoS 1 messages as fast as its window allows; remembers what was acknowledged."""

    def __init__(self, node: Node, topic: str) -> None:
        self.client = Client(node, unique("load"))
        self.topic = topic
        self.acked: set[bytes] = set()
        self._sent: dict[int, bytes] = {}
        self._early: dict[int, bool] = {}
        self._lock = threading.Lock()
        self.client.paho.on_publish = self._puback
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _puback(self, client: Any, userdata: Any, mid: int, rc: Any, props: Any) -> None:
        # On paho's thread, under its own locks: never call paho while holding self._lock.
        with self._lock:
            payload = self._sent.pop(mid, None)
            if payload is None:
                self._early[mid] = not rc.is_failure  # acknowledged before publish() returned
            elif not rc.is_failure:
                self.acked.add(payload)

    def start(self) -> None:
        self.client.paho.max_inflight_messages_set(20)
        self.client.connect(clean_start=True, expiry=0)
        self._thread.start()

    def _run(self) -> None:
        i = 0
        while not self._stop.is_set() and self.client.paho.is_connected():
            payload = b"%d" % i
            info = self.client.paho.publish(self.topic, payload, 1)
            with self._lock:
                if info.mid in self._early:
                    if self._early.pop(info.mid):
                        self.acked.add(payload)
                else:
                    self._sent[info.mid] = payload
            i += 1
            if len(self._sent) > 200:
                time.sleep(0.005)  # keeps paho's queue short (not a wait for a condition)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=WAIT)
        self.client.close()


def test_the_sessions_of_a_node_killed_resume_elsewhere_with_every_acknowledged_message(
    nodes: dict[str, Node], clients: list[Client], empty_cluster: Cluster
) -> None:
    n1, n2, n3 = nodes["n1"], nodes["n2"], nodes["n3"]
    url = empty_cluster.database_url
    # Offline on n1 (its queue fills under load), online on n1 (killed under it), and a client whose
    # delayed will is pending on n1 when it dies.
    offline_id, online_id, will_id = unique("offline"), unique("online"), unique("will")
    offline = Client(n1, offline_id)
    online = Client(n1, online_id)
    clients += [offline, online]
    offline.connect(clean_start=True)
    offline.subscribe("load/q")
    offline.close()
    online.connect(clean_start=True)
    online.subscribe("online/t")
    watchers = [Client(node, unique("watch")) for node in (n2, n3)]
    clients += watchers
    for watcher in watchers:
        watcher.connect(clean_start=True, expiry=0)
        watcher.subscribe("wills/#")
    will = Client(n1, will_id)
    clients.append(will)
    will_props = Properties(PacketTypes.WILLMESSAGE)  # type: ignore[no-untyped-call]
    will_props.WillDelayInterval = 2
    will.paho.will_set("wills/w", b"gone", 1, properties=will_props)
    will.connect(clean_start=True)
    will.drop()
    pending = "SELECT count(*) FROM mqtt_sessions WHERE client_id = $1 AND will_topic IS NOT NULL"
    while not query(url, pending, will_id):
        time.sleep(0.05)  # until the pending will is saved

    # Open on n1 when it dies, with wills: one without delay, one delayed, one delayed whose client
    # connects again elsewhere before the delay passes (its will is deleted, spec 3.1.3.2.2).
    orphan_watchers = [Client(node, unique("orphans")) for node in (n2, n3)]
    clients += orphan_watchers
    for watcher in orphan_watchers:
        watcher.connect(clean_start=True, expiry=0)
        watcher.subscribe("orphans/#")
    open_ids: dict[str, str] = {}
    for name, delay in (("now", 0), ("later", 1), ("back", 3)):
        open_ids[name] = unique(name)
        client = Client(n1, open_ids[name])
        clients.append(client)
        props = Properties(PacketTypes.WILLMESSAGE)  # type: ignore[no-untyped-call]
        if delay:
            props.WillDelayInterval = delay
        client.paho.will_set(f"orphans/{name}", name.encode(), 1, properties=props)
        client.connect(clean_start=True, expiry=60)

    load = Load(n1, "load/q")
    load.start()
    deadline = time.monotonic() + WAIT
    while len(load.acked) < 300:
        assert time.monotonic() < deadline, f"only {len(load.acked)} messages acknowledged"
        time.sleep(0.01)
    n1.kill()
    load.stop()
    acknowledged = set(load.acked)
    returned = Client(n2, open_ids["back"])
    clients.append(returned)
    returned.connect(clean_start=False, expiry=60)

    # The offline session resumes on n2 with every acknowledged message (duplicates allowed at QoS 1).
    resumed = Client(n2, offline_id)
    clients.append(resumed)
    assert resumed.connect(clean_start=False) is True
    received: set[bytes] = set()
    while not acknowledged <= received:
        received.add(bytes(resumed.messages.get(timeout=WAIT).payload))

    # The session whose client was connected to n1 resumes on n3, its subscription kept.
    back = Client(n3, online_id)
    clients.append(back)
    assert back.connect(clean_start=False) is True
    publisher = Client(n3, unique("pub"))
    clients.append(publisher)
    publisher.connect(clean_start=True, expiry=0)
    publisher.publish("online/t", b"still here")
    assert back.payloads(1) == [b"still here"]

    # The delayed will fired once, on the node that adopted the session.
    wills: list[list[bytes]] = [[], []]
    deadline = time.monotonic() + WAIT
    while not any(wills):
        assert time.monotonic() < deadline, "the will never came"
        for i, watcher in enumerate(watchers):
            with contextlib.suppress(queue.Empty):
                wills[i].append(bytes(watcher.messages.get(timeout=0.1).payload))
    time.sleep(3)  # would a second copy come (the will's delay over again)?
    for i, watcher in enumerate(watchers):
        with contextlib.suppress(queue.Empty):
            while True:
                wills[i].append(bytes(watcher.messages.get_nowait().payload))
    assert all(len(got) <= 1 for got in wills), wills

    # The wills of the connections open on n1: published once (by the leader), the returned client's not.
    orphans: list[list[bytes]] = [[], []]
    for i, watcher in enumerate(orphan_watchers):
        while sorted(orphans[i]) != [b"later", b"now"]:
            orphans[i].append(bytes(watcher.messages.get(timeout=WAIT).payload))
    time.sleep(3)  # the returned client's will delay over: would it come, or a second copy?
    for i, watcher in enumerate(orphan_watchers):
        with contextlib.suppress(queue.Empty):
            while True:
                orphans[i].append(bytes(watcher.messages.get_nowait().payload))
    assert [sorted(got) for got in orphans] == [[b"later", b"now"]] * 2
    assert query(url, "SELECT count(*) FROM mqtt_sessions WHERE node = 'n1'") == 0

    # A clean leave: n2 saves what it holds (the offline session, a message queued meanwhile), another node
    # adopts it and the client resumes it there.
    resumed.close()
    last = Client(n2, unique("pub"))
    clients.append(last)
    last.connect(clean_start=True, expiry=0)
    last.publish("load/q", b"before the leave")
    n2.stop()
    again = Client(n3, offline_id)
    clients.append(again)
    assert again.connect(clean_start=False) is True
    while again.messages.get(timeout=WAIT).payload != b"before the leave":
        pass
