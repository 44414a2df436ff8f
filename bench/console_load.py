"""First render of the web console on loopback with many devices, in Debian's headless chromium.

    .venv/bin/python bench/console_load.py                       # SQLite default, 10,000 devices
    .venv/bin/python bench/console_load.py --database-url postgresql://USER:PW@127.0.0.1/SCRATCH_DB
    .venv/bin/python bench/console_load.py --devices 1000 --runs 5

`tether serve` runs in a process of its own on a fresh data dir; the devices are created over REST. The
browser logs in once, then each run loads a page afresh (a new document, files revalidated by ETag) and reads
the page's own Navigation Timing and the mark the page sets once its data is on screen
(`tether:devices-rendered`, `tether:overview-rendered`): milliseconds from the start of navigation. Page
weight: the bytes transferred for the document and every file it loaded (gzip), from Resource Timing, on a
first (uncached) load.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.binaries.serve_process import ADMIN_PASSWORD, ServerProcess
from tests.console.browser import Console, start_chromium

PAGES = {
    "devices": ("/ui/devices", "tether:devices-rendered"),
    "overview": ("/ui/", "tether:overview-rendered"),
}
TIMING = """
const nav = performance.getEntriesByType('navigation')[0];
const mark = performance.getEntriesByName(arguments[0])[0];
const resources = performance.getEntriesByType('resource').filter(r => !r.name.includes('/api/')
  && !r.name.includes('/inventory/') && !r.name.includes('/alarm/') && !r.name.includes('/notification/'));
return {domContentLoaded: nav.domContentLoadedEventEnd, load: nav.loadEventEnd,
        rendered: mark ? mark.startTime : null, files: resources.length + 1,
        bytes: nav.transferSize + resources.reduce((sum, r) => sum + r.transferSize, 0)};
"""


def create_devices(url: str, count: int) -> None:
    with httpx.Client(base_url=url, auth=("t1/admin", ADMIN_PASSWORD), timeout=60) as client:

        def one(i: int) -> None:
            body: dict[str, Any] = {
                "name": f"device-{i:05d}",
                "type": "c8y_Bench" if i % 2 else "c8y_Linux",
                "c8y_IsDevice": {},
            }
            client.post("/inventory/managedObjects", json=body).raise_for_status()

        with ThreadPoolExecutor(8) as pool:
            list(pool.map(one, range(count)))


def measure(page: Console, path: str, mark: str) -> dict[str, float]:
    page.open(path)
    page.until(
        lambda: page.driver.execute_script("return performance.getEntriesByName(arguments[0]).length", mark)
    )
    timing: dict[str, float] = page.driver.execute_script(TIMING, mark)
    return timing


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--devices", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        server = ServerProcess(Path(tmp), args.database_url)
        try:
            create_devices(server.url, args.devices)
            driver = start_chromium()
            try:
                page = Console(driver, server.url)
                page.login("t1/admin", ADMIN_PASSWORD)
                page.find("#logout")
                cold = driver.execute_cdp_cmd("Network.clearBrowserCache", {}) is not None
                first = measure(page, *PAGES["devices"])
                backend = "PostgreSQL" if args.database_url else "SQLite"
                print(f"{args.devices} devices, {os.cpu_count()} cores, {backend}")
                weight = first["bytes"] / 1024
                note = "" if cold else " (cache not cleared)"
                print(f"page weight (first load, gzip): {weight:.1f} KB in {first['files']} files{note}")
                for name, (path, mark) in PAGES.items():
                    runs = [measure(page, path, mark) for _ in range(args.runs)]
                    for key in ("domContentLoaded", "load", "rendered"):
                        values = [r[key] for r in runs]
                        print(
                            f"{name:9s} {key:17s} median {statistics.median(values):7.1f} ms"
                            f"  min {min(values):7.1f}  max {max(values):7.1f}"
                        )
            finally:
                driver.quit()
        finally:
            server.stop()


if __name__ == "__main__":
    main()
