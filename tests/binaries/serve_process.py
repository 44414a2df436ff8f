"""`tether serve` in its own process (for figures of the server alone: its resident memory), used by the
large-binary tests and bench/binaries.py."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

ADMIN_PASSWORD = "admin-secret-1"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class ServerProcess:
    def __init__(self, data_dir: Path, database_url: str | None, **env: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        args = ["--data-dir", str(data_dir), "--http", f"127.0.0.1:{self.port}", "--mqtt", "127.0.0.1:0"]
        if database_url:
            args += ["--database-url", database_url]
        environ = {
            **os.environ,
            "TETHER_ADMIN_PASSWORD": ADMIN_PASSWORD,
            "TETHER_LOG_LEVEL": "warning",
            **env,
        }
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tether.cli", "serve", *args],
            env=environ,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        while True:  # until it answers (or ends: then its error output says why)
            try:
                if httpx.get(f"{self.url}/health").status_code == 200:
                    return
            except httpx.TransportError:
                if self.process.poll() is not None:
                    raise RuntimeError(
                        self.process.stderr.read().decode() if self.process.stderr else ""
                    ) from None
            time.sleep(0.05)

    def memory(self) -> tuple[int, int]:
        """(resident set now, its peak so far) in bytes, from /proc/<pid>/status (VmRSS, VmHWM)."""
        fields = {}
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            name, _, value = line.partition(":")
            if name in ("VmRSS", "VmHWM"):
                fields[name] = int(value.split()[0]) * 1024
        return fields["VmRSS"], fields["VmHWM"]

    @contextmanager
    def sampled(self) -> Iterator[list[int]]:
        """The largest resident set seen while the block runs (sampled every 5 ms), in the list it yields
        (VmHWM cannot tell: its peak is usually from the start, migrations and imports)."""
        peak = [self.memory()[0]]
        done = threading.Event()

        def sample() -> None:
            while not done.wait(0.005):
                peak[0] = max(peak[0], self.memory()[0])

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        try:
            yield peak
        finally:
            done.set()
            sampler.join()
            peak[0] = max(peak[0], self.memory()[0])

    def stop(self) -> None:
        self.process.send_signal(signal.SIGINT)
        try:
            self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
