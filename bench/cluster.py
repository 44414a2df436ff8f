"""Cluster benchmark: one `tether serve` against `tether serve --workers 2 --cluster` on this machine, on
PostgreSQL, with Mosquitto (default configuration) in the same run (docs/cluster.md, issue 20).

Starts nats-server on a free loopback port, then per round and per target a fresh PostgreSQL database
beside --database-url (created and dropped here: the user needs CREATEDB) and the server on it:

  single    `tether serve --database-url PG` (one process, no cluster: today's default on PostgreSQL)
  workers2  `tether serve --workers 2 --cluster nats://... --node bench` (two cluster nodes sharing the
            listeners through SO_REUSEPORT)
  mosquitto Mosquitto with its default configuration (broker scenarios only)

Scenarios (--only):
  ingest    bench/smartrest_ingest.py's load (devices publishing measurements on s/us at QoS 1, each
            acknowledged once stored) and its operation probe: acknowledged measurements/s
  qos0, qos1  bench/mqtt_broker.py's fan-in: 4 publishers -> 1 subscriber, 64-byte payloads, delivered msg/s;
            on workers2 the publishers are placed on another node than the subscriber (reconnected until
            the kernel hands them to another worker), so every message crosses nodes
  latency   1 publisher -> 1 subscriber on another node at 1,000 msg/s: p50/p99 ms

Where a connection landed is asked of the management API on the same HTTP connection that says which node
answers (GET /api/v5/nodes `this_node`, then GET /api/v5/clients/{id}); the placement is printed.

    .venv/bin/python bench/cluster.py
    .venv/bin/python bench/cluster.py --rounds 3 --only ingest
    .venv/bin/python bench/cluster.py --only qos0,qos1,latency --seconds 10

Benchmarks measure; they do not assert. On a 2-core machine shared with other work the figures move between
rounds: compare the columns of one round (the targets are interleaved).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import secrets
import shutil
import statistics
import sys
import tempfile
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx
import uvloop

import mqtt_broker
import smartrest_ingest
from inventory_rest import event_loop_factory, percentile, print_machine
from mqtt_broker import MqttConnection, latency, mosquitto_broker, open_client, throughput

sys.path.append(str(Path(__file__).resolve().parent.parent))  # the repository: the tests' cluster helpers
from tests.cluster.support import NatsServer
from tests.support import create_database, drop_database

DEFAULT_PG = "postgresql://tether:tether@127.0.0.1:5432/tether_test"
SCENARIOS = ("ingest", "qos0", "qos1", "latency")
TARGETS = ("single", "workers2", "mosquitto")


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--database-url",
        default=os.environ.get("TETHER_TEST_DATABASE_URL", DEFAULT_PG),
        help="a PostgreSQL database to connect to; each run creates its own databases beside it",
    )
    parser.add_argument("--rounds", type=int, default=2, help="every target once per round, interleaved")
    parser.add_argument("--only", default=",".join(SCENARIOS), help="comma-separated scenarios")
    parser.add_argument("--targets", default=",".join(TARGETS), help="comma-separated targets")
    parser.add_argument("--workers", type=int, default=2, help="workers of the workers target")
    parser.add_argument("--seconds", type=float, default=5.0, help="measuring time per broker scenario")
    parser.add_argument("--devices", type=int, default=100, help="ingest: publishing devices")
    parser.add_argument("--measurements", type=int, default=200, help="ingest: messages per device per round")
    parser.add_argument("--load-rounds", type=int, default=5, help="ingest: load rounds per server")
    parser.add_argument("--window", type=int, default=8, help="ingest: unacknowledged messages per device")
    parser.add_argument("--mosquitto", default=shutil.which("mosquitto") or "/usr/sbin/mosquitto")
    args = parser.parse_args(argv)
    args.only = [s for s in args.only.split(",") if s]
    args.targets = [t for t in args.targets.split(",") if t]
    if set(args.only) - set(SCENARIOS) or set(args.targets) - set(TARGETS):
        parser.error(f"scenarios: {', '.join(SCENARIOS)}; targets: {', '.join(TARGETS)}")
    return args


# --------------------------------------------------------------------------- servers


def _tree(pid: int) -> list[int]:
    """pid and its children (the workers of `--workers`)."""
    pids = [pid]
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, ValueError, IndexError):
                if int((entry / "stat").read_text().rpartition(")")[2].split()[1]) == pid:
                    pids.append(int(entry.name))
    return pids


class Server(smartrest_ingest.Server):
    """bench/smartrest_ingest.py's server; CPU summed over the parent and its workers."""

    def cpu_seconds(self) -> float | None:
        if self.process is None:
            return None
        total = 0.0
        for pid in _tree(self.process.pid):
            with contextlib.suppress(OSError):
                total += mqtt_broker.cpu_seconds(pid)
        return total


def start_server(target: str, args: argparse.Namespace, workdir: Path, nats: NatsServer, db: str) -> Server:
    ingest_args = smartrest_ingest.parse_args(
        [
            "--devices", str(args.devices), "--measurements", str(args.measurements),
            "--rounds", str(args.load_rounds), "--window", str(args.window), "--database-url", db,
            "--server-log-level", "warning",
        ]
    )  # fmt: skip
    data = workdir / f"{target}-{uuid.uuid4().hex[:6]}"
    data.mkdir()
    server = Server(data, secrets.token_urlsafe(18), ingest_args)
    if target == "workers2":
        server.extra = ["--workers", str(args.workers), "--cluster", nats.url, "--node", "bench"]
    server.start()
    server.wait_ready(120)
    return server


# --------------------------------------------------------------------------- placement


class Placer:
    """Opens connections for mqtt_broker's scenarios: the subscriber where the kernel puts it, each publisher
    reconnected until it lands on another node than the subscriber. Records where each landed."""

    def __init__(self, server: Server, nodes: set[str]) -> None:
        self.server = server
        self.nodes = nodes
        self.subscriber_node: str | None = None
        self.placed: dict[str, str] = {}
        self.moves = 0

    async def locate(self, client_id: str) -> str | None:
        auth = (f"{self.server.args.tenant}/{self.server.args.user}", self.server.password)
        for _ in range(40):
            # One connection for both requests: the node that says it answers is the one that looked.
            async with httpx.AsyncClient(
                base_url=self.server.base_url, auth=auth, timeout=30, limits=httpx.Limits(max_connections=1)
            ) as http:
                nodes = (await http.get("/api/v5/nodes")).json()
                me = next(n["node"] for n in nodes if n["this_node"])
                found = await http.get(f"/api/v5/clients/{client_id}")
            if found.status_code == 200:
                node = found.json().get("node")
                return str(node) if node in self.nodes else str(me)
            await asyncio.sleep(0.02)
        return None

    async def open(self, port: int, client_id: str, **kwargs: Any) -> MqttConnection:
        subscriber = "sub" in client_id.split("-")
        for _ in range(30):
            conn = await open_client(port, client_id, **kwargs)
            node = await self.locate(client_id)
            if subscriber or self.subscriber_node is None:
                self.subscriber_node = node
                break
            if node != self.subscriber_node:
                break
            self.moves += 1
            assert conn.transport is not None
            conn.transport.abort()
            await asyncio.sleep(0.05)
        self.placed[client_id] = node or "?"
        return conn

    def shown(self) -> str:
        subs = [f"{c}@{n}" for c, n in self.placed.items() if "sub" in c.split("-")]
        pubs = [f"{c}@{n}" for c, n in self.placed.items() if "sub" not in c.split("-")]
        return f"subscriber {', '.join(subs)}; publishers {', '.join(pubs)} ({self.moves} reconnections)"


# --------------------------------------------------------------------------- scenarios


def ingest(server: Server) -> dict[str, Any]:
    args = server.args
    loop_factory, _ = event_loop_factory()
    with asyncio.Runner(loop_factory=loop_factory) as runner:
        result = runner.run(smartrest_ingest.run_load(args, server))
    lat = sorted(result.probe.get("latencies", []))
    return {
        "rate": result.acked / result.elapsed,
        "stored_ok": result.stored == result.expected,
        "cpu": None if result.server_cpu is None else 100 * result.server_cpu / result.elapsed,
        "us": None if result.server_cpu is None else 1e6 * result.server_cpu / result.acked,
        "db_us": None if result.db_cpu is None else 1e6 * result.db_cpu / result.acked,
        "client_us": 1e6 * result.client_cpu / result.acked,
        "op_p99": percentile(lat, 99),
        "ops": len(lat),
        "lost": result.probe.get("lost", 0),
    }


async def broker_scenarios(
    port: int, args: argparse.Namespace, placer_for: Any, login: tuple[str, str] | None
) -> dict[str, Any]:
    mqtt_broker.LOGIN = login
    figures: dict[str, Any] = {}
    for name in args.only:
        placer = placer_for()
        opener = placer.open if placer is not None else open_client
        if name in ("qos0", "qos1"):
            qos = int(name[-1])
            rate = await throughput(
                port, 4, 1, qos, args.seconds, f"cl{qos}{secrets.token_hex(2)}", opener=opener
            )
            figures[name] = rate
        elif name == "latency":
            p50, p99, _, count = await latency(port, args.seconds, 1000, opener=opener)
            figures[name] = (p50, p99, count)
        else:
            continue
        if placer is not None:
            figures[f"{name}-placement"] = placer.shown()
    mqtt_broker.LOGIN = None
    return figures


def run_target(target: str, args: argparse.Namespace, workdir: Path, nats: NatsServer) -> dict[str, Any]:
    brokers = [s for s in args.only if s != "ingest"]
    if target == "mosquitto":
        if not brokers:
            return {}
        broker = mosquitto_broker(workdir, f"mosquitto-{uuid.uuid4().hex[:6]}", args.mosquitto, [])
        broker.start()
        try:
            return uvloop.run(broker_scenarios(broker.port, args, lambda: None, None))
        finally:
            broker.stop()
    db = asyncio.run(create_database(args.database_url, "tether_bench_"))
    server: Server | None = None
    try:
        server = start_server(target, args, workdir, nats, db)
        figures: dict[str, Any] = {}
        if "ingest" in args.only:
            figures["ingest"] = ingest(server)
        if brokers:
            nodes = {
                n["node"] for n in httpx.get(f"{server.base_url}/api/v5/nodes", auth=_auth(server)).json()
            }
            clustered = target != "single"
            login = (f"{server.args.tenant}/{server.args.user}", server.password)
            figures.update(
                uvloop.run(
                    broker_scenarios(
                        server.mqtt_port, args, lambda: Placer(server, nodes) if clustered else None, login
                    )
                )
            )
        return figures
    finally:
        if server is not None:
            code = server.stop()
            if code not in (0, None, -15):  # -15: one `tether serve` ends on SIGTERM (workers stop cleanly)
                print(f"{target}: server exit status {code}; log tail:\n{server.log_text()[-2000:]}")
        asyncio.run(drop_database(args.database_url, db))


def _auth(server: Server) -> tuple[str, str]:
    return (f"{server.args.tenant}/{server.args.user}", server.password)


# --------------------------------------------------------------------------- report


def report(args: argparse.Namespace, results: dict[str, list[dict[str, Any]]]) -> None:
    print()
    single = results.get("single", [])
    workers = results.get("workers2", [])
    mosquitto = results.get("mosquitto", [])
    if "ingest" in args.only and single and workers:
        print("SmartREST ingest, acknowledged measurements/s (per round: single | workers2 | ratio):")
        for i, (one, two) in enumerate(zip(single, workers, strict=False), start=1):
            a, b = one["ingest"], two["ingest"]
            print(
                f"  round {i}: {a['rate']:,.0f} (cpu {a['cpu']:.0f}%)"
                f" | {b['rate']:,.0f} (cpu {b['cpu']:.0f}%)"
                f" | {b['rate'] / a['rate']:.2f}x; stored as acknowledged: {a['stored_ok']}/{b['stored_ok']};"
                f" probe operations delivered {a['ops']}/{b['ops']}, lost {a['lost']}/{b['lost']}"
            )
        print("  cpu per measurement, us (server, PostgreSQL backends, load generator): single | workers2")
        for i, (one, two) in enumerate(zip(single, workers, strict=False), start=1):
            print(f"  round {i}: {_us(one['ingest'])} | {_us(two['ingest'])}")
        med_a = statistics.median(r["ingest"]["rate"] for r in single)
        med_b = statistics.median(r["ingest"]["rate"] for r in workers)
        print(
            f"  median: {med_a:,.0f} | {med_b:,.0f} | {med_b / med_a:.2f}x (target >= 1.6x and >= 50,000/s)"
        )
    for name in ("qos0", "qos1"):
        if name not in args.only:
            continue
        print(f"fan-in 4 -> 1 at QoS {name[-1]}, delivered msg/s (per round: single | workers2 | mosquitto):")
        for i in range(args.rounds):
            cells = [_rate(results, t, i, name) for t in ("single", "workers2", "mosquitto")]
            ratio = ""
            if workers and not workers[i].get(name):
                ratio = " | workers2: nothing crossed nodes (no cluster routing in this build?)"
            elif workers and mosquitto and mosquitto[i].get(name):
                ratio = f" | workers2/mosquitto {workers[i][name] / mosquitto[i][name]:.2f}x"
            print(f"  round {i + 1}: {' | '.join(cells)}{ratio}")
            if workers:
                print(f"    workers2 placement: {workers[i].get(name + '-placement', '-')}")
    if "latency" in args.only:
        print("latency 1 -> 1 at 1,000 msg/s, p50/p99 ms (per round: single | workers2 | mosquitto):")
        for i in range(args.rounds):
            cells = []
            for t in ("single", "workers2", "mosquitto"):
                got = results.get(t, [{}] * args.rounds)[i].get("latency")
                if got is None or not got[2]:
                    cells.append("-" if got is None else "nothing crossed nodes")
                else:
                    cells.append(f"{got[0]:.2f}/{got[1]:.2f} ({got[2]} samples)")
            print(f"  round {i + 1}: {' | '.join(cells)}")
            if workers:
                print(f"    workers2 placement: {workers[i].get('latency-placement', '-')}")


def _us(figures: dict[str, Any]) -> str:
    cells = (figures.get(key) for key in ("us", "db_us", "client_us"))
    return ", ".join("-" if c is None else f"{c:.1f}" for c in cells)


def _rate(results: dict[str, list[dict[str, Any]]], target: str, i: int, name: str) -> str:
    rounds = results.get(target)
    if not rounds or name not in rounds[i]:
        return "-"
    return f"{rounds[i][name] / 1000:.1f}k"


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if shutil.which("nats-server") is None:
        print("nats-server not found (apt-get install nats-server)", file=sys.stderr)
        return 2
    print("tether cluster benchmark")
    print_machine("uvloop", args.database_url)
    print(f"load average (1 min) at start: {os.getloadavg()[0]:.1f}")
    results: dict[str, list[dict[str, Any]]] = {}
    with tempfile.TemporaryDirectory(prefix="tether-cluster-bench-") as tmp:
        workdir = Path(tmp)
        nats = NatsServer(workdir).start()
        try:
            for round_ in range(args.rounds):
                for target in args.targets:
                    results.setdefault(target, []).append(run_target(target, args, workdir, nats))
                    print(f"round {round_ + 1}: {target} done", file=sys.stderr)
        finally:
            nats.stop()
    print(f"load average (1 min) at the end: {os.getloadavg()[0]:.1f}")
    report(args, results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
