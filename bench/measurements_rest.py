"""Measurement ingestion REST benchmark: single measurements and collections, against a local `tether serve`.

Starts `tether serve` as a subprocess on a free loopback port with a fresh temporary data directory
(SQLite unless --database-url is given), waits for /health, creates one device per concurrent client,
then drives the server from this process with N concurrent keep-alive httpx clients:

  phase 1 "single"      POST /measurement/measurements with one measurement
  phase 2 "batch-100"   POST /measurement/measurements with {"measurements": [...100...]}
                        (Content-Type measurementCollection; --batch-size changes the 100)

Every 201 is durable on return: the server answers only after the commit (SQLite: WAL with
synchronous=FULL, one fsync per group commit; PostgreSQL: COMMIT). The benchmark checks it: after the
phases it stops the server, starts a new one on the same data and counts the stored measurements,
which must equal the rows acknowledged (--no-verify skips this).

Each phase stops at --seconds or --requests, whichever comes first. Only 2xx responses count as
successes; req/s, rows/s and latency percentiles are over successes, errors are counted separately.

    .venv/bin/python bench/measurements_rest.py
    .venv/bin/python bench/measurements_rest.py --concurrency 64 --seconds 5 --batch-size 500
    .venv/bin/python bench/measurements_rest.py --database-url postgresql://user:pw@127.0.0.1/tether_bench

Filling the store for the `paged` phase takes most of a run (~40 s for 1M rows). `--data-dir DIR` keeps the
server's data (and the benchmark's devices and password, in DIR/bench-state.json) for the next run with the
same DIR (and --database-url), which fills only what is missing up to --stored:

    .venv/bin/python bench/measurements_rest.py --data-dir /tmp/meas-1m --phases paged --no-ceiling

The server, load loop and report helpers are those of bench/inventory_rest.py.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import json
import math
import random
import secrets
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from inventory_rest import (
    PhaseResult,
    TetherServer,
    add_ceiling_option,
    add_client_options,
    add_server_options,
    ceiling,
    ceiling_ratio,
    client_label,
    event_loop_factory,
    fmt,
    open_clients,
    percentile,
    print_machine,
    report_server,
    run_phase,
    server_ms,
    warm_up,
)

MEASUREMENTS = "/measurement/measurements"
STATE_FILE = "bench-state.json"
COLLECTION = "application/vnd.com.nsn.cumulocity.measurementcollection+json"

# --------------------------------------------------------------------------- options


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Benchmark tether's measurement ingestion over REST (single and collection POSTs).",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
        epilog="Exit status: 0 when every request succeeded and every acknowledged row was found after a "
        "restart, 1 otherwise, 2 when the server could not be started or the set-up failed.",
    )
    parser.add_argument(
        "--concurrency", type=int, metavar="N", default=32, help="concurrent clients (connections)"
    )
    parser.add_argument(
        "--seconds", type=float, metavar="S", default=10.0, help="duration limit of each phase"
    )
    parser.add_argument(
        "--requests", type=int, metavar="N", default=100_000, help="request-count limit of each phase"
    )
    parser.add_argument(
        "--batch-size", type=int, metavar="N", default=100, help="measurements per collection POST"
    )
    add_client_options(parser)
    parser.add_argument(
        "--timeout", type=float, metavar="S", default=30.0, help="per-request timeout in seconds"
    )
    add_server_options(parser, ". The verification counts the whole tenant: use an empty database.")
    add_ceiling_option(parser)
    parser.add_argument("--seed", type=int, metavar="N", default=1, help="seed of the load loop")
    parser.add_argument(
        "--stored",
        type=int,
        metavar="N",
        default=1_000_000,
        help="before the `paged` phase, fill the store up to N measurements (collections of --seed-batch "
        "over the same devices); 0 skips the phase",
    )
    parser.add_argument("--seed-batch", type=int, metavar="N", default=1000, help="rows per filling POST")
    parser.add_argument(
        "--page-size", type=int, metavar="N", default=100, help="pageSize of the `paged` phase's GETs"
    )
    parser.add_argument(
        "--phases",
        default="single,batch,paged",
        metavar="LIST",
        help="which of the phases single, batch and paged to run (comma-separated), e.g. `batch` alone "
        "while profiling one of them",
    )
    parser.add_argument(
        "--fixed-times",
        action="store_true",
        help="send the same times on every request of a device (this benchmark's bodies until 2026-12-04) "
        "instead of times advancing 1 ms per measurement, as a device's do",
    )
    parser.add_argument(
        "--no-verify", action="store_true", help="skip the restart and the count of stored measurements"
    )
    parser.add_argument(
        "--data-dir",
        type=Path,
        metavar="DIR",
        help="the server's data dir, kept after the run with the devices and password in "
        f"DIR/{STATE_FILE}; a later run on the same DIR (and --database-url) reuses them and fills only "
        "the rows missing up to --stored; default: a fresh temporary dir",
    )
    args = parser.parse_args(argv)
    if min(args.concurrency, args.batch_size, args.seed_batch, args.page_size) < 1:
        parser.error("--concurrency, --batch-size, --seed-batch and --page-size must be at least 1")
    args.phases = {name.strip() for name in args.phases.split(",") if name.strip()}
    if not args.phases <= {"single", "batch", "paged"}:
        parser.error("--phases takes single, batch and paged")
    if args.seconds <= 0 or args.requests < 1:
        parser.error("--seconds must be positive and --requests at least 1")
    return args


# --------------------------------------------------------------------------- load


def client_headers(args: argparse.Namespace, password: str) -> dict[str, str]:
    token = base64.b64encode(f"{args.tenant}/{args.user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}", "Accept": "application/json"}


def bodies(source: str, batch_size: int, number: int) -> tuple[bytes, bytes]:
    """One measurement and one collection of `batch_size`, for a device, as the bytes to send: the same
    times on every request (--fixed-times)."""
    base = datetime(2024, 1, 1, tzinfo=UTC).timestamp() + number

    def document(offset: int) -> dict[str, object]:
        moment = datetime.fromtimestamp(base + offset / 1000, tz=UTC)
        return {
            "source": {"id": source},
            "type": "c8y_Bench",
            "time": moment.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "c8y_Temperature": {"T": {"value": 20.0 + offset % 10, "unit": "C"}},
        }

    single = json.dumps(document(0), separators=(",", ":")).encode()
    batch = json.dumps(
        {"measurements": [document(i) for i in range(batch_size)]}, separators=(",", ":")
    ).encode()
    return single, batch


#: The first time the devices report (advancing times start here).
EPOCH_MS = int(datetime(2024, 1, 1, tzinfo=UTC).timestamp() * 1000)


class Device:
    """The bodies one device sends. By default its clock advances 1 ms per measurement sent, as a real
    device's times do: resending the same times (--fixed-times, how this benchmark sent them until
    2026-12-04) puts each new row of a collection beside an older copy in a different place of both
    measurement indexes, so on SQLite a collection of 100 rewrote ~100 index pages per index, a cost that grew
    with the run's length (bench/README.md, REST throughput, third round)."""

    def __init__(self, source: str, number: int, fixed: bool) -> None:
        self.fixed = fixed
        self.head = b'{"source":{"id":"%s"},"type":"c8y_Bench","time":"' % source.encode()
        self.tails = [b'","c8y_Temperature":{"T":{"value":%.1f,"unit":"C"}}}' % (20.0 + i) for i in range(10)]
        self.clock = EPOCH_MS
        self.seconds: dict[int, bytes] = {}
        self.source, self.number = source, number
        self.cached: dict[int, tuple[bytes, bytes]] = {}

    def _time(self, ms: int) -> bytes:
        second = self.seconds.get(ms // 1000)
        if second is None:
            if len(self.seconds) > 1000:
                self.seconds.clear()
            moment = datetime.fromtimestamp(ms // 1000, tz=UTC)
            second = self.seconds[ms // 1000] = moment.strftime("%Y-%m-%dT%H:%M:%S").encode()
        return b"%s.%03dZ" % (second, ms % 1000)

    def _document(self, ms: int, offset: int) -> bytes:
        return self.head + self._time(ms) + self.tails[offset % 10]

    def single(self) -> bytes:
        if self.fixed:
            return self._fixed(1)[0]
        self.clock += 1
        return self._document(self.clock, 0)

    def batch(self, size: int, number: int | None = None) -> bytes:
        """A collection of `size`; with --fixed-times the one of `bodies(source, size, number)`."""
        if self.fixed:
            return self._fixed(size, number)[1]
        start, self.clock = self.clock + 1, self.clock + size
        documents = b",".join([self._document(start + i, i) for i in range(size)])
        return b'{"measurements":[%s]}' % documents

    def _fixed(self, size: int, number: int | None = None) -> tuple[bytes, bytes]:
        number = self.number if number is None else number
        key = size * 1_000_003 + number
        if key not in self.cached:
            self.cached[key] = bodies(self.source, size, number)
        return self.cached[key]


async def run_load(
    args: argparse.Namespace, server: TetherServer, state: dict[str, Any]
) -> tuple[list[PhaseResult], dict[str, int]]:
    """The phases' results and the rows acknowledged: by each phase and, reusing a data dir, before."""
    headers = client_headers(args, server.password)
    acknowledged = {"before": 0, "single": 0, f"batch-{args.batch_size}": 0, "fill": 0}
    async with contextlib.AsyncExitStack() as stack:
        clients = await open_clients(stack, args, server.base_url, headers)
        await warm_up(clients, args.concurrency)
        sources: list[str] = state.setdefault("sources", [])
        if sources:
            acknowledged["before"] = await count_stored(server, server.password, args)
            print(f"reused: {acknowledged['before']} rows stored over {len(sources)} devices")
        run_tag = secrets.token_hex(4)
        for index in range(len(sources), args.concurrency):
            response = await clients[0].post(
                "/inventory/managedObjects",
                json={"name": f"bench-{run_tag}-{index}", "type": "c8y_Bench", "c8y_IsDevice": {}},
            )
            if response.status_code != 201:
                raise RuntimeError(f"creating a device -> {response.status_code}: {response.text[:300]}")
            sources.append(response.json()["id"])
        save_state(args, state)
        sources = sources[: args.concurrency]
        devices = [Device(source, index, args.fixed_times) for index, source in enumerate(sources)]
        single_headers = {"Content-Type": "application/json"}
        batch_headers = {"Content-Type": COLLECTION}

        # Requests are numbered from 0 in each phase; request n goes to device n % concurrency.
        async def single(client: httpx.AsyncClient, number: int, rng: random.Random) -> httpx.Response:
            body = devices[number % len(devices)].single()
            return await client.post(MEASUREMENTS, content=body, headers=single_headers)

        async def batch(client: httpx.AsyncClient, number: int, rng: random.Random) -> httpx.Response:
            body = devices[number % len(devices)].batch(args.batch_size)
            return await client.post(MEASUREMENTS, content=body, headers=batch_headers)

        def counted(phase: str, rows: int) -> Callable[[httpx.Response], None]:
            def on_success(response: httpx.Response) -> None:  # called for 2xx answers only
                acknowledged[phase] += rows

            return on_success

        batch_phase = f"batch-{args.batch_size}"
        results = [await run_phase("ceiling", clients, ceiling, args, server)] if args.ceiling else []
        if "single" in args.phases:
            results.append(await run_phase("single", clients, single, args, server, counted("single", 1)))
        if "batch" in args.phases:
            results.append(
                await run_phase(
                    batch_phase, clients, batch, args, server, counted(batch_phase, args.batch_size)
                )
            )
        if args.stored > 0 and "paged" in args.phases:
            await fill(clients, devices, args, acknowledged)

            async def paged(client: httpx.AsyncClient, number: int, rng: random.Random) -> httpx.Response:
                return await client.get(
                    f"{MEASUREMENTS}?source={rng.choice(sources)}&pageSize={args.page_size}"
                )

            results.append(await run_phase("paged", clients, paged, args, server))
    return results, acknowledged


async def fill(
    clients: Sequence[Any], devices: list[Device], args: argparse.Namespace, acknowledged: dict[str, int]
) -> None:
    """Store collections of --seed-batch rows until --stored measurements are stored (untimed)."""
    missing = args.stored - sum(acknowledged.values())
    headers = {"Content-Type": COLLECTION}
    began = time.perf_counter()

    async def worker(index: int) -> None:
        nonlocal missing
        while missing > 0:
            missing -= args.seed_batch
            device = devices[index % len(devices)]
            body = device.batch(args.seed_batch, 10_000 + device.number)
            response = await clients[index % len(clients)].post(MEASUREMENTS, content=body, headers=headers)
            if response.status_code != 201:
                raise RuntimeError(f"filling -> {response.status_code}: {response.text[:300]}")
            acknowledged["fill"] += args.seed_batch

    await asyncio.gather(*(worker(i) for i in range(args.concurrency)))
    took = time.perf_counter() - began
    print(
        f"filled: {acknowledged['fill']} rows in {took:.1f} s ({acknowledged['fill'] / took:.0f} rows/s), "
        f"{sum(acknowledged.values())} stored over {len(devices)} devices"
    )


def load_state(args: argparse.Namespace) -> dict[str, Any]:
    """What a previous run on --data-dir left (password, devices), or a new state."""
    if args.data_dir is not None and (args.data_dir / STATE_FILE).exists():
        state: dict[str, Any] = json.loads((args.data_dir / STATE_FILE).read_text())
        if args.password is not None:
            state["password"] = args.password
        return state
    return {"password": args.password or secrets.token_urlsafe(18)}


def save_state(args: argparse.Namespace, state: dict[str, Any]) -> None:
    if args.data_dir is not None:
        (args.data_dir / STATE_FILE).write_text(json.dumps(state))


async def count_stored(server: TetherServer, password: str, args: argparse.Namespace) -> int:
    async with httpx.AsyncClient(
        base_url=server.base_url, headers=client_headers(args, password), timeout=60, trust_env=False
    ) as client:
        response = await client.get(
            MEASUREMENTS, params={"type": "c8y_Bench", "pageSize": "1", "withTotalElements": "true"}
        )
        response.raise_for_status()
        stored: int = response.json()["statistics"]["totalElements"]
        return stored


# --------------------------------------------------------------------------- report


def print_report(results: Sequence[PhaseResult], rows_per_request: dict[str, int]) -> None:
    header = (
        f"{'phase':<10} {'requests':>9} {'errors':>7} {'req/s':>8} {'/ceiling':>8} {'rows/s':>9} "
        f"{'p50 ms':>7} {'p90 ms':>7} {'p99 ms':>7} {'max ms':>7} {'client cpu':>10} {'server cpu':>10} "
        f"{'ms cpu/req':>10}"
    )
    print(header)
    print("-" * len(header))
    for r in results:
        lat = sorted(r.latencies_ms)
        rate = r.successes / r.elapsed if r.elapsed > 0 else math.nan
        rows = rate * rows_per_request[r.name]
        client_cpu = None if r.client_cpu is None else r.client_cpu * 100
        server_cpu = None if r.server_cpu is None else r.server_cpu * 100
        print(
            f"{r.name:<10} {r.requests:>9} {r.errors:>7} {fmt(rate, '.0f'):>8} "
            f"{ceiling_ratio(results, r):>8} {fmt(rows, '.0f'):>9} "
            f"{fmt(percentile(lat, 50), '.2f'):>7} {fmt(percentile(lat, 90), '.2f'):>7} "
            f"{fmt(percentile(lat, 99), '.2f'):>7} {fmt(lat[-1] if lat else None, '.1f'):>7} "
            f"{fmt(client_cpu, '.0f') + '%':>10} {fmt(server_cpu, '.0f') + '%':>10} "
            f"{fmt(server_ms(r), '.3f'):>10}"
        )
    print(
        "(req/s, rows/s and latencies over 2xx responses only; /ceiling: req/s over the ceiling phase's; cpu "
        "as % of one core, over the phase; ms cpu/req: server CPU time per 2xx answer, the figure least "
        "moved by other work on the machine)"
    )
    for r in results:
        if r.errors:
            kinds = ", ".join(f"{kind} x{count}" for kind, count in r.error_kinds.most_common())
            print(f"errors in {r.name} ({r.elapsed:.1f} s): {kinds}")
            for sample in r.error_samples:
                print(f"  {sample}")


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    loop_factory, loop_name = event_loop_factory()
    if args.data_dir is not None:
        args.data_dir.mkdir(parents=True, exist_ok=True)
    state = load_state(args)
    password: str = state["password"]
    print("tether measurement ingestion REST benchmark")
    print_machine(loop_name, args.database_url)
    print(
        f"load: {args.concurrency} keep-alive clients "
        f"({client_label(args)}), one device "
        f"each, each phase {args.seconds:g} s or {args.requests} requests, whichever first"
    )
    if args.data_dir is not None:
        print(f"data dir: {args.data_dir} (kept; {'reused' if 'sources' in state else 'new'})")

    status = 0
    logs: list[str] = []
    exit_code: int | None = None
    with contextlib.ExitStack() as dirs:
        tmp = args.data_dir or dirs.enter_context(tempfile.TemporaryDirectory(prefix="tether-bench-"))
        server = TetherServer(Path(tmp), password, args, ceiling=args.ceiling)
        results: list[PhaseResult] = []
        acknowledged: dict[str, int] = {}
        stored: int | None = None
        verify_seconds = 0.0
        try:
            server.start()
            server.wait_ready(args.startup_timeout)
            print(f"server: pid {server.process.pid if server.process else '?'}, {server.base_url}")
            print()
            with asyncio.Runner(loop_factory=loop_factory) as runner:
                results, acknowledged = runner.run(run_load(args, server, state))
            exit_code = server.stop()
            logs.append(server.log_text())
            if not args.no_verify:
                # A new process on the same data: what it counts was on disk, not in the old one's memory.
                began = time.perf_counter()
                server = TetherServer(Path(tmp), password, args)
                server.start()
                server.wait_ready(args.startup_timeout)
                with asyncio.Runner(loop_factory=loop_factory) as runner:
                    stored = runner.run(count_stored(server, password, args))
                verify_seconds = time.perf_counter() - began
        except (RuntimeError, OSError, httpx.HTTPError) as exc:
            print(f"benchmark aborted: {exc}", file=sys.stderr)
            status = 2
        except KeyboardInterrupt:
            print("interrupted", file=sys.stderr)
            status = 130
        finally:
            last_exit = server.stop()
            exit_code = exit_code if exit_code is not None else last_exit
            if not logs or server.log_text() not in logs:
                logs.append(server.log_text())
            log = "\n".join(logs)
            if args.server_log is not None:
                args.server_log.write_text(log)

        if results:
            rows = {
                "ceiling": 1,
                "single": 1,
                f"batch-{args.batch_size}": args.batch_size,
                "paged": args.page_size,
            }
            print_report(results, rows)
            if any(r.errors for r in results) and status == 0:
                status = 1
        if stored is not None:
            expected = sum(acknowledged.values())
            verdict = "OK" if stored == expected else "MISMATCH"
            print(
                f"durability: {expected} rows acknowledged with 201 (by this run, and before it with a "
                f"reused --data-dir), {stored} found by a restarted server ({verify_seconds:.1f} s to "
                f"restart and count): {verdict}"
            )
            if stored != expected and status == 0:
                status = 1
        print()
        report_server(exit_code, log, aborted=status == 2)
    return status


if __name__ == "__main__":
    sys.exit(main())
