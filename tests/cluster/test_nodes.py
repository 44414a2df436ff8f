"""Cluster membership and first start: nodes started together on a fresh database migrate and provision
once, see each other, and notice a node that leaves or dies (docs/cluster.md)."""

from __future__ import annotations

import asyncio
import subprocess
import sys

import asyncpg
from tests.cluster.support import Cluster, NatsServer, free_port, require_cluster_servers


def _count(url: str, query: str) -> int:
    async def run() -> int:
        conn = await asyncpg.connect(url)
        try:
            return int(await conn.fetchval(query))
        finally:
            await conn.close()

    return asyncio.run(run())


def test_nodes_started_together_provision_once_and_share_the_data(cluster: Cluster) -> None:
    n1, n2, n3 = (cluster.nodes[name] for name in ("n1", "n2", "n3"))
    # One schema, one tenant, one administrator, one bootstrap user, one key of encrypted options.
    assert _count(cluster.database_url, "SELECT count(*) FROM alembic_version") == 1
    assert _count(cluster.database_url, "SELECT count(*) FROM tenants") == 2  # t1 and management
    assert _count(cluster.database_url, "SELECT count(*) FROM users WHERE username = 'admin'") == 1
    assert _count(cluster.database_url, "SELECT count(*) FROM users WHERE username = 'devicebootstrap'") == 1
    # Every node lists the three, itself marked, with their listeners (as their heartbeats tell them).
    cluster.wait_listeners(n1, n2, n3)
    for node in (n1, n2, n3):
        with node.client() as http:
            listed = http.get("/api/v5/nodes").json()
            assert [n["node"] for n in listed] == ["n1", "n2", "n3"]
            assert [n["node"] for n in listed if n["this_node"]] == [node.name]
            assert all(n["node_status"] == "running" for n in listed)
            shown = {n["node"]: n["listeners"] for n in listed}
            assert shown[n2.name]["http"] == n2.url
            assert http.get("/api/v5/nodes/n3").json()["node"] == "n3"
            assert http.get("/api/v5/nodes/nx").status_code == 404
    # What one node writes, another reads (the one database).
    with n1.client() as http:
        created = http.post("/inventory/managedObjects", json={"name": "shared", "c8y_IsDevice": {}}).json()
    with n3.client() as http:
        assert http.get(f"/inventory/managedObjects/{created['id']}").json()["name"] == "shared"


def test_a_node_that_leaves_or_dies_is_dropped(cluster: Cluster) -> None:
    n1, n2, n3 = (cluster.nodes[name] for name in ("n1", "n2", "n3"))
    n3.stop()  # a clean leave: told at once
    cluster.wait_members(n1, {"n1", "n2"})
    n2.kill()  # silence: dropped after the heartbeat timeout
    cluster.wait_members(n1, {"n1"})
    # A node joining later is seen by the running one, and sees it.
    (n4,) = cluster.start("n4")
    cluster.wait_members(n1, {"n1", "n4"})
    cluster.wait_members(n4, {"n1", "n4"})


def test_a_cluster_needs_postgresql_and_nats(nats_server: NatsServer, tmp_path) -> None:  # type: ignore[no-untyped-def]
    pg = require_cluster_servers()

    def serve(*args: str) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "tether.cli", "serve", "--data-dir", str(tmp_path)]
        ports = ["--http", f"127.0.0.1:{free_port()}", "--mqtt", f"127.0.0.1:{free_port()}"]
        return subprocess.run([*command, *ports, *args], capture_output=True, text=True, timeout=120)

    on_sqlite = serve("--cluster", nats_server.url)
    assert on_sqlite.returncode == 2
    assert "--cluster needs a PostgreSQL database" in on_sqlite.stderr
    no_nats = serve("--cluster", f"nats://127.0.0.1:{free_port()}", "--database-url", pg)
    assert no_nats.returncode == 2
    assert "cannot reach NATS" in no_nats.stderr
