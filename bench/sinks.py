"""Sink benchmark: outputs of a rule through an action's buffer and runner into a real server, in-process
(tether.connectors: the same runner, client and batching the rule engine uses), without the broker in front.

  pgsql   rows/s into a PostgreSQL table (INSERT with three bound parameters), batch sizes 100 and 1000;
          the server of TETHER_TEST_DATABASE_URL, a database of its own created and dropped here
  http    requests/s to a local webhook receiver (uvicorn in a subprocess answering 200), one request per
          output over a kept-alive connection

    export TETHER_TEST_DATABASE_URL=postgresql://tether:tether@127.0.0.1:5432/tether_test
    .venv/bin/python bench/sinks.py
    .venv/bin/python bench/sinks.py --rows 200000 --requests 10000
    .venv/bin/python bench/sinks.py --workers 1,4,16     # the action's worker_pool_size (batches in flight)

Client and servers share the machine: on 2 cores the figures are lower bounds. Benchmarks measure; they do
not assert.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import asyncpg

from tether.connectors.manager import make_client
from tether.connectors.runner import ActionMetrics, ActionRunner, ConnectorRuntime
from tether.rules.connector_service import LoadedAction, prepare
from tether.rules.connectors import Connector, SinkAction, check_action, check_connector

sys.path.append(str(Path(__file__).resolve().parent.parent))  # the repository: the tests' database helpers
from tests.support import create_database, drop_database

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


async def run_sink(
    kind: str, config: dict[str, Any], parameters: dict[str, Any], count: int, batch_size: int, workers: int
) -> tuple[float, float]:
    """Outputs per second from the first offer to the last success, and this process's CPU us per output."""
    connector = Connector("bench", kind, "bench", check_connector(kind, config), True, "", 0, 0)
    resource_opts = {"batch_size": batch_size, "max_buffer_bytes": "2GB", "worker_pool_size": workers}
    params, opts = check_action(kind, parameters, resource_opts)
    action = SinkAction("bench", kind, "bench", "bench", params, opts, True, "", 0, 0)
    runtime = ConnectorRuntime(connector, make_client(kind, "bench", connector.config))
    await runtime.check()
    assert runtime.status == "connected", runtime.reason
    metrics = ActionMetrics()
    runner = ActionRunner(LoadedAction(action, prepare(action)), runtime, metrics)
    outputs = [{"clientid": f"c{i % 100}", "temp": 20 + i % 15, "topic": "bench/t"} for i in range(count)]
    started, cpu = time.perf_counter(), time.process_time()
    runner.start()
    for output in outputs:
        runner.offer(output, output["clientid"])
    while metrics.success + metrics.failed < count:  # noqa: ASYNC110 - the runner has no event to wait on
        await asyncio.sleep(0.01)
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    runner.stop()
    await runtime.close()
    assert metrics.failed == 0, metrics
    return count / elapsed, cpu / count * 1e6


async def bench_pgsql(rows: int, workers: list[int]) -> None:
    url = os.environ.get("TETHER_TEST_DATABASE_URL")
    if not url:
        print("pgsql: TETHER_TEST_DATABASE_URL not set, skipped")
        return
    url = url.replace("postgresql+asyncpg://", "postgresql://")
    target = await create_database(url, "tether_bench_")
    name = target.rpartition("/")[2]
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
        for pool in workers:
            for batch in (100, 1000):
                rate, cpu = await run_sink("pgsql", config, sql, rows, batch, pool)
                print(
                    f"pgsql  worker_pool_size={pool:<3} batch_size={batch:<5} {rows} rows: {rate:>8,.0f} "
                    f"rows/s, client {cpu:.1f} us CPU/row"
                )
    finally:
        await drop_database(url, target)


async def bench_http(requests: int, workers: int) -> None:
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
            rate, cpu = await run_sink(
                "http", {"url": f"http://127.0.0.1:{port}"}, {"path": "/hook"}, requests, 100, workers
            )
            print(f"http   worker_pool_size={workers:<3} {requests} requests: {rate:,.0f} requests/s, "
                  f"client {cpu:.0f} us CPU/request")  # fmt: skip
        finally:
            receiver.terminate()
            receiver.wait()


async def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=5_000)
    parser.add_argument(
        "--workers", default="1,16", help="worker_pool_size values to run, comma-separated (default 1,16)"
    )
    args = parser.parse_args()
    workers = [int(w) for w in args.workers.split(",")]
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} cores (shared), load {os.getloadavg()[0]:.1f}")
    await bench_pgsql(args.rows, workers)
    await bench_http(args.requests, workers[-1])


if __name__ == "__main__":
    asyncio.run(main())
