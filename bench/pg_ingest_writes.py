"""The PostgreSQL write of an ingest batch, alone: CPU per row of the client (the server's event loop) and of
the PostgreSQL backend, for the two statements storage/sql/measurement_bulk.py has:

  insert  INSERT ... SELECT FROM unnest($1::text[], ...) RETURNING id  (insert_measurements: with the ids)
  copy    COPY measurements (...) FROM STDIN (FORMAT binary)  (store_measurements: the ingest path)

on tether's schema (the migrations, applied by `open_storage`: since migration 0025 statement-level triggers
check the sources and cascade deletions instead of the foreign key measurements.source_id -> managed_objects)
and, with --with-fk, both again with the triggers dropped and the key of migrations 0002-0024 back (what its
per-row check costs), and with neither (--without-fk: the cost of the rows alone). The database is created
beside --database-url (default TETHER_TEST_DATABASE_URL) and dropped at the end; the rows are SmartREST 200
measurements of 100 sources, `--batch` per write, each write committed on its own. The backend's CPU is read
from /proc, so the server must run on this machine.

    export TETHER_TEST_DATABASE_URL=postgresql://tether:tether@127.0.0.1:5432/tether_test
    .venv/bin/python bench/pg_ingest_writes.py
    .venv/bin/python bench/pg_ingest_writes.py --batch 500 --writes 200 --rounds 3 --with-fk --without-fk

Benchmarks measure; they do not assert.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import secrets
import time
from typing import Any

import asyncpg
import orjson

from tether.bootstrap import open_storage
from tether.storage.sql import postgres_direct as pg
from tether.storage.sql.measurement_bulk import _PG_INSERT

SOURCES = 100
_HZ = os.sysconf("SC_CLK_TCK")


def _backend_cpu(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / _HZ


def _batches(count: int, size: int, sources: list[int]) -> list[list[tuple[Any, ...]]]:
    start = int(time.time() * 1000)
    return [
        [
            ("t1", random.choice(sources), "c8y_Temperature", start + n * size + i,
             {"c8y_Temperature": {"T": {"value": round(20 + random.random() * 10, 1)}}})
            for i in range(size)
        ]
        for n in range(count)
    ]  # fmt: skip


async def _write(conn: Any, variant: str, rows: list[tuple[Any, ...]], now: int) -> None:
    """What measurement_bulk.py does for each statement, through the same postgres_direct functions."""
    dumps = orjson.dumps
    if variant == "insert":
        tenants_, sources, types, times, documents = zip(*rows, strict=True)
        texts = [dumps(d).decode() for d in documents]
        await pg.insert_measurements(_PG_INSERT, (tenants_, sources, types, times, texts), now)(conn)
    else:
        records = [(t, s, y, m, now, dumps(f).decode()) for t, s, y, m, f in rows]
        await pg.copy_measurements(records)(conn)


async def run(args: argparse.Namespace) -> None:
    base = args.database_url
    name = f"bench_pg_ingest_{secrets.token_hex(4)}"
    admin = await asyncpg.connect(base)
    await admin.execute(f'CREATE DATABASE "{name}"')
    url = base.rpartition("/")[0] + "/" + name
    try:
        storage = open_storage(url)
        await storage.open()  # every migration
        await storage.close()
        conn = await asyncpg.connect(url)
        await conn.execute("INSERT INTO tenants (id, domain, creation_time) VALUES ('t1', 't1', 0)")
        sources = [
            await conn.fetchval(
                "INSERT INTO managed_objects (tenant_id, owner, creation_time, last_updated, attrs) "
                "VALUES ('t1', 'bench', 0, 0, '{}') RETURNING id"
            )
            for _ in range(SOURCES)
        ]
        backend = await conn.fetchval("SELECT pg_backend_pid()")
        version = conn.get_server_version()
        print(f"PostgreSQL {version.major}.{version.minor}: {args.batch} rows a write, {args.writes} a run")
        schemas = ["with the triggers (migration 0025)"]
        schemas += ["with the foreign key (before 0025)"] if args.with_fk else []
        schemas += ["with neither"] if args.without_fk else []
        for schema in schemas:
            if not schema.startswith("with the triggers"):
                await conn.execute(
                    "DROP TRIGGER IF EXISTS tether_measurement_sources ON measurements; "
                    "DROP TRIGGER IF EXISTS tether_measurement_sources_update ON measurements; "
                    "ALTER TABLE measurements DROP CONSTRAINT IF EXISTS measurements_source_id_fkey"
                )
            if schema.startswith("with the foreign key"):
                await conn.execute(
                    "ALTER TABLE measurements ADD CONSTRAINT measurements_source_id_fkey FOREIGN KEY "
                    "(source_id) REFERENCES managed_objects (id) ON DELETE CASCADE"
                )
            print(f"\n{schema}:")
            for round_ in range(1, args.rounds + 1):
                for variant in ("insert", "copy"):
                    batches = _batches(args.writes + 5, args.batch, sources)
                    now = int(time.time() * 1000)
                    for rows in batches[:5]:  # warm-up: statements prepared, caches filled
                        await _write(conn, variant, rows, now)
                    client, server, wall = time.process_time(), _backend_cpu(backend), time.perf_counter()
                    for rows in batches[5:]:
                        await _write(conn, variant, rows, now)
                    client = time.process_time() - client
                    server = _backend_cpu(backend) - server
                    wall = time.perf_counter() - wall
                    n = args.writes * args.batch
                    print(
                        f"  round {round_} {variant:6s}: client {1e6 * client / n:5.2f} us/row, "
                        f"postgres {1e6 * server / n:5.2f} us/row, {1e3 * wall / args.writes:6.2f} ms a write"
                    )
        print(f"\nload average (1 min) at the end: {os.getloadavg()[0]:.1f}")
        await conn.close()
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--database-url", default=os.environ.get("TETHER_TEST_DATABASE_URL"))
    parser.add_argument("--batch", type=int, default=500, help="rows a write (the ingest batcher's max)")
    parser.add_argument("--writes", type=int, default=200, help="measured writes a run")
    parser.add_argument("--rounds", type=int, default=2, help="every variant once a round, interleaved")
    parser.add_argument("--with-fk", action="store_true", help="also run with the foreign key instead")
    parser.add_argument("--without-fk", action="store_true", help="also run with neither key nor triggers")
    args = parser.parse_args()
    if not args.database_url:
        parser.error("--database-url or TETHER_TEST_DATABASE_URL is required")
    asyncio.run(run(args))


if __name__ == "__main__":
    main()
