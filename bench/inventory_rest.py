"""Inventory REST benchmark: managed-object creates, then get-by-id, against a local `tether serve`.

Starts `tether serve` as a subprocess on a free loopback port with a fresh temporary data directory
(SQLite unless --database-url is given), waits for /health, then drives it from this process with N
concurrent keep-alive httpx clients:

  phase 1 "create"     POST /inventory/managedObjects with a small device document
  phase 2 "get-by-id"  GET /inventory/managedObjects/{id} for random ids created in phase 1

Each phase stops at --seconds or --requests, whichever comes first. Only 2xx responses count as
successes; req/s and latency percentiles are computed over successes, errors are counted separately.

    .venv/bin/python bench/inventory_rest.py
    .venv/bin/python bench/inventory_rest.py --concurrency 64 --seconds 5
    .venv/bin/python bench/inventory_rest.py --database-url postgresql://user:pw@127.0.0.1/tether_bench
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import importlib.metadata
import json
import math
import os
import platform
import random
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import httpx

from http_client import RawClient

REPO_ROOT = Path(__file__).resolve().parent.parent
LOOPBACK = "127.0.0.1"
# Server log lines that are expected at startup and are not a sign of trouble.
EXPECTED_LOG_WARNINGS = ("Created tenant", "Created bootstrap user")

# (client, request number, rng) -> response; the client is an httpx.AsyncClient or an http_client.RawClient
Operation = Callable[[Any, int, random.Random], Awaitable[Any]]


# --------------------------------------------------------------------------- options


def add_server_options(parser: argparse.ArgumentParser, database_note: str = "") -> None:
    """The options of the `tether serve` subprocess and its user, shared by the REST benchmarks."""
    parser.add_argument(
        "--database-url",
        metavar="URL",
        help="passed to `tether serve --database-url` (e.g. postgresql://...); default: SQLite in a "
        "fresh temporary data dir" + database_note,
    )
    parser.add_argument("--tenant", metavar="ID", default="t1", help="tenant of the benchmark user")
    parser.add_argument("--user", metavar="NAME", default="admin", help="benchmark user (the tenant admin)")
    parser.add_argument(
        "--password",
        help="admin password; default: a random one, set through TETHER_ADMIN_PASSWORD (only applied "
        "when the tenant is created, so give the existing password for a reused database)",
    )
    parser.add_argument(
        "--startup-timeout", type=float, metavar="S", default=60.0, help="seconds to wait for /health"
    )
    parser.add_argument(
        "--server-log-level", metavar="LEVEL", default="info", help="`tether serve --log-level`"
    )
    parser.add_argument("--server-log", type=Path, metavar="FILE", help="also save the server log here")


def add_client_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--httpx",
        action="store_true",
        help="load with httpx.AsyncClient (one per connection) instead of bench/http_client.py's raw client; "
        "httpx costs ~1 ms of client CPU per request and caps the figures at ~1,000 req/s on 2 cores",
    )
    parser.add_argument(
        "--shared-pool",
        action="store_true",
        help="with --httpx: one httpx.AsyncClient with N pooled connections instead of N single-connection "
        "clients",
    )


def client_label(args: argparse.Namespace) -> str:
    if not args.httpx and not args.shared_pool:
        return "one raw HTTP/1.1 connection each (bench/http_client.py)"
    return "one shared httpx pool" if args.shared_pool else "one httpx.AsyncClient each"


async def open_clients(
    stack: contextlib.AsyncExitStack, args: argparse.Namespace, base_url: str, headers: dict[str, str]
) -> list[Any]:
    """The load's clients, closed with `stack`: raw keep-alive connections by default (http_client.py)."""
    if not args.httpx and not args.shared_pool:
        return [
            await stack.enter_async_context(RawClient(base_url, headers, args.timeout))
            for _ in range(args.concurrency)
        ]
    # One AsyncClient (one keep-alive connection) per concurrent client by default: httpcore rescans its
    # whole pool on every request start and end, so one shared pool of N connections costs O(N) client
    # CPU per request and makes the load generator, not the server, the bottleneck (encode/httpx#3215).
    pools = 1 if args.shared_pool else args.concurrency
    per_pool = args.concurrency if args.shared_pool else 1
    limits = httpx.Limits(max_connections=per_pool, max_keepalive_connections=per_pool, keepalive_expiry=120)
    return [
        await stack.enter_async_context(
            httpx.AsyncClient(
                base_url=base_url,
                headers=headers,
                limits=limits,
                timeout=httpx.Timeout(args.timeout),
                trust_env=False,  # no proxies: loopback only
            )
        )
        for _ in range(pools)
    ]


def add_ceiling_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--no-ceiling",
        dest="ceiling",
        action="store_false",
        help="skip the first phase, `ceiling`: GET /bench/ceiling (bench/ceiling_server.py), the same stack "
        "and authentication without storage, to which every other phase's req/s is compared",
    )


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Benchmark tether's inventory REST API (managed-object create and get-by-id).",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
        epilog="Exit status: 0 when every request succeeded, 1 when some failed, 2 when the server "
        "could not be started or the warm-up request failed.",
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
    add_client_options(parser)
    parser.add_argument(
        "--timeout", type=float, metavar="S", default=10.0, help="per-request timeout in seconds"
    )
    add_server_options(parser)
    add_ceiling_option(parser)
    parser.add_argument("--seed", type=int, metavar="N", default=1, help="seed of the id choice in phase 2")
    args = parser.parse_args(argv)
    if args.concurrency < 1:
        parser.error("--concurrency must be at least 1")
    if args.seconds <= 0 or args.requests < 1:
        parser.error("--seconds must be positive and --requests at least 1")
    return args


# --------------------------------------------------------------------------- environment


def free_loopback_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        port: int = sock.getsockname()[1]
        return port


def git_commit() -> str:
    try:
        done = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return done.stdout.strip() if done.returncode == 0 and done.stdout.strip() else "unknown"


def event_loop_factory() -> tuple[Callable[[], asyncio.AbstractEventLoop], str]:
    try:
        import uvloop
    except ImportError:
        return asyncio.new_event_loop, "asyncio"
    try:
        version = importlib.metadata.version("uvloop")
    except importlib.metadata.PackageNotFoundError:
        version = "?"
    return uvloop.new_event_loop, f"uvloop {version}"


def database_label(url: str | None) -> str:
    if not url:
        return "sqlite (fresh temporary data dir)"
    return f"{url.split(':', 1)[0]} (--database-url)"  # scheme only: the URL may hold a password


# --------------------------------------------------------------------------- server


class TetherServer:
    """`tether serve` in a subprocess, listening on loopback only, logging to a file. With `ceiling` it runs
    through bench/ceiling_server.py, which adds the benchmark-only route GET /bench/ceiling."""

    def __init__(
        self, data_dir: Path, password: str, args: argparse.Namespace, *, ceiling: bool = False
    ) -> None:
        self.entry = [str(REPO_ROOT / "bench" / "ceiling_server.py")] if ceiling else ["-m", "tether.cli"]
        self.data_dir = data_dir
        self.password = password
        self.args = args
        self.port = free_loopback_port()
        self.base_url = f"http://{LOOPBACK}:{self.port}"
        self.log_path = data_dir / "server.log"
        self.process: subprocess.Popen[bytes] | None = None
        self._log_file: IO[bytes] | None = None

    def start(self) -> None:
        command = [
            sys.executable,
            *self.entry,
            "serve",
            "--data-dir",
            str(self.data_dir),
            "--http",
            f"{LOOPBACK}:{self.port}",
            # Keep any MQTT listener on loopback too, on a port of its own.
            "--mqtt",
            f"{LOOPBACK}:{free_loopback_port()}",
            "--log-level",
            self.args.server_log_level,
        ]
        if self.args.database_url:
            command += ["--database-url", self.args.database_url]
        # Only the settings given here: no TETHER_* (e.g. TETHER_CONFIG) leaking in from the caller.
        env = {name: value for name, value in os.environ.items() if not name.startswith("TETHER_")}
        env["TETHER_ADMIN_PASSWORD"] = self.password
        env["TETHER_TENANT"] = self.args.tenant
        env["TETHER_ADMIN_USER"] = self.args.user
        self._log_file = open(self.log_path, "wb")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(
            command,
            cwd=self.data_dir,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # Ctrl-C reaches the benchmark, which then stops the server cleanly
        )

    def wait_ready(self, timeout: float) -> None:
        assert self.process is not None
        deadline = time.monotonic() + timeout
        with httpx.Client(base_url=self.base_url, timeout=2.0, trust_env=False) as client:
            while True:
                if self.process.poll() is not None:
                    raise RuntimeError(f"tether serve exited with status {self.process.returncode}")
                with contextlib.suppress(httpx.HTTPError):
                    if client.get("/health").status_code == 200:
                        return
                if time.monotonic() > deadline:
                    raise RuntimeError(f"tether serve not healthy after {timeout:.0f} s")
                time.sleep(0.1)

    def cpu_seconds(self) -> float | None:
        """User + system CPU time of the server process (Linux /proc), None where unavailable."""
        if self.process is None:
            return None
        try:
            stat = Path(f"/proc/{self.process.pid}/stat").read_text()
            fields = stat.rpartition(")")[2].split()
            return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        except (OSError, ValueError, IndexError):
            return None

    def stop(self) -> int | None:
        code: int | None = None
        if self.process is not None:
            if self.process.poll() is None:
                self.process.terminate()
            try:
                code = self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                code = self.process.wait()
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None
        return code

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""


def print_machine(loop_name: str, database_url: str | None) -> None:
    """The lines every benchmark's report starts with: machine, Python, commit, database."""
    print(
        f"machine: {os.cpu_count()} cpus, {platform.platform()}, "
        f"Python {platform.python_version()} ({platform.python_implementation()}), client loop {loop_name}"
    )
    print(f"tether: commit {git_commit()}, database {database_label(database_url)}")


def report_server(exit_code: int | None, log: str, *, aborted: bool) -> None:
    """How the server ended and what its log says: its tail when the run aborted, else the lines worth a
    look (warnings, errors, tracebacks)."""
    print(f"server exit status: {describe_exit(exit_code)}")
    suspicious = suspicious_log_lines(log)
    if aborted:
        print("server log (tail):")
        for line in log.splitlines()[-40:]:
            print(f"  {line}")
    elif suspicious:
        print(f"server log: {len(suspicious)} line(s) worth a look (first 40):")
        for line in suspicious[:40]:
            print(f"  {line}")
    else:
        print(f"server log: no warnings or errors ({len(log.splitlines())} lines)")


def describe_exit(code: int | None) -> str:
    if code is None:
        return "not started"
    if code == -signal.SIGTERM:
        return "terminated by SIGTERM (the benchmark's stop; uvicorn re-raises it after a clean shutdown)"
    if code < 0:
        return f"killed by {signal.Signals(-code).name}"
    return str(code)


def suspicious_log_lines(log: str) -> list[str]:
    """Lines of the server log that deserve a look: errors, warnings, tracebacks."""
    lines = log.splitlines()
    picked: list[str] = []
    in_traceback = False
    for line in lines:
        if line.startswith("Traceback"):
            in_traceback = True
        elif in_traceback and line and not line.startswith((" ", "\t")):
            picked.append(line)  # the exception line that ends the traceback
            in_traceback = False
            continue
        if in_traceback:
            picked.append(line)
            continue
        flagged = any(level in line for level in (" WARNING ", " ERROR ", " CRITICAL "))
        expected = any(text in line for text in EXPECTED_LOG_WARNINGS)
        server_error = " INFO tether.api:" in line and " -> 5" in line  # a 5xx answer
        if (flagged and not expected) or server_error:
            picked.append(line)
    return picked


# --------------------------------------------------------------------------- load generator


@dataclass
class PhaseResult:
    name: str
    requests: int = 0
    errors: int = 0
    elapsed: float = 0.0
    latencies_ms: list[float] = field(default_factory=list)
    error_kinds: Counter[str] = field(default_factory=Counter)
    error_samples: list[str] = field(default_factory=list)
    client_cpu: float | None = None
    server_cpu: float | None = None

    @property
    def successes(self) -> int:
        return self.requests - self.errors


async def run_phase(
    name: str,
    clients: Sequence[httpx.AsyncClient],
    operation: Operation,
    args: argparse.Namespace,
    server: TetherServer,
    on_success: Callable[[httpx.Response], None] | None = None,
) -> PhaseResult:
    result = PhaseResult(name)
    issued = 0
    cpu0, server_cpu0 = time.process_time(), server.cpu_seconds()
    start = time.perf_counter()
    deadline = start + args.seconds

    async def worker(index: int) -> None:
        nonlocal issued
        client = clients[index % len(clients)]
        rng = random.Random(args.seed * 1_000_003 + index)
        while issued < args.requests and time.perf_counter() < deadline:
            number = issued  # no await between the check and the increment: the claim is atomic
            issued += 1
            began = time.perf_counter()
            try:
                response = await operation(client, number, rng)
            except httpx.HTTPError as exc:
                result.requests += 1
                result.errors += 1
                result.error_kinds[type(exc).__name__] += 1
                if len(result.error_samples) < 3:
                    result.error_samples.append(f"{type(exc).__name__}: {exc}")
                await asyncio.sleep(0.01)  # a dead server must not turn this into a busy loop
                continue
            latency_ms = (time.perf_counter() - began) * 1000.0
            result.requests += 1
            if 200 <= response.status_code < 300:
                result.latencies_ms.append(latency_ms)
                if on_success is not None:
                    on_success(response)
            else:
                result.errors += 1
                result.error_kinds[f"HTTP {response.status_code}"] += 1
                if len(result.error_samples) < 3:
                    result.error_samples.append(f"HTTP {response.status_code}: {response.text[:300]}")

    await asyncio.gather(*(worker(i) for i in range(args.concurrency)))
    result.elapsed = time.perf_counter() - start
    result.client_cpu = (time.process_time() - cpu0) / result.elapsed
    server_cpu1 = server.cpu_seconds()
    if server_cpu0 is not None and server_cpu1 is not None:
        result.server_cpu = (server_cpu1 - server_cpu0) / result.elapsed
    return result


async def warm_up(clients: Sequence[httpx.AsyncClient], concurrency: int) -> None:
    """Prime the server's credential cache, then open every keep-alive connection once."""
    response = await clients[0].get("/user/currentUser")
    if response.status_code != 200:
        raise RuntimeError(f"warm-up GET /user/currentUser -> {response.status_code}: {response.text[:300]}")
    await asyncio.gather(*(clients[i % len(clients)].get("/user/currentUser") for i in range(concurrency)))


async def ceiling(client: httpx.AsyncClient, number: int, rng: random.Random) -> httpx.Response:
    """The framework's ceiling: the benchmark-only authenticated route of bench/ceiling_server.py."""
    return await client.get("/bench/ceiling")


async def run_load(args: argparse.Namespace, server: TetherServer) -> list[PhaseResult]:
    token = base64.b64encode(f"{args.tenant}/{args.user}:{server.password}".encode()).decode()
    headers = {"Authorization": f"Basic {token}", "Accept": "application/json"}
    run_tag = secrets.token_hex(4)  # keeps serial numbers unique when a database is reused
    created: list[str] = []
    post_headers = {"Content-Type": "application/json"}

    async def create(client: httpx.AsyncClient, number: int, rng: random.Random) -> httpx.Response:
        document = {
            "name": f"bench-{number}",
            "type": "c8y_Bench",
            "c8y_IsDevice": {},
            "c8y_Hardware": {"serialNumber": f"BENCH-{run_tag}-{number:08d}"},
        }
        body = json.dumps(document, separators=(",", ":")).encode()
        return await client.post("/inventory/managedObjects", content=body, headers=post_headers)

    def remember(response: httpx.Response) -> None:
        created.append(str(json.loads(response.content)["id"]))

    async def get_by_id(client: httpx.AsyncClient, number: int, rng: random.Random) -> httpx.Response:
        return await client.get(f"/inventory/managedObjects/{rng.choice(created)}")

    async with contextlib.AsyncExitStack() as stack:
        clients = await open_clients(stack, args, server.base_url, headers)
        await warm_up(clients, args.concurrency)
        results = [await run_phase("ceiling", clients, ceiling, args, server)] if args.ceiling else []
        results.append(await run_phase("create", clients, create, args, server, remember))
        if created:
            results.append(await run_phase("get-by-id", clients, get_by_id, args, server))
        else:
            print("phase get-by-id skipped: phase create created nothing", file=sys.stderr)
    return results


# --------------------------------------------------------------------------- report


def percentile(sorted_values: Sequence[float], pct: float) -> float:
    """Nearest-rank percentile; NaN for no values."""
    if not sorted_values:
        return math.nan
    rank = max(1, math.ceil(pct / 100.0 * len(sorted_values)))
    return sorted_values[rank - 1]


def fmt(value: float | None, spec: str) -> str:
    return "-" if value is None or math.isnan(value) else format(value, spec)


def rate_of(result: PhaseResult) -> float:
    return result.successes / result.elapsed if result.elapsed > 0 else math.nan


def server_ms(result: PhaseResult) -> float | None:
    """Server CPU milliseconds per successful request."""
    if result.server_cpu is None or not result.successes:
        return None
    return result.server_cpu * result.elapsed * 1000.0 / result.successes


def ceiling_ratio(results: Sequence[PhaseResult], result: PhaseResult) -> str:
    """A phase's req/s as a share of the `ceiling` phase's, '-' without one."""
    top = next((rate_of(r) for r in results if r.name == "ceiling"), math.nan)
    return fmt(rate_of(result) / top if top > 0 else math.nan, ".2f")


def print_report(results: Sequence[PhaseResult]) -> None:
    header = (
        f"{'phase':<10} {'requests':>9} {'errors':>7} {'req/s':>8} {'/ceiling':>8} {'p50 ms':>7} "
        f"{'p90 ms':>7} {'p99 ms':>7} {'max ms':>7} {'client cpu':>10} {'server cpu':>10} {'ms cpu/req':>10}"
    )
    print(header)
    print("-" * len(header))
    for r in results:
        lat = sorted(r.latencies_ms)
        rate = rate_of(r)
        client_cpu = None if r.client_cpu is None else r.client_cpu * 100
        server_cpu = None if r.server_cpu is None else r.server_cpu * 100
        print(
            f"{r.name:<10} {r.requests:>9} {r.errors:>7} {fmt(rate, '.0f'):>8} "
            f"{ceiling_ratio(results, r):>8} {fmt(percentile(lat, 50), '.2f'):>7} "
            f"{fmt(percentile(lat, 90), '.2f'):>7} {fmt(percentile(lat, 99), '.2f'):>7} "
            f"{fmt(lat[-1] if lat else None, '.1f'):>7} "
            f"{fmt(client_cpu, '.0f') + '%':>10} {fmt(server_cpu, '.0f') + '%':>10} "
            f"{fmt(server_ms(r), '.3f'):>10}"
        )
    print(
        "(req/s and latencies over 2xx responses only; /ceiling: req/s over the ceiling phase's; cpu as % of "
        "one core, over the phase; ms cpu/req: server CPU time per 2xx answer, the figure least moved by "
        "other work on the machine)"
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
    password = args.password or secrets.token_urlsafe(18)
    print("tether inventory REST benchmark")
    print_machine(loop_name, args.database_url)
    print(
        f"load: {args.concurrency} keep-alive clients "
        f"({client_label(args)}), "
        f"each phase {args.seconds:g} s or {args.requests} requests, whichever first"
    )

    status = 0
    with tempfile.TemporaryDirectory(prefix="tether-bench-") as tmp:
        server = TetherServer(Path(tmp), password, args, ceiling=args.ceiling)
        results: list[PhaseResult] = []
        try:
            server.start()
            server.wait_ready(args.startup_timeout)
            print(f"server: pid {server.process.pid if server.process else '?'}, {server.base_url}")
            print()
            with asyncio.Runner(loop_factory=loop_factory) as runner:
                results = runner.run(run_load(args, server))
        except (RuntimeError, OSError, httpx.HTTPError) as exc:
            print(f"benchmark aborted: {exc}", file=sys.stderr)
            status = 2
        except KeyboardInterrupt:
            print("interrupted", file=sys.stderr)
            status = 130
        finally:
            exit_code = server.stop()
            log = server.log_text()
            if args.server_log is not None:
                args.server_log.write_text(log)

        if results:
            print_report(results)
            if any(r.errors for r in results) and status == 0:
                status = 1
        print()
        report_server(exit_code, log, aborted=status == 2)
    return status


if __name__ == "__main__":
    sys.exit(main())
