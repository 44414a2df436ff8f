"""Fixtures of the cluster suite: nats-server and three nodes over one PostgreSQL database (support.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.cluster.support import Cluster, NatsServer, require_cluster_servers
from tests.support import scratch_database


@pytest.fixture(scope="module")
def nats_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NatsServer]:
    require_cluster_servers()
    server = NatsServer(tmp_path_factory.mktemp("nats")).start()
    yield server
    server.stop()


def _cluster(nats: NatsServer, workdir: Path) -> Iterator[Cluster]:
    with scratch_database(require_cluster_servers(), "tether_cluster_") as url:
        cluster = Cluster(nats, url, workdir)
        try:
            yield cluster
        finally:
            cluster.close()


@pytest.fixture(scope="module")
def empty_cluster(nats_server: NatsServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """NATS and a fresh database; the test starts the nodes (Cluster.start)."""
    yield from _cluster(nats_server, tmp_path_factory.mktemp("cluster"))


@pytest.fixture(scope="module")
def cluster(nats_server: NatsServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """Three nodes n1, n2, n3 started together on a fresh database, each healthy and seeing the others."""
    for built in _cluster(nats_server, tmp_path_factory.mktemp("cluster")):
        nodes = built.start("n1", "n2", "n3")
        for node in nodes:
            built.wait_members(node, {"n1", "n2", "n3"})
        yield built
