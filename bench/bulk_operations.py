"""Bulk operations benchmark: one bulk operation (creationRamp 0) over a device group of many devices, against
`tether serve` (SQLite in a fresh temporary data dir unless --database-url is given).

  set-up  a group and --devices devices (agents: `com_cumulocity_model_Agent`) assigned to it, over REST;
  bulk    POST /devicecontrol/bulkoperations, then GET it until COMPLETED (every operation created);
  cancel  a second bulk operation with a ramp of 1 s, cancelled at once after its first operation, whose
          PENDING operation fails (the DELETE's time is printed).

Printed: time from the POST to COMPLETED, operations created per second, server CPU over that time.

    .venv/bin/python bench/bulk_operations.py
    .venv/bin/python bench/bulk_operations.py --devices 5000 --database-url postgresql://u:pw@127.0.0.1/db
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import httpx

from inventory_rest import TetherServer, add_server_options, event_loop_factory, print_machine, report_server

MO = "/inventory/managedObjects"
BULK = "/devicecontrol/bulkoperations"


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--devices", type=int, default=5000, metavar="N", help="devices in the group")
    parser.add_argument("--concurrency", type=int, default=16, metavar="C", help="set-up requests in flight")
    parser.add_argument("--timeout", type=float, default=120.0, metavar="S", help="HTTP timeout")
    add_server_options(parser)
    return parser.parse_args(argv)


async def run(args: argparse.Namespace, server: TetherServer) -> None:
    auth = (f"{args.tenant}/{args.user}", server.password)
    async with httpx.AsyncClient(
        base_url=server.base_url, auth=auth, timeout=args.timeout, trust_env=False
    ) as c:
        group = (await c.post(MO, json={"name": "bench", "c8y_IsDeviceGroup": {}})).json()["id"]
        gate = asyncio.Semaphore(args.concurrency)
        started = time.perf_counter()

        async def device(i: int) -> None:
            async with gate:
                body = {"name": f"d{i}", "c8y_IsDevice": {}, "com_cumulocity_model_Agent": {}}
                mo_id = (await c.post(MO, json=body)).json()["id"]
                ref = {"managedObject": {"id": mo_id}}
                (await c.post(f"{MO}/{group}/childAssets", json=ref)).raise_for_status()

        await asyncio.gather(*(device(i) for i in range(args.devices)))
        print(f"set-up: {args.devices:,} devices in a group in {time.perf_counter() - started:.1f} s")

        cpu_before = server.cpu_seconds()
        started = time.perf_counter()
        prototype = {"description": "bench", "c8y_Restart": {}}
        posted = await c.post(
            BULK, json={"groupId": group, "creationRamp": 0, "operationPrototype": prototype}
        )
        posted.raise_for_status()
        bulk_id = posted.json()["id"]
        while True:
            body = (await c.get(f"{BULK}/{bulk_id}")).json()
            if body["status"] == "COMPLETED":
                break
            await asyncio.sleep(0.02)
        elapsed = time.perf_counter() - started
        cpu_after = server.cpu_seconds()
        created = body["progress"]["pending"]
        print(
            f"bulk: {created:,} operations created in {elapsed:.2f} s from the POST "
            f"({created / elapsed:,.0f} operations/s); status {body['status']}, {body['generalStatus']}"
        )
        if cpu_before is not None and cpu_after is not None:
            print(f"server cpu over the bulk: {100 * (cpu_after - cpu_before) / elapsed:.0f}%")

        later = await c.post(
            BULK, json={"groupId": group, "creationRamp": 1, "operationPrototype": prototype}
        )
        later_id = later.json()["id"]
        for _ in range(5000):  # the runner starts it at once
            if (await c.get(f"{BULK}/{later_id}")).json()["status"] == "IN_PROGRESS":
                break
        started = time.perf_counter()
        (await c.delete(f"{BULK}/{later_id}")).raise_for_status()
        progress = (await c.get(f"{BULK}/{later_id}")).json()["progress"]
        print(
            f"cancel: DELETE in {1000 * (time.perf_counter() - started):.0f} ms; progress after it {progress}"
        )


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    loop_factory, loop_name = event_loop_factory()
    password = args.password or secrets.token_urlsafe(18)
    print("tether bulk operations benchmark")
    print_machine(loop_name, args.database_url)
    status = 0
    with tempfile.TemporaryDirectory(prefix="tether-bench-") as tmp:
        server = TetherServer(Path(tmp), password, args)
        try:
            server.start()
            server.wait_ready(args.startup_timeout)
            with asyncio.Runner(loop_factory=loop_factory) as runner:
                runner.run(run(args, server))
        except (RuntimeError, OSError, httpx.HTTPError, TimeoutError, KeyError) as exc:
            print(f"benchmark aborted: {type(exc).__name__}: {exc}", file=sys.stderr)
            status = 2
        finally:
            exit_code = server.stop()
            log = server.log_text()
            if args.server_log is not None:
                args.server_log.write_text(log)
        report_server(exit_code, log, aborted=status != 0)
    return status


if __name__ == "__main__":
    sys.exit(main())
