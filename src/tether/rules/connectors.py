"""Connectors and sink actions as operators define them (EMQX 5's /api/v5/connectors and /api/v5/actions):
a connector is how to reach a server (`type`, `name`, the server's address and credentials), an action what
to send it for each output of a rule (`parameters`: templates) and how to buffer (`resource_opts`). Both are
named `<type>:<name>`; a rule's `actions` refers to an action by that string (EMQX's form).

Checked here, once, when saved; the I/O is tether/connectors/. Types: http (webhook), pgsql, mysql, redis,
mqtt (a bridge to another broker), each with EMQX's `ssl` object for TLS. Kafka is not offered (no
Kafka-protocol broker to test against)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from tether.core.errors import BadRequest

from .errors import RuleError
from .values import to_json

__all__ = [
    "ACTION_FIELDS",
    "CONNECTOR_FIELDS",
    "R_ACTIONS",
    "R_CONNECTORS",
    "SECRET",
    "TYPES",
    "Connector",
    "SinkAction",
    "check_action",
    "check_connector",
    "duration_ms",
    "masked",
    "sink_id",
    "split_id",
]

R_CONNECTORS = "connectors"
R_ACTIONS = "actions"
#: What a secret reads as in GET (EMQX shows the same); sent back in a PUT it keeps the stored secret.
SECRET = "******"
TYPES = ("http", "pgsql", "mysql", "redis", "mqtt")
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]{0,254}")
_DURATION = re.compile(r"(\d+)\s*(ms|s|m|h|d)?")
_SIZE = re.compile(r"(\d+)\s*(B|KB|MB|GB)?", re.IGNORECASE)
_MAX_NUMBER = 2**53  # what any JSON reader keeps exactly
_MAX_INT = 2**31 - 1
_UNITS = {None: 1, "ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000}
_SIZES = {"": 1, "b": 1, "kb": 1024, "mb": 1024**2, "gb": 1024**3}


@dataclass(frozen=True)
class Connector:
    tenant_id: str
    type: str
    name: str
    config: dict[str, Any]  # checked, defaults filled in (check_connector)
    enable: bool
    description: str
    created_at: int
    updated_at: int

    @property
    def id(self) -> str:
        return sink_id(self.type, self.name)


@dataclass(frozen=True)
class SinkAction:
    tenant_id: str
    type: str
    name: str
    connector: str  # the connector's name (same type)
    parameters: dict[str, Any]  # checked (check_action)
    resource_opts: dict[str, Any]
    enable: bool
    description: str
    created_at: int
    updated_at: int

    @property
    def id(self) -> str:
        return sink_id(self.type, self.name)


def sink_id(kind: str, name: str) -> str:
    return f"{kind}:{name}"


def split_id(value: str, resource: str) -> tuple[str, str]:
    """`type:name` -> (type, name); BadRequest if it is not one of a known type."""
    kind, colon, name = value.partition(":")
    if not colon or kind not in TYPES or not _NAME.fullmatch(name):
        raise BadRequest(
            f"{value!r} is not <type>:<name> with a type among {', '.join(TYPES)}", resource=resource
        )
    return kind, name


def check_name(name: object, resource: str) -> str:
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise BadRequest(
            "'name' is 1 to 255 letters, digits and _ . - (starting with a letter or digit)",
            resource=resource,
        )
    return name


def duration_ms(value: object, what: str, resource: str) -> int | None:
    """EMQX durations: "15s", "500ms", "1m", a number of milliseconds; "infinity" is None."""
    if value == "infinity":
        return None
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= _MAX_NUMBER:
        return value
    match = _DURATION.fullmatch(value.strip()) if isinstance(value, str) else None
    if match is None:
        raise BadRequest(f'\'{what}\' must be a duration such as "15s" or "500ms"', resource=resource)
    return int(match.group(1)) * _UNITS[match.group(2)]


def size_bytes(value: object, what: str, resource: str) -> int:
    if isinstance(value, int) and not isinstance(value, bool) and 0 < value <= _MAX_NUMBER:
        return value
    match = _SIZE.fullmatch(value.strip()) if isinstance(value, str) else None
    if match is None or len(match.group(1)) > 12 or int(match.group(1)) <= 0:
        raise BadRequest(f"'{what}' must be a size such as \"256MB\"", resource=resource)
    return int(match.group(1)) * _SIZES[(match.group(2) or "").lower()]


# ------------------------------------------------------------------------------------------ field specs
# name -> (kind, default); a default of ... means required. Kinds: str, secret, int, bool, headers, duration,
# server (host[:port]), url, enum:<a>|<b>, object, templates (list of template strings), template.

_SERVER = {"server": ("server", ...)}
_DB = {"database": ("str", ...), "username": ("str", ""), "password": ("secret", ""), "pool_size": ("int", 8)}
CONNECTOR_FIELDS: dict[str, dict[str, tuple[str, Any]]] = {
    "http": {
        "url": ("url", ...),
        "headers": ("headers", {}),
        "connect_timeout": ("duration", "15s"),
        "pool_size": ("int", 8),
        "pool_type": ("enum:random|hash", "random"),
        "enable_pipelining": ("int", 100),
        "ssl": ("ssl", {"enable": False}),
    },
    "pgsql": {**_SERVER, **_DB, "connect_timeout": ("duration", "15s"), "ssl": ("ssl", {"enable": False})},
    "mysql": {**_SERVER, **_DB, "connect_timeout": ("duration", "15s"), "ssl": ("ssl", {"enable": False})},
    "redis": {
        **_SERVER,
        "redis_type": ("enum:single", "single"),
        "database": ("int", 0),
        "username": ("str", ""),
        "password": ("secret", ""),
        "pool_size": ("int", 8),
        "ssl": ("ssl", {"enable": False}),
    },
    "mqtt": {
        **_SERVER,
        "username": ("str", ""),
        "password": ("secret", ""),
        "clientid_prefix": ("str", ""),
        "proto_ver": ("enum:v3|v4|v5", "v4"),
        "keepalive": ("duration", "160s"),
        "clean_start": ("bool", True),
        "ssl": ("ssl", {"enable": False}),
    },
}
for _spec in CONNECTOR_FIELDS.values():  # EMQX's connector resource_opts (health_check_interval, ...)
    _spec["resource_opts"] = ("object", {})
ACTION_FIELDS: dict[str, dict[str, tuple[str, Any]]] = {
    "http": {
        "path": ("template", ""),
        "method": ("enum:post|put|get|delete", "post"),
        "headers": ("headers", {}),
        "body": ("template", ""),
        "max_retries": ("int", 2),
        "request_timeout": ("duration", "15s"),
    },
    "pgsql": {"sql": ("template", ...)},
    "mysql": {"sql": ("template", ...)},
    "redis": {"command_template": ("templates", ...)},
    "mqtt": {"remote": ("object", ...)},
}
_MQTT_REMOTE = {
    "topic": ("template", ...),
    "qos": ("int", 1),
    "retain": ("bool", False),
    "payload": ("template", ""),
}
#: EMQX's resource_opts that Tether applies (the others it knows are accepted and shown).
RESOURCE_OPTS: dict[str, tuple[str, Any]] = {
    "batch_size": ("int", 100),
    "batch_time": ("duration", "0ms"),
    "max_buffer_bytes": ("size", "256MB"),
    "buffer_mode": ("enum:memory_only|volatile_offload", "memory_only"),
    "buffer_seg_bytes": ("size", "10MB"),
    "request_ttl": ("duration", "infinity"),
    "health_check_interval": ("duration", "15s"),
    "query_mode": ("enum:async|sync", "async"),
    "inflight_window": ("int", 100),
    "worker_pool_size": ("int", 16),
}


def _field(kind: str, value: Any, what: str, resource: str) -> Any:
    bad = BadRequest(f"'{what}' is not valid for {kind}", resource=resource)
    if kind in ("str", "secret", "template"):
        if not isinstance(value, str) or "\x00" in value:
            raise BadRequest(f"'{what}' must be a string", resource=resource)
        return value
    if kind == "int":
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= _MAX_INT:
            raise BadRequest(f"'{what}' must be an integer from 0 to {_MAX_INT}", resource=resource)
        return value
    if kind == "bool":
        if not isinstance(value, bool):
            raise BadRequest(f"'{what}' must be a boolean", resource=resource)
        return value
    if kind == "duration":
        duration_ms(value, what, resource)
        return value
    if kind == "size":
        size_bytes(value, what, resource)
        return value
    if kind == "headers":
        if not isinstance(value, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in value.items()
        ):
            raise BadRequest(f"'{what}' must be an object of strings", resource=resource)
        return value
    if kind == "object":
        if not isinstance(value, dict):
            raise BadRequest(f"'{what}' must be an object", resource=resource)
        try:  # stored as JSON: numbers beyond 64 bits cannot be
            to_json(value)
        except RuleError:
            raise BadRequest(f"'{what}' cannot be stored as JSON", resource=resource) from None
        return value
    if kind == "ssl":
        if not isinstance(value, dict):
            raise BadRequest(f"'{what}' must be an object", resource=resource)
        return _ssl(value, resource)
    if kind == "templates":
        if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
            raise BadRequest(f"'{what}' must be a non-empty array of strings", resource=resource)
        return value
    if kind == "server":
        if not isinstance(value, str) or not _server_ok(value):
            raise BadRequest(f"'{what}' must be host[:port]", resource=resource)
        return value
    if kind == "url":
        if not isinstance(value, str) or not re.fullmatch(r"https?://[^\s/?#]+[^\s]*", value):
            raise BadRequest(f"'{what}' must be an http:// or https:// URL", resource=resource)
        return value
    if kind.startswith("enum:"):
        choices = kind[5:].split("|")
        if value not in choices:
            raise BadRequest(f"'{what}' must be one of {', '.join(choices)}", resource=resource)
        return value
    raise bad  # pragma: no cover - a spec naming an unknown kind


#: A connector's `ssl` (EMQX 5's client TLS options; tether/connectors/tls.py applies them).
_SSL: dict[str, tuple[str, Any]] = {
    "enable": ("bool", False),
    "verify": ("enum:verify_peer|verify_none", "verify_peer"),
    "cacertfile": ("str", ""),
    "certfile": ("str", ""),
    "keyfile": ("str", ""),
    "password": ("secret", ""),
    "server_name_indication": ("str", ""),
}
#: EMQX's other TLS options: accepted and shown, not applied (Python's defaults: TLS 1.2+, its ciphers).
_SSL_IGNORED = frozenset(
    {"versions", "ciphers", "depth", "reuse_sessions", "secure_renegotiate", "log_level", "hibernate_after",
     "partial_chain", "verify_peer_ext_key_usage", "middlebox_comp_mode"}
)  # fmt: skip


def _ssl(value: dict[str, Any], resource: str) -> dict[str, Any]:
    """The `ssl` object with its defaults; the PEM files are paths on the server (absolute), not contents."""
    known = {k: v for k, v in value.items() if k not in _SSL_IGNORED}
    checked = _fields(_SSL, known, resource, "ssl.")
    for name in ("cacertfile", "certfile", "keyfile"):
        path = checked[name]
        if path and (not path.startswith("/") or "\n" in path or "-----BEGIN" in path):
            raise BadRequest(
                f"'ssl.{name}' must be the absolute path of a PEM file on the server", resource=resource
            )
    if checked["keyfile"] and not checked["certfile"]:
        raise BadRequest("'ssl.keyfile' needs 'ssl.certfile'", resource=resource)
    return {**{k: v for k, v in value.items() if k in _SSL_IGNORED}, **checked}


def _server_ok(value: str) -> bool:
    host, _, port = value.rpartition(":") if value.count(":") == 1 else (value, "", "")
    if not host or any(c.isspace() for c in host):
        return False
    return not port or (port.isdigit() and 0 < int(port) < 65536)


def _fields(
    spec: dict[str, tuple[str, Any]], given: dict[str, Any], resource: str, prefix: str = ""
) -> dict[str, Any]:
    unknown = set(given) - set(spec)
    if unknown:
        raise BadRequest(
            f"Unknown fields: {', '.join(prefix + u for u in sorted(unknown))}", resource=resource
        )
    out: dict[str, Any] = {}
    for name, (kind, default) in spec.items():
        if name not in given or given[name] is None:
            if default is ...:
                raise BadRequest(f"Missing required parameter: {prefix}{name}", resource=resource)
            out[name] = default
        else:
            out[name] = _field(kind, given[name], prefix + name, resource)
    return out


def check_connector(kind: str, config: dict[str, Any], old: dict[str, Any] | None = None) -> dict[str, Any]:
    """A connector's configuration with its defaults; a secret sent back as `SECRET` keeps `old`'s."""
    checked = _fields(CONNECTOR_FIELDS[kind], config, R_CONNECTORS)
    for name, (field_kind, _) in CONNECTOR_FIELDS[kind].items():
        if field_kind == "secret" and checked[name] == SECRET:
            checked[name] = (old or {}).get(name, "")
    interval = checked["resource_opts"].get("health_check_interval", "15s")
    duration_ms(interval, "resource_opts.health_check_interval", R_CONNECTORS)
    tls = checked["ssl"] = _ssl(checked["ssl"], R_CONNECTORS)  # the default too gets its fields
    if tls["password"] == SECRET:
        tls["password"] = ((old or {}).get("ssl") or {}).get("password", "")
    return checked


def check_action(
    kind: str, parameters: dict[str, Any], resource_opts: dict[str, Any]
) -> tuple[dict[str, Any], dict[str, Any]]:
    params = _fields(ACTION_FIELDS[kind], parameters, R_ACTIONS, "parameters.")
    if kind == "mqtt":
        params["remote"] = _fields(_MQTT_REMOTE, params["remote"], R_ACTIONS, "parameters.remote.")
        if params["remote"]["qos"] not in (0, 1, 2):
            raise BadRequest("'parameters.remote.qos' must be 0, 1 or 2", resource=R_ACTIONS)
    opts = _fields(RESOURCE_OPTS, resource_opts, R_ACTIONS, "resource_opts.")
    if not 1 <= opts["batch_size"] <= 10_000:
        raise BadRequest("'resource_opts.batch_size' must be 1 to 10000", resource=R_ACTIONS)
    return params, opts


def masked(kind: str, config: dict[str, Any]) -> dict[str, Any]:
    """The configuration as GET shows it: secrets that are set read as `SECRET`."""
    out = dict(config)
    for name, (field_kind, _) in CONNECTOR_FIELDS[kind].items():
        if field_kind == "secret" and out.get(name):
            out[name] = SECRET
    tls = out.get("ssl")
    if isinstance(tls, dict) and tls.get("password"):
        out["ssl"] = {**tls, "password": SECRET}
    return out
