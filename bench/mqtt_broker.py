"""MQTT broker benchmark: Tether's broker against Mosquitto, same machine, same load generator, same run.

Starts Tether's broker (`python -m tether.broker`, the broker `tether serve` runs) and Mosquitto (Debian
package `mosquitto`) on free loopback ports, one after the other, drives each with the same load and prints
Tether's figures with the ratio to Mosquitto's:

  qos0-fan-in    4 publishers -> 1 subscriber, QoS 0, 64-byte payloads: delivered messages/s
  qos1-fan-in    the same at QoS 1 (publishers keep a window of unacknowledged PUBLISH packets)
  qos1-persistent  the same with a persistent-session subscriber (Clean Session 0): with --tether-serve every
                 PUBACK waits for the commit that saves the message (Mosquitto keeps it in memory)
  qos0-fan-out   1 publisher -> 10 subscribers, QoS 0: delivered messages/s (all subscribers together)
  latency-1k     1 publisher -> 1 subscriber, QoS 0, 1,000 msg/s (and -10k, -50k): p50/p99/p99.9
  idle-10k       resident memory (RSS) the broker gains with 10,000 idle connections

Targets (columns), each started afresh per round and the rounds interleaved (every target once per round):
  bare        python -m tether.broker: the broker alone, no platform, anonymous clients
  serve       `tether serve` as users run it (platform hooks, storage in SQLite), anonymous clients
  serve-auth  `tether serve` with logins: the load logs in as the tenant administrator (mounted topics,
              policy checks); idle-10k connects device users `t1/device_<serial>`, each subscribed to s/ds
  mosquitto   Mosquitto with its DEFAULT configuration (listener, allow_anonymous; nothing else)
  mosquitto+  Mosquitto with the extra lines given by --mosquitto-option (a named extra column)

    .venv/bin/python bench/mqtt_broker.py
    .venv/bin/python bench/mqtt_broker.py --seconds 10 --rounds 3 --only qos0-fan-in,latency-1k
    .venv/bin/python bench/mqtt_broker.py --targets bare,mosquitto,mosquitto+ \\
        --mosquitto-option 'set_tcp_nodelay true'

The load generator is one uvloop process speaking MQTT 3.1.1 with hand-built packets (a Python client
library would be the bottleneck). Brokers and generator share the machine: on 2 cores the figures are lower
bounds, and anything else running shows up in them. Benchmarks measure; they do not assert.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import platform
import resource
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import uvloop

REPO_ROOT = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"
PAYLOAD = 64


# --------------------------------------------------------------------------- MQTT 3.1.1 bytes


def _vbi(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n % 128, n // 128
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _string(s: str) -> bytes:
    data = s.encode()
    return len(data).to_bytes(2, "big") + data


def _packet(first: int, body: bytes) -> bytes:
    return bytes((first,)) + _vbi(len(body)) + body


def connect_packet(
    client_id: str, keep_alive: int = 0, clean: bool = True, login: tuple[str, str] | None = None
) -> bytes:
    flags = (0x02 if clean else 0x00) | (0xC0 if login else 0x00)
    body = _string("MQTT") + bytes((4, flags)) + keep_alive.to_bytes(2, "big") + _string(client_id)
    if login:
        body += _string(login[0]) + _string(login[1])
    return _packet(0x10, body)


def subscribe_packet(topic_filter: str, qos: int) -> bytes:
    return _packet(0x82, b"\x00\x01" + _string(topic_filter) + bytes((qos,)))


def publish_packet(topic: str, payload: bytes, qos: int = 0, packet_id: int = 0) -> bytes:
    body = _string(topic) + (packet_id.to_bytes(2, "big") if qos else b"") + payload
    return _packet(0x30 | (qos << 1), body)


# --------------------------------------------------------------------------- load generator


class MqttConnection(asyncio.Protocol):
    """A raw MQTT 3.1.1 client: counts PUBLISH and PUBACK packets, acknowledges QoS 1, records latency."""

    def __init__(self, loop: asyncio.AbstractEventLoop, latency: list[float] | None = None) -> None:
        self.loop = loop
        self.transport: asyncio.Transport | None = None
        self.buf = bytearray()
        self.connack = loop.create_future()
        self.suback = loop.create_future()
        self.closed = loop.create_future()
        self.received = 0
        self.acked = 0
        self.paused = False
        self.on_ack: Callable[[], None] | None = None
        self.on_resume: Callable[[], None] | None = None
        self.latency = latency

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.closed.done():
            self.closed.set_result(None)

    def pause_writing(self) -> None:
        self.paused = True

    def resume_writing(self) -> None:
        self.paused = False
        if self.on_resume is not None:
            self.on_resume()

    def data_received(self, data: bytes) -> None:
        buf = self.buf
        buf += data
        n = len(buf)
        pos = 0
        acks: list[bytes] = []
        received = acked = 0
        latency = self.latency
        while pos + 2 <= n:
            first = buf[pos]
            length = shift = 0
            i = pos + 1
            complete = False
            while i < n:
                byte = buf[i]
                i += 1
                length |= (byte & 0x7F) << shift
                if not byte & 0x80:
                    complete = True
                    break
                shift += 7
            end = i + length
            if not complete or end > n:
                break
            kind = first >> 4
            if kind == 3:
                received += 1
                topic_len = (buf[i] << 8) | buf[i + 1]
                body = i + 2 + topic_len
                if first & 0x06:
                    acks.append(b"\x40\x02" + bytes(buf[body : body + 2]))
                    body += 2
                if latency is not None:
                    sent = int.from_bytes(buf[body : body + 8], "big")
                    latency.append((time.perf_counter_ns() - sent) / 1e6)
            elif kind == 4:
                acked += 1
            elif kind == 2 and not self.connack.done():
                self.connack.set_result(buf[i + 1])
            elif kind == 9 and not self.suback.done():
                self.suback.set_result(bytes(buf[i + 2 : end]))
            pos = end
        if pos:
            del buf[:pos]
        self.received += received
        if acks and self.transport is not None:
            self.transport.write(b"".join(acks))
        if acked:
            self.acked += acked
            if self.on_ack is not None:
                self.on_ack()


#: The login of the throughput and latency clients (None: anonymous); set per broker by run_scenarios.
LOGIN: tuple[str, str] | None = None


async def open_client(
    port: int,
    client_id: str,
    latency: list[float] | None = None,
    keep_alive: int = 0,
    clean: bool = True,
    login: tuple[str, str] | None = None,
    source: str | None = None,
) -> MqttConnection:
    loop = asyncio.get_running_loop()
    _, conn = await loop.create_connection(
        lambda: MqttConnection(loop, latency), HOST, port, local_addr=(source, 0) if source else None
    )
    assert conn.transport is not None
    conn.transport.write(connect_packet(client_id, keep_alive, clean, login or LOGIN))
    code = await asyncio.wait_for(conn.connack, 120)
    if code != 0:
        raise RuntimeError(f"CONNACK {code}")
    return conn


async def subscribe(conn: MqttConnection, topic_filter: str, qos: int) -> None:
    assert conn.transport is not None
    conn.transport.write(subscribe_packet(topic_filter, qos))
    await asyncio.wait_for(conn.suback, 30)


class Publisher:
    """Publishes as fast as the connection takes it (QoS 0) or within a window of unacknowledged QoS 1."""

    def __init__(self, conn: MqttConnection, topic: str, qos: int, window: int) -> None:
        self.conn = conn
        self.qos = qos
        self.window = window
        self.sent = 0
        self.running = True
        self.loop = conn.loop
        payload = b"p" * PAYLOAD
        self.chunk = publish_packet(topic, payload) * 64
        self.head = bytes((0x32,)) + _vbi(2 + len(topic.encode()) + 2 + PAYLOAD) + _string(topic)
        self.payload = payload
        conn.on_resume = self.pump
        conn.on_ack = self.pump

    def pump(self) -> None:
        conn = self.conn
        transport = conn.transport
        if not self.running or transport is None or transport.is_closing():
            return
        if self.qos == 0:
            for _ in range(16):
                if conn.paused:
                    return
                transport.write(self.chunk)
                self.sent += 64
            self.loop.call_soon(self.pump)  # let the loop run: the socket may accept everything
            return
        room = self.window - (self.sent - conn.acked)
        if room <= 0 or conn.paused:
            return
        parts = []
        head, payload, sent = self.head, self.payload, self.sent
        for k in range(room):
            parts.append(head + ((sent + k) % 65535 + 1).to_bytes(2, "big") + payload)
        self.sent += room
        transport.write(b"".join(parts))


@dataclass
class Result:
    name: str
    value: float
    unit: str
    extra: dict[str, float] = field(default_factory=dict)


async def _measure_rate(counters: Callable[[], int], seconds: float, warmup: float) -> float:
    await asyncio.sleep(warmup)
    start_count, start = counters(), time.perf_counter()
    await asyncio.sleep(seconds)
    return (counters() - start_count) / (time.perf_counter() - start)


async def throughput(
    port: int,
    publishers: int,
    subscribers: int,
    qos: int,
    seconds: float,
    tag: str,
    persistent: bool = False,
    opener: Callable[..., Awaitable[MqttConnection]] = open_client,
) -> float:
    """``persistent``: the subscribers have persistent sessions (3.1.1 Clean Session 0). ``opener`` opens
    the connections (bench/cluster.py: one that places them on chosen nodes); the subscribers first."""
    topic = f"bench/{tag}"
    subs = [await opener(port, f"{tag}-sub-{i}", clean=not persistent) for i in range(subscribers)]
    for s in subs:
        await subscribe(s, topic, qos)
    pubs = [Publisher(await opener(port, f"{tag}-pub-{i}"), topic, qos, window=64) for i in range(publishers)]
    for p in pubs:
        p.pump()
    rate = await _measure_rate(lambda: sum(s.received for s in subs), seconds, warmup=1.0)
    for p in pubs:
        p.running = False
    for c in [*subs, *(p.conn for p in pubs)]:
        assert c.transport is not None
        c.transport.abort()
    await asyncio.sleep(0.5)
    return rate


async def latency(
    port: int, seconds: float, rate: int, opener: Callable[..., Awaitable[MqttConnection]] = open_client
) -> tuple[float, float, float, int]:
    """1 publisher -> 1 subscriber at ``rate`` messages/s: p50, p99 and p99.9 in ms, and the sample count.

    Every message carries the generator's clock at the moment it is written; the publisher wakes every
    millisecond at most and writes the messages that are due (each its own PUBLISH, one write), so rates
    above the timer's granularity are paced in small bursts."""
    samples: list[float] = []
    sub = await opener(port, "lat-sub", latency=samples)
    await subscribe(sub, "bench/latency", 0)
    pub = await opener(port, "lat-pub")
    assert pub.transport is not None
    head = bytes((0x30,)) + _vbi(2 + len(b"bench/latency") + PAYLOAD) + _string("bench/latency")
    filler = b"l" * (PAYLOAD - 8)
    interval = 1.0 / rate
    started = time.perf_counter()
    deadline = started + seconds + 0.5
    sent = 0
    while (now := time.perf_counter()) < deadline:
        due = int((now - started) * rate) + 1 - sent
        if due > 0:
            stamp = time.perf_counter_ns().to_bytes(8, "big")
            pub.transport.write(b"".join([head + stamp + filler] * due))
            sent += due
        await asyncio.sleep(max(0.0, started + sent * interval - time.perf_counter()))
    await asyncio.sleep(0.3)
    for c in (sub, pub):
        assert c.transport is not None
        c.transport.abort()
    steady = sorted(samples[len(samples) // 10 :] or [0.0])  # drop the first tenth (warm-up)

    def at(q: float) -> float:
        return steady[min(len(steady) - 1, int(q * len(steady)))]

    return at(0.50), at(0.99), at(0.999), len(samples)


#: With --tracemalloc: `tether serve` runs under bench/traced_serve.py, signalled around the idle connections.
TRACEMALLOC = False

#: Connections opened and closed before the idle scenario's baseline (see idle_connections).
WARM_UP = 200

#: Source addresses of the idle connections: 127.0.0.2-.. (each gives ~28k ephemeral ports).
SOURCES = [f"127.0.0.{i}" for i in range(2, 40)]


async def idle_connections(
    port: int, count: int, pid: int, devices: Sequence[tuple[str, str]] | None
) -> tuple[float, float, float]:
    """RSS of the broker before and after ``count`` idle connections (Keep Alive 0). With ``devices`` each is
    a device login (``t1/device_<serial>``) subscribed to its `s/ds`, as SmartREST devices are; else an
    anonymous client that subscribes to nothing. The first ``WARM_UP`` connections open and close before the
    baseline ("warm"): what the server creates once, at its first logins (its thread pools, its database
    readers, modules imported on first use), is then not counted per connection; ``cold``: RSS before."""
    cold = rss_mb(pid)
    conns: list[MqttConnection] = []

    async def one(i: int) -> MqttConnection:
        source = SOURCES[i % len(SOURCES)]
        if devices is None:
            return await open_client(port, f"idle-{i}", source=source)
        serial, password = devices[i % len(devices)]
        conn = await open_client(port, serial, login=(f"t1/device_{serial}", password), source=source)
        await subscribe(conn, "s/ds", 1)
        return conn

    warm = await asyncio.gather(*(one(i) for i in range(WARM_UP)))
    for c in warm:
        assert c.transport is not None
        c.transport.abort()
    await asyncio.sleep(2.0)
    before = rss_mb(pid)
    if TRACEMALLOC:
        os.kill(pid, signal.SIGUSR1)  # bench/traced_serve.py starts tracing
        await asyncio.sleep(1.0)
    for start in range(0, count, 200):
        conns.extend(await asyncio.gather(*(one(i) for i in range(start, min(count, start + 200)))))
    await asyncio.sleep(2.0)
    after = rss_mb(pid)
    if TRACEMALLOC:
        os.kill(pid, signal.SIGUSR1)  # ... and writes what is allocated since
        await asyncio.sleep(20.0)
    for c in conns:
        assert c.transport is not None
        c.transport.abort()
    await asyncio.sleep(1.0)
    return cold, before, after


# --------------------------------------------------------------------------- brokers


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        port: int = s.getsockname()[1]
        return port


def wait_listening(port: int, proc: subprocess.Popen[bytes], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"broker exited with {proc.returncode}")
        with contextlib.suppress(OSError), socket.create_connection((HOST, port), timeout=1):
            return
        time.sleep(0.05)
    raise RuntimeError("broker did not start listening")


@dataclass
class Broker:
    name: str
    command: list[str]
    port: int
    workdir: Path
    proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        log = (self.workdir / f"{self.name}.log").open("wb")
        self.proc = subprocess.Popen(self.command, stdout=log, stderr=subprocess.STDOUT, cwd=REPO_ROOT)
        wait_listening(self.port, self.proc)

    def problems(self) -> list[str]:
        """Warning, error and traceback lines of the broker's log."""
        text = (self.workdir / f"{self.name}.log").read_text(errors="replace")
        keys = ("WARNING", "ERROR", "Traceback", "Warning", "Error")
        return [line for line in text.splitlines() if any(k in line for k in keys)]

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@dataclass
class Target:
    """One column of the table: a broker as it is started, and how the generator logs in to it."""

    name: str
    make: Callable[[Path], Broker]
    login: tuple[str, str] | None = None  # throughput and latency clients
    devices: Sequence[tuple[str, str]] | None = None  # idle connections: device logins


def tether_broker(workdir: Path, name: str, serve: bool, database_url: str | None = None) -> Broker:
    """``python -m tether.broker`` (no storage, no platform), or with ``serve`` `tether serve` as users run
    it: the platform's hooks (authentication, policies, mountpoints, presence, rules, the SmartREST and
    Fleets handlers) and storage (SQLite in ``workdir``, or ``database_url``)."""
    port = free_port()
    if not serve:
        command = [sys.executable, "-m", "tether.broker", "--mqtt", f"{HOST}:{port}", "--allow-anonymous"]
    else:
        server = ["bench/traced_serve.py"] if TRACEMALLOC else ["-m", "tether.cli"]
        command = [sys.executable, *server, "serve", "--data-dir", str(workdir / "data")]
        command += ["--http", f"{HOST}:0", "--mqtt", f"{HOST}:{port}", "--allow-anonymous"]
        command += ["--database-url", database_url] if database_url else []
    return Broker(name, [*command, "--log-level", "warning"], port, workdir)


def mosquitto_broker(workdir: Path, name: str, binary: str, options: Sequence[str]) -> Broker:
    """Mosquitto with its default configuration: a listener, anonymous clients allowed, logs to stderr;
    ``options`` are extra mosquitto.conf lines (the named extra column)."""
    port = free_port()
    conf = workdir / f"{name}.conf"
    conf.write_text(
        f"listener {port} {HOST}\nallow_anonymous true\nlog_dest stderr\nlog_type error\nlog_type warning\n"
        + "".join(f"{line}\n" for line in options)
    )
    return Broker(name, [binary, "-c", str(conf)], port, workdir)


def create_logins(workdir: Path, devices: int, database_url: str | None) -> tuple[str, list[tuple[str, str]]]:
    """Before `tether serve` starts: the tenant (admin password) and ``devices`` device users, created
    through the services on the data directory `tether serve` then uses. Returns the password and devices."""
    password = secrets.token_urlsafe(16)
    credentials = [(f"BENCH{i:06d}", secrets.token_urlsafe(18)) for i in range(devices)]
    file = workdir / "credentials.json"
    file.write_text(json.dumps(credentials))
    command = [sys.executable, str(Path(__file__).resolve()), "--create-logins", str(file)]
    command += ["--data-dir", str(workdir / "data")]
    command += ["--database-url", database_url] if database_url else []
    env = {**os.environ, "TETHER_ADMIN_PASSWORD": password}
    subprocess.run(command, check=True, cwd=REPO_ROOT, env=env)
    return password, credentials


async def _create_logins(args: argparse.Namespace) -> None:
    from tether.bootstrap import build_platform
    from tether.config import Settings
    from tether.tenants.models import Role

    logging.basicConfig(level=logging.WARNING)
    credentials = json.loads(Path(args.create_logins).read_bytes())  # noqa: ASYNC240 - once, at start
    settings = Settings(
        data_dir=Path(args.data_dir),
        database_url=args.database_url,
        http=f"{HOST}:0",
        mqtt=f"{HOST}:0",
        admin_password=os.environ["TETHER_ADMIN_PASSWORD"],
    )
    platform_ = await build_platform(settings, listeners=[])
    tenants = platform_.services.tenants
    for i in range(0, len(credentials), 250):  # concurrent writers share group commits
        await asyncio.gather(
            *(
                tenants.create_user("t1", f"device_{serial}", password, {Role.DEVICE}, generated=True)
                for serial, password in credentials[i : i + 250]
            )
        )
    await platform_.close()


# --------------------------------------------------------------------------- the run

SCENARIOS = (
    "qos0-fan-in",
    "qos1-fan-in",
    "qos1-persistent",
    "qos0-fan-out",
    "latency-1k",
    "latency-10k",
    "latency-50k",
    "idle-10k",
)


async def run_scenarios(broker: Broker, target: Target, args: argparse.Namespace) -> dict[str, Result]:
    global LOGIN
    assert broker.proc is not None
    pid = broker.proc.pid
    LOGIN = target.login
    results: dict[str, Result] = {}
    for name in args.only:
        cpu0 = cpu_seconds(pid)
        gen0 = time.process_time()
        wall0 = time.perf_counter()
        count = 0.0
        if name == "qos0-fan-in":
            value = await throughput(broker.port, 4, 1, 0, args.seconds, "fanin0")
            results[name] = Result(name, value, "msg/s")
        elif name == "qos1-fan-in":
            value = await throughput(broker.port, 4, 1, 1, args.seconds, "fanin1")
            results[name] = Result(name, value, "msg/s")
        elif name == "qos1-persistent":
            value = await throughput(broker.port, 4, 1, 1, args.seconds, "fanin1p", persistent=True)
            results[name] = Result(name, value, "msg/s")
        elif name == "qos0-fan-out":
            value = await throughput(broker.port, 1, 10, 0, args.seconds, "fanout0")
            results[name] = Result(name, value, "msg/s")
        elif name.startswith("latency-"):
            rate = int(name.removeprefix("latency-").replace("k", "000"))
            p50, p99, p999, count = await latency(broker.port, args.seconds, rate)
            results[name] = Result(name, p50, "ms p50", {"p99": p99, "p999": p999})
        elif name == "idle-10k":
            cold, before, after = await idle_connections(broker.port, args.idle, pid, target.devices)
            results[name] = Result(name, after - before, "MB RSS", {"before": before, "cold": after - cold})
        elapsed = time.perf_counter() - wall0
        cpu = cpu_seconds(pid) - cpu0
        results[name].extra["broker_cpu"] = cpu / elapsed * 100
        results[name].extra["gen_cpu"] = (time.process_time() - gen0) / elapsed * 100
        if name.startswith("q"):
            count = results[name].value * args.seconds
        if count:
            results[name].extra["us_per_msg"] = cpu / count * 1e6
    LOGIN = None
    return results


def describe(r: Result) -> str:
    if r.name.startswith("latency"):
        return f"{r.value:.2f}/{r.extra['p99']:.2f}/{r.extra['p999']:.2f}"
    if r.name == "idle-10k":
        return f"+{r.value:.1f} MB (cold +{r.extra['cold']:.0f}; of {r.extra['before']:.0f})"
    return f"{r.value / 1000:.1f}k"


def ratio(ours: Result, theirs: Result) -> float:
    if ours.name.startswith("latency"):
        return ours.extra["p99"] / theirs.extra["p99"]
    return ours.value / theirs.value if theirs.value else float("nan")


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=5.0, help="measuring time per scenario")
    parser.add_argument("--rounds", type=int, default=2, help="every target once per round, interleaved")
    parser.add_argument("--only", default=",".join(SCENARIOS), help="comma-separated scenarios")
    parser.add_argument(
        "--targets",
        default="bare,serve,serve-auth,mosquitto",
        help="comma-separated: bare (python -m tether.broker), serve (tether serve, anonymous clients), "
        "serve-auth (tether serve, tenant admin login for the load, device logins for idle-10k), "
        "mosquitto (default configuration), mosquitto+ (with --mosquitto-option lines)",
    )
    parser.add_argument("--idle", type=int, default=10_000, help="connections in the idle-10k scenario")
    parser.add_argument("--database-url", help="for tether serve: the database (give it a scratch one)")
    parser.add_argument("--mosquitto", default=shutil.which("mosquitto") or "/usr/sbin/mosquitto")
    parser.add_argument(
        "--mosquitto-option",
        action="append",
        default=[],
        metavar="LINE",
        help="mosquitto.conf line of the mosquitto+ column, e.g. 'set_tcp_nodelay true' (repeatable)",
    )
    parser.add_argument(
        "--tracemalloc",
        metavar="FILE",
        help="run tether serve under bench/traced_serve.py and write what idle-10k's connections allocated",
    )
    parser.add_argument("--create-logins", help=argparse.SUPPRESS)
    parser.add_argument("--data-dir", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    args.only = [s for s in args.only.split(",") if s]
    args.targets = [s for s in args.targets.split(",") if s]
    unknown = set(args.only) - set(SCENARIOS)
    if unknown:
        parser.error(f"unknown scenarios: {', '.join(sorted(unknown))}")
    if "mosquitto+" in args.targets and not args.mosquitto_option:
        parser.error("mosquitto+ needs --mosquitto-option")
    return args


def make_targets(args: argparse.Namespace, workdir: Path) -> list[Target]:
    targets: list[Target] = []
    for name in args.targets:
        if name == "bare":
            targets.append(Target(name, lambda w: tether_broker(w, "bare", False)))
        elif name == "serve":
            (workdir / "anon").mkdir()
            targets.append(
                Target(name, lambda w: tether_broker(w / "anon", "serve", True, args.database_url))
            )
        elif name == "serve-auth":
            auth_dir = workdir / "auth"
            auth_dir.mkdir()
            devices = args.idle if "idle-10k" in args.only else 0
            started = time.perf_counter()
            password, credentials = create_logins(auth_dir, devices, args.database_url)
            print(f"serve-auth: {devices} device users created in {time.perf_counter() - started:.0f} s")
            targets.append(
                Target(
                    name,
                    lambda w: tether_broker(w / "auth", "serve-auth", True, args.database_url),
                    ("t1/admin", password),
                    credentials,
                )
            )
        elif name == "mosquitto":
            targets.append(Target(name, lambda w: mosquitto_broker(w, "mosquitto", args.mosquitto, [])))
        elif name == "mosquitto+":
            targets.append(
                Target(
                    name, lambda w: mosquitto_broker(w, "mosquitto+", args.mosquitto, args.mosquitto_option)
                )
            )
        else:
            raise SystemExit(f"unknown target {name}")
    return targets


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.create_logins:
        uvloop.run(_create_logins(args))
        return 0
    if args.tracemalloc:
        global TRACEMALLOC
        TRACEMALLOC = True
        os.environ["BENCH_TRACEMALLOC"] = str(Path(args.tracemalloc).resolve())
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = args.idle + 1000  # per process: the generator's end and the broker's of every idle connection
    with contextlib.suppress(ValueError, OSError):  # raising the hard limit needs CAP_SYS_RESOURCE
        if wanted > hard:
            resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, wanted))
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))  # inherited by the brokers
    if args.idle + 100 > hard:
        print(f"warning: open file limit {hard} is below --idle {args.idle}", file=sys.stderr)
    if any(t.startswith("mosquitto") for t in args.targets) and not Path(args.mosquitto).exists():
        print("mosquitto not found (apt-get install mosquitto)", file=sys.stderr)
        return 2
    # results[target][scenario] = one Result per round
    results: dict[str, dict[str, list[Result]]] = {}
    problems: dict[str, list[str]] = {}
    loads = [os.getloadavg()[0]]
    with tempfile.TemporaryDirectory(prefix="mqtt-bench-") as tmp:
        workdir = Path(tmp)
        targets = make_targets(args, workdir)
        for round_ in range(args.rounds):
            for target in targets:
                broker = target.make(workdir)
                broker.start()
                try:
                    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
                        got = runner.run(run_scenarios(broker, target, args))
                finally:
                    broker.stop()
                    problems.setdefault(target.name, []).extend(broker.problems())
                for name, result in got.items():
                    results.setdefault(target.name, {}).setdefault(name, []).append(result)
                loads.append(os.getloadavg()[0])
            print(f"round {round_ + 1} of {args.rounds} done", file=sys.stderr)
    report(args, targets, results, loads)
    for name, lines in problems.items():
        if lines:
            print(f"{name} log: {len(lines)} warning/error lines, e.g. {lines[0][:200]}")
    return 0


def report(
    args: argparse.Namespace,
    targets: list[Target],
    results: dict[str, dict[str, list[Result]]],
    loads: list[float],
) -> None:
    version = ""
    if any(t.name.startswith("mosquitto") for t in targets):
        version = subprocess.run([args.mosquitto, "-h"], capture_output=True, text=True).stdout.split("\n")[0]
    machine = f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    print(f"\nMQTT broker benchmark: {machine}; {args.rounds} rounds x {args.seconds:g} s, interleaved")
    print(f"load average (1 min) during the run: {min(loads):.1f}-{max(loads):.1f}")
    print(f"Mosquitto: {version.strip() or '-'}, default configuration", end="")
    extra = "; ".join(args.mosquitto_option)
    print(f"; mosquitto+ adds: {extra}" if extra else "")
    print(
        "throughput in msg/s (range over rounds); latency p50/p99/p99.9 ms (median round; ratio = p99);\n"
        "idle: RSS added by the connections; NNus = broker CPU per delivered message (median round);\n"
        "gNN% = the generator's own CPU, highest round (near 100%: the generator is the limit)\n"
    )
    names = [t.name for t in targets]
    base = results.get("mosquitto")
    table: list[tuple[str, list[str]]] = []
    for scenario in args.only:
        cells = []
        for name in names:
            rounds = results[name][scenario]
            ordered = sorted(rounds, key=lambda r: r.extra.get("p99", r.value))
            mid = ordered[len(ordered) // 2]
            if scenario.startswith("latency") or scenario.startswith("idle"):
                text = describe(mid)
            else:
                text = f"{describe(ordered[0])}-{describe(ordered[-1])}"
            if base is not None and name != "mosquitto":
                ratios = sorted(ratio(r, b) for r, b in zip(rounds, base[scenario], strict=True))
                text += f" {ratios[0]:.2f}-{ratios[-1]:.2f}x"
            us = statistics.median(r.extra.get("us_per_msg", 0.0) for r in rounds)
            if us and not scenario.startswith("latency"):
                gen = max(r.extra["gen_cpu"] for r in rounds)
                text += f" {us:.1f}us g{gen:.0f}%"
            cells.append(text)
        table.append((scenario, cells))
    width = max([34, *(len(c) + 2 for _, cells in table for c in cells)])
    print(f"{'scenario':<16}" + "".join(f"{n:<{width}}" for n in names))
    for scenario, cells in table:
        print(f"{scenario:<16}" + "".join(f"{c:<{width}}" for c in cells))


if __name__ == "__main__":
    sys.exit(main())
