"""The Redis sink (EMQX's `redis`, single server): redis-py's asyncio client; each output is the action's
`command_template` rendered (one template per argument, e.g. `["RPUSH", "msgs:${clientid}", "${payload}"]`),
a batch sent as one pipeline (no transaction), each command's error its output's."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import redis.asyncio as aioredis
import redis.exceptions

from tether.rules.connector_service import SinkTemplate
from tether.rules.sink_templates import CommandTemplate

from .base import Outcome, SinkUnavailable, host_port, reason_of

__all__ = ["RedisClient"]

_UNAVAILABLE = (OSError, TimeoutError, redis.exceptions.ConnectionError, redis.exceptions.TimeoutError)


def _tls(opts: dict[str, Any]) -> dict[str, Any]:
    """The connector's `ssl` (EMQX's shape, as connectors/tls.py reads it) as redis-py's TLS arguments."""
    if not opts.get("enable"):
        return {}
    verify = opts.get("verify", "verify_peer") == "verify_peer"
    return {
        "ssl": True,
        "ssl_ca_certs": opts.get("cacertfile") or None,
        "ssl_certfile": opts.get("certfile") or None,
        "ssl_keyfile": opts.get("keyfile") or None,
        "ssl_password": opts.get("password") or None,
        "ssl_cert_reqs": "required" if verify else "none",
        "ssl_check_hostname": verify and opts.get("server_name_indication") != "disable",
    }


class RedisClient:
    def __init__(self, config: dict[str, Any]) -> None:
        host, port = host_port(config["server"], 6379)
        self.client = aioredis.Redis(
            host=host,
            port=port,
            db=config["database"],
            username=config["username"] or None,
            password=config["password"] or None,
            socket_connect_timeout=15,
            socket_timeout=30,
            max_connections=max(1, config["pool_size"]),
            **_tls(config.get("ssl") or {}),
        )

    async def check(self) -> None:
        try:
            await self.client.ping()
        except _UNAVAILABLE as exc:
            raise SinkUnavailable(reason_of(exc)) from None
        except redis.exceptions.RedisError as exc:  # e.g. a wrong password: the server is not usable
            raise SinkUnavailable(reason_of(exc)) from None

    async def send(self, template: SinkTemplate, outputs: Sequence[dict[str, Any]]) -> list[Outcome]:
        assert isinstance(template, CommandTemplate)
        pipe = self.client.pipeline(transaction=False)
        for output in outputs:
            pipe.execute_command(*template.render(output))
        try:
            results = await pipe.execute(raise_on_error=False)
        except _UNAVAILABLE as exc:
            raise SinkUnavailable(reason_of(exc)) from None
        except redis.exceptions.AuthenticationError as exc:
            raise SinkUnavailable(reason_of(exc)) from None
        return [reason_of(r) if isinstance(r, Exception) else None for r in results]

    async def close(self) -> None:
        await self.client.aclose()
