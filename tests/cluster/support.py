"""Clusters for tests: a real nats-server and real `tether serve --cluster` processes on loopback, over a
PostgreSQL database of their own (docs/cluster.md)."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from tests.support import ADMIN_PASSWORD, BOOTSTRAP_PASSWORD, PG_URL_VARIABLE
from tests.test_serve import free_port

ADMIN = ("t1/admin", ADMIN_PASSWORD)


def require_cluster_servers() -> str:
    """The PostgreSQL URL the nodes share; skips without one (CI=true: fails instead), as without
    nats-server."""
    url = os.environ.get(PG_URL_VARIABLE)
    ci = os.environ.get("CI") == "true"
    if not url:
        if ci:
            raise RuntimeError(f"CI=true but {PG_URL_VARIABLE} is not set: the cluster suite would not run")
        pytest.skip(f"a cluster needs PostgreSQL: {PG_URL_VARIABLE} not set")
    if shutil.which("nats-server") is None:
        if ci:
            raise RuntimeError("CI=true but nats-server is not installed (.ci/run installs it)")
        pytest.skip("nats-server is not installed (apt-get install nats-server)")
    return url.replace("postgresql+asyncpg://", "postgresql://")


class NatsServer:
    """nats-server on a loopback port; :meth:`restart` keeps the port."""

    def __init__(self, workdir: Path) -> None:
        self.port = free_port()
        self.workdir = workdir
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    def start(self) -> NatsServer:
        log = open(self.workdir / "nats.log", "ab")  # noqa: SIM115 - the process writes it
        self.process = subprocess.Popen(
            ["nats-server", "-a", "127.0.0.1", "-p", str(self.port)], stdout=log, stderr=log
        )
        for _ in range(400):
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    return self
            except OSError:
                time.sleep(0.025)
        raise RuntimeError("nats-server did not start")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=30)

    def restart(self) -> None:
        self.stop()
        self.start()


@dataclass
class Node:
    """One `tether serve --cluster` process."""

    name: str
    http_port: int
    mqtt_port: int
    log: Path
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, auth=ADMIN, timeout=30)

    def healthy(self) -> bool:
        try:
            return httpx.get(f"{self.url}/health", timeout=5).status_code == 200
        except httpx.TransportError:
            return False

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self) -> None:
        """SIGINT, as Ctrl-C: a clean leave."""
        if self.alive():
            assert self.process is not None
            self.process.send_signal(signal.SIGINT)
            self.process.wait(timeout=60)

    def kill(self) -> None:
        """SIGKILL: no goodbye, nothing flushed."""
        if self.alive():
            assert self.process is not None
            self.process.kill()
            self.process.wait(timeout=30)

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""


@dataclass
class Cluster:
    nats: NatsServer
    database_url: str
    workdir: Path
    nodes: dict[str, Node] = field(default_factory=dict)

    def launch(self, name: str, *extra: str) -> Node:
        """Start a node (does not wait: see :meth:`wait_healthy`)."""
        node = Node(name, free_port(), free_port(), self.workdir / f"{name}.log")
        env = {
            **os.environ,
            "TETHER_ADMIN_PASSWORD": ADMIN_PASSWORD,
            "TETHER_BOOTSTRAP_PASSWORD": BOOTSTRAP_PASSWORD,
            "TETHER_RETENTION_INTERVAL": "0",
        }
        args = [
            sys.executable, "-m", "tether.cli", "serve",
            "--cluster", self.nats.url, "--node", name,
            "--database-url", self.database_url,
            "--data-dir", str(self.workdir / name),
            "--http", f"127.0.0.1:{node.http_port}",
            "--mqtt", f"127.0.0.1:{node.mqtt_port}",
            *extra,
        ]  # fmt: skip
        log = open(node.log, "wb")  # noqa: SIM115 - the process writes it
        node.process = subprocess.Popen(args, env=env, stdout=log, stderr=subprocess.STDOUT)
        self.nodes[name] = node
        return node

    def wait_healthy(self, *nodes: Node) -> None:
        for node in nodes:
            for _ in range(1200):
                if node.healthy():
                    break
                if not node.alive():
                    raise RuntimeError(f"node {node.name} ended:\n{node.output()[-4000:]}")
                time.sleep(0.05)
            else:
                raise RuntimeError(f"node {node.name} is not healthy:\n{node.output()[-4000:]}")

    def start(self, *names: str) -> list[Node]:
        """Start nodes at the same moment and wait until each is healthy."""
        nodes = [self.launch(name) for name in names]
        self.wait_healthy(*nodes)
        return nodes

    def wait_members(self, node: Node, expected: set[str]) -> None:
        """Until `node` sees exactly `expected` as the cluster's nodes (GET /api/v5/nodes)."""
        seen: set[str] = set()
        with node.client() as http:
            for _ in range(400):
                seen = {n["node"] for n in http.get("/api/v5/nodes").json()}
                if seen == expected:
                    return
                time.sleep(0.05)
        raise AssertionError(f"{node.name} sees {seen}, expected {expected}")

    def wait_listeners(self, *nodes: Node) -> None:
        """Until every node of `nodes` shows every other's HTTP listener in GET /api/v5/nodes."""
        for node in nodes:
            with node.client() as http:
                for _ in range(400):
                    shown = {n["node"]: n["listeners"].get("http") for n in http.get("/api/v5/nodes").json()}
                    if all(shown.get(other.name) == other.url for other in nodes):
                        break
                    time.sleep(0.05)
                else:
                    raise AssertionError(f"{node.name} shows listeners {shown}")

    def close(self) -> None:
        for node in self.nodes.values():
            node.stop()
