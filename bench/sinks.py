"""Sink benchmark: outputs of a rule through an action's buffer and runner into a real server, in-process
(tether.connectors: the same runner, client and batching the rule engine uses), without the broker in front.

  pgsql   rows/s into a PostgreSQL table (INSERT with three bound parameters), batch sizes 100 and 1000;
          the server of TETHER_TEST_DATABASE_URL, a database of its own created and dropped here
  http    requests/s to a local webhook receiver (uvicorn in a subprocess answering 200), one request per
          output over a kept-alive connection

    export TETHER_TEST_DATABASE_URL=postgresql://tether:tether@127.0.0.1:5432/tether_test
    .venv/bin/python bench/sinks.py
    .venv/bin/python bench/sinks.py --rows 200000 --requests 10000

Client and servers share the machine: on 2 cores the figures are lower bounds. Benchmarks measure; they do
not assert.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import asyncpg

from tether.connectors.manager import make_client
from tether.connectors.runner import ActionMetrics, ActionRunner, ConnectorRuntime
from tether.rules.connector_service import LoadedAction, prepare
from tether.rules.connectors import Connector, SinkAction, check_action, check_connector

RECEIVER = """
async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    while (await receive()).get("more_body"):
        pass
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"2")]})
    await send({"type": "http.response.body", "body": b"ok"})
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def run_sink(kind: str, config: dict, parameters: dict, count: int, batch_size: int) -> float:
    """Outputs per second from the first offer to the last success."""
    connector = Connector("bench", kind, "bench", check_connector(kind, config), True, "", 0, 0)
    params, opts = check_action(kind, parameters, {"batch_size": batch_size, "max_buffer_bytes": "2GB"})
    action = SinkAction("bench", kind, "bench", "bench", params, opts, True, "", 0, 0)
    runtime = ConnectorRuntime(connector, make_client(kind, "bench", connector.config))
    await runtime.check()
    assert runtime.status == "connected", runtime.reason
    metrics = ActionMetrics()
    runner = ActionRunner(LoadedAction(action, prepare(action)), runtime, metrics)
    outputs = [{"clientid": f"c{i % 100}", "temp": 20 + i % 15, "topic": "bench/t"} for i in range(count)]
    started = time.perf_counter()
    runner.start()
    for output in outputs:
        runner.offer(output)
    while metrics.success + metrics.failed < count:  # noqa: ASYNC110 - the runner has no event to wait on
        await asyncio.sleep(0.01)
    elapsed = time.perf_counter() - started
    runner.stop()
    await runtime.close()
    assert metrics.failed == 0, metrics
    return count / elapsed


async def bench_pgsql(rows: int) -> None:
    url = os.environ.get("TETHER_TEST_DATABASE_URL")
    if not url:
        print("pgsql: TETHER_TEST_DATABASE_URL not set, skipped")
        return
    url = url.replace("postgresql+asyncpg://", "postgresql://")
    name = "tether_bench_" + secrets.token_hex(4)
    admin = await asyncpg.connect(url)
    await admin.execute(f"CREATE DATABASE {name}")
    target = url.rsplit("/", 1)[0] + "/" + name
    try:
        conn = await asyncpg.connect(target)
        await conn.execute(
            "CREATE TABLE t(id BIGSERIAL PRIMARY KEY, clientid TEXT, temp INTEGER, topic TEXT)"
        )
        await conn.close()
        user, _, rest = url.split("://", 1)[1].partition("@")
        username, _, password = user.partition(":")
        server = rest.split("/", 1)[0]
        config = {"server": server, "database": name, "username": username, "password": password}
        sql = {"sql": "INSERT INTO t(clientid, temp, topic) VALUES (${clientid}, ${temp}, ${topic})"}
        for batch in (100, 1000):
            rate = await run_sink("pgsql", config, sql, rows, batch)
            print(f"pgsql  batch_size={batch:<5} {rows} rows: {rate:,.0f} rows/s")
    finally:
        await admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        await admin.close()


async def bench_http(requests: int) -> None:
    port = free_port()
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "receiver.py").write_text(RECEIVER)
        receiver = subprocess.Popen(  # noqa: ASYNC220 - started once, before the measurement
            [sys.executable, "-m", "uvicorn", "receiver:app", "--port", str(port), "--log-level", "warning",
             "--no-access-log"],
            cwd=tmp,
        )  # fmt: skip
        try:
            for _ in range(200):
                try:
                    socket.create_connection(("127.0.0.1", port), 0.2).close()
                    break
                except OSError:
                    await asyncio.sleep(0.05)
            rate = await run_sink(
                "http", {"url": f"http://127.0.0.1:{port}"}, {"path": "/hook"}, requests, 100
            )
            print(f"http   {requests} requests: {rate:,.0f} requests/s")
        finally:
            receiver.terminate()
            receiver.wait()


async def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=5_000)
    args = parser.parse_args()
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} cores (shared)")
    await bench_pgsql(args.rows)
    await bench_http(args.requests)


if __name__ == "__main__":
    asyncio.run(main())
