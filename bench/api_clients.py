"""GET /api/v5/clients latency with many connected MQTT clients.

Starts `tether serve` in a subprocess on free loopback ports (SQLite in a fresh temporary data dir unless
--database-url), creates `--users` MQTT users (`/api/v5/authentication/.../users`), connects `--clients`
raw-socket MQTT 3.1.1 clients spread over them (Keep Alive 0, from 127.0.0.2-9 so that source ports do not
run out) and keeps them connected, then times sequential requests of five kinds: the first page (limit
100), three filtered pages (`like_clientid` + `proto_ver`: the client id is checked first, the connection
only of the 10% that match; `username` + `proto_ver`: the clients of one user, found through the user name
index; `like_username` + `proto_ver`: a substring, so every client's connection is read) and one client by
id (`clientid=`). Prints p50/p90/p99/max per kind. Target (docs/protocols.md section 8): p99 <= 50 ms with
10,000 clients.

    .venv/bin/python bench/api_clients.py                  # 10,000 clients, 300 requests per kind
    .venv/bin/python bench/api_clients.py --clients 2000 --requests 100

Helpers (server options, percentile, machine line) are those of bench/inventory_rest.py.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import secrets
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import httpx

from inventory_rest import (
    LOOPBACK,
    add_server_options,
    event_loop_factory,
    free_loopback_port,
    percentile,
    print_machine,
)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_server_options(parser)
    parser.add_argument("--clients", type=int, default=10_000, help="MQTT clients kept connected")
    parser.add_argument("--requests", type=int, default=300, help="requests per kind")
    parser.add_argument("--users", type=int, default=100, help="MQTT users the clients log in as")
    parser.add_argument("--concurrency", type=int, default=200, help="CONNECTs in flight at a time")
    return parser.parse_args(argv)


USERS = "/authentication/password_based:built_in_database/users"


def _string(value: str) -> bytes:
    data = value.encode()
    return len(data).to_bytes(2, "big") + data


def connect_packet(client_id: str, username: str, password: str) -> bytes:
    """MQTT 3.1.1 CONNECT (spec 3.1): clean session, user name and password, Keep Alive 0."""
    body = _string("MQTT") + bytes((4, 0xC2, 0, 0)) + _string(client_id) + _string(username)
    body += _string(password)
    length = len(body)
    encoded = bytearray()
    while True:
        byte, length = length % 128, length // 128
        encoded.append(byte | (0x80 if length else 0))
        if not length:
            break
    return bytes((0x10,)) + bytes(encoded) + body


async def connect_all(
    port: int, count: int, usernames: list[str], password: str, concurrency: int
) -> list[asyncio.StreamWriter]:
    writers: list[asyncio.StreamWriter] = []
    gate = asyncio.Semaphore(concurrency)

    async def one(i: int) -> None:
        async with gate:
            source = f"127.0.0.{2 + i % 8}"
            reader, writer = await asyncio.open_connection(LOOPBACK, port, local_addr=(source, 0))
            writer.write(connect_packet(f"bench-{i:05d}", usernames[i % len(usernames)], password))
            connack = await reader.readexactly(4)
            if connack[3] != 0:
                raise RuntimeError(f"CONNACK {connack[3]} for bench-{i:05d}")
            writers.append(writer)

    await asyncio.gather(*(one(i) for i in range(count)))
    return writers


def time_requests(client: httpx.Client, params: httpx.QueryParams, n: int) -> list[float]:
    timings = []
    for _ in range(n):
        start = time.perf_counter()
        response = client.get("/api/v5/clients", params=params)
        timings.append((time.perf_counter() - start) * 1000)
        response.raise_for_status()
    return timings


def main(args: argparse.Namespace, runner: asyncio.Runner) -> None:
    password = args.password or secrets.token_urlsafe(16)
    http_port, mqtt_port = free_loopback_port(), free_loopback_port()
    with tempfile.TemporaryDirectory(prefix="tether-bench-") as tmp:
        command = [sys.executable, "-m", "tether.cli", "serve", "--data-dir", tmp]
        command += ["--http", f"{LOOPBACK}:{http_port}", "--mqtt", f"{LOOPBACK}:{mqtt_port}"]
        command += ["--log-level", "warning"]
        if args.database_url:
            command += ["--database-url", args.database_url]
        env = {k: v for k, v in os.environ.items() if not k.startswith("TETHER_")}
        env.update(TETHER_ADMIN_PASSWORD=password, TETHER_TENANT=args.tenant, TETHER_ADMIN_USER=args.user)
        log = open(Path(tmp) / "server.log", "wb")  # noqa: SIM115
        server = subprocess.Popen(command, cwd=tmp, env=env, stdout=log, stderr=subprocess.STDOUT)
        base = f"http://{LOOPBACK}:{http_port}"
        auth = (f"{args.tenant}/{args.user}", password)
        try:
            with httpx.Client(base_url=base, auth=auth, timeout=30, trust_env=False) as client:
                deadline = time.monotonic() + args.startup_timeout
                while True:
                    with contextlib.suppress(httpx.HTTPError):
                        if client.get("/health").status_code == 200:
                            break
                    if time.monotonic() > deadline or server.poll() is not None:
                        raise RuntimeError("tether serve did not start")
                    time.sleep(0.1)
                users = [f"fleet-{u:04d}" for u in range(args.users)]
                for user in users:
                    body = {"user_id": user, "password": password}
                    client.post("/api/v5" + USERS, json=body).raise_for_status()
                start = time.perf_counter()
                usernames = [f"{args.tenant}/{user}" for user in users]
                writers = runner.run(
                    connect_all(mqtt_port, args.clients, usernames, password, args.concurrency)
                )
                took = time.perf_counter() - start
                print(f"{len(writers)} clients connected in {took:.1f} s")
                listed = client.get("/api/v5/clients", params={"limit": 1})
                listed.raise_for_status()
                print(f"GET /api/v5/clients reports count={listed.json()['meta']['count']}")
                kinds: dict[str, dict[str, str]] = {
                    "first page (limit 100)": {"limit": "100"},
                    "filtered (like_clientid)": {"like_clientid": "bench-01", "proto_ver": "4"},
                    "filtered (username)": {"username": usernames[len(users) // 2], "proto_ver": "4"},
                    "filtered (like_username)": {"like_username": "fleet-00", "proto_ver": "4"},
                    "one client (clientid=)": {"clientid": f"bench-{args.clients // 2:05d}"},
                }
                print(f"{'kind':<26}{'n':>6}{'p50 ms':>10}{'p90 ms':>10}{'p99 ms':>10}{'max ms':>10}")
                for name, params in kinds.items():
                    query = httpx.QueryParams(params)
                    time_requests(client, query, 10)  # warm up
                    t = sorted(time_requests(client, query, args.requests))
                    row = [percentile(t, p) for p in (50, 90, 99)] + [t[-1]]
                    print(f"{name:<26}{len(t):>6}" + "".join(f"{v:>10.1f}" for v in row))
            for writer in writers:
                writer.close()
        finally:
            server.terminate()
            server.wait(timeout=30)
            log.close()


if __name__ == "__main__":
    arguments = parse_args()
    factory, loop_name = event_loop_factory()
    print_machine(loop_name, arguments.database_url)
    with asyncio.Runner(loop_factory=factory) as runner:
        main(arguments, runner)
