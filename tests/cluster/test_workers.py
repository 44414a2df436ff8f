"""`tether serve --workers N` (cluster/workers.py; docs/cluster.md "Workers on one machine"): one parent, N
worker processes, each a cluster node, sharing the listeners through SO_REUSEPORT sockets the parent bound."""

from __future__ import annotations

import os
import queue
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from tests.cluster.support import ADMIN, Cluster, Node, free_port, require_cluster_servers
from tests.support import ADMIN_PASSWORD, BOOTSTRAP_PASSWORD

WAIT = 60.0
NAMES = {"w-w1", "w-w2"}


def _children(parent: int) -> set[int]:
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rpartition(")")[2].split()[1]) == parent:
                found.add(int(entry.name))
    return found


def _until(what: str, check: object) -> None:
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        if check():  # type: ignore[operator]
            return
        time.sleep(0.05)
    raise AssertionError(f"not within {WAIT:.0f} s: {what}")


def _fresh_get(node: Node, path: str) -> httpx.Response:
    """A request on a new connection: the kernel picks the worker anew."""
    return httpx.get(f"{node.url}{path}", auth=ADMIN, timeout=30)


@pytest.fixture(scope="module")
def workers(empty_cluster: Cluster) -> Iterator[Node]:
    """`tether serve --workers 2 --cluster ... --node w` on fixed free ports (the parent's process)."""
    node = Node("w", free_port(), free_port(), empty_cluster.workdir / "workers.log")
    env = {
        **os.environ,
        "TETHER_ADMIN_PASSWORD": ADMIN_PASSWORD,
        "TETHER_BOOTSTRAP_PASSWORD": BOOTSTRAP_PASSWORD,
        "TETHER_RETENTION_INTERVAL": "0",
    }
    args = [
        sys.executable, "-m", "tether.cli", "serve", "--workers", "2",
        "--cluster", empty_cluster.nats.url, "--node", "w",
        "--database-url", empty_cluster.database_url,
        "--data-dir", str(empty_cluster.workdir / "w"),
        "--http", f"127.0.0.1:{node.http_port}", "--mqtt", f"127.0.0.1:{node.mqtt_port}",
    ]  # fmt: skip
    with open(node.log, "wb") as log:
        node.process = subprocess.Popen(args, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        empty_cluster.wait_healthy(node)
        _until("the parent says both workers are ready", lambda: "2 workers ready" in node.output())
        yield node
    finally:
        node.stop()


def test_workers_share_the_listeners_restart_and_stop_together(workers: Node) -> None:
    assert workers.process is not None
    parent = workers.process.pid
    children = _children(parent)
    assert len(children) == 2
    # Both workers joined the cluster under the names given, and both answer HTTP on the one port.
    answered: set[str] = set()

    def both_answered() -> bool:
        listed = _fresh_get(workers, "/api/v5/nodes").json()
        assert {n["node"] for n in listed} == NAMES
        answered.update(n["node"] for n in listed if n["this_node"])
        return answered == NAMES

    _until("both workers answered HTTP", both_answered)
    assert _fresh_get(workers, "/health").status_code == 200

    # MQTT connections are spread over both workers, and each is served (a message to itself comes back).
    clients = []
    for i in range(16):
        client = mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2, client_id=f"spread-{i}")
        client.username_pw_set(*ADMIN)
        got: queue.Queue[bytes] = queue.Queue()
        client.on_message = lambda _c, _u, message, got=got: got.put(message.payload)
        client.connect("127.0.0.1", workers.mqtt_port)
        client.loop_start()
        client.subscribe(f"spread/{i}", qos=1)
        clients.append((client, got))
    try:
        for i, (client, got) in enumerate(clients):
            payload = f"hello {i}".encode()
            for _ in range(100):  # until the subscription is in place
                client.publish(f"spread/{i}", payload, qos=1).wait_for_publish(timeout=WAIT)
                try:
                    assert got.get(timeout=0.2) == payload
                    break
                except queue.Empty:
                    continue
            else:
                raise AssertionError(f"client {i} got nothing back")
        per_node: dict[str, int] = {}

        def both_counted() -> bool:
            for row in _fresh_get(workers, "/api/v5/stats").json():
                per_node[row["node"]] = row["connections.count"]
            return per_node.keys() == NAMES

        _until("/api/v5/stats answered by both workers", both_counted)
        assert sum(per_node.values()) == 16 and min(per_node.values()) > 0, per_node
    finally:
        for client, _ in clients:
            client.disconnect()
            client.loop_stop()

    # A worker that dies is restarted under its name; the cluster sees both again.
    victim = min(children)
    os.kill(victim, signal.SIGKILL)
    _until("a new worker process", lambda: len(_children(parent)) == 2 and victim not in _children(parent))
    _until("the restarted worker is ready", lambda: "restarted" in workers.output())
    listed = _fresh_get(workers, "/api/v5/nodes").json()
    assert {n["node"] for n in listed} == NAMES
    assert "ended with status -9" in workers.output()

    # SIGINT to the parent stops every worker cleanly (each leaves the cluster) and frees the ports.
    survivors = _children(parent)
    workers.stop()
    assert workers.process.returncode == 0, workers.output()[-3000:]
    assert all(not Path(f"/proc/{pid}").exists() for pid in survivors)
    output = workers.output()
    assert "SIGINT: stopping 2 workers" in output
    assert "Traceback" not in output, output[-3000:]
    for port in (workers.http_port, workers.mqtt_port):
        with socket.socket() as sock:  # nothing listens there any more (TIME_WAIT connections may remain)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind(("127.0.0.1", port))
            sock.listen()


def test_workers_need_a_cluster_on_postgresql(tmp_path: Path) -> None:
    pg = require_cluster_servers()

    def serve(*args: str) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "tether.cli", "serve", "--data-dir", str(tmp_path), "--workers", "2"]
        ports = ["--http", f"127.0.0.1:{free_port()}", "--mqtt", f"127.0.0.1:{free_port()}"]
        return subprocess.run([*command, *ports, *args], capture_output=True, text=True, timeout=120)

    alone = serve("--database-url", pg)
    assert alone.returncode == 2
    assert "--workers 2 needs --cluster" in alone.stderr
    on_sqlite = serve("--cluster", "nats://127.0.0.1:4222")
    assert on_sqlite.returncode == 2
    assert "--workers 2 needs a PostgreSQL database" in on_sqlite.stderr
    # A worker that cannot start (no NATS there) stops the start: its reason, then the parent's, status 2.
    no_nats = serve("--cluster", f"nats://127.0.0.1:{free_port()}", "--database-url", pg)
    assert no_nats.returncode == 2
    assert "cannot reach NATS" in no_nats.stderr
    assert "ended before it was ready" in no_nats.stderr
