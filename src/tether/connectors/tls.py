"""TLS to a sink's server from a connector's `ssl` object, in EMQX 5's shape (checked by
rules/connectors.py): `enable`, `verify` (`verify_peer`, the default, or `verify_none`), `cacertfile` (PEM
file of the CAs to trust; empty: the system's), `certfile` and `keyfile` (the client's certificate and key,
for servers that ask for one), `password` (of the key) and `server_name_indication` (empty: the server's
host; `disable`: none, a name: that name, also checked against the certificate; applied by the webhook).

Files are read when the client connects: a missing or unreadable one makes the connector `disconnected`
with the reason, as a server that cannot be reached does."""

from __future__ import annotations

import ssl
from typing import Any

from .base import SinkUnavailable

__all__ = ["client_context", "sni_name"]


def client_context(config: dict[str, Any]) -> ssl.SSLContext | None:
    """The SSL context of a connector's configuration, None when its `ssl.enable` is false; SinkUnavailable
    naming the file when one cannot be loaded."""
    opts = config.get("ssl") or {}
    if not opts.get("enable"):
        return None
    try:
        context = ssl.create_default_context(cafile=opts.get("cacertfile") or None)
        if opts.get("verify", "verify_peer") == "verify_none":
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        elif opts.get("server_name_indication") == "disable":
            context.check_hostname = False  # no name to check it against; the chain is still verified
        if opts.get("certfile"):
            context.load_cert_chain(
                opts["certfile"], opts.get("keyfile") or None, password=opts.get("password") or None
            )
    except (OSError, ssl.SSLError, ValueError) as exc:
        raise SinkUnavailable(f"TLS configuration: {exc}") from None
    return context


def sni_name(config: dict[str, Any]) -> str | None:
    """The name to send as SNI when the connector names one (not empty, not `disable`)."""
    name = (config.get("ssl") or {}).get("server_name_indication") or ""
    return None if name in ("", "disable", "auto") else str(name)
