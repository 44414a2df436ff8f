"""Retention under SmartREST ingest: how fast the retention job deletes old measurements while devices
publish on s/us at QoS 1, and how much it slows that ingest. Prints the figures; asserts nothing.

Starts `tether serve` as a subprocess (SQLite in a fresh temporary data dir unless --database-url) with the
retention job every second (TETHER_RETENTION_INTERVAL=1) and no default rule
(TETHER_DEFAULT_RETENTION_DAYS=0), then:

  seed      --old measurements 200 days old (type c8y_Old, collections of 1000 over REST), untimed;
  set-up    --devices device users (REST device bootstrap) connected over MQTT 3.1.1 (raw sockets), one
            warm-up message each;
  baseline  --rounds rounds of --measurements `200,c8y_Temperature,T,<v>` per device on s/us, --window
            unacknowledged each (a PUBACK means stored durably): acknowledged measurements/s;
  retention a rule {dataType MEASUREMENT, type c8y_Old, maximumAge 30} is created and the same load runs
            again at once; the old rows are counted (REST, dateTo, withTotalElements) every --poll
            seconds until none is left: rows deleted/s = seeded rows / (time the count reached 0 - rule
            created), and the ingest rate of the rounds that ran while old rows were still there.

    .venv/bin/python bench/retention.py
    .venv/bin/python bench/retention.py --old 1000000 --devices 50 --rounds 10
    .venv/bin/python bench/retention.py --database-url postgresql://user:pw@127.0.0.1/tether_bench

The server, MQTT client and report helpers are those of bench/smartrest_ingest.py and bench/inventory_rest.py.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

from inventory_rest import LOOPBACK, add_server_options, event_loop_factory, print_machine, report_server
from smartrest_ingest import Client, Server, _publish, admin_client, device_credentials, open_device

OLD_TYPE = "c8y_Old"


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--old", type=int, default=500_000, help="old measurements to delete")
    parser.add_argument("--devices", type=int, default=50)
    parser.add_argument("--measurements", type=int, default=200, help="messages per device per round")
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--window", type=int, default=8)
    parser.add_argument("--poll", type=float, default=1.0, help="seconds between counts of the old rows")
    parser.add_argument("--timeout", type=float, default=60.0)
    add_server_options(parser)
    args = parser.parse_args(argv)
    args.server_module = "tether.cli"
    return args


class RetentionServer(Server):
    """The SmartREST benchmark's server with the retention job every second and no default rule."""

    def start(self) -> None:
        command = [sys.executable, "-m", "tether.cli", "serve", "--data-dir", str(self.data_dir)]
        command += ["--http", f"{LOOPBACK}:{self.port}", "--mqtt", f"{LOOPBACK}:{self.mqtt_port}"]
        command += ["--log-level", self.args.server_log_level]
        if self.args.database_url:
            command += ["--database-url", self.args.database_url]
        env = {name: value for name, value in os.environ.items() if not name.startswith("TETHER_")}
        env.update(
            TETHER_ADMIN_PASSWORD=self.password,
            TETHER_BOOTSTRAP_PASSWORD=self.bootstrap_password,
            TETHER_TENANT=self.args.tenant,
            TETHER_ADMIN_USER=self.args.user,
            TETHER_RETENTION_INTERVAL="1",
            TETHER_DEFAULT_RETENTION_DAYS="0",
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


async def seed(args: argparse.Namespace, server: Server) -> float:
    async with admin_client(args, server) as admin:
        device = await admin.post("/inventory/managedObjects", json={"name": "old", "c8y_IsDevice": {}})
        device.raise_for_status()
        source = device.json()["id"]
        start = datetime.now(UTC) - timedelta(days=200)
        started = time.perf_counter()

        async def post(first: int, count: int) -> None:
            rows = [
                {
                    "source": {"id": source},
                    "type": OLD_TYPE,
                    "time": (start + timedelta(seconds=first + i)).isoformat(timespec="milliseconds"),
                    OLD_TYPE: {"v": {"value": i}},
                }
                for i in range(count)
            ]
            response = await admin.post("/measurement/measurements", json={"measurements": rows})
            response.raise_for_status()

        chunks = [(i, min(1000, args.old - i)) for i in range(0, args.old, 1000)]
        for at in range(0, len(chunks), 8):
            await asyncio.gather(*(post(first, count) for first, count in chunks[at : at + 8]))
        return time.perf_counter() - started


async def old_rows(admin: httpx.AsyncClient) -> int:
    """The rows older than 100 days (a count over the index on tenant and time: cheap beside the load)."""
    cutoff = (datetime.now(UTC) - timedelta(days=100)).isoformat(timespec="milliseconds")
    params: dict[str, str | int] = {
        "dateFrom": "1970-01-01T00:00:00Z",
        "dateTo": cutoff,
        "pageSize": 1,
        "withTotalElements": "true",
    }
    response = await admin.get("/measurement/measurements", params=params)
    response.raise_for_status()
    return int(response.json()["statistics"]["totalElements"])


async def rounds(args: argparse.Namespace, clients: list[Client]) -> list[tuple[float, float]]:
    """(start, end) of each round, perf_counter seconds."""
    spans = []
    for _ in range(args.rounds):
        started = time.perf_counter()
        await asyncio.gather(*(_publish(c, args.measurements, args.window, args.timeout) for c in clients))
        spans.append((started, time.perf_counter()))
    return spans


async def run(args: argparse.Namespace, server: Server) -> None:
    seeded = await seed(args, server)
    print(f"seeded {args.old:,} old measurements in {seeded:.1f} s")
    serials = [f"ret{i:04d}-{secrets.token_hex(3)}" for i in range(args.devices)]
    credentials = await device_credentials(args, server, serials)
    clients = [
        await open_device(server.mqtt_port, serial, login, password, args.timeout)
        for serial, (login, password) in zip(serials, credentials, strict=True)
    ]
    await asyncio.gather(*(_publish(c, 1, 1, args.timeout) for c in clients))
    per_round = args.devices * args.measurements

    baseline = await rounds(args, clients)
    base_rate = per_round * len(baseline) / sum(end - start for start, end in baseline)
    print(f"baseline ingest: {base_rate:,.0f} measurements/s ({len(baseline)} rounds of {per_round:,})")

    async with admin_client(args, server) as admin:
        before = await old_rows(admin)
        created = time.perf_counter()
        rule = {"dataType": "MEASUREMENT", "type": OLD_TYPE, "maximumAge": 30}
        (await admin.post("/retention/retentions", json=rule)).raise_for_status()

        async def watch() -> float:
            while True:
                if not await old_rows(admin):
                    return time.perf_counter()
                await asyncio.sleep(args.poll)

        watcher = asyncio.create_task(watch())
        loaded = await rounds(args, clients)
        emptied = await asyncio.wait_for(watcher, args.timeout * 10)
    deleting = emptied - created
    during = [(s, e) for s, e in loaded if e <= emptied]
    print(
        f"retention: {before:,} rows deleted in {deleting:.1f} s "
        f"-> {before / deleting:,.0f} rows/s (under load)"
    )
    if during:
        rate = per_round * len(during) / sum(e - s for s, e in during)
        print(
            f"ingest while deleting: {rate:,.0f} measurements/s over {len(during)} round(s) "
            f"-> {100 * (1 - rate / base_rate):.0f}% slower than the baseline"
        )
    else:
        print("ingest while deleting: no round ended before the deletion did (raise --old)")
    after = [(s, e) for s, e in loaded if s >= emptied]
    if after:
        rate = per_round * len(after) / sum(e - s for s, e in after)
        print(f"ingest after the deletion: {rate:,.0f} measurements/s over {len(after)} round(s)")
    for client in clients:
        if client.transport is not None:
            client.transport.close()


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    loop_factory, loop_name = event_loop_factory()
    password = args.password or secrets.token_urlsafe(18)
    print("tether retention benchmark")
    print_machine(loop_name, args.database_url)
    status = 0
    with tempfile.TemporaryDirectory(prefix="tether-bench-") as tmp:
        server = RetentionServer(Path(tmp), password, args)
        try:
            server.start()
            server.wait_ready(args.startup_timeout)
            with asyncio.Runner(loop_factory=loop_factory) as runner:
                runner.run(run(args, server))
        except (RuntimeError, OSError, httpx.HTTPError, TimeoutError) as exc:
            print(f"benchmark aborted: {type(exc).__name__}: {exc}", file=sys.stderr)
            status = 2
        finally:
            exit_code = server.stop()
            log = server.log_text()
            if args.server_log is not None:
                args.server_log.write_text(log)
        print()
        report_server(exit_code, log, aborted=status == 2)
    return status


if __name__ == "__main__":
    sys.exit(main())
