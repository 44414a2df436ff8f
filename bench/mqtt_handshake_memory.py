"""What unauthenticated MQTT clients cost the broker in memory, and whether it is given back.

Starts `tether serve` (on a fresh SQLite store; `--broker-only`: the broker alone, `python -m tether.broker`)
on free loopback ports, with anonymous MQTT clients allowed, and prints its resident memory (RSS) in three
scenarios:

  pending-1mib   1,000 connections each sending all but the last byte of a CONNECT announcing 1 MiB, from
                 10 loopback source addresses: RSS while they hang, and after they are closed
  pending-60kib  the same with a 60 KiB CONNECT (under the CONNECT size cap: what the broker still buffers)
  churn          rounds of 5,000 connections that CONNECT (CONNACK 0) and DISCONNECT, 500 at a time, new
                 client ids each round (`--reuse-ids`: the same): RSS after each round, and after the broker
                 was idle for a moment

    .venv/bin/python bench/mqtt_handshake_memory.py
    .venv/bin/python bench/mqtt_handshake_memory.py --pending 2000 --rounds 10 --only churn

The pending-connection limits (`max_pending_connects`, `max_pending_connects_per_address`) are raised for the
pending scenarios so that every connection is admitted: they show the per-connection buffer cap; the limits
bound the count. Benchmarks measure; they do not assert.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import resource
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import uvloop

from mqtt_broker import HOST, Broker, _string, _vbi, free_port, open_client, rss_mb
from tether.broker.settings import BrokerConfig

SCENARIOS = ("pending-1mib", "pending-60kib", "churn")
SOURCES = 10  # loopback source addresses 127.0.1.1 .. 127.0.1.10
SETTLE = 6.0  # seconds more: the broker trims its heap 5 s after a burst of closed connections


def unfinished_connect(size: int) -> bytes:
    """A 3.1.1 CONNECT whose Remaining Length announces `size` bytes, without its last byte."""
    head = _string("MQTT") + bytes((4, 0x02)) + (60).to_bytes(2, "big")
    body_len = size - 1 - len(_vbi(size))
    body = head + b"x" * (body_len - len(head))  # never parsed: the last byte never comes
    return bytes((0x10,)) + _vbi(len(body)) + body[:-1]


class Sink(asyncio.Protocol):
    """Holds a connection open and notes when the broker closed it."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.closed = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True


async def pending(port: int, pid: int, count: int, size: int) -> dict[str, float]:
    loop = asyncio.get_running_loop()
    data = unfinished_connect(size)
    before = rss_mb(pid)
    sinks: list[Sink] = []
    peak = before

    async def one(i: int) -> None:
        source = (f"127.0.1.{1 + i % SOURCES}", 0)
        with contextlib.suppress(OSError):
            _, sink = await loop.create_connection(Sink, HOST, port, local_addr=source)
            assert sink.transport is not None
            sink.transport.write(data)
            sinks.append(sink)

    for start in range(0, count, 100):
        await asyncio.gather(*(one(i) for i in range(start, min(count, start + 100))))
        peak = max(peak, rss_mb(pid))
    for _ in range(20):  # let the broker read what was sent
        await asyncio.sleep(0.1)
        peak = max(peak, rss_mb(pid))
    hanging = rss_mb(pid)
    refused = sum(s.closed for s in sinks)
    for sink in sinks:
        if sink.transport is not None:
            sink.transport.abort()
    await asyncio.sleep(2.0)
    after = rss_mb(pid)
    await asyncio.sleep(SETTLE)
    return {
        "before": before,
        "peak": peak,
        "hanging": hanging,
        "after 2 s": after,
        f"after {2 + SETTLE:.0f} s": rss_mb(pid),
        "closed": refused,
    }


async def churn(port: int, pid: int, rounds: int, per_round: int, reuse_ids: bool) -> dict[str, float]:
    out = {"before": rss_mb(pid)}
    for r in range(rounds):
        for start in range(0, per_round, 500):
            conns = await asyncio.gather(
                *(
                    open_client(port, f"churn-{0 if reuse_ids else r}-{i}")
                    for i in range(start, min(per_round, start + 500))
                )
            )
            for conn in conns:
                assert conn.transport is not None
                conn.transport.write(b"\xe0\x00")  # DISCONNECT
                conn.transport.close()
            await asyncio.gather(*(conn.closed for conn in conns))
        await asyncio.sleep(0.5)
        out[f"round {r + 1}"] = rss_mb(pid)
    await asyncio.sleep(SETTLE)
    out["idle"] = rss_mb(pid)
    return out


def config_file(workdir: Path, lift_limits: bool) -> Path:
    """`[mqtt]` keys this version of the broker knows (so the script also measures older versions)."""
    known = {f.name for f in dataclasses.fields(BrokerConfig)}
    wanted = {"max_connections": 1_000_000}
    if lift_limits:
        wanted |= {"max_pending_connects": 1_000_000, "max_pending_connects_per_address": 1_000_000}
    lines = [f"{k} = {v}" for k, v in wanted.items() if k in known]
    path = workdir / ("lifted.toml" if lift_limits else "default.toml")
    path.write_text("[mqtt]\n" + "\n".join(lines) + "\n")
    return path


def start_broker(workdir: Path, lift_limits: bool, alone: bool) -> Broker:
    """`tether serve` on a fresh SQLite store (or, `alone`, the broker by itself)."""
    port = free_port()
    if alone:
        command = [sys.executable, "-m", "tether.broker"]
    else:
        data = Path(tempfile.mkdtemp(dir=workdir))
        command = [sys.executable, "-m", "tether.cli", "serve", "--data-dir", str(data)]
        command += ["--http", f"{HOST}:{free_port()}"]
    command += ["--mqtt", f"{HOST}:{port}", "--allow-anonymous", "--log-level", "warning"]
    command += ["--config", str(config_file(workdir, lift_limits))]
    broker = Broker("tether", command, port, workdir)
    broker.start()
    return broker


async def run(args: argparse.Namespace, workdir: Path) -> None:
    for name in args.only:
        broker = start_broker(workdir, lift_limits=name != "churn", alone=args.broker_only)
        assert broker.proc is not None
        try:
            started = time.perf_counter()
            if name == "churn":
                figures = await churn(broker.port, broker.proc.pid, args.rounds, args.churn, args.reuse_ids)
            else:
                size = 1024 * 1024 if name == "pending-1mib" else 60 * 1024
                figures = await pending(broker.port, broker.proc.pid, args.pending, size)
            shown = ", ".join(
                f"{k} {v:.0f}" if k == "closed" else f"{k} {v:.1f} MB" for k, v in figures.items()
            )
            print(f"{name:14} {shown}  ({time.perf_counter() - started:.1f} s)", flush=True)
            for line in broker.problems()[:5]:
                print(f"    broker log: {line}")
        finally:
            broker.stop()


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--pending", type=int, default=1000, help="unfinished CONNECTs (default 1000)")
    parser.add_argument("--churn", type=int, default=5000, help="connections per churn round (default 5000)")
    parser.add_argument("--rounds", type=int, default=5, help="churn rounds (default 5)")
    parser.add_argument(
        "--reuse-ids", action="store_true", help="churn: the same client ids every round (not new ones)"
    )
    parser.add_argument(
        "--broker-only", action="store_true", help="python -m tether.broker, not tether serve"
    )
    parser.add_argument(
        "--only", type=lambda s: s.split(","), default=list(SCENARIOS), help=",".join(SCENARIOS)
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))  # inherited by the broker
    with tempfile.TemporaryDirectory() as tmp:
        uvloop.run(run(args, Path(tmp)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
