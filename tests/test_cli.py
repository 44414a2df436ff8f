"""The `tether` command as an operator runs it (a real process, `python -m tether.cli`): `tether admin
set-password` and `create-user` on SQLite and PostgreSQL, with the server stopped or running; one-line errors
for a database that cannot be opened; the warning for an ignored TETHER_ADMIN_PASSWORD; the start-up log."""

from __future__ import annotations

import asyncio
import io
import logging
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.adapters.certs import make_ca, make_leaf
from tests.support import (
    ADMIN_PASSWORD,
    BOOTSTRAP_PASSWORD,
    PG_URL_VARIABLE,
    ServerThread,
    backends,
    fresh_database,
    start_server,
)
from tests.test_serve import free_port, serve_until_healthy

from tether import admin
from tether.config import Settings, redact_url

NEW_PASSWORD = "changed-secret-2"
IGNORED = "TETHER_ADMIN_PASSWORD is ignored"
LOG_LINE = re.compile(r"^\d{4}-\d\d-\d\d [\d:,]+ INFO ")


def _environ(**extra: str) -> dict[str, str]:
    """This process's environment without TETHER_* settings (the test names what it means)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TETHER_") or k == PG_URL_VARIABLE}
    return {**env, **extra}


def tether(*args: str, stdin: str = "", **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tether.cli", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=300,
        env=_environ(**env),
    )


def status(url: str, user: str, password: str) -> int:
    return httpx.get(f"{url}/user/currentUser", auth=(user, password), timeout=30).status_code


def one_line_error(result: subprocess.CompletedProcess[str]) -> str:
    """Exit status 2 and one error line on stderr; besides it only INFO log lines (`serve` logs which
    database it opens)."""
    assert result.returncode == 2, result
    lines = [line for line in result.stderr.strip().splitlines() if not LOG_LINE.match(line)]
    assert len(lines) == 1 and lines[0].startswith("tether: "), result.stderr
    assert "Traceback" not in result.stderr
    return lines[0]


def restart(server: ServerThread, **overrides: Any) -> ServerThread:
    """The same settings (database, data dir) on new ports."""
    server.stop()
    settings = server.server.settings
    values = {name: getattr(settings, name) for name in ("data_dir", "database_url", "max_body_size")}
    values.update(http="127.0.0.1:0", mqtt="127.0.0.1:0", bootstrap_password=BOOTSTRAP_PASSWORD)
    return ServerThread(Settings(**{**values, **overrides})).start()


@pytest.mark.parametrize("backend", backends())
def test_set_password_while_the_server_runs(
    backend: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    server = start_server(backend, tmp_path)
    try:
        database = server.server.settings.database_url
        assert database is not None
        assert status(server.url, "t1/admin", ADMIN_PASSWORD) == 200  # its verification is cached now
        result = tether(
            "admin", "set-password", "--database-url", database, "admin", stdin=NEW_PASSWORD + "\n"
        )
        assert result.returncode == 0, result.stderr
        assert result.stdout.strip() == "Changed the password of t1/admin"
        assert status(server.url, "t1/admin", NEW_PASSWORD) == 200  # at once: not in the cache, read anew
        # The old password's cached verification is forgotten at the next poll (at most a second later);
        # the poll is run here rather than waited for.
        server.call(server.platform.password_watch.poll())
        assert status(server.url, "t1/admin", ADMIN_PASSWORD) == 401

        # A restart with the old TETHER_ADMIN_PASSWORD keeps the new one and says so once.
        with caplog.at_level(logging.WARNING, logger="tether"):
            server = restart(server, admin_password=ADMIN_PASSWORD)
        warnings = [r.getMessage() for r in caplog.records if IGNORED in r.getMessage()]
        assert len(warnings) == 1 and "tether admin set-password --tenant t1 admin" in warnings[0], warnings
        assert status(server.url, "t1/admin", NEW_PASSWORD) == 200
        assert status(server.url, "t1/admin", ADMIN_PASSWORD) == 401
    finally:
        server.stop()


@pytest.mark.parametrize("backend", backends())
def test_create_user_with_the_server_stopped_then_running(backend: str, tmp_path: Path) -> None:
    database = asyncio.run(fresh_database(backend, tmp_path))
    where = ("--database-url", database)
    created = tether("admin", "create-user", *where, "--tenant", "acme", "ops", stdin="ops-secret-1\n")
    assert created.returncode == 0, created.stderr
    assert created.stdout.strip() == "Created user acme/ops with role admin in the new tenant acme"
    again = tether("admin", "create-user", *where, "--tenant", "acme", "ops", stdin="x\n")
    assert again.returncode == 1 and "exists" in again.stderr and len(again.stderr.splitlines()) == 1
    unknown = tether("admin", "set-password", *where, "--tenant", "acme", "nobody", stdin="x\n")
    assert unknown.returncode == 1 and unknown.stderr.strip() == "tether: no user acme/nobody"
    empty = tether("admin", "set-password", *where, "--tenant", "acme", "ops", stdin="\n")
    assert empty.returncode == 1 and "empty" in empty.stderr

    settings = Settings(
        data_dir=tmp_path,
        database_url=database,
        http="127.0.0.1:0",
        mqtt="127.0.0.1:0",
        admin_password=ADMIN_PASSWORD,
        bootstrap_password=BOOTSTRAP_PASSWORD,
    )
    server = ServerThread(settings).start()
    try:
        device = tether(
            "admin", "create-user", *where, "--tenant", "acme", "--role", "device", "device_SER1",
            stdin="device-secret-1\n",
        )  # fmt: skip
        assert device.returncode == 0, device.stderr
        assert device.stdout.strip() == "Created user acme/device_SER1 with role device"
        roles = {}
        for user, password in (("acme/ops", "ops-secret-1"), ("acme/device_SER1", "device-secret-1")):
            response = httpx.get(f"{server.url}/user/currentUser", auth=(user, password), timeout=30)
            assert response.status_code == 200, response.text
            roles[user] = {role["id"] for role in response.json()["effectiveRoles"]}
        assert "ROLE_TENANT_ADMIN" in roles["acme/ops"]
        assert (
            "ROLE_DEVICE" in roles["acme/device_SER1"]
            and "ROLE_TENANT_ADMIN" not in roles["acme/device_SER1"]
        )
    finally:
        server.stop()


def test_unreachable_database_is_one_line_and_status_2(tmp_path: Path) -> None:
    port = free_port()
    url = f"postgresql://tether:s3cret@127.0.0.1:{port}/tether"
    served = tether("serve", "--database-url", url, "--http", "127.0.0.1:0", "--mqtt", "127.0.0.1:0")
    line = one_line_error(served)
    assert line.startswith(
        f"tether: cannot open the database postgresql://tether:***@127.0.0.1:{port}/tether: "
    )
    assert "s3cret" not in served.stderr + served.stdout and "Traceback" not in served.stderr
    for action in ("set-password", "create-user"):
        result = tether("admin", action, "--database-url", url, "admin", stdin="x\n")
        assert one_line_error(result) == line
    missing = tmp_path / "no" / "such" / "dir" / "tether.db"
    result = tether("admin", "set-password", "--database-url", f"sqlite:///{missing}", "admin", stdin="x\n")
    assert one_line_error(result).startswith(f"tether: cannot open the database sqlite:///{missing}: ")


@pytest.mark.skipif(not os.environ.get(PG_URL_VARIABLE), reason=f"{PG_URL_VARIABLE} not set")
def test_wrong_database_password_is_one_line_and_status_2() -> None:
    scheme, _, rest = os.environ[PG_URL_VARIABLE].partition("://")
    user = rest.partition("@")[0].partition(":")[0]
    url = f"{scheme}://{user}:not-the-password@{rest.partition('@')[2]}"
    for args in (("serve", "--http", "127.0.0.1:0", "--mqtt", "127.0.0.1:0"), ("admin", "set-password")):
        result = tether(
            *args, *(["admin"] if args[0] == "admin" else []), stdin="x\n", TETHER_DATABASE_URL=url
        )
        line = one_line_error(result)
        assert "password authentication failed" in line and "not-the-password" not in result.stderr
        assert line.startswith(f"tether: cannot open the database {redact_url(url)}: ")


def _serve_until_healthy(args: list[str], port: int, **env: str) -> tuple[str, int]:
    return serve_until_healthy(args, port, _environ(**env))


def test_start_up_log_and_ignored_admin_password(tmp_path: Path) -> None:
    ca = make_ca("Tether CLI test CA")
    certfile, keyfile = make_leaf(ca, "localhost", server=True).write(tmp_path, "server")
    config = tmp_path / "tether.toml"
    config.write_text(f'https = "127.0.0.1:0"\n[tls]\ncertfile = "{certfile}"\nkeyfile = "{keyfile}"\n')
    data = tmp_path / "data"
    args = ["--config", str(config), "--data-dir", str(data), "--mqtt", "127.0.0.1:0"]
    port = free_port()
    first, code = _serve_until_healthy(
        args, port, TETHER_MQTT_WSS="127.0.0.1:0", TETHER_ADMIN_PASSWORD="first-secret-1"
    )
    assert code == 200, first
    assert f"Database sqlite:///{(data / 'tether.db').resolve()}, data dir {data.resolve()}" in first
    assert f"HTTP listening on http://127.0.0.1:{port}" in first
    assert "HTTPS listening on https://127.0.0.1:" in first
    assert "MQTT (mqtt-wss) listening on wss://127.0.0.1:" in first and "/mqtt" in first
    assert IGNORED not in first

    second, code = _serve_until_healthy(args, port, TETHER_ADMIN_PASSWORD="another-secret-2")
    assert code == 200, second
    assert second.count(IGNORED) == 1, second
    assert "tether admin set-password --tenant t1 admin" in second
    assert "another-secret-2" not in second and "first-secret-1" not in second


def test_password_from_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    """On a terminal the password is asked twice with getpass (never echoed); stdin is not read."""

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    answers = iter(["typed-secret", "typed-secret", "one", "other"])
    monkeypatch.setattr(admin.getpass, "getpass", lambda prompt: next(answers))
    assert admin.read_password(Terminal("not read\n")) == "typed-secret"
    with pytest.raises(admin.AdminError, match="do not match"):
        admin.read_password(Terminal())
    assert admin.read_password(io.StringIO("piped secret\r\nsecond line\n")) == "piped secret"


def test_database_urls_are_logged_without_password() -> None:
    assert redact_url("postgresql://u:p@ss@h:5432/db") == "postgresql://u:***@h:5432/db"
    assert redact_url("postgresql://u@h/db") == "postgresql://u@h/db"
    assert redact_url("sqlite:////var/lib/tether/tether.db") == "sqlite:////var/lib/tether/tether.db"
