"""Rule engine benchmark: broker throughput with one matching rule against no rule, same server, same run.

Starts `tether serve` (SQLite in a temporary directory) on free loopback ports and drives it with the load
generator of mqtt_broker.py, logged in as the tenant administrator (rules are a tenant's):

  no-rule   4 publishers -> 1 subscriber, QoS 0, 64-byte JSON payloads ({"temp": 35, ...}): delivered msg/s
  rule      the same with one rule of the tenant matching every message, a WHERE on a payload field and a
            republish: SELECT * FROM "bench/#" WHERE payload.temp > 30, republished to alerts/${clientid}
            (no subscriber there); also the rule's own rate (matched/s, republished/s) from its metrics
  paced     with the rule, publishers at a fixed rate (100%, 90%, ... of the no-rule figure): the highest
            rate at which everything offered is delivered and the rule sees every message (no drops)

The phases alternate (`--rounds`, default 2: no-rule, rule, no-rule, rule) and the figures are their means.
Rules run after the messages are accepted, on a worker fed by a bounded queue: when the engine falls
behind, inputs are dropped and counted (matched/s below the input rate shows it), the broker is not slowed.

    .venv/bin/python bench/rules.py
    .venv/bin/python bench/rules.py --seconds 10 --rounds 3
    .venv/bin/python bench/rules.py --engine-cpu 30000 --rounds 4   # the engine's server CPU a message

Client and server share the machine: on 2 cores the figures are lower bounds. Benchmarks measure; they do
not assert.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import platform
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import uvloop

sys.path.insert(0, str(Path(__file__).resolve().parent))
import mqtt_broker as mb

HOST = mb.HOST
#: No keep-alive: a phase outlasts the server's idle timeout (5 s), and a reused closed connection fails.
FRESH = httpx.Limits(max_keepalive_connections=0)
TOPIC = "bench/rules"
RULE = {
    "id": "bench",
    "sql": 'SELECT * FROM "bench/#" WHERE payload.temp > 30',
    "actions": [{"function": "republish", "args": {"topic": "alerts/${clientid}", "payload": "${payload}"}}],
}


def json_payload() -> bytes:
    head = b'{"temp": 35, "pad": "'
    return head + b"x" * (mb.PAYLOAD - len(head) - 2) + b'"}'


def connect_packet(client_id: str, username: str, password: str) -> bytes:
    body = mb._string("MQTT") + bytes((4, 0xC2)) + (0).to_bytes(2, "big") + mb._string(client_id)
    return mb._packet(0x10, body + mb._string(username) + mb._string(password))


async def open_client(port: int, client_id: str, password: str) -> mb.MqttConnection:
    loop = asyncio.get_running_loop()
    _, conn = await loop.create_connection(lambda: mb.MqttConnection(loop), HOST, port)
    assert conn.transport is not None
    conn.transport.write(connect_packet(client_id, "t1/admin", password))
    code = await asyncio.wait_for(conn.connack, 30)
    if code != 0:
        raise RuntimeError(f"CONNACK {code}")
    return conn


class JsonPublisher(mb.Publisher):
    def __init__(self, conn: mb.MqttConnection, topic: str) -> None:
        super().__init__(conn, topic, 0, window=64)
        self.chunk = mb.publish_packet(topic, json_payload()) * 64


class PacedPublisher:
    """Publishes `rate` messages/s (QoS 0), in bursts every 5 ms."""

    def __init__(self, conn: mb.MqttConnection, topic: str, rate: float) -> None:
        self.conn = conn
        self.rate = rate
        self.packet = mb.publish_packet(topic, json_payload())
        self.sent = 0
        self.running = True
        self.start = time.perf_counter()

    def pump(self) -> None:
        transport = self.conn.transport
        if not self.running or transport is None or transport.is_closing():
            return
        due = int((time.perf_counter() - self.start) * self.rate) - self.sent
        if due > 0 and not self.conn.paused:
            transport.write(self.packet * due)
            self.sent += due
        self.conn.loop.call_later(0.005, self.pump)


#: The server's process (its CPU time is read from /proc).
SERVER_PID = 0


async def measure(sub: mb.MqttConnection, seconds: float) -> tuple[float, float]:
    """Delivered msg/s over `seconds` and the server's CPU us per delivered message."""
    received0, cpu0, start = sub.received, mb.cpu_seconds(SERVER_PID), time.perf_counter()
    await asyncio.sleep(seconds)
    received, cpu = sub.received - received0, mb.cpu_seconds(SERVER_PID) - cpu0
    return received / (time.perf_counter() - start), cpu / max(1, received) * 1e6


async def phase(port: int, password: str, seconds: float, tag: str) -> tuple[float, float]:
    sub = await open_client(port, f"{tag}-sub", password)
    await mb.subscribe(sub, "bench/#", 0)
    pubs = [JsonPublisher(await open_client(port, f"{tag}-pub-{i}", password), TOPIC) for i in range(4)]
    for p in pubs:
        p.pump()
    await asyncio.sleep(1.0)
    rate = await measure(sub, seconds)
    for p in pubs:
        p.running = False
    for c in [sub, *(p.conn for p in pubs)]:
        assert c.transport is not None
        c.transport.abort()
    await asyncio.sleep(1.0)  # let the engine drain what it still holds
    return rate


async def rule_counts(http: httpx.AsyncClient) -> tuple[int, int]:
    """The rule's inputs evaluated and dropped (queue full) so far, on a fresh connection (the server closes
    idle keep-alive ones after 5 s)."""
    async with httpx.AsyncClient(base_url=http.base_url, auth=http.auth, timeout=120) as fresh:
        metrics = (await fresh.get("/api/v5/rules/bench/metrics")).json()["metrics"]
        return metrics["matched"] - metrics["failed.dropped"], metrics["failed.dropped"]


async def paced(
    http: httpx.AsyncClient, port: int, password: str, rate: float, seconds: float, tag: str
) -> tuple[float, float, int, int]:
    """With the rule: delivered msg/s at an offered `rate` (4 publishers), the server's CPU us a message, and
    the inputs the rule evaluated and dropped over the phase (read before and after it, not during the
    flood: the API answers late then). Without the rule (`tag` starting with "plain"): 0 evaluated."""
    with_rule = not tag.startswith("plain")
    evaluated0, dropped0 = await rule_counts(http) if with_rule else (0, 0)
    sub = await open_client(port, f"{tag}-sub", password)
    await mb.subscribe(sub, "bench/#", 0)
    pubs = [
        PacedPublisher(await open_client(port, f"{tag}-pub-{i}", password), TOPIC, rate / 4) for i in range(4)
    ]
    for p in pubs:
        p.pump()
    await asyncio.sleep(1.0)
    delivered, cpu = await measure(sub, seconds)
    for p in pubs:
        p.running = False
    for c in [sub, *(p.conn for p in pubs)]:
        assert c.transport is not None
        c.transport.abort()
    await asyncio.sleep(1.0)
    evaluated1, dropped1 = await rule_counts(http) if with_rule else (0, 0)
    return delivered, cpu, evaluated1 - evaluated0, dropped1 - dropped0


async def engine_cpu(args: argparse.Namespace, mqtt_port: int, http_url: str, password: str) -> None:
    """--engine-cpu RATE: no rule and rule alternating at one offered rate the server keeps up with, so the
    broker's work a message is the same in both: the difference of the server's CPU a message is the
    engine's (medians over the rounds)."""
    rate, plain, ruled = args.engine_cpu, [], []
    async with httpx.AsyncClient(base_url=http_url, auth=("t1/admin", password), timeout=120) as http:
        for round_ in range(args.rounds):
            plain.append(await paced(http, mqtt_port, password, rate, args.seconds, f"plain{round_}"))
            assert (await http.post("/api/v5/rules", json=RULE)).status_code == 201
            ruled.append(await paced(http, mqtt_port, password, rate, args.seconds, f"rule{round_}"))
            assert (await http.delete("/api/v5/rules/bench")).status_code == 204
    for name, phases in (("no-rule", plain), ("rule", ruled)):
        print(
            f"{name:<9} offered {rate:,.0f} msg/s: delivered "
            f"{', '.join(f'{p[0]:,.0f}' for p in phases)}/s; server us CPU/msg "
            f"{', '.join(f'{p[1]:.2f}' for p in phases)}; dropped {sum(p[3] for p in phases):,}"
        )
    base, with_rule = statistics.median(p[1] for p in plain), statistics.median(p[1] for p in ruled)
    engine = with_rule - base
    print(f"engine    {with_rule:.2f} - {base:.2f} = {engine:.2f} us CPU/msg in the server (medians)")


async def run(args: argparse.Namespace, mqtt_port: int, http_url: str, password: str) -> None:
    auth = ("t1/admin", password)
    plain: list[float] = []
    ruled: list[float] = []
    plain_cpu: list[float] = []
    rule_rates: list[tuple[float, float, float]] = []
    async with httpx.AsyncClient(base_url=http_url, auth=auth, timeout=120, limits=FRESH) as http:
        for round_ in range(args.rounds):
            rate, cpu = await phase(mqtt_port, password, args.seconds, f"plain{round_}")
            plain.append(rate)
            plain_cpu.append(cpu)
            created = await http.post("/api/v5/rules", json=RULE)
            assert created.status_code == 201, created.text
            start = time.perf_counter()
            ruled.append((await phase(mqtt_port, password, args.seconds, f"rule{round_}"))[0])
            elapsed = time.perf_counter() - start
            async with httpx.AsyncClient(base_url=http_url, auth=auth, timeout=120, limits=FRESH) as fresh:
                metrics = (await fresh.get("/api/v5/rules/bench/metrics")).json()["metrics"]
            rule_rates.append(
                (
                    (metrics["matched"] - metrics["failed.dropped"]) / elapsed,
                    metrics["actions.success"] / elapsed,
                    metrics["failed.dropped"] / elapsed,
                )
            )
            assert (await http.delete("/api/v5/rules/bench")).status_code == 204
    no_rule = sum(plain) / len(plain)
    with_rule = sum(ruled) / len(ruled)
    matched = sum(r[0] for r in rule_rates) / len(rule_rates)
    republished = sum(r[1] for r in rule_rates) / len(rule_rates)
    dropped = sum(r[2] for r in rule_rates) / len(rule_rates)
    no_rule_cpu = min(plain_cpu)
    print(
        f"no-rule   delivered {no_rule:>10,.0f} msg/s   (rounds: {', '.join(f'{v:,.0f}' for v in plain)}); "
        f"server {no_rule_cpu:.2f} us CPU/msg (rounds: {', '.join(f'{v:.2f}' for v in plain_cpu)})"
    )
    print(
        f"rule      delivered {with_rule:>10,.0f} msg/s   (rounds: {', '.join(f'{v:,.0f}' for v in ruled)})"
    )
    print(
        f"          rule evaluated {matched:,.0f}/s, republished {republished:,.0f}/s, dropped (queue full)"
        f" {dropped:,.0f}/s (over each rule phase; failed.dropped)"
    )
    print(f"          the rule saw {matched / with_rule:.0%} of the delivered messages (others: dropped)")
    print(f"ratio     {with_rule / no_rule:.0%} of the no-rule figure (target >= 70%)")
    # The highest offered rate at which the rule still sees every message (nothing dropped).
    async with httpx.AsyncClient(base_url=http_url, auth=auth, timeout=120, limits=FRESH) as http:
        assert (await http.post("/api/v5/rules", json=RULE)).status_code == 201
        kept, kept_cpu = 0.0, 0.0
        for share in (1.0, 0.9, 0.8, 0.75, 0.7, 0.65, 0.6, 0.5, 0.4, 0.3):
            rate = no_rule * share
            delivered, cpu, evaluated, dropped = await paced(
                http, mqtt_port, password, rate, args.seconds, f"paced{share}"
            )
            keeps_up = delivered >= 0.97 * rate and dropped == 0
            print(
                f"paced     offered {rate:>10,.0f} msg/s ({share:.0%}): delivered {delivered:,.0f}/s, "
                f"rule evaluated {evaluated:,}, dropped {dropped:,}, server {cpu:.2f} us CPU/msg"
                f"{'  <- keeps up' if keeps_up else ''}"
            )
            if keeps_up:
                kept, kept_cpu = rate, cpu
                break
        print(
            f"keeps up  the rule sees every message up to {kept:,.0f} msg/s = {kept / no_rule:.0%} of no-rule"
        )
        assert (await http.delete("/api/v5/rules/bench")).status_code == 204
        if kept:
            # The same offered rate without the rule: the server's CPU a message with and without it. On a
            # busy core throughput goes as 1 / CPU a message: the ratio that does not depend on the load.
            plain_rate, plain_cpu_at, _, _ = await paced(
                http, mqtt_port, password, kept, args.seconds, "plain"
            )
            print(
                f"paced     offered {kept:>10,.0f} msg/s without the rule: delivered {plain_rate:,.0f}/s, "
                f"server {plain_cpu_at:.2f} us CPU/msg"
            )
            engine = kept_cpu - plain_cpu_at
            print(
                f"engine    {kept_cpu:.2f} - {plain_cpu_at:.2f} = {engine:.2f} us CPU/msg in the server "
                f"(rule - no rule at the same rate); with the no-rule flood's {no_rule_cpu:.2f}: a CPU-bound "
                f"server reaches {no_rule_cpu / (no_rule_cpu + engine):.0%} of the no-rule throughput"
            )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=5.0, help="measuring time per phase")
    parser.add_argument("--rounds", type=int, default=2, help="no-rule/rule pairs")
    parser.add_argument(
        "--engine-cpu", type=float, default=0.0, metavar="RATE",
        help="only no-rule/rule pairs paced at RATE msg/s: the engine's server CPU a message",
    )  # fmt: skip
    args = parser.parse_args()
    password = secrets.token_urlsafe(16)
    mqtt_port, http_port = mb.free_port(), mb.free_port()
    with tempfile.TemporaryDirectory() as tmp:
        command = [sys.executable, "-m", "tether.cli", "serve", "--data-dir", str(Path(tmp) / "data")]
        command += [
            "--http",
            f"{HOST}:{http_port}",
            "--mqtt",
            f"{HOST}:{mqtt_port}",
            "--log-level",
            "warning",
        ]
        env = {k: v for k, v in os.environ.items() if not k.startswith("TETHER_")}
        env["TETHER_ADMIN_PASSWORD"] = password
        log_path = Path(tmp) / "tether.log"
        with log_path.open("wb") as log:
            server = subprocess.Popen(
                command, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=mb.REPO_ROOT
            )
            global SERVER_PID
            SERVER_PID = server.pid
            try:
                url = f"http://{HOST}:{http_port}"
                deadline = time.monotonic() + 60
                with httpx.Client(base_url=url, timeout=2) as client:
                    while True:
                        with contextlib.suppress(httpx.HTTPError):
                            if client.get("/health").status_code == 200:
                                break
                        if time.monotonic() > deadline or server.poll() is not None:
                            raise RuntimeError("tether serve did not become healthy")
                        time.sleep(0.1)
                print(f"{platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}")
                main_ = engine_cpu if args.engine_cpu else run
                uvloop.run(main_(args, mqtt_port, url, password))
            finally:
                server.terminate()
                server.wait(30)
        keys = ("Traceback", "WARNING", "ERROR")
        problems = [
            line for line in log_path.read_text(errors="replace").splitlines() if any(k in line for k in keys)
        ]
        if problems:
            print("server log:", *problems, sep="\n  ")


if __name__ == "__main__":
    main()
