"""MQTT across the nodes of a cluster (docs/cluster.md, "MQTT across nodes"): throughput and latency of
messages published on one node for a subscriber on another.

Starts nats-server and two `tether serve --cluster` nodes (n1, n2, anonymous clients allowed) over a fresh
PostgreSQL database beside the one --database-url names (dropped at the end), then with the load generator
of bench/mqtt_broker.py (raw MQTT 3.1.1, uvloop):

  qos0-cross   4 publishers on n1 -> 1 subscriber on n2, QoS 0, 64-byte payloads: delivered messages/s
  qos1-cross   the same at QoS 1 (each publisher keeps 64 PUBLISH unacknowledged; a PUBACK waits for n2 to
               confirm its copy)
  qos0-local / qos1-local   the same with the subscriber on n1 (the figure without crossing)
  latency-1k   1 publisher on n1 -> 1 subscriber on n2, QoS 0, 1,000 msg/s: p50/p99 in ms (and -local)

    .venv/bin/python bench/cluster_routing.py --database-url postgresql://tether:tether@127.0.0.1/tether_test
    .venv/bin/python bench/cluster_routing.py --database-url ... --seconds 10 --rounds 3

The nodes, NATS and the generator share the machine (2 cores here, and other work besides): the figures are
lower bounds. Benchmarks measure; they do not assert.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import uvloop

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO_ROOT), str(REPO_ROOT / "bench")]

from tests.cluster.support import Cluster, NatsServer  # noqa: E402
from tests.support import create_database, drop_database  # noqa: E402

from mqtt_broker import PAYLOAD, Publisher, _string, _vbi, open_client, subscribe  # noqa: E402


def _cpu(pid: int) -> float:
    """CPU seconds (user + system) a process has used."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def fan_in(
    pub_port: int, sub_port: int, qos: int, seconds: float, tag: str, pids: Sequence[int] = ()
) -> tuple[float, list[float]]:
    """4 publishers on one port -> 1 subscriber on another: delivered messages/s, and each node's (``pids``)
    CPU microseconds per delivered message over the same measured seconds."""
    topic = f"bench/{tag}"
    sub = await open_client(sub_port, f"{tag}-sub")
    await subscribe(sub, topic, qos)
    probe = await open_client(pub_port, f"{tag}-probe")
    assert probe.transport is not None
    while not sub.received:  # n1 knows n2's subscription (announced after the SUBACK)
        probe.transport.write(bytes((0x30,)) + _vbi(2 + len(topic) + 1) + _string(topic) + b"p")
        await asyncio.sleep(0.05)
    probe.transport.abort()
    pubs = [Publisher(await open_client(pub_port, f"{tag}-pub-{i}"), topic, qos, window=64) for i in range(4)]
    for p in pubs:
        p.pump()
    await asyncio.sleep(1.0)  # warm-up
    cpu0, count0, start = [_cpu(pid) for pid in pids], sub.received, time.perf_counter()
    await asyncio.sleep(seconds)
    delivered = sub.received - count0
    rate = delivered / (time.perf_counter() - start)
    per_message = [(_cpu(pid) - c) * 1e6 / max(delivered, 1) for pid, c in zip(pids, cpu0, strict=True)]
    for p in pubs:
        p.running = False
    for c in [sub, *(p.conn for p in pubs)]:
        assert c.transport is not None
        c.transport.abort()
    await asyncio.sleep(0.5)
    return rate, per_message


async def latency(pub_port: int, sub_port: int, seconds: float, rate: int, tag: str) -> tuple[float, float]:
    """1 publisher -> 1 subscriber at `rate` msg/s, QoS 0: p50 and p99 in ms (the first tenth dropped)."""
    samples: list[float] = []
    topic = f"bench/{tag}"
    sub = await open_client(sub_port, f"{tag}-sub", latency=samples)
    await subscribe(sub, topic, 0)
    pub = await open_client(pub_port, f"{tag}-pub")
    assert pub.transport is not None
    head = bytes((0x30,)) + _vbi(2 + len(topic) + PAYLOAD) + _string(topic)
    filler = b"l" * (PAYLOAD - 8)
    while not samples:  # until the subscription is known on the publisher's node
        pub.transport.write(head + time.perf_counter_ns().to_bytes(8, "big") + filler)
        await asyncio.sleep(0.05)
    samples.clear()
    started = time.perf_counter()
    sent = 0
    while (now := time.perf_counter()) < started + seconds:
        due = int((now - started) * rate) + 1 - sent
        if due > 0:
            stamp = time.perf_counter_ns().to_bytes(8, "big")
            pub.transport.write(b"".join([head + stamp + filler] * due))
            sent += due
        await asyncio.sleep(max(0.0, started + sent / rate - time.perf_counter()))
    await asyncio.sleep(0.3)
    for c in (sub, pub):
        assert c.transport is not None
        c.transport.abort()
    steady = sorted(samples[len(samples) // 10 :] or [0.0])
    return steady[len(steady) // 2], steady[min(len(steady) - 1, int(0.99 * len(steady)))]


async def run(
    p1: int, p2: int, seconds: float, round_no: int, only: str, pids: Sequence[int]
) -> dict[str, str]:
    row: dict[str, str] = {}
    for qos in (0, 1):
        for where, sub_port in (("cross", p2), ("local", p1)):
            if only and f"qos{qos}-{where}" not in only.split(","):
                continue
            rate, cpu = await fan_in(p1, sub_port, qos, seconds, f"r{round_no}q{qos}{where}", pids)
            row[f"qos{qos}-{where}"] = f"{rate:,.0f} msg/s (cpu/msg n1 {cpu[0]:.1f} us, n2 {cpu[1]:.1f} us)"
    for where, sub_port in (("cross", p2), ("local", p1)):
        if only and f"latency-1k-{where}" not in only.split(","):
            continue
        p50, p99 = await latency(p1, sub_port, seconds, 1000, f"r{round_no}lat{where}")
        row[f"latency-1k-{where}"] = f"p50 {p50:.2f} ms, p99 {p99:.2f} ms"
    return row


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--database-url", required=True, help="a PostgreSQL database; a new one is made beside"
    )
    parser.add_argument("--seconds", type=float, default=5.0, help="measured seconds per scenario")
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--only", default="", help="comma-separated scenarios (default: all)")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if shutil.which("nats-server") is None:
        print("nats-server is not installed (apt-get install nats-server)", file=sys.stderr)
        return 2
    base = args.database_url.replace("postgresql+asyncpg://", "postgresql://")
    workdir = Path(tempfile.mkdtemp(prefix="tether-cluster-bench-"))
    nats = NatsServer(workdir).start()
    url = asyncio.run(create_database(base, "tether_bench_"))
    cluster = Cluster(nats, url, workdir)
    try:
        nodes = [cluster.launch(name, "--allow-anonymous") for name in ("n1", "n2")]
        cluster.wait_healthy(*nodes)
        for node in nodes:
            cluster.wait_members(node, {"n1", "n2"})
        n1, n2 = nodes
        pids = [node.process.pid for node in nodes if node.process is not None]
        print(f"  node pids: n1 {pids[0]}, n2 {pids[1]}", flush=True)
        rows = [
            uvloop.run(run(n1.mqtt_port, n2.mqtt_port, args.seconds, k, args.only, pids))
            for k in range(args.rounds)
        ]
        for node in nodes:
            with node.client() as http:
                m = http.get("/api/v5/metrics", params={"aggregate": "true"}).json()
            keys = ("messages.received", "messages.forward", "messages.forward.received", "delivery.dropped")
            print(f"  {node.name} (all rounds): " + ", ".join(f"{key} {m[key]:,}" for key in keys))
        for node in nodes:
            problems = [line for line in node.output().splitlines() if "WARNING" in line or "ERROR" in line]
            for line in problems[:3]:
                print(f"  {node.name}: {line[:200]}")
    finally:
        cluster.close()
        nats.stop()
        asyncio.run(drop_database(base, url))
        shutil.rmtree(workdir, ignore_errors=True)
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=REPO_ROOT
    )
    print(f"cluster routing: 2 nodes (n1, n2) + nats-server on {platform.node()}, {_cores()} cores, "
          f"Python {platform.python_version()}, commit {commit.stdout.strip()}; {args.seconds:g} s per "
          f"scenario; the machine is shared with the generator and whatever else runs")  # fmt: skip
    for name in rows[0]:
        print(f"  {name:<18} " + " | ".join(row[name] for row in rows))
    if args.rounds > 1:
        for name in rows[0]:
            if name.startswith("qos"):
                values = [float(row[name].split()[0].replace(",", "")) for row in rows]
                print(f"  {name:<18} median {statistics.median(values):,.0f} msg/s")
    return 0


def _cores() -> int:
    import os

    return len(os.sched_getaffinity(0))


if __name__ == "__main__":
    sys.exit(main())
