"""How fast the audit trail writes: N records queued at once through the AuditTrail port (as the services
queue them), then the time until the writer has stored them all (batches of audit.service.BATCH), and what
queueing one record costs the caller. Prints the figures; asserts nothing.

    .venv/bin/python bench/audit_trail.py                      # SQLite in a temporary directory
    .venv/bin/python bench/audit_trail.py --database-url postgresql://USER:PW@127.0.0.1/SCRATCH_DB
"""

from __future__ import annotations

import argparse
import asyncio
import platform
import tempfile
import time
from pathlib import Path

from tether.audit.models import NewAuditRecord
from tether.audit.service import AuditService
from tether.bootstrap import open_storage
from tether.tenants.models import Tenant


async def run(url: str, records: int) -> None:
    storage = open_storage(url)
    await storage.open()
    try:
        if await storage.tenants.get("bench") is None:
            await storage.tenants.create(Tenant("bench", "bench", 0))
        audit = AuditService(storage.audit)
        drafts = [
            NewAuditRecord("bench", "Alarm", "Alarm created", f"alarm {i}", source=str(i), severity="MAJOR")
            for i in range(records)
        ]
        started = time.perf_counter()
        for draft in drafts:
            audit.record(draft)
        queued = time.perf_counter() - started
        await audit.flush()
        written = time.perf_counter() - started
        await audit.close()
        print(f"backend {url.split(':', 1)[0]}, {records} records, {platform.machine()} {platform.node()}")
        print(f"  queueing: {queued / records * 1e6:.2f} us per record (the caller's cost)")
        print(f"  written:  {written:.2f} s, {records / written:,.0f} records/s")
    finally:
        await storage.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url")
    parser.add_argument("--records", type=int, default=20_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = args.database_url or f"sqlite:///{Path(tmp) / 'bench.db'}"
        asyncio.run(run(url, args.records))


if __name__ == "__main__":
    main()
