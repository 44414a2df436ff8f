"""An action's workers (`worker_pool_size`: batches in flight at once) against real servers: PostgreSQL (the
server of TETHER_TEST_DATABASE_URL, a database of its own) and MariaDB (sink_servers.py). The runner is
driven in-process, as the rule engine drives it: outputs offered with their publisher's clientid as key.
Checked by reading the server: several connections were used, each client's rows are in its order, a
refused row fails alone, and a server that is down holds the outputs until it is back."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import asyncpg
import pymysql
import pytest
from tests.management.sink_servers import MariaDb, postgres_database

from tether.connectors.manager import make_client
from tether.connectors.runner import ActionMetrics, ActionRunner, ConnectorRuntime
from tether.rules.connector_service import LoadedAction, prepare
from tether.rules.connectors import Connector, SinkAction, check_action, check_connector

TABLE = "CREATE TABLE rows_in(id SERIAL PRIMARY KEY, clientid TEXT NOT NULL, n INTEGER NOT NULL, "
INSERT = "INSERT INTO rows_in(clientid, n) VALUES (${clientid}, ${n})"


@pytest.fixture
def pg_database() -> Iterator[dict[str, Any]]:
    """A fresh database on the tests' PostgreSQL server: the connector's config and its URL."""
    with postgres_database("tether_workers_") as (name, admin_url):
        parts = urlsplit(admin_url)
        yield {
            "host": parts.hostname,
            "port": parts.port or 5432,
            "config": {"database": name, "username": parts.username, "password": parts.password},
            "url": admin_url.rsplit("/", 1)[0] + "/" + name,
        }


async def pg_run(url: str, sql: str) -> list[tuple[Any, ...]]:
    conn = await asyncpg.connect(url)
    try:
        return [tuple(r) for r in await conn.fetch(sql)]
    finally:
        await conn.close()


def runner_for(kind: str, config: dict[str, Any], sql: str, **opts: Any) -> ActionRunner:
    connector = Connector("t1", kind, "w", check_connector(kind, config), True, "", 0, 0)
    params, resource_opts = check_action(kind, {"sql": sql}, opts)
    action = SinkAction("t1", kind, "w", "w", params, resource_opts, True, "", 0, 0)
    runtime = ConnectorRuntime(connector, make_client(kind, "w", connector.config))
    return ActionRunner(LoadedAction(action, prepare(action)), runtime, ActionMetrics())


async def until(condition: Callable[[], bool], what: str) -> None:
    for _ in range(1200):
        if condition():
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"{what}: never true")


async def offer_and_deliver(runner: ActionRunner, outputs: list[dict[str, Any]]) -> None:
    runner.start()
    for output in outputs:
        assert runner.offer(output, output["clientid"])
    metrics = runner.metrics
    await until(lambda: metrics.success + metrics.failed == len(outputs), "every output done")
    runner.stop()
    assert runner.connector is not None
    await runner.connector.close()


def outputs_of(clients: int, each: int) -> list[dict[str, Any]]:
    """Interleaved: c0 #0, c1 #0, ..., c0 #1, ... (so every batch holds many clients)."""
    return [{"clientid": f"c{c}", "n": n} for n in range(each) for c in range(clients)]


def in_client_order(rows: list[tuple[Any, ...]], clients: int, each: int) -> None:
    """`rows` (clientid, n) in the order the server stored them: each client's n are 0, 1, 2, ..."""
    by_client: dict[str, list[int]] = {}
    for clientid, n in rows:
        by_client.setdefault(clientid, []).append(n)
    assert by_client == {f"c{c}": list(range(each)) for c in range(clients)}


def test_postgresql_batches_in_flight_keep_each_clients_order(pg_database: dict[str, Any]) -> None:
    url = pg_database["url"]
    asyncio.run(pg_run(url, TABLE + "pid INTEGER DEFAULT pg_backend_pid())"))
    config = {**pg_database["config"], "server": f"{pg_database['host']}:{pg_database['port']}"}
    config["pool_size"] = 8
    runner = runner_for("pgsql", config, INSERT, batch_size=10, worker_pool_size=8)
    seen: list[int] = []

    async def run() -> None:
        async def watch() -> None:
            while True:
                seen.append(runner.inflight)
                await asyncio.sleep(0)

        watcher = asyncio.get_running_loop().create_task(watch())
        try:
            await offer_and_deliver(runner, outputs_of(37, 50))
        finally:
            watcher.cancel()

    asyncio.run(run())
    assert runner.metrics.success == 1850 and runner.metrics.failed == 0
    assert max(seen) > 10  # more than one batch of 10 in flight at a time
    rows = asyncio.run(pg_run(url, "SELECT clientid, n FROM rows_in ORDER BY id"))
    in_client_order(rows, 37, 50)
    pids = asyncio.run(pg_run(url, "SELECT count(DISTINCT pid) FROM rows_in"))[0][0]
    assert pids > 1  # the batches went over several connections


def test_postgresql_a_refused_row_fails_alone_among_workers(pg_database: dict[str, Any]) -> None:
    url = pg_database["url"]
    asyncio.run(pg_run(url, TABLE + "CHECK (n % 7 <> 3))"))
    config = {**pg_database["config"], "server": f"{pg_database['host']}:{pg_database['port']}"}
    runner = runner_for("pgsql", config, INSERT, batch_size=25, worker_pool_size=4)
    outputs = outputs_of(10, 30)
    asyncio.run(offer_and_deliver(runner, outputs))
    refused = sum(1 for o in outputs if o["n"] % 7 == 3)
    assert runner.metrics.failed == refused and runner.metrics.success == len(outputs) - refused
    rows = asyncio.run(pg_run(url, "SELECT clientid, n FROM rows_in ORDER BY id"))
    by_client: dict[str, list[int]] = {}
    for clientid, n in rows:
        by_client.setdefault(clientid, []).append(n)
    expected = [n for n in range(30) if n % 7 != 3]
    assert by_client == {f"c{c}": expected for c in range(10)}


class Gate:
    """A TCP proxy to a server that can be opened and closed: closed, nothing listens on its port (the
    server is unreachable) and its connections are cut."""

    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = int(sock.getsockname()[1])
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    async def open(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", self.port)

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
        for writer in list(self._writers):
            writer.transport.abort()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection(*self.target)
        self._writers.update((writer, up_writer))

        async def pipe(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
            with contextlib.suppress(OSError):
                while data := await source.read(65536):
                    sink.write(data)
                    await sink.drain()
            sink.transport.abort()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))
        self._writers.difference_update((writer, up_writer))


def test_postgresql_down_holds_the_outputs_then_delivers_them_in_order(pg_database: dict[str, Any]) -> None:
    url = pg_database["url"]
    asyncio.run(pg_run(url, TABLE + "extra INTEGER)"))
    gate = Gate(pg_database["host"], pg_database["port"])
    config = {**pg_database["config"], "server": f"127.0.0.1:{gate.port}", "connect_timeout": "2s"}
    runner = runner_for("pgsql", config, INSERT, batch_size=10, worker_pool_size=4)
    outputs = outputs_of(9, 40)

    async def run() -> None:
        runner.start()
        for output in outputs[:180]:
            assert runner.offer(output, output["clientid"])
        metrics = runner.metrics
        await until(lambda: metrics.retried > 0, "a batch retried")  # the server is down
        assert metrics.success == 0 and runner.queuing + runner.inflight == 180
        assert runner.connector is not None and runner.connector.status == "disconnected"
        for output in outputs[180:]:
            assert runner.offer(output, output["clientid"])
        await gate.open()
        await until(lambda: metrics.success == len(outputs), "everything delivered once the server is back")
        assert metrics.failed == 0 and runner.queuing == 0 and runner.inflight == 0
        assert runner.connector.status == "connected"
        runner.stop()
        await runner.connector.close()
        await gate.close()

    asyncio.run(run())
    rows = asyncio.run(pg_run(url, "SELECT clientid, n FROM rows_in ORDER BY id"))
    in_client_order(rows, 9, 40)


def test_a_stopped_runner_gives_back_what_its_workers_held_in_order(tmp_path: Path) -> None:
    """The runner that replaces a stopped one (the action changed) gets every output not done, in the
    order they came: those the workers held first, then the buffer's."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])  # nothing listens there
    config = {"server": f"127.0.0.1:{port}", "database": "x", "connect_timeout": "1s"}
    runner = runner_for("pgsql", config, INSERT, batch_size=5, worker_pool_size=4)
    outputs = outputs_of(7, 10)

    async def run() -> list[dict[str, Any]]:
        runner.start()
        for output in outputs:
            assert runner.offer(output, output["clientid"])
        await until(lambda: runner.metrics.retried > 0, "a batch retried")
        assert runner.held > 0  # some outputs are at the workers
        pending = runner.stop()
        assert runner.connector is not None
        await runner.connector.close()
        assert len(pending) == len(outputs) and runner.held == 0
        return [pending.popleft()[1] for _ in range(len(pending))]

    left = asyncio.run(run())
    assert sorted(left, key=lambda o: (o["clientid"], o["n"])) == sorted(
        outputs, key=lambda o: (o["clientid"], o["n"])
    )
    in_client_order([(o["clientid"], o["n"]) for o in left], 7, 10)


def test_mysql_batches_in_flight_keep_each_clients_order(mariadb: MariaDb) -> None:
    def query(sql: str) -> list[tuple[Any, ...]]:
        conn = pymysql.connect(
            host="127.0.0.1", port=mariadb.port, user=mariadb.user, password=mariadb.password,
            database=mariadb.database, autocommit=True,
        )  # fmt: skip
        try:
            with conn.cursor() as cursor:
                cursor.execute(sql)
                return list(cursor.fetchall())
        finally:
            conn.close()

    query("DROP TABLE IF EXISTS rows_in")
    query(
        "CREATE TABLE rows_in(id INTEGER AUTO_INCREMENT PRIMARY KEY, clientid VARCHAR(20) NOT NULL, "
        "n INTEGER NOT NULL, conn BIGINT DEFAULT (CONNECTION_ID()))"
    )
    config = {
        "server": f"127.0.0.1:{mariadb.port}", "database": mariadb.database, "username": mariadb.user,
        "password": mariadb.password, "pool_size": 8,
    }  # fmt: skip
    runner = runner_for("mysql", config, INSERT, batch_size=10, worker_pool_size=8)
    asyncio.run(offer_and_deliver(runner, outputs_of(37, 25)))
    assert runner.metrics.success == 925 and runner.metrics.failed == 0
    in_client_order(query("SELECT clientid, n FROM rows_in ORDER BY id"), 37, 25)
    assert query("SELECT count(DISTINCT conn) FROM rows_in")[0][0] > 1
