"""`tether serve` as a user runs it: a real process, first-start provisioning, health, listener log."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tether.config import ConfigError, Settings, load_settings, split_address


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def serve_until_healthy(args: list[str], port: int, env: dict[str, str]) -> tuple[str, int]:
    """Start `tether serve --http 127.0.0.1:<port> <args>` with `env` as its whole environment, poll /health
    until it answers 200 (or the process ends), stop it; return its log and the last /health status.

    /health may answer 503 while listeners are still starting; it must turn 200."""
    process = subprocess.Popen(
        [sys.executable, "-m", "tether.cli", "serve", "--http", f"127.0.0.1:{port}", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    status = 0
    try:
        for _ in range(1200):
            try:
                status = httpx.get(f"http://127.0.0.1:{port}/health").status_code
                if status == 200:
                    break
            except httpx.TransportError:
                if process.poll() is not None:
                    break
            time.sleep(0.05)
    finally:
        process.send_signal(signal.SIGINT)
        output, _ = process.communicate(timeout=60)
    return output, status


def run_until_healthy(data_dir: Path, port: int, env: dict[str, str]) -> tuple[str, int]:
    """`tether serve` on a data dir with every listener on an ephemeral port (see serve_until_healthy)."""
    args = ["--data-dir", str(data_dir), "--mqtt", "127.0.0.1:0", "--mqtt-ws", "127.0.0.1:0"]
    return serve_until_healthy(args, port, {**os.environ, **env})


def test_first_start_prints_generated_passwords_once(tmp_path: Path) -> None:
    port = free_port()
    env = {"TETHER_ADMIN_PASSWORD": "", "TETHER_BOOTSTRAP_PASSWORD": "", "TETHER_TENANT": "acme"}
    first, status = run_until_healthy(tmp_path, port, env)
    assert status == 200, first
    assert f"HTTP listening on http://127.0.0.1:{port}" in first
    assert "MQTT (mqtt) listening on mqtt://127.0.0.1:" in first, first
    assert "MQTT (mqtt-ws) listening on ws://127.0.0.1:" in first, first
    admin = re.search(r"Created tenant acme admin user admin with generated password: (\S+)", first)
    bootstrap = re.search(r"management/devicebootstrap with generated password: (\S+)", first)
    assert admin and bootstrap, first
    assert len(admin.group(1)) >= 16 and admin.group(1) != bootstrap.group(1)

    second, status = run_until_healthy(tmp_path, port, env)
    assert status == 200
    assert "generated password" not in second
    assert admin.group(1) not in second
    assert (tmp_path / "tether.db").exists()


def test_settings_precedence(tmp_path: Path) -> None:
    config = tmp_path / "tether.toml"
    config.write_text(
        'http = "127.0.0.1:9000"\nmqtt = "127.0.0.1:9001"\ntenant = "from-file"\n'
        'max-body-size = 2048\n[tls]\ncertfile = "c.pem"\n'
    )
    env = {"TETHER_MQTT": "127.0.0.1:9101", "TETHER_TENANT": "from-env", "TETHER_ALLOW_ANONYMOUS": "true"}
    settings = load_settings({"config": str(config), "tenant": "from-cli"}, env)
    assert settings.http == "127.0.0.1:9000"  # file
    assert settings.mqtt == "127.0.0.1:9101"  # env beats file
    assert settings.tenant == "from-cli"  # command line beats env
    assert settings.allow_anonymous is True and settings.max_body_size == 2048
    assert settings.sections == {"tls": {"certfile": "c.pem"}}
    defaults = load_settings({}, {})
    assert defaults == Settings()
    assert defaults.effective_database_url.startswith("sqlite:///") and defaults.http == "0.0.0.0:8080"
    assert (
        load_settings({}, {"TETHER_DATABASE_URL": "postgresql://u@h/db"}).database_url
        == "postgresql://u@h/db"
    )


@pytest.mark.parametrize(
    ("cli", "env"),
    [
        ({}, {"TETHER_MAX_BODY_SIZE": "lots"}),
        ({}, {"TETHER_ALLOW_ANONYMOUS": "perhaps"}),
        ({"config": "/nonexistent/tether.toml"}, {}),
    ],
)
def test_bad_settings_are_reported(cli: dict[str, str], env: dict[str, str]) -> None:
    with pytest.raises(ConfigError):
        load_settings(cli, env)


def test_bad_addresses_and_unknown_keys(tmp_path: Path) -> None:
    assert split_address("[::1]:1883") == ("::1", 1883)
    assert split_address(":8080") == ("0.0.0.0", 8080)
    with pytest.raises(ConfigError):
        split_address("localhost")
    config = tmp_path / "bad.toml"
    config.write_text('htp = "x"\n')
    with pytest.raises(ConfigError, match="unknown setting"):
        load_settings({"config": str(config)}, {})


def test_cli_reports_a_busy_port(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "tether.cli",
                "serve",
                "--data-dir",
                str(tmp_path),
                "--mqtt",
                "127.0.0.1:0",
                "--http",
                f"127.0.0.1:{port}",
            ],
            capture_output=True,
            text=True,
            timeout=120,
            env={**os.environ, "TETHER_ADMIN_PASSWORD": "x", "TETHER_BOOTSTRAP_PASSWORD": "y"},
        )
    assert result.returncode == 2
    assert f"cannot listen on 127.0.0.1:{port}" in result.stderr
    assert "Traceback" not in result.stderr
