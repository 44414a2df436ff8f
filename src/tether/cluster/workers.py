"""`tether serve --workers N`: N cluster nodes on one machine sharing the listeners (docs/cluster.md,
"Workers on one machine").

The parent binds every listener once per worker, each socket with SO_REUSEPORT on the same address (a port
0 is resolved by the first bind and the others take the same port), and starts N children, each a
`tether serve` handed its own set of listening sockets (inherited file descriptors), its own node name and a
pipe on which it says it is ready. The kernel spreads new connections over the sockets of a group by a hash
of their addresses, so each worker accepts about 1/N of them. The parent keeps its copies of the sockets: a
worker that is restarted finds the connections that queued on its socket while it was down.

The parent only supervises: SIGINT or SIGTERM is passed on to every worker as SIGINT (each leaves the cluster
cleanly) and the parent waits for them (a second signal kills them); a worker that ends while the others run
is restarted under the same name after a pause that doubles while it keeps failing quickly (1 s to 30 s); a
worker that ends before it is ready at the first start, or fails to become ready five times in a row later,
stops them all and the parent exits non-zero.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import logging
import os
import signal
import socket
import sys
import time
from dataclasses import dataclass

from tether.broker.service import bind_socket
from tether.config import ConfigError, Settings

__all__ = ["Supervisor", "check_workers", "die_with_parent", "worker_sockets"]

log = logging.getLogger("tether.workers")

#: Every listener a `tether serve` may have, in the order server.py binds them.
LISTENERS = ("http", "https", "mqtt", "mqtt_tls", "mqtt_ws", "mqtt_wss")

RESTART_PAUSE = (1.0, 30.0)  # first and longest pause before a restart
QUICK_FAILURE = 10.0  # a worker that ran less than this (seconds) failed quickly: the next pause doubles
GIVE_UP = 5  # restarts in a row that never became ready
STOP_GRACE = 30.0  # seconds a worker has to stop after SIGINT before it is killed


def check_workers(settings: Settings) -> None:
    """N > 1 workers are N cluster nodes: they need NATS and one PostgreSQL database."""
    if settings.workers < 1:
        raise ConfigError(f"--workers must be at least 1, got {settings.workers}")
    if settings.workers == 1:
        return
    if not settings.cluster:
        raise ConfigError(
            f"--workers {settings.workers} needs --cluster nats://HOST:PORT: each worker is a cluster node "
            "(docs/cluster.md)"
        )
    if not settings.effective_database_url.startswith(("postgresql", "postgres:")):
        raise ConfigError(
            f"--workers {settings.workers} needs a PostgreSQL database shared by the workers "
            "(--database-url postgresql://...); SQLite is one process's file"
        )


def _addresses(settings: Settings) -> dict[str, str]:
    return {
        name.replace("_", "-"): address
        for name in LISTENERS
        if (address := getattr(settings, name)) is not None and address != ""
    }


def bind_listeners(settings: Settings, count: int) -> list[dict[str, socket.socket]]:
    """`count` sets of listening sockets, one per worker; a busy port fails here, before any worker starts."""
    sets: list[dict[str, socket.socket]] = [{} for _ in range(count)]
    try:
        for name, address in _addresses(settings).items():
            first = bind_socket(address, reuse_port=True)
            sets[0][name] = first
            host = address.rpartition(":")[0]
            same = f"{host}:{first.getsockname()[1]}"  # port 0: the one the kernel gave
            for sockets in sets[1:]:
                sockets[name] = bind_socket(same, reuse_port=True)
    except BaseException:
        for sockets in sets:
            for sock in sockets.values():
                sock.close()
        raise
    return sets


def worker_sockets(spec: str) -> dict[str, socket.socket]:
    """The child's side: `http=5,mqtt=6` -> the inherited listening sockets by listener name."""
    sockets: dict[str, socket.socket] = {}
    for item in spec.split(","):
        name, _, fd = item.partition("=")
        sock = socket.socket(fileno=int(fd))
        sock.setblocking(False)
        sockets[name] = sock
    return sockets


def die_with_parent(parent: int) -> None:
    """A worker gets SIGTERM (a clean stop) when the supervising parent dies, even by SIGKILL (Linux)."""
    if sys.platform == "linux":
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    if os.getppid() != parent:  # the parent died before the line above
        os.kill(os.getpid(), signal.SIGTERM)


@dataclass
class Worker:
    index: int
    sockets: dict[str, socket.socket]
    name: str | None  # None: the child's default, <host>-<pid>
    process: asyncio.subprocess.Process | None = None
    started: float = 0.0  # monotonic, when the process was started
    failures: int = 0  # restarts in a row that never became ready
    pause: float = RESTART_PAUSE[0]

    def label(self) -> str:
        pid = self.process.pid if self.process is not None else "-"
        return f"worker {self.name or 'w' + str(self.index)} (pid {pid})"


class Supervisor:
    """Start the workers, pass signals on, restart a worker that dies; :meth:`run` returns the exit status."""

    def __init__(self, settings: Settings, argv: list[str]) -> None:
        self.settings = settings
        self.argv = argv  # the parent's own arguments after the program name (`serve ...`)
        self.workers: list[Worker] = []
        self.stopping = asyncio.Event()
        self.status = 0
        self._signals = 0

    async def run(self) -> int:
        settings = self.settings
        sets = bind_listeners(settings, settings.workers)
        base = settings.node
        for index, sockets in enumerate(sets, start=1):
            self.workers.append(Worker(index, sockets, f"{base}-w{index}" if base else None))
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, self._signalled, sig)
        shown = ", ".join(f"{name} {address}" for name, address in self._bound(sets[0]).items())
        log.info("Starting %d workers on %s", len(self.workers), shown)
        try:
            failed = await self._start_all()
            if failed is not None:
                assert failed.process is not None
                self.status = 2 if failed.process.returncode == 2 else 1
                log.error("%s ended before it was ready: stopping the others", failed.label())
            elif not self.stopping.is_set():
                log.info(
                    "%d workers ready: %s", len(self.workers), ", ".join(w.label() for w in self.workers)
                )
                watching = [asyncio.create_task(self._watch(w)) for w in self.workers]
                await self.stopping.wait()
                for task in watching:
                    task.cancel()
                await asyncio.gather(*watching, return_exceptions=True)
            await self._stop_all()
        finally:
            for sockets in sets:
                for sock in sockets.values():
                    sock.close()
        return self.status

    async def _start_all(self) -> Worker | None:
        """Start every worker at once; the first that ends before it is ready (None: all ready, or a signal
        came first)."""
        pending = {asyncio.create_task(self._start(worker)): worker for worker in self.workers}
        stop = asyncio.create_task(self.stopping.wait())
        failed: Worker | None = None
        try:
            while pending and failed is None and not self.stopping.is_set():
                done, _ = await asyncio.wait({*pending, stop}, return_when=asyncio.FIRST_COMPLETED)
                for task in done:
                    if task is not stop and not task.result():
                        failed = pending[task]
                    pending.pop(task, None)
        finally:
            for task in [*pending, stop]:
                task.cancel()
            await asyncio.gather(*pending, stop, return_exceptions=True)
        return failed

    @staticmethod
    def _bound(sockets: dict[str, socket.socket]) -> dict[str, str]:
        shown = {}
        for name, sock in sockets.items():
            host, port = sock.getsockname()[:2]
            shown[name] = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        return shown

    def _signalled(self, sig: int) -> None:
        self._signals += 1
        if self._signals == 1:
            log.info("%s: stopping %d workers", signal.Signals(sig).name, len(self.workers))
            self.stopping.set()
            return
        log.warning("second signal: killing the workers")
        for worker in self.workers:
            if worker.process is not None and worker.process.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    worker.process.kill()

    async def _start(self, worker: Worker) -> bool:
        """Start the worker's process; True once it says it is ready, False if it ended first."""
        read_end, write_end = os.pipe()
        fds = {name: sock.fileno() for name, sock in worker.sockets.items()}
        args = [*self.argv, "--workers", "1"]
        if worker.name is not None:
            args += ["--node", worker.name]
        args += ["--worker-sockets", ",".join(f"{name}={fd}" for name, fd in fds.items())]
        args += ["--worker-ready", str(write_end), "--worker-of", str(os.getpid())]
        try:
            worker.process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "tether.cli",
                *args,
                stdin=asyncio.subprocess.DEVNULL,
                pass_fds=[*fds.values(), write_end],
                start_new_session=True,  # a terminal's Ctrl-C reaches the parent only; it passes it on
            )
        finally:
            os.close(write_end)
        worker.started = time.monotonic()
        loop = asyncio.get_running_loop()
        reader = asyncio.StreamReader()
        transport, _ = await loop.connect_read_pipe(
            lambda: asyncio.StreamReaderProtocol(reader), os.fdopen(read_end, "rb")
        )
        try:
            said = await reader.read(1)  # b"": the child ended (or closed the pipe) without a word
        finally:
            transport.close()
        if said:
            return True
        await worker.process.wait()
        return False

    async def _watch(self, worker: Worker) -> None:
        """Restart the worker whenever it ends while the others run."""
        while True:
            assert worker.process is not None
            code = await worker.process.wait()
            ran = time.monotonic() - worker.started
            worker.pause = (
                RESTART_PAUSE[0] if ran > QUICK_FAILURE else min(worker.pause * 2, RESTART_PAUSE[1])
            )
            log.warning(
                "%s ended with status %s after %.0f s: restarting in %.0f s",
                worker.label(),
                code,
                ran,
                worker.pause,
            )
            await asyncio.sleep(worker.pause)
            if await self._start(worker):
                worker.failures = 0
                log.info("%s restarted", worker.label())
                continue
            worker.failures += 1
            if worker.failures >= GIVE_UP:
                log.error(
                    "%s failed to start %d times in a row: stopping every worker", worker.label(), GIVE_UP
                )
                self.status = 1
                self.stopping.set()
                return

    async def _stop_all(self) -> None:
        live = [w for w in self.workers if w.process is not None and w.process.returncode is None]
        for worker in live:
            assert worker.process is not None
            with contextlib.suppress(ProcessLookupError):
                worker.process.send_signal(signal.SIGINT)
        for worker in live:
            assert worker.process is not None
            try:
                code = await asyncio.wait_for(worker.process.wait(), STOP_GRACE)
            except TimeoutError:
                log.error("%s did not stop within %.0f s: killed", worker.label(), STOP_GRACE)
                worker.process.kill()
                code = await worker.process.wait()
            if code != 0 and self._signals < 2:
                log.error("%s stopped with status %s", worker.label(), code)
                self.status = self.status or 1
