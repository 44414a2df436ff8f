"""SmartREST ingest benchmark: many devices publishing measurements on s/us at QoS 1, against `tether serve`.

Starts `tether serve` as a subprocess on free loopback ports with a fresh temporary data directory
(SQLite unless --database-url is given), waits for /health, then:

  set-up    creates --devices device users through the REST device-bootstrap flow (newDeviceRequests,
            deviceCredentials, acceptance), connects one MQTT 3.1.1 client per device (raw sockets; a
            Python client library would be the bottleneck) and one more "probe" device, subscribes each
            to s/ds and sends one measurement each, so that the devices exist before the clock starts;
  load      each device publishes --measurements `200,c8y_Temperature,T,<value>` messages on s/us at
            QoS 1, keeping --window of them unacknowledged; the server acknowledges a message only once
            it is stored durably. The load runs --rounds times;
  probe     meanwhile, from a separate process (so that the load generator's loop does not delay its
            clock), an operator creates c8y_Restart operations for the probe device over REST, one at a
            time every --op-interval ms, and the probe device waits for `510,<serial>` on s/ds: latency
            = POST sent -> s/ds line received;
  check     the number of measurements in the database (REST, withTotalElements) must equal what was
            acknowledged.

Printed: acknowledged measurements per second over the load (first PUBLISH -> last PUBACK of each
round), the database count, the operation latency p50/p90/p99/max, client and server CPU, and CPU per
measurement of the server, the client and (on PostgreSQL on this machine) the backends of its database.

    .venv/bin/python bench/smartrest_ingest.py
    .venv/bin/python bench/smartrest_ingest.py --devices 100 --measurements 200 --rounds 10 --window 32
    .venv/bin/python bench/smartrest_ingest.py --database-url postgresql://user:pw@127.0.0.1/tether_bench

The server and report helpers are those of bench/inventory_rest.py.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import multiprocessing
import os
import secrets
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from inventory_rest import (
    LOOPBACK,
    TetherServer,
    add_server_options,
    event_loop_factory,
    fmt,
    free_loopback_port,
    percentile,
    print_machine,
    report_server,
)
from mqtt_broker import _packet, _string, _vbi, cpu_seconds

BOOTSTRAP = "management/devicebootstrap"


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Benchmark SmartREST ingest (s/us, QoS 1, acknowledged once stored) and operation "
        "delivery on s/ds under that load.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
        epilog="Exit status: 0 when every measurement was acknowledged and stored and every operation "
        "delivered, 1 otherwise, 2 when the server could not be started or the set-up failed.",
    )
    parser.add_argument("--devices", type=int, default=100, metavar="N", help="publishing devices")
    parser.add_argument(
        "--measurements", type=int, default=200, metavar="M", help="messages per device per round"
    )
    parser.add_argument("--rounds", type=int, default=5, metavar="R", help="load rounds")
    parser.add_argument(
        "--window", type=int, default=8, metavar="W", help="unacknowledged messages per device"
    )
    parser.add_argument(
        "--op-interval", type=float, default=5.0, metavar="MS", help="pause between two probe operations"
    )
    parser.add_argument("--timeout", type=float, default=30.0, metavar="S", help="per-step timeout")
    parser.add_argument(
        "--server-module",
        default="tether.cli",
        metavar="MODULE",
        help="run `python -m MODULE serve ...` (a wrapper of tether.cli, e.g. one that profiles the server)",
    )
    add_server_options(parser)
    args = parser.parse_args(argv)
    if min(args.devices, args.measurements, args.rounds, args.window) < 1:
        parser.error("--devices, --measurements, --rounds and --window must be at least 1")
    return args


# --------------------------------------------------------------------------- server


class Server(TetherServer):
    """TetherServer with a known MQTT port and bootstrap password."""

    def __init__(self, data_dir: Path, password: str, args: argparse.Namespace) -> None:
        super().__init__(data_dir, password, args)
        self.mqtt_port = free_loopback_port()
        self.bootstrap_password = secrets.token_urlsafe(18)
        self.extra: list[str] = []  # more `tether serve` options (bench/cluster.py: --cluster, --workers)

    def start(self) -> None:
        command = [sys.executable, "-m", self.args.server_module, "serve", "--data-dir", str(self.data_dir)]
        command += ["--http", f"{LOOPBACK}:{self.port}", "--mqtt", f"{LOOPBACK}:{self.mqtt_port}"]
        command += ["--log-level", self.args.server_log_level]
        if self.args.database_url:
            command += ["--database-url", self.args.database_url]
        command += self.extra
        env = {name: value for name, value in os.environ.items() if not name.startswith("TETHER_")}
        env.update(
            TETHER_ADMIN_PASSWORD=self.password,
            TETHER_BOOTSTRAP_PASSWORD=self.bootstrap_password,
            TETHER_TENANT=self.args.tenant,
            TETHER_ADMIN_USER=self.args.user,
        )
        self._log_file = open(self.log_path, "wb")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(
            command,
            cwd=self.data_dir,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


# --------------------------------------------------------------------------- MQTT 3.1.1 client


def connect_packet(client_id: str, username: str, password: str) -> bytes:
    flags = 0xC2  # user name, password, clean session
    body = _string("MQTT") + bytes((4, flags)) + (60).to_bytes(2, "big") + _string(client_id)
    return _packet(0x10, body + _string(username) + _string(password))


class Client(asyncio.Protocol):
    """A raw MQTT 3.1.1 device: a window of QoS 1 PUBLISH packets, PUBACKs counted, s/ds lines collected."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.transport: asyncio.Transport | None = None
        self.buf = bytearray()
        self.connack: asyncio.Future[int] = loop.create_future()
        self.suback: asyncio.Future[None] = loop.create_future()
        self.acked = 0
        self.on_ack: Callable[[], None] | None = None
        self.on_line: Callable[[str], None] | None = None
        self.lost: asyncio.Future[None] = loop.create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.lost.done():
            self.lost.set_result(None)

    def data_received(self, data: bytes) -> None:
        buf = self.buf
        buf += data
        n, pos, acked, acks = len(buf), 0, 0, []
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
            if kind == 4:
                acked += 1
            elif kind == 3:
                topic_len = (buf[i] << 8) | buf[i + 1]
                body = i + 2 + topic_len
                if first & 0x06:
                    acks.append(b"\x40\x02" + bytes(buf[body : body + 2]))
                    body += 2
                if self.on_line is not None:
                    self.on_line(bytes(buf[body:end]).decode())
            elif kind == 2 and not self.connack.done():
                self.connack.set_result(buf[i + 1])
            elif kind == 9 and not self.suback.done():
                self.suback.set_result(None)
            pos = end
        del buf[:pos]
        if acks and self.transport is not None:
            self.transport.write(b"".join(acks))
        if acked:
            self.acked += acked
            if self.on_ack is not None:
                self.on_ack()


async def open_device(port: int, serial: str, login: str, password: str, limit: float) -> Client:
    loop = asyncio.get_running_loop()
    _, client = await loop.create_connection(lambda: Client(loop), LOOPBACK, port)
    assert client.transport is not None
    client.transport.write(connect_packet(serial, login, password))
    code = await asyncio.wait_for(client.connack, limit)
    if code != 0:
        raise RuntimeError(f"CONNACK {code} for {login}")
    client.transport.write(_packet(0x82, b"\x00\x01" + _string("s/ds") + b"\x01"))
    await asyncio.wait_for(client.suback, limit)
    return client


class Publisher:
    """Sends `count` measurement messages within a window of unacknowledged ones; done when all are acked."""

    def __init__(self, client: Client, count: int, window: int) -> None:
        self.client = client
        self.count = count
        self.window = window
        self.sent = 0
        self.base = client.acked
        self.done: asyncio.Future[None] = client.loop.create_future()
        client.on_ack = self.pump
        self.head = _string("s/us")

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
            payload = f"200,c8y_Temperature,T,{20 + k % 100 / 10}".encode()
            body = self.head + (k % 65535 + 1).to_bytes(2, "big") + payload
            parts.append(b"\x32" + _vbi(len(body)) + body)
        self.sent += room
        client.transport.write(b"".join(parts))


# --------------------------------------------------------------------------- REST set-up


def admin_client(args: argparse.Namespace, server: Server) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        base_url=server.base_url,
        auth=(f"{args.tenant}/{args.user}", server.password),
        headers={"Accept": "application/json"},
        timeout=args.timeout,
        trust_env=False,
    )


async def device_credentials(
    args: argparse.Namespace, server: Server, serials: list[str]
) -> list[tuple[str, str]]:
    """Each serial through the device-bootstrap flow: (login, password)."""
    bootstrap = httpx.AsyncClient(
        base_url=server.base_url,
        auth=(BOOTSTRAP, server.bootstrap_password),
        timeout=args.timeout,
        trust_env=False,
    )
    async with admin_client(args, server) as admin, bootstrap:

        async def one(serial: str) -> tuple[str, str]:
            created = await admin.post("/devicecontrol/newDeviceRequests", json={"id": serial})
            created.raise_for_status()
            await bootstrap.post("/devicecontrol/deviceCredentials", json={"id": serial})  # 404: now pending
            accepted = await admin.put(
                f"/devicecontrol/newDeviceRequests/{serial}", json={"status": "ACCEPTED"}
            )
            accepted.raise_for_status()
            issued = await bootstrap.post("/devicecontrol/deviceCredentials", json={"id": serial})
            issued.raise_for_status()
            body = issued.json()
            return f"{body['tenantId']}/{body['username']}", body["password"]

        results: list[tuple[str, str]] = []
        for start in range(0, len(serials), 16):
            results += await asyncio.gather(*(one(s) for s in serials[start : start + 16]))
        return results


async def measurement_count(args: argparse.Namespace, server: Server) -> int:
    async with admin_client(args, server) as admin:
        response = await admin.get(
            "/measurement/measurements", params={"pageSize": 1, "withTotalElements": "true"}
        )
        response.raise_for_status()
        return int(response.json()["statistics"]["totalElements"])


# --------------------------------------------------------------------------- probe (own process)


def probe_main(config: dict[str, Any], commands: Any, results: Any) -> None:
    """Runs in a separate process: waits for "start", probes until "stop", sends back latencies."""
    loop_factory, _ = event_loop_factory()
    with asyncio.Runner(loop_factory=loop_factory) as runner:
        results.put(runner.run(_probe(config, commands)))


async def _probe(config: dict[str, Any], commands: Any) -> dict[str, Any]:
    client = await open_device(config["mqtt_port"], config["serial"], config["login"], config["password"], 30)
    expected = f"510,{config['serial']}"
    waiting: list[asyncio.Future[float]] = []

    def on_line(line: str) -> None:
        if line == expected and waiting:
            future = waiting.pop(0)
            if not future.done():
                future.set_result(time.perf_counter())

    client.on_line = on_line
    latencies: list[float] = []
    lost = errors = 0
    loop = asyncio.get_running_loop()
    async with httpx.AsyncClient(
        base_url=config["base_url"],
        auth=config["auth"],
        headers={"Accept": "application/json"},
        timeout=config["timeout"],
        trust_env=False,
    ) as operator:
        await loop.run_in_executor(None, commands.get)  # "start"
        stop = loop.run_in_executor(None, commands.get)
        body = {"deviceId": config["mo_id"], "c8y_Restart": {}, "description": "probe"}
        while not stop.done():
            future: asyncio.Future[float] = loop.create_future()
            waiting.append(future)
            began = time.perf_counter()
            response = await operator.post("/devicecontrol/operations", json=body)
            if response.status_code != 201:
                errors += 1
                waiting.remove(future)
                continue
            try:
                arrived = await asyncio.wait_for(future, config["timeout"])
            except TimeoutError:
                lost += 1
                continue
            latencies.append((arrived - began) * 1000.0)
            await asyncio.sleep(config["interval"] / 1000.0)
        await stop
    return {"latencies": latencies, "lost": lost, "errors": errors}


# --------------------------------------------------------------------------- load


@dataclass
class LoadResult:
    acked: int = 0
    elapsed: float = 0.0
    rounds: list[float] = field(default_factory=list)
    stored: int = 0
    expected: int = 0
    probe: dict[str, Any] = field(default_factory=dict)
    client_cpu: float = 0.0
    server_cpu: float | None = None
    #: CPU of the PostgreSQL backends serving the server's database (None on SQLite), from /proc.
    db_cpu: float | None = None


async def run_load(args: argparse.Namespace, server: Server) -> LoadResult:
    serials = [f"bench{i:04d}-{secrets.token_hex(3)}" for i in range(args.devices + 1)]
    credentials = await device_credentials(args, server, serials)
    clients = [
        await open_device(server.mqtt_port, serial, login, password, args.timeout)
        for serial, (login, password) in zip(serials[:-1], credentials[:-1], strict=True)
    ]
    # Warm-up: one measurement per device creates the devices (automatic creation) before the clock starts.
    await asyncio.gather(*(_publish(c, 1, 1, args.timeout) for c in clients))
    probe_serial, (probe_login, probe_password) = serials[-1], credentials[-1]
    probe_mo = await _create_probe_device(args, server, probe_serial, probe_login, probe_password)

    ctx = multiprocessing.get_context("spawn")
    commands, results = ctx.Queue(), ctx.Queue()
    config = {
        "mqtt_port": server.mqtt_port,
        "serial": probe_serial,
        "login": probe_login,
        "password": probe_password,
        "base_url": server.base_url,
        "auth": (f"{args.tenant}/{args.user}", server.password),
        "timeout": args.timeout,
        "interval": args.op_interval,
        "mo_id": probe_mo,
    }
    prober = ctx.Process(target=probe_main, args=(config, commands, results), daemon=True)
    prober.start()
    result = LoadResult(expected=len(clients))
    server_cpu = server.cpu_seconds()
    db_cpu = postgres_cpu(args.database_url)
    cpu = time.process_time()
    await asyncio.sleep(1.0)  # the probe connects
    commands.put("start")
    try:
        for _ in range(args.rounds):
            started = time.perf_counter()
            await asyncio.gather(
                *(_publish(c, args.measurements, args.window, args.timeout) for c in clients)
            )
            elapsed = time.perf_counter() - started
            result.rounds.append(elapsed)
            result.elapsed += elapsed
            result.acked += len(clients) * args.measurements
    finally:
        commands.put("stop")
    result.client_cpu = time.process_time() - cpu
    end_cpu = server.cpu_seconds()
    result.server_cpu = None if server_cpu is None or end_cpu is None else end_cpu - server_cpu
    end_db = postgres_cpu(args.database_url)
    if db_cpu is not None and end_db is not None:
        # A backend started during the load counts whole; one that ended during it is missed (the pools
        # keep theirs).
        result.db_cpu = sum(cpu - db_cpu.get(pid, 0.0) for pid, cpu in end_db.items())
    result.probe = await asyncio.get_running_loop().run_in_executor(
        None, results.get, True, args.timeout + 30
    )
    prober.join(timeout=10)
    for client in clients:
        if client.transport is not None:
            client.transport.close()
    result.expected += result.acked
    result.stored = await measurement_count(args, server)
    return result


def postgres_cpu(database_url: str | None) -> dict[int, float] | None:
    """CPU seconds of each PostgreSQL backend connected to the database of `database_url` (its process
    title names the database), when the server runs on this machine; None otherwise."""
    if not database_url or not database_url.startswith("postgres"):
        return None
    name = database_url.rsplit("/", 1)[1].split("?", 1)[0]
    found: dict[int, float] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError, ValueError, IndexError):
            title = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            if title.startswith("postgres: ") and f" {name} " in title:
                found[int(entry.name)] = cpu_seconds(int(entry.name))
    return found or None


async def _publish(client: Client, count: int, window: int, limit: float) -> None:
    publisher = Publisher(client, count, window)
    publisher.pump()
    await asyncio.wait_for(publisher.done, limit * 10)


async def _create_probe_device(
    args: argparse.Namespace, server: Server, serial: str, login: str, pw: str
) -> str:
    """The probe device, created by template 100 over MQTT; its managed-object id (identity API)."""
    client = await open_device(server.mqtt_port, serial, login, pw, args.timeout)
    assert client.transport is not None
    body = _string("s/us") + (1).to_bytes(2, "big") + b"100,probe,c8y_MQTTDevice"
    publisher = Publisher(client, 1, 1)
    client.transport.write(b"\x32" + _vbi(len(body)) + body)
    publisher.sent = 1
    await asyncio.wait_for(publisher.done, args.timeout)
    client.transport.close()
    async with admin_client(args, server) as admin:
        response = await admin.get(f"/identity/externalIds/c8y_Serial/{serial}")
        if response.status_code == 404:
            raise RuntimeError(
                "template 100 created no device: is the SmartREST adapter installed in this server "
                "(tether.bootstrap.install_adapters, wired into `tether serve`)?"
            )
        response.raise_for_status()
        return str(response.json()["managedObject"]["id"])


# --------------------------------------------------------------------------- report


def print_report(args: argparse.Namespace, r: LoadResult) -> None:
    rate = r.acked / r.elapsed if r.elapsed else 0.0
    rounds = ", ".join(f"{(args.devices * args.measurements) / s:,.0f}" for s in r.rounds)
    print(f"measurements acknowledged: {r.acked:,} in {r.elapsed:.2f} s -> {rate:,.0f} per second")
    print(f"  per round (measurements/s): {rounds}")
    print(f"measurements in the database: {r.stored:,} (expected {r.expected:,} incl. warm-up)")
    lat = sorted(r.probe.get("latencies", []))
    print(
        f"operation REST -> s/ds under load: {len(lat)} delivered, {r.probe.get('lost', 0)} lost, "
        f"{r.probe.get('errors', 0)} errors; p50 {fmt(percentile(lat, 50), '.2f')} ms, "
        f"p90 {fmt(percentile(lat, 90), '.2f')} ms, p99 {fmt(percentile(lat, 99), '.2f')} ms, "
        f"max {fmt(lat[-1] if lat else None, '.2f')} ms"
    )
    server_cpu = fmt(None if r.server_cpu is None else 100 * r.server_cpu / r.elapsed, ".0f")
    print(
        f"cpu over the load: client {100 * r.client_cpu / r.elapsed:.0f}%, server {server_cpu}% (of one core)"
    )
    per = 1e6 / r.acked if r.acked else 0.0
    db = "-" if r.db_cpu is None else f"{r.db_cpu * per:.1f}"
    server_us = "-" if r.server_cpu is None else f"{r.server_cpu * per:.1f}"
    print(
        f"cpu per measurement: server {server_us} us, PostgreSQL backends {db} us, "
        f"client {r.client_cpu * per:.1f} us"
    )


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    loop_factory, loop_name = event_loop_factory()
    password = args.password or secrets.token_urlsafe(18)
    print("tether SmartREST ingest benchmark")
    print_machine(loop_name, args.database_url)
    print(
        f"load: {args.devices} devices x {args.measurements} measurements x {args.rounds} rounds on s/us, "
        f"QoS 1, window {args.window}; probe operation every {args.op_interval:g} ms"
    )
    status = 0
    exit_code: int | None = None
    log = ""
    with tempfile.TemporaryDirectory(prefix="tether-bench-") as tmp:
        server = Server(Path(tmp), password, args)
        result: LoadResult | None = None
        try:
            server.start()
            server.wait_ready(args.startup_timeout)
            print(f"server: pid {server.process.pid if server.process else '?'}, {server.base_url}")
            print()
            with asyncio.Runner(loop_factory=loop_factory) as runner:
                result = runner.run(run_load(args, server))
        except (RuntimeError, OSError, httpx.HTTPError, TimeoutError) as exc:
            print(f"benchmark aborted: {type(exc).__name__}: {exc}", file=sys.stderr)
            status = 2
        except KeyboardInterrupt:
            print("interrupted", file=sys.stderr)
            status = 130
        finally:
            exit_code = server.stop()
            log = server.log_text()
            if args.server_log is not None:
                args.server_log.write_text(log)
        if result is not None:
            print_report(args, result)
            probe = result.probe
            if status == 0 and (result.stored != result.expected or probe.get("lost") or probe.get("errors")):
                status = 1
        print()
        report_server(exit_code, log, aborted=status == 2)
    with contextlib.suppress(Exception):
        multiprocessing.active_children()
    return status


if __name__ == "__main__":
    sys.exit(main())
