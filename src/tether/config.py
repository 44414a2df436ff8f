"""Settings: command-line option > TETHER_<NAME> environment variable > TOML config file > default."""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any


class ConfigError(ValueError):
    pass


@dataclass(frozen=True)
class Settings:
    data_dir: Path = Path("./tether-data")
    database_url: str | None = None  # None: SQLite file in data_dir
    http: str = "0.0.0.0:8080"
    https: str | None = None  # HTTPS listener, certificate from [tls]
    mqtt: str = "0.0.0.0:1883"
    mqtt_tls: str | None = None
    mqtt_ws: str | None = None
    mqtt_wss: str | None = None  # MQTT over WebSocket on TLS, certificate from [tls]
    allow_anonymous: bool = False
    tenant: str = "t1"
    admin_user: str = "admin"
    admin_password: str | None = None
    bootstrap_password: str | None = None
    max_body_size: int = 1024 * 1024
    # Binaries (/inventory/binaries, event attachments): the largest file in bytes, and the directory of the
    # files (None: <data_dir>/binaries; with PostgreSQL and several servers, a directory they all mount).
    max_binary_size: int = 1024 * 1024 * 1024
    binaries_dir: Path | None = None
    log_level: str = "info"
    # Addresses handed to Xyte devices at registration (hub_url, mqtt_hub_url); None: the Host header the
    # device used, with the port of the bound MQTT listener.
    public_http_url: str | None = None
    public_mqtt_url: str | None = None
    # Presence (tether.presence): days of connection history kept (0: forever), seconds between availability
    # checks, seconds a dropped device may stay away before its offline alarm (0: no offline alarm).
    presence_history_days: int = 30
    presence_check_interval: int = 10
    presence_offline_grace: int = 300
    # Data retention (tether.retention): the default rule's age in days for every tenant without a catch-all
    # rule of its own (0: none; data is then kept until a tenant's rules delete it), and seconds between runs
    # of the retention job, the first one interval after start (0: never run).
    default_retention_days: int = 90
    retention_interval: int = 3600
    # Cluster (tether.cluster, docs/cluster.md): the NATS URL the nodes share (None: one process, no NATS) and
    # this node's name (None: host-pid in a cluster, tether@host alone).
    cluster: str | None = None
    node: str | None = None
    # `tether serve --workers N`: N cluster nodes on this machine sharing the listeners (cluster/workers.py);
    # 1 is one process, as without the option.
    workers: int = 1
    config: Path | None = None
    # Sections of the config file for later subsystems (e.g. [tls], [acl]) are kept as given.
    sections: Mapping[str, Any] = field(default_factory=dict)

    @property
    def effective_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'tether.db').resolve()}"

    @property
    def effective_binaries_dir(self) -> Path:
        return self.binaries_dir if self.binaries_dir is not None else self.data_dir / "binaries"

    @property
    def database_shown(self) -> str:
        """The database URL as it may be logged: any password replaced by ***."""
        return redact_url(self.effective_database_url)


_FIELDS = {f.name: f for f in fields(Settings) if f.name != "sections"}


def _coerce(name: str, value: Any) -> Any:
    kind = str(_FIELDS[name].type)
    if value is None:
        return None
    if "bool" in kind:
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in ("1", "true", "yes", "on"):
            return True
        if text in ("0", "false", "no", "off", ""):
            return False
        raise ConfigError(f"{name}: expected a boolean, got {value!r}")
    if "int" in kind:
        try:
            return int(value)
        except (TypeError, ValueError):
            raise ConfigError(f"{name}: expected an integer, got {value!r}") from None
    if "Path" in kind:
        return Path(str(value))
    return str(value)


def load_settings(cli: Mapping[str, Any], environ: Mapping[str, str] | None = None) -> Settings:
    """Merge the three sources; `cli` holds only the options actually given on the command line."""
    env = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    config_path = cli.get("config") or env.get("TETHER_CONFIG")
    sections: dict[str, Any] = {}
    if config_path:
        try:
            with open(config_path, "rb") as fh:
                document = tomllib.load(fh)
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise ConfigError(f"cannot read config file {config_path}: {exc}") from None
        for key, value in document.items():
            name = key.replace("-", "_")
            if isinstance(value, dict):
                sections[name] = value
            elif name in _FIELDS:
                values[name] = _coerce(name, value)
            else:
                raise ConfigError(f"unknown setting {key!r} in {config_path}")
        values["config"] = Path(config_path)
    for name in _FIELDS:
        env_value = env.get(f"TETHER_{name.upper()}")
        if env_value is not None and env_value != "":
            values[name] = _coerce(name, env_value)
    for name, value in cli.items():
        if value is not None and name in _FIELDS:
            values[name] = _coerce(name, value)
    return Settings(**values, sections=sections)


def split_address(address: str) -> tuple[str, int]:
    """`HOST:PORT` (IPv6 as `[::1]:PORT`) -> (host, port)."""
    host, sep, port = address.rpartition(":")
    if not sep or not port.isdigit():
        raise ConfigError(f"expected HOST:PORT, got {address!r}")
    return host.strip("[]") or "0.0.0.0", int(port)


def redact_url(url: str) -> str:
    """`scheme://user:password@host/...` -> `scheme://user:***@host/...` (for logs and error messages)."""
    scheme, sep, rest = url.partition("://")
    credentials, at, location = rest.rpartition("@")
    if not sep or not at or ":" not in credentials:
        return url
    user = credentials.partition(":")[0]
    return f"{scheme}://{user}:***@{location}"
