"""TCP and TLS listeners: an :class:`asyncio.Protocol` per connection feeding a :class:`ClientConnection`.

No task per connection or per message: the event loop calls ``data_received`` with whatever arrived and the
client connection handles every complete packet in it synchronously.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import ssl
from typing import cast

from tether.config import ConfigError

from .broker import Broker
from .client import ClientConnection
from .handshake import Handshake, address_of
from .hooks import ConnectionInfo
from .settings import TlsConfig

__all__ = ["FairMQTTProtocol", "MQTTProtocol", "serve_tcp", "tls_context"]

log = logging.getLogger("tether.broker")


def _peer(transport: asyncio.BaseTransport) -> str | None:
    peer = transport.get_extra_info("peername")
    if isinstance(peer, tuple) and len(peer) >= 2:
        host, port = peer[0], peer[1]
        return f"[{host}]:{port}" if ":" in str(host) else f"{host}:{port}"
    return None if peer is None else str(peer)


class MQTTProtocol(ClientConnection, asyncio.Protocol):
    """The asyncio protocol of a TCP or TLS connection: its :class:`ClientConnection` itself (no glue object
    per connection). The server's factory makes it before the transport exists; :meth:`connection_made`
    initialises it. Until then (and for ever when refused there) it is closed: it reads nothing."""

    __slots__ = ()

    def __init__(self, broker: Broker, listener: str) -> None:
        # Not ClientConnection.__init__ yet: that needs the transport (connection_made).
        self.broker = broker
        self._pending = Handshake(ConnectionInfo(listener), None)
        self._closed = True
        self.session = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        broker = cast(Broker, self.broker)
        ticket = broker.handshakes.admit(address_of(transport.get_extra_info("peername")))
        if ticket is None:
            # Too many connections in their handshake: close at once, read nothing.
            cast(asyncio.Transport, transport).abort()
            return
        # uvloop's transports implement asyncio.Transport without subclassing it.
        # A TLS client certificate the handshake verified (none unless the context asks for one).
        assert self._pending is not None
        listener = self._pending.info.listener
        certificate = transport.get_extra_info("peercert") if listener == "tls" else None
        info = ConnectionInfo(listener, _peer(transport), certificate or None)
        ClientConnection.__init__(self, broker, cast(asyncio.Transport, transport), info, ticket)
        broker.opened(self)

    def data_received(self, data: bytes) -> None:  # type: ignore[override]
        try:
            ClientConnection.data_received(self, data)
        except Exception as exc:  # a bug, not a protocol error: those are handled inside
            self.abort_on_error(exc)

    def eof_received(self) -> bool:
        return False  # close the transport


#: A read this large means the client sends faster than it is served (see :class:`FairMQTTProtocol`).
FULL_READ = 32 * 1024


class FairMQTTProtocol(MQTTProtocol):
    """An :class:`MQTTProtocol` that, after a large read, stops reading until the next turn of the event
    loop. libuv (uvloop) reads a flooding socket up to 32 times in one turn, so a few clients publishing
    as fast as they can would hold the loop for seconds, and the tasks waiting for their turn (a cluster
    node's NATS traffic and heartbeats) with it. Chosen by ``Broker.fair_reads`` (a cluster sets it)."""

    __slots__ = ()

    def data_received(self, data: bytes) -> None:  # type: ignore[override]
        MQTTProtocol.data_received(self, data)
        if len(data) >= FULL_READ and not self._closed and not self.transport.is_closing():
            self.transport.pause_reading()
            self.broker.loop.call_soon(_resume, self)


def _resume(client: ClientConnection) -> None:
    # Not while the client waits for its login (it paused reading itself, client.py).
    if not client._paused and not client.transport.is_closing():
        client.transport.resume_reading()


def tls_context(config: TlsConfig, *, require_client_certificate: bool = True) -> ssl.SSLContext:
    """A server TLS context from the `[tls]` section. With `cafile`, client certificates are verified
    against it and required (or, with `require_client_certificate=False`, asked for but optional)."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    try:
        context.load_cert_chain(config.certfile, config.keyfile, password=config.password)
        if config.cafile:
            context.load_verify_locations(config.cafile)
            context.verify_mode = ssl.CERT_REQUIRED if require_client_certificate else ssl.CERT_OPTIONAL
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError(f"[tls] cannot load the certificate or key: {exc}") from None
    return context


async def serve_tcp(
    broker: Broker,
    sock: socket.socket,
    *,
    ssl_context: ssl.SSLContext | None = None,
) -> asyncio.Server:
    """Serve MQTT on an already bound, listening socket (MQTT over TLS with ``ssl_context``)."""
    listener = "tls" if ssl_context is not None else "tcp"
    protocol = FairMQTTProtocol if broker.fair_reads else MQTTProtocol
    return await broker.loop.create_server(
        lambda: protocol(broker, listener),
        sock=sock,
        ssl=ssl_context,
        ssl_handshake_timeout=broker.config.connect_timeout if ssl_context is not None else None,
    )
