"""MqttService: the broker plus its listeners (TCP, TLS, WebSocket, WebSocket on TLS) as `tether serve`
runs them."""

from __future__ import annotations

import asyncio
import logging
import socket
import ssl
from collections.abc import Callable, Mapping
from typing import Any

from tether.config import ConfigError, split_address

from .broker import Broker
from .hooks import Hooks
from .listener import serve_tcp, tls_context
from .settings import BrokerConfig
from .storage import BrokerStore
from .websocket import serve_websocket

__all__ = ["LISTENER_KINDS", "MqttService", "bind_socket", "listener_url"]

log = logging.getLogger("tether.broker")

#: Listener name -> URL scheme. The names are the readiness names used by `tether serve`.
LISTENER_KINDS: Mapping[str, str] = {
    "mqtt": "mqtt",
    "mqtt-tls": "mqtts",
    "mqtt-ws": "ws",
    "mqtt-wss": "wss",
}


def bind_socket(address: str, *, reuse_port: bool = False) -> socket.socket:
    """A listening, non-blocking TCP socket on `HOST:PORT` (port 0: an ephemeral port). With `reuse_port`
    (SO_REUSEPORT) several sockets may listen on the same address and the kernel spreads new connections
    over them (`tether serve --workers`, cluster/workers.py)."""
    host, port = split_address(address)
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if reuse_port:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise ConfigError(f"cannot listen on {address}: {exc.strerror}") from None
    sock.listen(2048)
    sock.setblocking(False)
    return sock


def listener_url(name: str, sock: socket.socket, path: str = "/mqtt") -> str:
    host, port = sock.getsockname()[:2]
    shown = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    scheme = LISTENER_KINDS[name]
    return f"{scheme}://{shown}{path if scheme in ('ws', 'wss') else ''}"


class MqttService:
    """Runs one :class:`Broker` behind already bound sockets.

    ::

        service = MqttService(BrokerConfig.from_settings(settings))
        urls = await service.start({"mqtt": sock, "mqtt-tls": tls_sock, "mqtt-ws": ws_sock, "mqtt-wss": wss})
        ...
        await service.close()
    """

    def __init__(
        self,
        config: BrokerConfig,
        hooks: Hooks | None = None,
        store: BrokerStore | None = None,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self.config = config
        self.hooks = hooks
        self.store = store
        #: The TLS listeners' context (MQTT over TLS and over secure WebSocket); by default built from the
        #: [tls] section.
        self.ssl_context = ssl_context
        self.broker: Broker | None = None
        self._servers: list[asyncio.Server] = []

    async def start(
        self, sockets: Mapping[str, socket.socket], setup: Callable[[Broker], None] | None = None
    ) -> dict[str, str]:
        """Start serving on each socket (keys from :data:`LISTENER_KINDS`); returns name -> URL.

        ``setup`` gets the broker before the first connection is accepted (to install platform handlers).
        """
        broker = self.broker = Broker(self.config, self.hooks, store=self.store)
        if setup is not None:
            setup(broker)
        await broker.start()
        urls: dict[str, str] = {}
        for name, sock in sockets.items():
            server: Any
            if name == "mqtt":
                server = await serve_tcp(broker, sock)
            elif name == "mqtt-tls":
                server = await serve_tcp(broker, sock, ssl_context=self._tls(name))
            elif name == "mqtt-ws":
                server = await serve_websocket(broker, sock)
            elif name == "mqtt-wss":
                server = await serve_websocket(broker, sock, ssl_context=self._tls(name))
            else:
                raise ValueError(f"unknown MQTT listener {name!r}")
            self._servers.append(server)
            urls[name] = listener_url(name, sock, self.config.websocket_path)
        return urls

    def _tls(self, name: str) -> ssl.SSLContext:
        if self.ssl_context is None:
            if self.config.tls is None:
                raise ConfigError(f"--{name} needs a [tls] section with certfile and keyfile")
            self.ssl_context = tls_context(self.config.tls)
        return self.ssl_context

    async def close(self) -> None:
        """Stop accepting, disconnect every client (MQTT 5: 0x8B), save the state, close the listeners."""
        for server in self._servers:
            server.close()
        if self.broker is not None:
            await self.broker.stop()
        for server in self._servers:
            try:
                await asyncio.wait_for(server.wait_closed(), 5)
            except TimeoutError:
                log.warning("MQTT listener did not close in time")
        self._servers.clear()
