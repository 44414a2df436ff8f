"""What moving MQTT sessions between cluster nodes costs (docs/cluster.md, "Sessions across nodes"):

1. CONNECT -> CONNACK of new client ids (Clean Start, raw socket, one at a time) on a node of a 3-node
   cluster, where every CONNECT first asks the other nodes and reads the database, against the same
   `tether serve` without a cluster on the same PostgreSQL database;
2. a persistent session with 101 queued QoS 1 messages taken over back and forth between n1 and n2:
   CONNECT -> CONNACK (Session Present 1) and CONNECT -> the last queued message received.

Needs nats-server and PostgreSQL (TETHER_TEST_DATABASE_URL, as the cluster tests); uses their fixtures'
support code (tests/cluster/support.py). Measures, asserts nothing.

    TETHER_TEST_DATABASE_URL=postgresql://USER:PW@127.0.0.1/DB .venv/bin/python bench/cluster_sessions.py
"""

from __future__ import annotations

import asyncio
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.cluster.support import Cluster, NatsServer, Node
from tests.cluster.test_sessions import Client
from tests.support import ADMIN_PASSWORD, BOOTSTRAP_PASSWORD, create_database, drop_database
from tests.test_serve import free_port


def connect_once(port: int, client_id: str) -> float:
    """Seconds from a CONNECT (MQTT 5, Clean Start) to its CONNACK."""
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        cid = client_id.encode()
        body = b"\x00\x04MQTT\x05\x02\x00\x3c\x00" + len(cid).to_bytes(2, "big") + cid
        started = time.perf_counter()
        sock.sendall(b"\x10" + bytes([len(body)]) + body)
        connack = sock.recv(64)
        elapsed = time.perf_counter() - started
        assert connack[0] == 0x20 and connack[3] == 0, connack
        sock.sendall(b"\xe0\x00")  # DISCONNECT
    return elapsed


def connects(port: int, label: str, n: int = 400) -> None:
    for i in range(50):
        connect_once(port, f"warm-{i}-{uuid.uuid4().hex[:6]}")
    ms = sorted(connect_once(port, f"c-{i}-{uuid.uuid4().hex[:6]}") * 1000 for i in range(n))
    print(
        f"connect, {label}: n={n} median {statistics.median(ms):.2f} ms, p90 {ms[int(n * 0.9)]:.2f} ms,"
        f" p99 {ms[int(n * 0.99)]:.2f} ms"
    )


def takeovers(nodes: list[Node], rounds: int = 20) -> None:
    client_id = f"bench-{uuid.uuid4().hex[:6]}"
    connack: list[float] = []
    drained: list[float] = []
    for r in range(rounds):
        here = nodes[r % 2]
        sub = Client(here, client_id)
        started = time.perf_counter()
        present = sub.connect(clean_start=r == 0)
        answered = time.perf_counter()
        if r == 0:
            sub.subscribe("bench/q")
        else:
            assert present
            for _ in range(101):
                sub.messages.get(timeout=60)
            connack.append((answered - started) * 1000)
            drained.append((time.perf_counter() - started) * 1000)
        sub.close()
        pub = Client(here, f"pub-{uuid.uuid4().hex[:6]}")
        pub.connect(clean_start=True, expiry=0)
        for i in range(100):
            pub.paho.publish("bench/q", b"x%d" % i, 1)
        pub.publish("bench/q", b"last")  # acknowledged last: the 100 before it are queued
        pub.close()
    print(
        f"takeover n1 <-> n2 with 101 queued: n={len(connack)}"
        f" CONNACK median {statistics.median(connack):.1f} ms"
        f" (max {max(connack):.1f}), all 101 received median {statistics.median(drained):.1f} ms"
        f" (max {max(drained):.1f})"
    )


def main() -> None:
    base = os.environ["TETHER_TEST_DATABASE_URL"].replace("postgresql+asyncpg://", "postgresql://")
    work = Path(tempfile.mkdtemp(prefix="tether-bench-sessions-"))
    nats = NatsServer(work).start()
    url = asyncio.run(create_database(base, "tether_bench_"))
    cluster = Cluster(nats, url, work)
    try:
        nodes = [cluster.launch(name, "--allow-anonymous") for name in ("n1", "n2", "n3")]
        cluster.wait_healthy(*nodes)
        for node in nodes:
            cluster.wait_members(node, {"n1", "n2", "n3"})
        connects(nodes[1].mqtt_port, "3-node cluster")
        takeovers(nodes)
        cluster.close()
        solo = cluster.nodes["solo"] = Node("solo", free_port(), free_port(), work / "solo.log")
        env = {
            **os.environ,
            "TETHER_ADMIN_PASSWORD": ADMIN_PASSWORD,
            "TETHER_BOOTSTRAP_PASSWORD": BOOTSTRAP_PASSWORD,
            "TETHER_RETENTION_INTERVAL": "0",
        }
        args = [
            sys.executable, "-m", "tether.cli", "serve", "--allow-anonymous",
            "--database-url", url, "--data-dir", str(work / "solo"),
            "--http", f"127.0.0.1:{solo.http_port}", "--mqtt", f"127.0.0.1:{solo.mqtt_port}",
        ]  # fmt: skip
        solo.process = subprocess.Popen(args, env=env, stdout=solo.log.open("wb"), stderr=subprocess.STDOUT)
        cluster.wait_healthy(solo)
        connects(solo.mqtt_port, "no cluster")
    finally:
        cluster.close()
        nats.stop()
        asyncio.run(drop_database(base, url))


if __name__ == "__main__":
    main()
