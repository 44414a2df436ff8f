"""MQTT across nodes (docs/cluster.md, "MQTT across nodes"): paho clients of tenant t1 spread over three real
nodes; messages reach the subscribers of every node at QoS 0, 1 and 2, and only the nodes that subscribed;
shared subscriptions are served once in the cluster; retained messages are one store; wills fire once;
rules run once, on the node that accepted the message."""

from __future__ import annotations

import contextlib
import signal
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from tests.cluster.support import ADMIN, Cluster, NatsServer, Node
from tests.mqtt_device import V5, V311, Device, unique

RULES = "/api/v5/rules"


@pytest.fixture(scope="module")
def clients(cluster: Cluster) -> Iterator[Any]:
    """Connect a paho client (t1's operator: any topic of the tenant) to a node."""
    made: list[Device] = []

    def connect(node: Node, will: tuple[str, str] | None = None) -> Device:
        device = Device(node.mqtt_port, unique("c"), V5, username=ADMIN[0], password=ADMIN[1], will=will)
        made.append(device)
        assert device.connect() == 0
        return device

    yield connect
    for device in made:
        with contextlib.suppress(Exception):
            device.close()


def eventually(node: Node, path: str, status: int) -> httpx.Response:
    """GET `path` on `node` until it answers `status` (another node's change reaches it within a round trip:
    the answer to the change waits for the nodes' acknowledgements, at most 2 s)."""
    with node.client() as http:
        for _ in range(200):
            response = http.get(path)
            if response.status_code == status:
                return response
            time.sleep(0.1)
    raise AssertionError(f"{node.name} {path}: {response.status_code}, expected {status}")


def metric(node: Node, name: str) -> int:
    """`node`'s own counter (any node answers /api/v5/metrics for every node, one entry each)."""
    with node.client() as http:
        (found,) = [entry[name] for entry in http.get("/api/v5/metrics").json() if entry["node"] == node.name]
        return int(found)


def test_messages_reach_every_node_by_interest(cluster: Cluster, clients: Any) -> None:
    n1, n2, n3 = (cluster.nodes[name] for name in ("n1", "n2", "n3"))
    publisher = clients(n1)
    on2, on3 = clients(n2), clients(n3)
    for device in (on2, on3):
        assert device.subscribe("data/#", qos=2) == 2
    only2 = clients(n2)
    assert only2.subscribe("solo/#", qos=1) == 1
    # No waiting: a SUBACK means every node routes to the subscription. QoS 0, 1 and 2, each
    # acknowledged (QoS 1/2: once n2 and n3 confirmed their copies), in order.
    for qos in (0, 1, 2):
        for i in range(5):
            assert publisher.publish("data/x", f"{qos}-{i}", qos=qos) == 0
    for device in (on2, on3):
        received = [(m.payload.decode(), m.qos) for m in (device.get("data/x") for _ in range(15))]
        assert received == [(f"{qos}-{i}", qos) for qos in (0, 1, 2) for i in range(5)]
    # Only the nodes that subscribed receive anything: n3 has no subscriber of solo/#.
    before3, before2 = metric(n3, "messages.forward.received"), metric(n2, "messages.forward.received")
    forwarded = metric(n1, "messages.forward")
    for i in range(20):
        publisher.send("solo/x", str(i), qos=1)
    assert [only2.text("solo/x") for _ in range(20)] == [str(i) for i in range(20)]
    assert metric(n2, "messages.forward.received") >= before2 + 20
    assert metric(n1, "messages.forward") == forwarded + 20  # one copy each, to n2 only
    assert metric(n3, "messages.forward.received") == before3
    assert on3.none_within(0.2, "solo/x")


def test_a_burst_of_qos0_copies_arrives_whole_and_in_order(cluster: Cluster, clients: Any) -> None:
    """Copies of one batch are delivered in runs of one topic (cluster/copies.py): a burst of QoS 0 messages
    on two topics, interleaved, some with properties (not plain copies), reaches the lone MQTT 3.1.1
    subscriber of one (the copies written in one go) and the two MQTT 5 subscribers of the other (one by
    one) on another node whole and in order."""
    n1, n2 = cluster.nodes["n1"], cluster.nodes["n2"]
    publisher = clients(n1)
    lone = Device(n2.mqtt_port, unique("c"), V311, username=ADMIN[0], password=ADMIN[1])
    assert lone.connect() == 0
    both = [clients(n2), clients(n2)]
    try:
        assert lone.subscribe("burst/a", qos=0) == 0
        for device in both:
            assert device.subscribe("burst/b", qos=0) == 0
        props = Properties(PacketTypes.PUBLISH)
        props.UserProperty = [("k", "v")]
        sent: dict[str, list[str]] = {"burst/a": [], "burst/b": []}
        for i in range(600):
            topic = "burst/a" if (i // 7) % 3 else "burst/b"
            sent[topic].append(str(i))
            publisher.send(topic, str(i), qos=0, **({"properties": props} if i % 50 == 0 else {}))
        assert lone.lines("burst/a", len(sent["burst/a"])) == sent["burst/a"]
        for device in both:
            assert device.lines("burst/b", len(sent["burst/b"])) == sent["burst/b"]
            assert device.none_within(0.1, "burst/a")
        assert lone.none_within(0.1, "burst/b")
    finally:
        lone.close()


def test_a_message_published_right_after_the_suback_reaches_the_subscriber(
    cluster: Cluster, clients: Any
) -> None:
    """The SUBACK waits until the other nodes have applied the new filter: a message published on another
    node the moment the subscriber has its SUBACK is routed to it, every time."""
    n1, n2, n3 = (cluster.nodes[name] for name in ("n1", "n2", "n3"))
    publishers = [clients(n1), clients(n3)]
    subscriber = clients(n2)
    for i in range(30):
        topic = f"fresh/{i}/x"
        assert subscriber.subscribe(f"fresh/{i}/#", qos=1) == 1
        assert publishers[i % 2].publish(topic, str(i), qos=1) == 0
        assert subscriber.text(topic) == str(i)


def test_shared_subscriptions_are_balanced_across_nodes(cluster: Cluster, clients: Any) -> None:
    n1, n2, n3 = (cluster.nodes[name] for name in ("n1", "n2", "n3"))
    publisher = clients(n1)
    members = [clients(n2), clients(n3)]
    for member in members:
        assert member.subscribe("$share/workers/jobs/#", qos=1) == 1
    for i in range(40):
        publisher.send("jobs/run", str(i), qos=1)
    got: list[list[str]] = [[], []]
    deadline = time.monotonic() + 30
    while sum(map(len, got)) < 40 and time.monotonic() < deadline:
        for k, member in enumerate(members):
            with contextlib.suppress(AssertionError):
                got[k].append(member.get("jobs/run", timeout=0.05).payload.decode())
    assert all(got), f"one member got nothing: {got}"
    assert sorted(got[0] + got[1], key=int) == [str(i) for i in range(40)]  # each once
    assert all(member.none_within(0.2, "jobs/run") for member in members)


def test_retained_messages_are_one_store(cluster: Cluster, clients: Any) -> None:
    n1, n2, n3 = (cluster.nodes[name] for name in ("n1", "n2", "n3"))
    assert clients(n1).publish("state/lamp", "on", qos=1, retain=True) in (0, 0x10)  # no subscriber

    def retained_on(node: Node) -> list[str]:
        """What a new subscriber of state/# on `node` gets (retained messages are sent after the SUBACK)."""
        device = clients(node)
        device.subscribe("state/#", qos=1)
        device.publish("state/zz-end", "end", qos=1)  # a marker after the retained ones
        found = []
        while (message := device.get()).topic != "state/zz-end":
            found.append(f"{message.topic}={message.payload.decode()}")
        device.close()
        return found

    for _ in range(200):  # the change reaches n3 within a round trip
        if retained_on(n3) == ["state/lamp=on"]:
            break
    else:
        raise AssertionError(f"n3 never had the retained message: {retained_on(n3)}")
    assert clients(n2).publish("state/lamp", b"", qos=1, retain=True) in (0, 0x10)  # cleared on n2
    for _ in range(200):
        if retained_on(n3) == [] and retained_on(n1) == []:
            break
    else:
        raise AssertionError("the retained message was not cleared everywhere")


def test_wills_fire_once_and_rules_run_once(cluster: Cluster, clients: Any) -> None:
    n1, n2, n3 = (cluster.nodes[name] for name in ("n1", "n2", "n3"))
    # A republish rule created on n2: every node loads it (each runs the rules on what it accepts).
    rule = {
        "id": "echo",
        "sql": 'SELECT payload, topic FROM "in/#"',
        "actions": [
            {"function": "republish", "args": {"topic": "out/${topic}", "qos": 1, "payload": "${payload}"}}
        ],
    }
    with n2.client() as http:
        assert http.post(RULES, json=rule).status_code == 201
    for node in (n1, n3):
        assert eventually(node, f"{RULES}/echo", 200).json()["sql"] == rule["sql"]
    watchers = [clients(n1), clients(n2), clients(n3)]
    for watcher in watchers:
        for topic_filter in ("in/#", "out/#", "will/#"):
            watcher.subscribe(topic_filter, qos=1)
    on1, on2 = clients(n1), clients(n2)

    def matched(node: Node) -> int:
        with node.client() as http:
            found: int = http.get(f"{RULES}/echo/metrics").json()["metrics"]["matched"]
            return found

    # Accepted on n2: its rule runs there, once; the republished message reaches every node.
    assert on2.publish("in/a", "one", qos=1) == 0
    for watcher in watchers:
        assert watcher.text("in/a") == "one" and watcher.text("out/in/a") == "one"
    before1, before2 = matched(n1), matched(n2)  # each rule has seen all its node accepted so far
    # Accepted on n1: n1's rule runs on it; n2 delivers its copy (confirmed before the PUBACK) and its rule
    # does not see it.
    assert on1.publish("in/b", "two", qos=1) == 0
    assert on2.publish("in/c", "three", qos=1) == 0
    for watcher in watchers:
        assert watcher.text("in/b") == "two" and watcher.text("out/in/b") == "two"
        assert watcher.text("out/in/c") == "three"
    assert matched(n2) == before2 + 1  # in/c only
    assert matched(n1) == before1 + 1  # in/b only
    # A will: published by the node that held the connection, once.
    dying = clients(n3, will=("will/lamp", "gone"))
    dying.drop()
    for watcher in watchers:
        assert watcher.text("will/lamp") == "gone"
    # Nothing more: a marker published after them arrives alone.
    on2.publish("in/end", "marker", qos=1)
    for watcher in watchers:
        assert watcher.text("out/in/end") == "marker"
        assert watcher.none_within(0.2, "will/lamp") and watcher.none_within(0, "out/in/a")
        assert watcher.none_within(0, "out/in/b")
    # Deleted on n3: gone from every node.
    with n3.client() as http:
        assert http.delete(f"{RULES}/echo").status_code == 204
    for node in (n1, n2):
        eventually(node, f"{RULES}/echo", 404)


def test_nothing_acknowledged_is_lost_while_nats_restarts_under_load(
    cluster: Cluster, nats_server: NatsServer, clients: Any
) -> None:
    n1, n3 = cluster.nodes["n1"], cluster.nodes["n3"]
    subscriber = clients(n3)
    subscriber.subscribe("load/#", qos=1)
    publisher = clients(n1)
    # QoS 1 from n1 to n3 in windows of 20, each message's PUBACK read: 0 (confirmed by n3) or a refusal
    # (0x80: n3's confirmation did not come), which a real publisher would send again.
    acknowledged: list[int] = []
    refused: list[int] = []
    stop = threading.Event()

    def load() -> None:
        sent = 0
        while not stop.is_set():
            window = [(n, publisher.send("load/x", str(n), qos=1)) for n in range(sent, sent + 20)]
            sent += 20
            for n, mid in window:
                (acknowledged if publisher.ack(mid) == 0 else refused).append(n)

    worker = threading.Thread(target=load)
    worker.start()
    try:
        wait_for(lambda: len(acknowledged) >= 200, "messages acknowledged before the restart")
        nats_server.restart()  # every subscription on the NATS side is gone; the nodes reconnect, announce
        at_restart = len(acknowledged) + len(refused)
        wait_for(lambda: len(acknowledged) >= at_restart + 200, "messages acknowledged after the restart")
    finally:
        stop.set()
        worker.join(timeout=120)
    # Every acknowledged message reached the subscriber on n3 (once at least: QoS 1).
    received: set[int] = set()
    missing = set(acknowledged)
    while missing:
        received.add(int(subscriber.text("load/x")))
        missing -= received
    assert not missing


def wait_for(condition: Any, what: str) -> None:
    for _ in range(1200):
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError(f"never: {what}")


def test_copies_a_dead_node_never_confirmed_are_refused_to_the_publisher(
    cluster: Cluster, clients: Any
) -> None:
    """Last (it stops n3): a QoS 1 message whose copy a node never confirms is not acknowledged as
    delivered; once the node is known gone (membership) the publisher is told to send it again."""
    n1, n3 = cluster.nodes["n1"], cluster.nodes["n3"]
    subscriber = clients(n3)
    subscriber.subscribe("late/#", qos=1)
    publisher = clients(n1)
    assert n3.process is not None
    n3.process.send_signal(signal.SIGSTOP)  # frozen: its copy is never confirmed
    try:
        assert publisher.publish("late/x", "first", qos=1) == 0x80  # refused when n3 is declared gone
    finally:
        n3.kill()
    cluster.wait_members(n1, {"n1", "n2"})
    assert publisher.publish("late/x", "again", qos=1) == 0x10  # no subscriber left anywhere
