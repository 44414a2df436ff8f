"""Operation delivery latency benchmark: create -> Bayeux long-poll delivery, against a local `tether serve`.

Starts `tether serve` as a subprocess on a free loopback port with a fresh temporary data directory
(SQLite unless --database-url is given), waits for /health, creates one agent device, then runs two
clients in this process:

  listener  a Bayeux client on /devicecontrol/notifications: handshake, subscribe /<agentId>, then
            back-to-back /meta/connect long-polls (the device loop of Cumulocity's REST device integration,
            steps 6-7)
  operator  POST /devicecontrol/operations for the agent, one at a time ("sequential": the next one only
            after the previous one was delivered and the listener has re-armed its connect) and then with
            --in-flight operations outstanding at once

Latency of one operation: from just before its POST is sent to the moment the connect response that
carries that operation id arrives at the listener. Each phase stops at --operations or --seconds,
whichever comes first; an operation not delivered within --timeout counts as lost.

    .venv/bin/python bench/operations_latency.py
    .venv/bin/python bench/operations_latency.py --operations 1000 --in-flight 8
    .venv/bin/python bench/operations_latency.py --database-url postgresql://user:pw@127.0.0.1/tether_bench

The server and report helpers are those of bench/inventory_rest.py.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import math
import secrets
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from inventory_rest import (
    TetherServer,
    add_server_options,
    event_loop_factory,
    fmt,
    percentile,
    print_machine,
    report_server,
)

NOTIFICATIONS = "/devicecontrol/notifications"
OPERATIONS = "/devicecontrol/operations"

# --------------------------------------------------------------------------- options


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Benchmark tether's operation delivery: create -> pending Bayeux long-poll connect.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
        epilog="Exit status: 0 when every operation was created and delivered exactly once, 1 otherwise, "
        "2 when the server could not be started or the set-up failed.",
    )
    parser.add_argument(
        "--operations", type=int, metavar="N", default=500, help="operation-count limit of each phase"
    )
    parser.add_argument(
        "--seconds", type=float, metavar="S", default=20.0, help="duration limit of each phase"
    )
    parser.add_argument(
        "--in-flight", type=int, metavar="K", default=4, help="operations outstanding at once in phase 2"
    )
    parser.add_argument(
        "--gap",
        type=float,
        metavar="MS",
        default=2.0,
        help="sequential phase: pause after the listener re-sent its connect, so that the connect is "
        "pending on the server when the operation is created",
    )
    parser.add_argument(
        "--timeout", type=float, metavar="S", default=10.0, help="per-operation delivery timeout in seconds"
    )
    parser.add_argument(
        "--connect-hold",
        type=float,
        metavar="S",
        default=30.0,
        help="advice.timeout of the listener's connects (how long the server holds an empty one)",
    )
    add_server_options(parser)
    args = parser.parse_args(argv)
    if args.operations < 1 or args.in_flight < 1:
        parser.error("--operations and --in-flight must be at least 1")
    if args.seconds <= 0 or args.timeout <= 0 or args.connect_hold <= 0 or args.gap < 0:
        parser.error("--seconds, --timeout and --connect-hold must be positive, --gap not negative")
    return args


# --------------------------------------------------------------------------- listener


class BayeuxError(RuntimeError):
    pass


class Listener:
    """The agent's Bayeux long-poll loop; records when each operation id first arrives."""

    def __init__(self, client: httpx.AsyncClient, agent_id: str, hold: float) -> None:
        self.client = client
        self.agent_id = agent_id
        self.hold_ms = round(hold * 1000)
        self.client_id = ""
        self.delivered: dict[str, float] = {}
        self.duplicates = 0
        self.connects = 0
        self.waiters: dict[str, asyncio.Future[float]] = {}
        self.armed = asyncio.Event()  # set when a connect has just been sent
        self.stopping = False
        self._ids = 0

    def _next_id(self) -> str:
        self._ids += 1
        return str(self._ids)

    async def _send(self, message: dict[str, Any]) -> list[dict[str, Any]]:
        response = await self.client.post(NOTIFICATIONS, json=[{"id": self._next_id(), **message}])
        if response.status_code != 200:
            raise BayeuxError(f"{message['channel']} -> HTTP {response.status_code}: {response.text[:300]}")
        replies: list[dict[str, Any]] = response.json()
        return replies

    async def start(self) -> None:
        [shake] = await self._send(
            {
                "channel": "/meta/handshake",
                "version": "1.0",
                "supportedConnectionTypes": ["long-polling"],
                "advice": {"timeout": self.hold_ms, "interval": 0},
            }
        )
        if not shake.get("successful"):
            raise BayeuxError(f"handshake failed: {shake}")
        self.client_id = shake["clientId"]
        [subscribed] = await self._send(
            {"channel": "/meta/subscribe", "subscription": f"/{self.agent_id}", "clientId": self.client_id}
        )
        if not subscribed.get("successful"):
            raise BayeuxError(f"subscribe failed: {subscribed}")

    async def run(self) -> None:
        """Back-to-back connects until cancelled."""
        channel = f"/{self.agent_id}"
        while True:
            request = self._send(
                {
                    "channel": "/meta/connect",
                    "connectionType": "long-polling",
                    "clientId": self.client_id,
                    "advice": {"timeout": self.hold_ms},
                }
            )
            task = asyncio.ensure_future(request)
            self.armed.set()
            replies = await task
            arrived = time.perf_counter()
            self.armed.clear()
            self.connects += 1
            for message in replies:
                if message.get("channel") == channel:
                    op_id = str(message["data"]["id"])
                    if op_id in self.delivered:
                        self.duplicates += 1
                        continue
                    self.delivered[op_id] = arrived
                    waiter = self.waiters.pop(op_id, None)
                    if waiter is not None and not waiter.done():
                        waiter.set_result(arrived)
                elif message.get("channel") == "/meta/connect" and not message.get("successful"):
                    if self.stopping:
                        return  # our own /meta/disconnect released the held connect
                    raise BayeuxError(f"connect failed: {message}")
            if self.stopping:
                return

    async def stop(self, client: httpx.AsyncClient, task: asyncio.Task[None]) -> None:
        """/meta/disconnect (on another connection), which releases the held connect; cancel as a fallback."""
        self.stopping = True
        with contextlib.suppress(httpx.HTTPError):
            await client.post(
                NOTIFICATIONS,
                json=[{"id": self._next_id(), "channel": "/meta/disconnect", "clientId": self.client_id}],
            )
        done, _ = await asyncio.wait({task}, timeout=5)
        if not done:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def delivery_of(self, op_id: str, limit: float) -> float | None:
        """When the operation arrived (perf_counter), None if not within `limit` seconds."""
        if op_id in self.delivered:
            return self.delivered[op_id]
        waiter = self.waiters.setdefault(op_id, asyncio.get_running_loop().create_future())
        try:
            return await asyncio.wait_for(waiter, limit)
        except TimeoutError:
            self.waiters.pop(op_id, None)
            return None


# --------------------------------------------------------------------------- load


@dataclass
class PhaseResult:
    name: str
    created: int = 0
    errors: int = 0
    lost: int = 0
    elapsed: float = 0.0
    latencies_ms: list[float] = field(default_factory=list)
    error_samples: list[str] = field(default_factory=list)


async def run_phase(
    name: str,
    operator: httpx.AsyncClient,
    listener: Listener,
    agent_id: str,
    in_flight: int,
    args: argparse.Namespace,
) -> PhaseResult:
    result = PhaseResult(name)
    issued = 0
    start = time.perf_counter()
    deadline = start + args.seconds
    sequential = in_flight == 1

    async def worker(index: int) -> None:
        nonlocal issued
        while issued < args.operations and time.perf_counter() < deadline:
            number = issued
            issued += 1
            if sequential:
                await listener.armed.wait()  # the listener's next connect is on its way
                await asyncio.sleep(args.gap / 1000.0)
            body = {"deviceId": agent_id, "description": f"{name} #{number}", "c8y_Command": {"text": "x"}}
            began = time.perf_counter()
            try:
                response = await operator.post(OPERATIONS, json=body)
            except httpx.HTTPError as exc:
                result.errors += 1
                if len(result.error_samples) < 3:
                    result.error_samples.append(f"{type(exc).__name__}: {exc}")
                await asyncio.sleep(0.01)
                continue
            if response.status_code != 201:
                result.errors += 1
                if len(result.error_samples) < 3:
                    result.error_samples.append(f"HTTP {response.status_code}: {response.text[:300]}")
                continue
            result.created += 1
            arrived = await listener.delivery_of(str(response.json()["id"]), args.timeout)
            if arrived is None:
                result.lost += 1
            else:
                result.latencies_ms.append((arrived - began) * 1000.0)

    await asyncio.gather(*(worker(i) for i in range(in_flight)))
    result.elapsed = time.perf_counter() - start
    return result


async def run_load(args: argparse.Namespace, server: TetherServer) -> tuple[list[PhaseResult], Listener]:
    token = base64.b64encode(f"{args.tenant}/{args.user}:{server.password}".encode()).decode()
    headers = {"Authorization": f"Basic {token}", "Accept": "application/json"}
    async with contextlib.AsyncExitStack() as stack:
        operator = await stack.enter_async_context(
            httpx.AsyncClient(
                base_url=server.base_url,
                headers=headers,
                timeout=httpx.Timeout(args.timeout),
                limits=httpx.Limits(max_connections=args.in_flight, max_keepalive_connections=args.in_flight),
                trust_env=False,
            )
        )
        polling = await stack.enter_async_context(
            httpx.AsyncClient(
                base_url=server.base_url,
                headers=headers,
                timeout=httpx.Timeout(args.timeout, read=args.connect_hold + args.timeout),
                trust_env=False,
            )
        )
        created = await operator.post(
            "/inventory/managedObjects",
            json={"name": "bench-agent", "c8y_IsDevice": {}, "com_cumulocity_model_Agent": {}},
        )
        if created.status_code != 201:
            raise RuntimeError(f"agent create -> {created.status_code}: {created.text[:300]}")
        agent_id = str(created.json()["id"])
        listener = Listener(polling, agent_id, args.connect_hold)
        await listener.start()
        loop_task = asyncio.create_task(listener.run())
        results: list[PhaseResult] = []
        try:
            # Warm-up: one delivered operation (connections open, credentials cached).
            warm = await run_phase("warm-up", operator, listener, agent_id, 1, _limited(args, 5))
            if warm.created != 5 or warm.lost or warm.errors:
                raise RuntimeError(f"warm-up failed: {warm}")
            results.append(await run_phase("sequential", operator, listener, agent_id, 1, args))
            if args.in_flight > 1:
                name = f"in-flight-{args.in_flight}"
                results.append(await run_phase(name, operator, listener, agent_id, args.in_flight, args))
        finally:
            await listener.stop(operator, loop_task)
        if not loop_task.cancelled() and loop_task.exception() is not None:
            raise RuntimeError(f"listener failed: {loop_task.exception()}")
    return results, listener


def _limited(args: argparse.Namespace, operations: int) -> argparse.Namespace:
    return argparse.Namespace(**{**vars(args), "operations": operations})


# --------------------------------------------------------------------------- report


def print_report(results: Sequence[PhaseResult], listener: Listener) -> None:
    header = (
        f"{'phase':<13} {'count':>6} {'errors':>6} {'lost':>5} {'ops/s':>7} {'p50 ms':>7} {'p90 ms':>7} "
        f"{'p99 ms':>7} {'max ms':>7}"
    )
    print(header)
    print("-" * len(header))
    for r in results:
        lat = sorted(r.latencies_ms)
        rate = len(lat) / r.elapsed if r.elapsed > 0 else math.nan
        print(
            f"{r.name:<13} {len(lat):>6} {r.errors:>6} {r.lost:>5} {fmt(rate, '.0f'):>7} "
            f"{fmt(percentile(lat, 50), '.2f'):>7} {fmt(percentile(lat, 90), '.2f'):>7} "
            f"{fmt(percentile(lat, 99), '.2f'):>7} {fmt(lat[-1] if lat else None, '.2f'):>7}"
        )
    print("(latency: POST /devicecontrol/operations sent -> connect response carrying that operation id)")
    print(
        f"listener: {listener.connects} connect responses, {len(listener.delivered)} operations delivered, "
        f"{listener.duplicates} duplicate deliveries"
    )
    for r in results:
        for sample in r.error_samples:
            print(f"  error in {r.name}: {sample}")


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    loop_factory, loop_name = event_loop_factory()
    password = args.password or secrets.token_urlsafe(18)
    print("tether operation delivery latency benchmark")
    print_machine(loop_name, args.database_url)
    print(
        f"load: each phase {args.operations} operations or {args.seconds:g} s, whichever first; "
        f"sequential (gap {args.gap:g} ms), then {args.in_flight} in flight; "
        f"delivery timeout {args.timeout:g} s"
    )

    status = 0
    exit_code: int | None = None
    log = ""
    with tempfile.TemporaryDirectory(prefix="tether-bench-") as tmp:
        server = TetherServer(Path(tmp), password, args)
        results: list[PhaseResult] = []
        listener: Listener | None = None
        try:
            server.start()
            server.wait_ready(args.startup_timeout)
            print(f"server: pid {server.process.pid if server.process else '?'}, {server.base_url}")
            print()
            with asyncio.Runner(loop_factory=loop_factory) as runner:
                results, listener = runner.run(run_load(args, server))
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

        if results and listener is not None:
            print_report(results, listener)
            if status == 0 and (any(r.errors or r.lost for r in results) or listener.duplicates):
                status = 1
        print()
        report_server(exit_code, log, aborted=status == 2)
    return status


if __name__ == "__main__":
    sys.exit(main())
