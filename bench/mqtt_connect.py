"""Authenticated MQTT CONNECTs per second: 5,000 device users with generated passwords (bench/README.md).

Starts a server process with the platform (SQLite in a temporary directory, or `--database-url`) and the
broker with the platform's authentication hooks (adapters/access.py) on a free loopback port, creates the
device users `t1/device_<serial>` directly through the services (not over HTTP), then drives it with
`--concurrency` connections at a time: each opens a TCP connection, sends an MQTT 3.1.1 CONNECT with a
device's user name and password, reads the CONNACK, sends DISCONNECT and closes. Credentials are used
round-robin. Phases:

  first       every credential once: the login reads the user from the database and checks its fast hash
  sustained   `--seconds` of round-robin logins: the verified-credential cache answers (no database)
  cold        (with --cold) `--seconds` more with the cache off: every login reads the database

Prints connects/s, p50/p99 CONNACK latency (TCP connect to CONNACK) and the CPU of server and load generator
(% of one core). The load generator is one uvloop process with hand-built packets; clients bind to
127.0.0.2-127.0.0.9 and close with a reset, so ephemeral ports do not run out. Both share the machine: on 2
cores the figures are a lower bound. Benchmarks measure; they do not assert.

    .venv/bin/python bench/mqtt_connect.py
    .venv/bin/python bench/mqtt_connect.py --seconds 20 --concurrency 64 --cold
    .venv/bin/python bench/mqtt_connect.py --presence      # connection history and device presence on
    .venv/bin/python bench/mqtt_connect.py --database-url postgresql://USER:PW@127.0.0.1/SCRATCH_DB
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import logging
import os
import platform
import secrets
import signal
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import uvloop

REPO_ROOT = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"
SOURCES = [f"127.0.0.{i}" for i in range(2, 10)]
CONNACK_OK = b"\x20\x02\x00\x00"
DISCONNECT = b"\xe0\x00"
_LINGER_RESET = struct.pack("ii", 1, 0)


# --------------------------------------------------------------------------- MQTT 3.1.1 bytes


def _string(s: str) -> bytes:
    data = s.encode()
    return len(data).to_bytes(2, "big") + data


def connect_packet(client_id: str, username: str, password: str) -> bytes:
    # Protocol level 4, flags: user name, password, clean session; keep alive 60.
    body = _string("MQTT") + bytes((4, 0xC2)) + (60).to_bytes(2, "big")
    body += _string(client_id) + _string(username) + _string(password)
    length = len(body)
    header = bytearray((0x10,))
    while True:
        byte, length = length % 128, length // 128
        header.append(byte | (0x80 if length else 0))
        if not length:
            break
    return bytes(header) + body


# --------------------------------------------------------------------------- the server process


async def serve(args: argparse.Namespace) -> None:
    """The platform and its broker, as `tether serve` runs them (hooks from tether.bootstrap)."""
    from tether.bootstrap import build_mqtt_hooks, build_platform
    from tether.broker import BrokerConfig, MqttService, bind_socket
    from tether.config import Settings
    from tether.tenants.models import Role
    from tether.tenants.verified import VerifiedCache

    logging.basicConfig(level=logging.WARNING)
    settings = Settings(
        data_dir=Path(args.data_dir),
        database_url=args.database_url,
        http=f"{HOST}:0",
        mqtt=f"{HOST}:{args.port}",
        admin_password=secrets.token_hex(12),
        bootstrap_password=secrets.token_hex(12),
    )
    credentials = json.loads(Path(args.credentials).read_bytes())  # noqa: ASYNC240 - once, at start
    platform_ = await build_platform(settings, listeners=["mqtt"])
    tenants = platform_.services.tenants
    started = time.perf_counter()

    async def create(serial: str, password: str) -> None:
        if await tenants.get_user("t1", f"device_{serial}") is None:
            await tenants.create_user("t1", f"device_{serial}", password, {Role.DEVICE}, generated=True)

    for i in range(0, len(credentials), 250):  # concurrent writers share group commits
        await asyncio.gather(*(create(serial, password) for serial, password in credentials[i : i + 250]))
    print(f"SETUP {len(credentials)} {time.perf_counter() - started:.2f}", flush=True)
    config = BrokerConfig(max_connections=1_000_000)
    hooks = build_mqtt_hooks(platform_, config)
    if args.presence:
        # Every connection recorded as `tether serve` does (tether.presence, adapters/presence_feed.py).
        from tether.adapters import presence_feed

        presence_feed.install(hooks, platform_.services.presence)
    service = MqttService(config, hooks)
    await service.start({"mqtt": bind_socket(f"{HOST}:{args.port}")})
    print("READY", flush=True)
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    # Commands on stdin: `cold` turns the verified-credential cache off.
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)

    async def commands() -> None:
        while line := await reader.readline():
            if line.strip() == b"cold":
                tenants.CACHE_SECONDS = 0.0
                tenants._verified = VerifiedCache(0.0, tenants.CACHE_SIZE)  # nothing kept
                print("COLD", flush=True)

    task = asyncio.create_task(commands())
    await stop.wait()
    task.cancel()
    await service.close()
    await platform_.close()


# --------------------------------------------------------------------------- the load generator


@dataclass
class Phase:
    name: str
    connects: int = 0
    errors: int = 0
    refused: int = 0
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)
    server_cpu: float = 0.0
    client_cpu: float = 0.0


async def one_connect(loop: asyncio.AbstractEventLoop, packet: bytes, source: str, port: int) -> bytes:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.setblocking(False)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _LINGER_RESET)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.bind((source, 0))
        await loop.sock_connect(sock, (HOST, port))
        await loop.sock_sendall(sock, packet)
        data = b""
        while len(data) < 4:
            chunk = await loop.sock_recv(sock, 4 - len(data))
            if not chunk:
                break
            data += chunk
        if data == CONNACK_OK:
            await loop.sock_sendall(sock, DISCONNECT)
        return data
    finally:
        sock.close()


async def drive(
    phase: Phase, packets: list[bytes], port: int, concurrency: int, seconds: float | None
) -> None:
    """Round-robin over the packets: once each (seconds None), or for `seconds`."""
    loop = asyncio.get_running_loop()
    order = iter(packets) if seconds is None else itertools.cycle(packets)
    started = time.perf_counter()
    deadline = None if seconds is None else started + seconds
    sources = itertools.cycle(SOURCES)

    async def worker() -> None:
        for packet in order:
            if deadline is not None and time.perf_counter() >= deadline:
                return
            t0 = time.perf_counter()
            try:
                answer = await asyncio.wait_for(one_connect(loop, packet, next(sources), port), 10)
            except (OSError, TimeoutError):
                phase.errors += 1
                continue
            if answer == CONNACK_OK:
                phase.connects += 1
                phase.latencies.append(time.perf_counter() - t0)
            else:
                phase.refused += 1

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    phase.seconds = time.perf_counter() - started


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        port: int = s.getsockname()[1]
        return port


def describe(p: Phase) -> str:
    rate = p.connects / p.seconds if p.seconds else 0.0
    if p.latencies:
        ms = sorted(x * 1000 for x in p.latencies)
        p50 = statistics.median(ms)
        p99 = ms[min(len(ms) - 1, int(len(ms) * 0.99))]
        lat = f"p50 {p50:6.2f} ms  p99 {p99:6.2f} ms"
    else:
        lat = "no successful connects"
    cpu = f"server {100 * p.server_cpu / p.seconds:5.1f}%  client {100 * p.client_cpu / p.seconds:5.1f}%"
    return (
        f"{p.name:10s} {p.connects:7d} connects in {p.seconds:5.1f} s = {rate:7.0f}/s  {lat}  "
        f"refused {p.refused}  errors {p.errors}  CPU {cpu}"
    )


def wait_for(proc: subprocess.Popen[str], word: str) -> str:
    assert proc.stdout is not None
    for line in proc.stdout:
        if line.startswith(word):
            return line.strip()
    raise RuntimeError(f"the server exited ({proc.wait()}) before {word}")


async def measure(
    name: str, pid: int, packets: list[bytes], port: int, concurrency: int, seconds: float | None
) -> Phase:
    phase = Phase(name)
    server0, client0 = cpu_seconds(pid), time.process_time()
    await drive(phase, packets, port, concurrency, seconds)
    phase.server_cpu = cpu_seconds(pid) - server0
    phase.client_cpu = time.process_time() - client0
    return phase


def run(args: argparse.Namespace) -> int:
    workdir = Path(tempfile.mkdtemp(prefix="tether-bench-connect-"))
    credentials = [(f"BENCH{i:05d}", secrets.token_urlsafe(18)) for i in range(args.devices)]
    credentials_file = workdir / "credentials.json"
    credentials_file.write_text(json.dumps(credentials))
    packets = [connect_packet(serial, f"t1/device_{serial}", password) for serial, password in credentials]
    port = free_port()
    command = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--serve",
        "--port",
        str(port),
        "--data-dir",
        str(workdir),
        "--credentials",
        str(credentials_file),
    ]
    if args.database_url:
        command += ["--database-url", args.database_url]
    if args.presence:
        command.append("--presence")
    log = (workdir / "server.log").open("w")
    proc = subprocess.Popen(
        command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log, text=True, cwd=REPO_ROOT
    )
    phases: list[Phase] = []
    try:
        setup = wait_for(proc, "SETUP").split()
        print(f"created {setup[1]} device users in {setup[2]} s (services, not HTTP)")
        wait_for(proc, "READY")
        loop = uvloop.new_event_loop()
        try:
            phases.append(
                loop.run_until_complete(measure("first", proc.pid, packets, port, args.concurrency, None))
            )
            phases.append(
                loop.run_until_complete(
                    measure("sustained", proc.pid, packets, port, args.concurrency, args.seconds)
                )
            )
            if args.cold:
                assert proc.stdin is not None
                proc.stdin.write("cold\n")
                proc.stdin.flush()
                wait_for(proc, "COLD")
                phases.append(
                    loop.run_until_complete(
                        measure("cold", proc.pid, packets, port, args.concurrency, args.seconds)
                    )
                )
        finally:
            loop.close()
    finally:
        proc.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(15)
        if proc.poll() is None:
            proc.kill()
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=REPO_ROOT, check=False
    ).stdout.strip()
    print(
        f"{args.devices} device credentials, {args.concurrency} concurrent connecting clients, "
        f"database {args.database_url or 'SQLite (temporary)'}"
    )
    for phase in phases:
        print(describe(phase))
    print(f"{platform.node()} {os.cpu_count()} CPUs, Python {platform.python_version()}, commit {commit}")
    problems = [
        line
        for line in (workdir / "server.log").read_text(errors="replace").splitlines()
        if any(k in line for k in ("WARNING", "ERROR", "Traceback"))
    ]
    if problems:
        print(f"server log ({workdir / 'server.log'}):", *problems[:20], sep="\n  ")
    return 1 if any(p.errors or p.refused for p in phases) else 0


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--devices", type=int, default=5000, help="distinct device credentials")
    parser.add_argument("--concurrency", type=int, default=32, help="connections opened at a time")
    parser.add_argument(
        "--seconds", type=float, default=10.0, help="length of the sustained (and cold) phase"
    )
    parser.add_argument("--cold", action="store_true", help="also measure with the credential cache off")
    parser.add_argument(
        "--presence", action="store_true", help="record every connection (history, device presence)"
    )
    parser.add_argument("--database-url", help="a scratch database instead of a temporary SQLite file")
    # The server process's own options.
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--data-dir", help=argparse.SUPPRESS)
    parser.add_argument("--credentials", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.serve:
        uvloop.run(serve(args))
        return 0
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
