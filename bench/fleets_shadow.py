"""EMQX Fleets shadow benchmark: many connected things reporting their state at QoS 1, against `tether serve`.

Starts `tether serve` as a subprocess on free loopback ports with a fresh temporary data directory (SQLite
unless --database-url is given), waits for /health, then:

  set-up    creates --things things over /api/v1/things with their device credentials, connects one raw
            MQTT 3.1.1 client per thing (a Python client library would be the bottleneck) and subscribes
            it to its `$emqx/things/<name>/shadow/update/accepted`;
  load      each thing publishes --updates `{"state":{"reported":{"n":<k>,"t":<value>}}}` on its
            `.../shadow/update` at QoS 1, keeping --window of them unacknowledged; the server acknowledges a
            request once its change is committed and its accepted answer published;
  check     every thing's shadow version over HTTP must equal its acknowledged updates.

Printed: acknowledged updates per second (first PUBLISH -> last PUBACK), accepted answers received, the
versions check, client and server CPU (and the server's CPU time per update, which the machine's
other load does not change as it changes the rate).

    .venv/bin/python bench/fleets_shadow.py
    .venv/bin/python bench/fleets_shadow.py --things 1000 --updates 20 --window 4
    .venv/bin/python bench/fleets_shadow.py --database-url postgresql://user:pw@127.0.0.1/tether_bench
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import httpx

from inventory_rest import LOOPBACK, add_server_options, event_loop_factory, print_machine, report_server
from mqtt_broker import _packet, _string, _vbi
from smartrest_ingest import Client, Server, admin_client, connect_packet


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Benchmark Fleets shadow reported updates (QoS 1, acknowledged once committed).",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
        epilog="Exit status: 0 when every update was acknowledged, answered and stored, 1 otherwise, 2 when "
        "the server could not be started or the set-up failed.",
    )
    parser.add_argument("--things", type=int, default=1000, metavar="N", help="connected things")
    parser.add_argument("--updates", type=int, default=20, metavar="M", help="updates per thing")
    parser.add_argument("--window", type=int, default=4, metavar="W", help="unacknowledged updates per thing")
    parser.add_argument("--timeout", type=float, default=120.0, metavar="S", help="per-step timeout")
    parser.add_argument("--server-module", default="tether.cli", metavar="MODULE", help=argparse.SUPPRESS)
    add_server_options(parser)
    args = parser.parse_args(argv)
    if min(args.things, args.updates, args.window) < 1:
        parser.error("--things, --updates and --window must be at least 1")
    return args


@dataclass
class Thing:
    id: str
    name: str
    client_id: str
    username: str
    password: str


async def make_things(args: argparse.Namespace, server: Server) -> list[Thing]:
    async with admin_client(args, server) as admin:

        async def one(k: int) -> Thing:
            name = f"bench-{k}"
            created = await admin.post("/api/v1/things", json={"name": name})
            created.raise_for_status()
            thing_id = created.json()["id"]
            credential = await admin.post(f"/api/v1/things/{thing_id}/credentials")
            credential.raise_for_status()
            body = credential.json()
            return Thing(thing_id, name, body["clientId"], body["username"], body["password"])

        things: list[Thing] = []
        for start in range(0, args.things, 32):
            things += await asyncio.gather(*(one(k) for k in range(start, min(start + 32, args.things))))
        return things


async def connect(port: int, thing: Thing, limit: float) -> Client:
    loop = asyncio.get_running_loop()
    _, client = await loop.create_connection(lambda: Client(loop), LOOPBACK, port)
    assert client.transport is not None
    client.transport.write(connect_packet(thing.client_id, thing.username, thing.password))
    code = await asyncio.wait_for(client.connack, limit)
    if code != 0:
        raise RuntimeError(f"CONNACK {code} for {thing.username}")
    topic = f"$emqx/things/{thing.name}/shadow/update/accepted"
    client.transport.write(_packet(0x82, b"\x00\x01" + _string(topic) + b"\x01"))
    await asyncio.wait_for(client.suback, limit)
    return client


class Reporter:
    """Sends `count` reported updates within a window of unacknowledged ones; done when all are acked."""

    def __init__(self, client: Client, thing: Thing, count: int, window: int) -> None:
        self.client = client
        self.count = count
        self.window = window
        self.sent = 0
        self.answers = 0
        self.base = client.acked
        self.done: asyncio.Future[None] = client.loop.create_future()
        self.head = _string(f"$emqx/things/{thing.name}/shadow/update")
        client.on_ack = self.pump
        client.on_line = self.answered

    def answered(self, _: str) -> None:
        self.answers += 1

    def pump(self) -> None:
        client = self.client
        acked = client.acked - self.base
        if acked >= self.count:
            if not self.done.done():
                self.done.set_result(None)
            return
        room = min(self.window - (self.sent - acked), self.count - self.sent)
        if room <= 0 or client.transport is None:
            return
        parts = []
        for k in range(self.sent, self.sent + room):
            payload = f'{{"state":{{"reported":{{"n":{k},"t":{20 + k % 100 / 10}}}}}}}'.encode()
            body = self.head + (k % 65535 + 1).to_bytes(2, "big") + payload
            parts.append(b"\x32" + _vbi(len(body)) + body)
        self.sent += room
        client.transport.write(b"".join(parts))


@dataclass
class Result:
    updates: int
    elapsed: float
    answers: int
    versions_ok: int
    things: int
    client_cpu: float
    server_cpu: float | None


def _server_cpu(pid: int | None) -> float | None:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return None


async def run(args: argparse.Namespace, server: Server) -> Result:
    things = await make_things(args, server)
    clients = []
    for start in range(0, len(things), 100):
        batch = things[start : start + 100]
        clients += await asyncio.gather(*(connect(server.mqtt_port, t, args.timeout) for t in batch))
    reporters = [Reporter(c, t, args.updates, args.window) for c, t in zip(clients, things, strict=True)]
    pid = server.process.pid if server.process else None
    cpu0, server0, t0 = time.process_time(), _server_cpu(pid), time.perf_counter()
    for reporter in reporters:
        reporter.pump()
    await asyncio.wait_for(asyncio.gather(*(r.done for r in reporters)), args.timeout)
    elapsed = time.perf_counter() - t0
    client_cpu, server1 = time.process_time() - cpu0, _server_cpu(pid)
    await asyncio.sleep(0.5)  # the last accepted answers in flight
    answers = sum(r.answers for r in reporters)
    versions_ok = 0
    async with admin_client(args, server) as admin:
        for thing in things:
            shadow = await admin.get(f"/api/v1/things/{thing.id}/shadow")
            if shadow.status_code == 200 and shadow.json()["version"] == args.updates:
                versions_ok += 1
    for client in clients:
        if client.transport is not None:
            client.transport.close()
    server_cpu = None if server0 is None or server1 is None else server1 - server0
    return Result(
        args.things * args.updates, elapsed, answers, versions_ok, len(things), client_cpu, server_cpu
    )


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    loop_factory, loop_name = event_loop_factory()
    password = args.password or secrets.token_urlsafe(18)
    print("tether Fleets shadow benchmark")
    print_machine(loop_name, args.database_url)
    print(f"load: {args.things} things x {args.updates} reported updates, QoS 1, window {args.window}")
    status = 0
    with tempfile.TemporaryDirectory(prefix="tether-bench-") as tmp:
        server = Server(Path(tmp), password, args)
        result: Result | None = None
        try:
            server.start()
            server.wait_ready(args.startup_timeout)
            with asyncio.Runner(loop_factory=loop_factory) as runner:
                result = runner.run(run(args, server))
        except (RuntimeError, OSError, httpx.HTTPError, TimeoutError) as exc:
            print(f"benchmark aborted: {type(exc).__name__}: {exc}", file=sys.stderr)
            status = 2
        finally:
            exit_code = server.stop()
            log = server.log_text()
            if args.server_log is not None:
                args.server_log.write_text(log)
        if result is not None:
            r = result
            print(
                f"acknowledged updates: {r.updates:,} in {r.elapsed:.2f} s = {r.updates / r.elapsed:,.0f}/s; "
                f"accepted answers received: {r.answers:,}; "
                f"shadows at the expected version: {r.versions_ok:,} of {r.things:,}"
            )
            server_cpu = "-"
            if r.server_cpu is not None:
                # CPU time per update does not depend on what else the machine runs; the rate does.
                per_update = 1e6 * r.server_cpu / r.updates
                server_cpu = f"{100 * r.server_cpu / r.elapsed:.0f}% ({per_update:.0f} us per update)"
            print(f"cpu over the load: client {100 * r.client_cpu / r.elapsed:.0f}%, server {server_cpu}")
            if r.answers != r.updates or r.versions_ok != r.things:
                status = 1
        report_server(exit_code, log, aborted=status == 2)
    return status


if __name__ == "__main__":
    sys.exit(main())
