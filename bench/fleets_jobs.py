"""EMQX Fleets jobs benchmark: one SNAPSHOT job over many connected things, each doing start-next then update
SUCCEEDED, against `tether serve`.

Starts `tether serve` as a subprocess on free loopback ports with a fresh temporary data directory (SQLite
unless --database-url is given), waits for /health, then:

  set-up    creates a thing group and --things things in it over /api/v1/things with their device
            credentials, connects one raw MQTT 3.1.1 client per thing (a Python client library would be
            the bottleneck) and subscribes it to its `jobs/notify-next`, `jobs/start-next/accepted|rejected`
            and `jobs/+/update/accepted|rejected`;
  job       POST /api/v1/jobs targeting the group (--targets names: the things by name, 100 per job is
            the API's limit, so names are only for --things <= 100); every device answers the
            notify-next that names the job with `jobs/start-next`, and the accepted execution with
            `jobs/<jobId>/update` {"status": "SUCCEEDED", "expectedVersion": 2};
  check     GET /api/v1/jobs/<jobId>: every execution SUCCEEDED, the job COMPLETED.

Printed: time from the job's creation (the POST sent) to the last update accepted (the SUCCEEDED committed
before it is answered), with the milestones on the way (201, all notify-next, all start-next accepted), and
client and server CPU. --py-spy FILE records the server with py-spy over the job phase (collapsed stacks)
and prints the heaviest frames.

    .venv/bin/python bench/fleets_jobs.py
    .venv/bin/python bench/fleets_jobs.py --things 1000
    .venv/bin/python bench/fleets_jobs.py --database-url postgresql://user:pw@127.0.0.1/tether_bench
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import os
import pstats
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from inventory_rest import LOOPBACK, add_server_options, event_loop_factory, print_machine, report_server
from mqtt_broker import _packet, _string
from smartrest_ingest import Server, admin_client, connect_packet


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Benchmark a Fleets SNAPSHOT job: start-next and update SUCCEEDED on every thing.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
        epilog="Exit status: 0 when every execution SUCCEEDED, 1 otherwise, 2 when the server could not be "
        "started or the set-up failed.",
    )
    parser.add_argument("--things", type=int, default=5000, metavar="N", help="connected things")
    parser.add_argument("--targets", choices=("group", "names"), default="group", help="how the job targets")
    parser.add_argument("--timeout", type=float, default=300.0, metavar="S", help="per-step timeout")
    parser.add_argument("--py-spy", type=Path, metavar="FILE", help="record the server with py-spy (raw)")
    parser.add_argument(
        "--cprofile", type=Path, metavar="FILE", help="profile the server over the job (cProfile, pstats)"
    )
    parser.add_argument("--server-module", default="tether.cli", metavar="MODULE", help=argparse.SUPPRESS)
    add_server_options(parser)
    args = parser.parse_args(argv)
    if args.things < 1 or (args.targets == "names" and args.things > 100):
        parser.error("--things must be at least 1 (and at most 100 with --targets names)")
    if args.cprofile is not None:
        # bench/profiled_serve.py: tether serve under cProfile, switched by SIGUSR1.
        args.server_module = "profiled_serve"
        os.environ["PYTHONPATH"] = os.pathsep.join(
            filter(None, [str(Path(__file__).parent), os.environ.get("PYTHONPATH")])
        )
        os.environ["BENCH_PROFILE"] = str(args.cprofile.resolve())
    return args


@dataclass
class Thing:
    id: str
    name: str
    client_id: str
    username: str
    password: str


async def make_things(args: argparse.Namespace, server: Server, group: str) -> list[Thing]:
    async with admin_client(args, server) as admin:
        created = await admin.post("/api/v1/thing-groups", json={"name": group})
        created.raise_for_status()

        async def one(k: int) -> Thing:
            name = f"bench-{k}"
            created = await admin.post("/api/v1/things", json={"name": name, "groups": [group]})
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


class Device(asyncio.Protocol):
    """A raw MQTT 3.1.1 thing that works its jobs: notify-next -> start-next -> update SUCCEEDED."""

    def __init__(self, loop: asyncio.AbstractEventLoop, thing: Thing, clock: Callable[[], float]) -> None:
        self.loop = loop
        self.thing = thing
        self.clock = clock
        self.transport: asyncio.Transport | None = None
        self.buf = bytearray()
        self.connack: asyncio.Future[int] = loop.create_future()
        self.suback: asyncio.Future[None] = loop.create_future()
        self.done: asyncio.Future[None] = loop.create_future()
        self.job_id: str | None = None  # the job to work
        self.prefix = f"$emqx/things/{thing.name}/jobs/"
        self.notified: float | None = None
        self.started: float | None = None
        self.finished: float | None = None
        self.rejected: list[str] = []
        self.mid = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        buf = self.buf
        buf += data
        n, pos, acks = len(buf), 0, []
        while pos + 2 <= n:
            first, length, shift, i, complete = buf[pos], 0, 0, pos + 1, False
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
                topic_len = (buf[i] << 8) | buf[i + 1]
                topic = bytes(buf[i + 2 : i + 2 + topic_len]).decode()
                body = i + 2 + topic_len
                if first & 0x06:
                    acks.append(b"\x40\x02" + bytes(buf[body : body + 2]))
                    body += 2
                self.message(topic, bytes(buf[body:end]))
            elif kind == 2 and not self.connack.done():
                self.connack.set_result(buf[i + 1])
            elif kind == 9 and not self.suback.done():
                self.suback.set_result(None)
            pos = end
        del buf[:pos]
        if acks and self.transport is not None:
            self.transport.write(b"".join(acks))

    def publish(self, suffix: str, document: dict[str, object]) -> None:
        self.mid = self.mid % 65535 + 1
        body = _string(self.prefix + suffix) + self.mid.to_bytes(2, "big") + json.dumps(document).encode()
        assert self.transport is not None
        self.transport.write(_packet(0x32, body))

    def message(self, topic: str, payload: bytes) -> None:
        suffix = topic[len(self.prefix) :]
        document = json.loads(payload)
        if suffix == "notify-next":
            execution = document.get("execution")
            if execution and execution["jobId"] == self.job_id and self.notified is None:
                self.notified = self.clock()
                self.publish("start-next", {"clientToken": "s"})
        elif suffix == "start-next/accepted":
            execution = document.get("execution")
            if execution and execution["jobId"] == self.job_id:
                self.started = self.clock()
                update = {"status": "SUCCEEDED", "expectedVersion": execution["versionNumber"]}
                self.publish(f"{self.job_id}/update", update)
        elif suffix.endswith("/update/accepted"):
            self.finished = self.clock()
            if not self.done.done():
                self.done.set_result(None)
        elif suffix.endswith("/rejected"):
            self.rejected.append(f"{suffix}: {document.get('code')} {document.get('message')}")
            if not self.done.done():
                self.done.set_result(None)


async def connect(port: int, thing: Thing, limit: float, clock: Callable[[], float]) -> Device:
    loop = asyncio.get_running_loop()
    _, device = await loop.create_connection(lambda: Device(loop, thing, clock), LOOPBACK, port)
    assert device.transport is not None
    device.transport.write(connect_packet(thing.client_id, thing.username, thing.password))
    code = await asyncio.wait_for(device.connack, limit)
    if code != 0:
        raise RuntimeError(f"CONNACK {code} for {thing.username}")
    filters = b"".join(
        _string(device.prefix + suffix) + b"\x01"
        for suffix in (
            "notify-next",
            "start-next/accepted",
            "start-next/rejected",
            "+/update/accepted",
            "+/update/rejected",
        )
    )
    device.transport.write(_packet(0x82, b"\x00\x01" + filters))
    await asyncio.wait_for(device.suback, limit)
    return device


@dataclass
class Result:
    things: int
    created: float  # the 201, after the POST was sent
    notified: float  # the last notify-next naming the job
    started: float  # the last start-next accepted
    finished: float  # the last update accepted
    succeeded: int
    status: str
    rejected: list[str] = field(default_factory=list)
    client_cpu: float = 0.0
    server_cpu: float | None = None
    setup: float = 0.0


def _server_cpu(pid: int | None) -> float | None:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return None


def _py_spy(args: argparse.Namespace, pid: int | None) -> subprocess.Popen[bytes] | None:
    if args.py_spy is None or pid is None:
        return None
    binary = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    if not Path(binary).exists():
        print("py-spy not found: pip install py-spy", file=sys.stderr)
        return None
    command = [binary, "record", "--pid", str(pid), "--format", "raw", "--output", str(args.py_spy)]
    command += ["--rate", "200", "--nonblocking"]
    spy = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(1.0)  # attached
    return spy


async def run(args: argparse.Namespace, server: Server) -> Result:
    setup0 = time.perf_counter()
    group = "bench fleet"
    things = await make_things(args, server, group)
    clock = time.perf_counter
    devices: list[Device] = []
    for start in range(0, len(things), 100):
        batch = things[start : start + 100]
        devices += await asyncio.gather(*(connect(server.mqtt_port, t, args.timeout, clock) for t in batch))
    setup = time.perf_counter() - setup0
    job_id = f"bench-{secrets.token_hex(4)}"
    for device in devices:
        device.job_id = job_id
    targets = (
        {"thingGroupNames": [group]} if args.targets == "group" else {"thingNames": [t.name for t in things]}
    )
    body = {"jobId": job_id, "document": {"operation": "upgrade", "version": "2.0"}, "targets": targets}
    pid = server.process.pid if server.process else None
    spy = _py_spy(args, pid)
    if args.cprofile is not None and pid is not None:
        os.kill(pid, signal.SIGUSR1)
    async with admin_client(args, server) as admin:
        cpu0, server0, t0 = time.process_time(), _server_cpu(pid), clock()
        response = await admin.post("/api/v1/jobs", json=body)
        created = clock() - t0
        response.raise_for_status()
        await asyncio.wait_for(asyncio.gather(*(d.done for d in devices)), args.timeout)
        end = clock()
        client_cpu, server1 = time.process_time() - cpu0, _server_cpu(pid)
        if args.cprofile is not None and pid is not None:
            os.kill(pid, signal.SIGUSR1)
            await asyncio.sleep(2)
        if spy is not None:
            spy.terminate()
            spy.wait(timeout=60)
        job = (await admin.get(f"/api/v1/jobs/{job_id}")).json()
    for device in devices:
        if device.transport is not None:
            device.transport.close()
    worked = [d for d in devices if d.finished is not None]
    return Result(
        things=len(things),
        created=created,
        notified=max((d.notified or end) for d in devices) - t0,
        started=max((d.started or end) for d in devices) - t0,
        finished=max((d.finished or end for d in worked), default=end) - t0,
        succeeded=job["executionCounts"]["SUCCEEDED"],
        status=job["status"],
        rejected=[r for d in devices for r in d.rejected],
        client_cpu=client_cpu,
        server_cpu=None if server0 is None or server1 is None else server1 - server0,
        setup=setup,
    )


def heaviest_frames(path: Path, top: int = 25) -> list[tuple[float, str]]:
    """From py-spy's raw (collapsed) stacks: the share of samples in which each function appears (inclusive),
    for Tether's and the database drivers' frames."""
    counts: collections.Counter[str] = collections.Counter()
    total = 0
    for line in path.read_text().splitlines():
        stack, _, number = line.rpartition(" ")
        if not number.isdigit():
            continue
        total += int(number)
        seen = set()
        for frame in stack.split(";"):
            name = frame.split(" (")[0] + " (" + frame.split(" (")[-1].split(":")[0].rsplit("/", 1)[-1]
            if any(key in frame for key in ("tether/", "sqlalchemy", "aiosqlite", "asyncpg", "orjson")):
                seen.add(name)
        for name in seen:
            counts[name] += int(number)
    return [(100 * count / max(total, 1), name) for name, count in counts.most_common(top)]


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    loop_factory, loop_name = event_loop_factory()
    password = args.password or secrets.token_urlsafe(18)
    print("tether Fleets jobs benchmark")
    print_machine(loop_name, args.database_url)
    print(f"load: one SNAPSHOT job over {args.things} connected things (targets: {args.targets}); each does")
    print("      start-next on its notify-next, then update SUCCEEDED (MQTT 3.1.1, QoS 1)")
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
            print(f"set-up (things, credentials, connections): {r.setup:.1f} s")
            print(
                f"job creation -> 201: {r.created:.2f} s; -> last notify-next: {r.notified:.2f} s; "
                f"-> last start-next accepted: {r.started:.2f} s; -> last SUCCEEDED: {r.finished:.2f} s"
            )
            print(
                f"executions SUCCEEDED: {r.succeeded:,} of {r.things:,}; job {r.status}; "
                f"rejections: {len(r.rejected)}"
            )
            for line in r.rejected[:5]:
                print(f"  {line}")
            server_cpu = "-" if r.server_cpu is None else f"{100 * r.server_cpu / r.finished:.0f}%"
            print(f"cpu over the job: client {100 * r.client_cpu / r.finished:.0f}%, server {server_cpu}")
            if r.succeeded != r.things or r.status != "COMPLETED":
                status = 1
            if args.cprofile is not None and args.cprofile.exists():
                print(f"cProfile ({args.cprofile}): the server's functions by cumulative time over the job")
                stats = pstats.Stats(str(args.cprofile))
                stats.sort_stats("cumulative").print_stats(r"tether|sqlalchemy|aiosqlite|asyncpg", 30)
            if args.py_spy is not None and args.py_spy.exists():
                print(f"py-spy ({args.py_spy}): share of samples per frame (inclusive)")
                for share, name in heaviest_frames(args.py_spy):
                    print(f"  {share:5.1f}%  {name}")
        report_server(exit_code, log, aborted=status == 2)
    return status


if __name__ == "__main__":
    sys.exit(main())
