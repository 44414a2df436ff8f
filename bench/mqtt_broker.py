"""MQTT broker benchmark: Tether's broker against Mosquitto, same machine, same load generator, same run.

Starts Tether's broker (`python -m tether.broker`, the broker `tether serve` runs) and Mosquitto (Debian
package `mosquitto`) on free loopback ports, one after the other, drives each with the same load and prints
Tether's figures with the ratio to Mosquitto's:

  qos0-fan-in    4 publishers -> 1 subscriber, QoS 0, 64-byte payloads: delivered messages/s
  qos1-fan-in    the same at QoS 1 (publishers keep a window of unacknowledged PUBLISH packets)
  qos1-persistent  the same with a persistent-session subscriber (Clean Session 0): with --tether-serve every
                 PUBACK waits for the commit that saves the message (Mosquitto keeps it in memory)
  qos0-fan-out   1 publisher -> 10 subscribers, QoS 0: delivered messages/s (all subscribers together)
  latency        1 publisher -> 1 subscriber, QoS 0, a fixed rate: end-to-end p50/p99
  idle-10k       resident memory (RSS) of the broker with 10,000 idle connections

    .venv/bin/python bench/mqtt_broker.py
    .venv/bin/python bench/mqtt_broker.py --seconds 10 --only qos0-fan-in,latency
    .venv/bin/python bench/mqtt_broker.py --no-mosquitto
    .venv/bin/python bench/mqtt_broker.py --tether-serve --only qos1-fan-in,qos1-persistent  # with storage

The load generator is one uvloop process speaking MQTT 3.1.1 with hand-built packets (a Python client
library would be the bottleneck). Brokers and generator share the machine: on 2 cores the figures are lower
bounds, and anything else running shows up in them. Benchmarks measure; they do not assert.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import platform
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
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


def connect_packet(client_id: str, keep_alive: int = 0, clean: bool = True) -> bytes:
    flags = 0x02 if clean else 0x00
    return _packet(
        0x10, _string("MQTT") + bytes((4, flags)) + keep_alive.to_bytes(2, "big") + _string(client_id)
    )


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


async def open_client(
    port: int,
    client_id: str,
    latency: list[float] | None = None,
    keep_alive: int = 0,
    clean: bool = True,
) -> MqttConnection:
    loop = asyncio.get_running_loop()
    _, conn = await loop.create_connection(lambda: MqttConnection(loop, latency), HOST, port)
    assert conn.transport is not None
    conn.transport.write(connect_packet(client_id, keep_alive, clean))
    code = await asyncio.wait_for(conn.connack, 30)
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
    port: int, publishers: int, subscribers: int, qos: int, seconds: float, tag: str, persistent: bool = False
) -> float:
    """``persistent``: the subscribers have persistent sessions (3.1.1 Clean Session 0)."""
    topic = f"bench/{tag}"
    subs = [await open_client(port, f"{tag}-sub-{i}", clean=not persistent) for i in range(subscribers)]
    for s in subs:
        await subscribe(s, topic, qos)
    pubs = [
        Publisher(await open_client(port, f"{tag}-pub-{i}"), topic, qos, window=64) for i in range(publishers)
    ]
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


async def latency(port: int, seconds: float, rate: int) -> tuple[float, float]:
    samples: list[float] = []
    sub = await open_client(port, "lat-sub", latency=samples)
    await subscribe(sub, "bench/latency", 0)
    pub = await open_client(port, "lat-pub")
    assert pub.transport is not None
    head = bytes((0x30,)) + _vbi(2 + len(b"bench/latency") + PAYLOAD) + _string("bench/latency")
    filler = b"l" * (PAYLOAD - 8)
    interval = 1.0 / rate
    deadline = time.perf_counter() + seconds + 0.5
    next_send = time.perf_counter()
    while time.perf_counter() < deadline:
        pub.transport.write(head + time.perf_counter_ns().to_bytes(8, "big") + filler)
        next_send += interval
        await asyncio.sleep(max(0.0, next_send - time.perf_counter()))
    await asyncio.sleep(0.3)
    for c in (sub, pub):
        assert c.transport is not None
        c.transport.abort()
    steady = samples[len(samples) // 10 :] or [0.0]  # drop the first tenth (warm-up)
    q = statistics.quantiles(steady, n=100)
    return q[49], q[98]


async def idle_connections(port: int, count: int, pid: int) -> tuple[float, float]:
    before = rss_mb(pid)
    conns: list[MqttConnection] = []
    for start in range(0, count, 500):
        batch = [open_client(port, f"idle-{i}") for i in range(start, min(count, start + 500))]
        conns.extend(await asyncio.gather(*batch))
    await asyncio.sleep(1.0)
    after = rss_mb(pid)
    for c in conns:
        assert c.transport is not None
        c.transport.abort()
    await asyncio.sleep(1.0)
    return before, after


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


def tether_broker(workdir: Path, serve: bool = False, database_url: str | None = None) -> Broker:
    """``python -m tether.broker`` (no storage), or with ``serve`` `tether serve` (sessions and retained
    messages saved in SQLite in ``workdir``, or in ``database_url``)."""
    port = free_port()
    if not serve:
        command = [sys.executable, "-m", "tether.broker", "--mqtt", f"{HOST}:{port}", "--allow-anonymous"]
    else:
        command = [sys.executable, "-m", "tether.cli", "serve", "--data-dir", str(workdir / "data")]
        command += ["--http", f"{HOST}:0", "--mqtt", f"{HOST}:{port}", "--allow-anonymous"]
        command += ["--database-url", database_url] if database_url else []
    return Broker("tether", [*command, "--log-level", "warning"], port, workdir)


def mosquitto_broker(workdir: Path, binary: str, options: Sequence[str]) -> Broker:
    port = free_port()
    conf = workdir / "mosquitto.conf"
    conf.write_text(
        f"listener {port} {HOST}\nallow_anonymous true\npersistence false\nset_tcp_nodelay true\n"
        "max_connections -1\nlog_dest stderr\nlog_type error\nlog_type warning\n"
        + "".join(f"{line}\n" for line in options)
    )
    return Broker("mosquitto", [binary, "-c", str(conf)], port, workdir)


# --------------------------------------------------------------------------- the run

SCENARIOS = ("qos0-fan-in", "qos1-fan-in", "qos1-persistent", "qos0-fan-out", "latency", "idle-10k")


async def run_scenarios(broker: Broker, args: argparse.Namespace) -> dict[str, Result]:
    assert broker.proc is not None
    pid = broker.proc.pid
    results: dict[str, Result] = {}
    for name in args.only:
        cpu0 = cpu_seconds(pid)
        wall0 = time.perf_counter()
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
        elif name == "latency":
            p50, p99 = await latency(broker.port, args.seconds, args.latency_rate)
            results[name] = Result(name, p50, "ms p50", {"p99": p99})
        elif name == "idle-10k":
            before, after = await idle_connections(broker.port, args.idle, pid)
            results[name] = Result(name, after, "MB RSS", {"before": before})
        cpu = (cpu_seconds(pid) - cpu0) / (time.perf_counter() - wall0)
        results[name].extra["broker_cpu"] = cpu * 100
    return results


def describe(r: Result) -> str:
    if r.name == "latency":
        return f"p50 {r.value:.2f} ms, p99 {r.extra['p99']:.2f} ms"
    if r.name == "idle-10k":
        return f"{r.value:.0f} MB (idle broker {r.extra['before']:.0f} MB)"
    return f"{r.value:,.0f} msg/s"


def ratio(name: str, ours: Result, theirs: Result | None) -> str:
    if theirs is None or not theirs.value:
        return "-"
    if name == "latency":
        return f"p50 {ours.value / theirs.value:.2f}x, p99 {ours.extra['p99'] / theirs.extra['p99']:.2f}x"
    return f"{ours.value / theirs.value:.2f}x"


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=5.0, help="measuring time per scenario")
    parser.add_argument("--only", default=",".join(SCENARIOS), help="comma-separated scenarios")
    parser.add_argument("--idle", type=int, default=10_000, help="connections in the idle-10k scenario")
    parser.add_argument("--latency-rate", type=int, default=2000, help="messages/s in the latency scenario")
    parser.add_argument("--no-mosquitto", action="store_true", help="measure Tether only")
    parser.add_argument(
        "--tether-serve",
        action="store_true",
        help="run Tether as `tether serve` with storage (SQLite in a temporary directory) instead of the "
        "broker alone",
    )
    parser.add_argument("--database-url", help="with --tether-serve: the database (give it a scratch one)")
    parser.add_argument("--mosquitto", default=shutil.which("mosquitto") or "/usr/sbin/mosquitto")
    parser.add_argument(
        "--mosquitto-option",
        action="append",
        default=[],
        metavar="LINE",
        help="extra mosquitto.conf line, e.g. 'max_inflight_messages 0' (repeatable)",
    )
    args = parser.parse_args(argv)
    args.only = [s for s in args.only.split(",") if s]
    unknown = set(args.only) - set(SCENARIOS)
    if unknown:
        parser.error(f"unknown scenarios: {', '.join(sorted(unknown))}")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))  # inherited by the brokers
    if args.idle + 100 > hard:
        print(f"warning: open file limit {hard} is below --idle {args.idle}", file=sys.stderr)
    with tempfile.TemporaryDirectory(prefix="mqtt-bench-") as tmp:
        workdir = Path(tmp)
        brokers = [tether_broker(workdir, args.tether_serve, args.database_url)]
        if not args.no_mosquitto:
            if not Path(args.mosquitto).exists():
                print("mosquitto not found (apt-get install mosquitto); use --no-mosquitto", file=sys.stderr)
                return 2
            brokers.append(mosquitto_broker(workdir, args.mosquitto, args.mosquitto_option))
        results: dict[str, dict[str, Result]] = {}
        problems: dict[str, list[str]] = {}
        for broker in brokers:
            broker.start()
            try:
                with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
                    results[broker.name] = runner.run(run_scenarios(broker, args))
            finally:
                broker.stop()
                problems[broker.name] = broker.problems()
    ours = results["tether"]
    theirs = results.get("mosquitto", {})
    version = ""
    if not args.no_mosquitto:
        version = subprocess.run([args.mosquitto, "-h"], capture_output=True, text=True).stdout.split("\n")[0]
    machine = f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    print(f"\nMQTT broker benchmark: {machine}")
    extra = "".join(f", {line}" for line in args.mosquitto_option)
    print(
        f"Mosquitto: {version.strip() or '-'} (set_tcp_nodelay true, persistence false{extra}; else defaults)"
    )
    print(f"{'scenario':<14} {'tether':<34} {'mosquitto':<34} {'ratio':<22} cpu% t/m")
    for name in args.only:
        mine, other = ours[name], theirs.get(name)
        cpu = f"{mine.extra['broker_cpu']:.0f}/{other.extra['broker_cpu']:.0f}" if other else "-"
        print(
            f"{name:<14} {describe(mine):<34} {describe(other) if other else '-':<34} "
            f"{ratio(name, mine, other):<22} {cpu}"
        )
    for name, lines in problems.items():
        if lines:
            print(f"{name} log: {len(lines)} warning/error lines, e.g. {lines[0][:200]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
