"""Real servers for the rule engine's sinks, started by the tests on loopback ephemeral ports in a temporary
directory and stopped after them: redis-server, MariaDB (mariadb-install-db + mariadbd), mosquitto, and a
webhook receiver (the standard library's threading HTTP server, HTTP/1.1 keep-alive) recording what it is
sent. Each can be stopped and started again on the same port, to test a sink that is down. A missing binary
fails the test with what to install: nothing is skipped (.ci/run installs the Debian packages)."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from tests.support import scratch_database

__all__ = ["MariaDb", "Mosquitto", "Redis", "Webhook", "free_port", "postgres_database", "wait_until"]


@contextlib.contextmanager
def postgres_database(prefix: str) -> Iterator[tuple[str, str]]:
    """A database of its own on the tests' PostgreSQL server (TETHER_TEST_DATABASE_URL), dropped after:
    its name and the URL of the server's admin database (with its name swapped in, the database's)."""
    url = os.environ.get("TETHER_TEST_DATABASE_URL")
    assert url, "the PostgreSQL sink is tested against the server of TETHER_TEST_DATABASE_URL: set it"
    admin_url = url.replace("postgresql+asyncpg://", "postgresql://")
    with scratch_database(admin_url, prefix) as database_url:
        yield database_url.rpartition("/")[2], admin_url


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def binary(name: str, package: str) -> str:
    for directory in ("", "/usr/sbin/", "/usr/bin/"):
        found = shutil.which(directory + name) if directory else shutil.which(name)
        if found:
            return found
    raise AssertionError(f"{name} is not installed: apt-get install {package} (.ci/run does this)")


def wait_until(condition: Any, what: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(Exception):
            if condition():
                return
        time.sleep(0.05)
    raise AssertionError(f"{what}: not within {timeout} s")


def _accepts(port: int) -> bool:
    with socket.create_connection(("127.0.0.1", port), timeout=1):
        return True


class _Process:
    """A server process on a fixed port, which can be stopped and started again."""

    def __init__(self, directory: Path, name: str) -> None:
        self.directory = directory
        self.name = name
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None
        self.log = directory / f"{name}.log"

    def command(self) -> list[str]:
        raise NotImplementedError

    def ready(self) -> bool:
        return _accepts(self.port)

    def start(self) -> None:
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                self.command(), stdout=log, stderr=subprocess.STDOUT, cwd=self.directory
            )
        try:
            wait_until(self.ready, f"{self.name} on port {self.port} (log: {self.log})")
        except AssertionError:
            self.stop()
            raise AssertionError(f"{self.name} did not start: {self.log.read_text()[-2000:]}") from None

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


class Redis(_Process):
    """redis-server on `port`; with `tls` (CA, certificate, key files) also TLS on `tls_port`, asking clients
    for a certificate signed by that CA."""

    def __init__(self, directory: Path, tls: tuple[Path, Path, Path] | None = None) -> None:
        super().__init__(directory, "redis")
        self.exe = binary("redis-server", "redis-server")
        self.tls = tls
        self.tls_port = free_port() if tls is not None else 0

    def command(self) -> list[str]:
        tls: list[str] = []
        if self.tls is not None:
            ca, cert, key = self.tls
            tls = ["--tls-port", str(self.tls_port), "--tls-cert-file", str(cert), "--tls-key-file", str(key),
                   "--tls-ca-cert-file", str(ca), "--tls-auth-clients", "yes"]  # fmt: skip
        return [
            self.exe,
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(self.directory),
            *tls,
        ]


class Mosquitto(_Process):
    """mosquitto on `port`; with `tls` (CA, certificate, key files) also a TLS listener on `tls_port` that
    asks clients for a certificate signed by that CA."""

    def __init__(self, directory: Path, tls: tuple[Path, Path, Path] | None = None) -> None:
        super().__init__(directory, "mosquitto")
        self.exe = binary("mosquitto", "mosquitto")
        self.config = directory / "mosquitto.conf"
        text = f"listener {self.port} 127.0.0.1\nallow_anonymous true\npersistence false\n"
        self.tls_port = 0
        if tls is not None:
            self.tls_port = free_port()
            ca, cert, key = tls
            text += (
                f"listener {self.tls_port} 127.0.0.1\ncafile {ca}\ncertfile {cert}\nkeyfile {key}\n"
                "require_certificate true\n"
            )
            if os.geteuid() == 0:  # mosquitto run as root reads the files as the user `mosquitto` unless told
                text += "user root\n"
        self.config.write_text(text)

    def command(self) -> list[str]:
        return [self.exe, "-c", str(self.config)]


class MariaDb(_Process):
    """A MariaDB server of its own: a data directory made by mariadb-install-db, a user and a database."""

    user, password, database = "sink", "sink-pw", "sinkdb"

    def __init__(self, directory: Path) -> None:
        super().__init__(directory, "mariadb")
        self.exe = binary("mariadbd", "mariadb-server")
        self.client = binary("mariadb", "mariadb-client")
        install = binary("mariadb-install-db", "mariadb-server")
        self.data = directory / "data"
        done = subprocess.run(
            [
                install,
                "--no-defaults",
                f"--datadir={self.data}",
                "--user=root",
                "--skip-test-db",
                "--auth-root-authentication-method=normal",
            ],
            capture_output=True,
            cwd=directory,
            check=False,
        )
        assert done.returncode == 0, done.stderr.decode()[-2000:]

    def command(self) -> list[str]:
        return [
            self.exe,
            "--no-defaults",
            f"--datadir={self.data}",
            f"--port={self.port}",
            "--bind-address=127.0.0.1",
            f"--socket={self.directory / 'mariadb.sock'}",
            "--user=root",
            f"--pid-file={self.directory / 'pid'}",
            "--skip-log-bin",
            "--innodb-buffer-pool-size=16M",
            "--skip-name-resolve",
        ]

    def sql(self, statement: str, *, root: bool = False) -> str:
        user = ["-uroot"] if root else [f"-u{self.user}", f"-p{self.password}", self.database]
        done = subprocess.run(
            [
                self.client,
                "--no-defaults",
                "-h127.0.0.1",
                f"-P{self.port}",
                "--batch",
                "--skip-column-names",
                *user,
                "-e",
                statement,
            ],
            capture_output=True,
            check=False,
        )
        assert done.returncode == 0, done.stderr.decode()
        return done.stdout.decode()

    def start(self) -> None:
        super().start()
        self.sql(
            f"CREATE DATABASE IF NOT EXISTS {self.database}; "
            f"CREATE USER IF NOT EXISTS '{self.user}'@'%' IDENTIFIED BY '{self.password}'; "
            f"GRANT ALL ON {self.database}.* TO '{self.user}'@'%';",
            root=True,
        )


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def setup(self) -> None:
        super().setup()
        with self.server.receiver.lock:
            self.server.receiver.connections.add(self.connection)

    def finish(self) -> None:
        with contextlib.suppress(OSError):
            super().finish()
        with self.server.receiver.lock:
            self.server.receiver.connections.discard(self.connection)

    def _any(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        body = self.rfile.read(length) if length else b""
        receiver = self.server.receiver
        with receiver.lock:
            status = receiver.statuses.pop(0) if receiver.statuses else 200
            receiver.requests.append(
                {
                    "method": self.command,
                    "path": self.path,
                    "headers": dict(self.headers),
                    "body": body,
                    "status": status,
                }
            )
        self.send_response(status)
        self.send_header("content-length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    do_POST = do_PUT = do_GET = do_DELETE = _any

    def log_message(self, format: str, *args: Any) -> None:
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    receiver: Webhook


class Webhook:
    """An HTTP server recording each request; `statuses` are answered first (then 200)."""

    def __init__(self, tls: ssl.SSLContext | None = None) -> None:
        self.port = free_port()
        self.tls = tls  # https with this server context
        self.requests: list[dict[str, Any]] = []
        self.statuses: list[int] = []
        self.lock = threading.Lock()
        self.connections: set[socket.socket] = set()
        self._server: _Server | None = None

    def start(self) -> None:
        server = _Server(("127.0.0.1", self.port), _Handler)
        server.receiver = self
        if self.tls is not None:
            server.socket = self.tls.wrap_socket(server.socket, server_side=True)
        self._server = server
        threading.Thread(target=server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()
            with self.lock:  # kept-alive connections end too: the server is gone
                for connection in self.connections:
                    with contextlib.suppress(OSError):
                        connection.shutdown(socket.SHUT_RDWR)

    @property
    def url(self) -> str:
        return f"{'https' if self.tls is not None else 'http'}://127.0.0.1:{self.port}"

    def bodies(self, path: str | None = None) -> list[Any]:
        with self.lock:
            return [
                json.loads(r["body"])
                for r in self.requests
                if r["status"] < 300 and path in (None, r["path"])
            ]
