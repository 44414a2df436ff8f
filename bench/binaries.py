"""Upload and download throughput of one large binary through `tether serve`, and the server's peak memory.

    .venv/bin/python bench/binaries.py                                   # SQLite default, 500 MB
    .venv/bin/python bench/binaries.py --database-url postgresql://USER:PW@127.0.0.1/SCRATCH_DB
    .venv/bin/python bench/binaries.py --size-mb 1024

The server runs in a process of its own on a fresh data dir; the file is generated as it is sent (the client
holds 1 MB at a time) and hashed on the way back. Prints MB/s each way and the server's resident memory: at
rest before the upload, and its peak during the upload and during the download (VmRSS sampled every 5 ms;
VmHWM would show the peak of the start, migrations and imports).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import platform
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

MB = 1024 * 1024
PASSWORD = "bench-admin-secret"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def memory(pid: int) -> tuple[int, int]:
    """(VmRSS, VmHWM) of a process in bytes."""
    values = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            values[name] = int(value.split()[0]) * 1024
    return values["VmRSS"], values["VmHWM"]


class Sampler:
    """The largest VmRSS of a process while a block runs, sampled every 5 ms."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.peak = memory(pid)[0]
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._done.wait(0.005):
            self.peak = max(self.peak, memory(self.pid)[0])

    def __enter__(self) -> Sampler:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._done.set()
        self._thread.join()


def generated(size: int) -> Iterator[bytes]:
    block = os.urandom(MB)
    for index in range(0, size, MB):
        yield block[: min(MB, size - index)]


def run(database_url: str | None, size: int) -> dict[str, float]:
    port = free_port()
    with tempfile.TemporaryDirectory() as data_dir:
        args = ["--data-dir", data_dir, "--http", f"127.0.0.1:{port}", "--mqtt", "127.0.0.1:0"]
        if database_url:
            args += ["--database-url", database_url]
        env = {**os.environ, "TETHER_ADMIN_PASSWORD": PASSWORD, "TETHER_LOG_LEVEL": "warning"}
        env["TETHER_MAX_BINARY_SIZE"] = str(size)
        server = subprocess.Popen([sys.executable, "-m", "tether.cli", "serve", *args], env=env)
        base = f"http://127.0.0.1:{port}"
        try:
            while True:
                try:
                    if httpx.get(f"{base}/health").status_code == 200:
                        break
                except httpx.TransportError:
                    if server.poll() is not None:
                        raise SystemExit("tether serve ended before it was healthy") from None
                time.sleep(0.05)
            with httpx.Client(base_url=base, auth=("t1/admin", PASSWORD), timeout=600) as client:
                client.get("/inventory/binaries")
                at_rest, _ = memory(server.pid)
                sent = hashlib.sha256()

                def body() -> Iterator[bytes]:
                    for chunk in generated(size):
                        sent.update(chunk)
                        yield chunk

                started = time.perf_counter()
                with Sampler(server.pid) as upload:
                    created = client.post(
                        "/inventory/binaries",
                        content=body(),
                        headers={"Content-Type": "application/octet-stream"},
                    )
                upload_s = time.perf_counter() - started
                created.raise_for_status()
                received = hashlib.sha256()
                length = 0
                started = time.perf_counter()
                with (
                    Sampler(server.pid) as downloading,
                    client.stream("GET", f"/inventory/binaries/{created.json()['id']}") as download,
                ):
                    download.raise_for_status()
                    for chunk in download.iter_bytes(MB):
                        received.update(chunk)
                        length += len(chunk)
                download_s = time.perf_counter() - started
            if length != size or received.digest() != sent.digest():
                raise SystemExit("the downloaded file differs from the uploaded one")
        finally:
            server.send_signal(signal.SIGTERM)
            server.wait(timeout=60)
    return {
        "upload MB/s": size / MB / upload_s,
        "download MB/s": size / MB / download_s,
        "RSS at rest MB": at_rest / MB,
        "peak RSS during upload MB": upload.peak / MB,
        "peak RSS during download MB": downloading.peak / MB,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--database-url", help="PostgreSQL (a scratch database) instead of SQLite in the data dir"
    )
    parser.add_argument("--size-mb", type=int, default=500)
    options = parser.parse_args()
    backend = "postgresql" if options.database_url else "sqlite"
    figures = run(options.database_url, options.size_mb * MB)
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True
    ).stdout.strip()
    machine = f"{platform.machine()} x{os.cpu_count()}, Python {platform.python_version()}"
    print(f"{backend}, {options.size_mb} MB, {machine}, {commit}")
    for name, value in figures.items():
        print(f"  {name:28} {value:8.1f}")


if __name__ == "__main__":
    main()
