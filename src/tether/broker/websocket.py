"""MQTT over WebSocket (spec 6): path `/mqtt`, subprotocol `mqtt`, binary frames; on TLS too (`wss`).

Built on the sans-I/O WebSocket protocol of the `websockets` library inside an :class:`asyncio.Protocol`,
like the TCP listener: no task per connection or message. [MQTT-6.0.0-2] MQTT packets may span WebSocket
frames and a frame may hold several packets, so frame payloads are fed to the MQTT stream as they come.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import ssl
from collections.abc import Iterable, Sequence
from typing import Any, cast

from websockets.frames import Frame, Opcode
from websockets.http11 import Request
from websockets.server import ServerProtocol
from websockets.typing import Subprotocol

from tether.mqtt.reason_codes import ReasonCode

from .broker import Broker
from .client import ClientConnection
from .handshake import HandshakeTicket, address_of
from .hooks import ConnectionInfo
from .listener import _peer

__all__ = ["WebSocketMQTTProtocol", "serve_websocket"]

log = logging.getLogger("tether.broker")
# The websockets library logs every opened connection at INFO; keep those at DEBUG level and below.
_ws_log = logging.getLogger("tether.broker.websocket")
_ws_log.setLevel(logging.WARNING)

_MQTT = Subprotocol("mqtt")
# Older clients (Paho JavaScript for 3.1) ask for "mqttv3.1".
_ACCEPTED = (_MQTT, Subprotocol("mqttv3.1"))


def _select_subprotocol(protocol: ServerProtocol, offered: Sequence[Subprotocol]) -> Subprotocol | None:
    # [MQTT-6.0.0-3] the client includes "mqtt"; [MQTT-6.0.0-4] the server selects it.
    for name in _ACCEPTED:
        if name in offered:
            return name
    return None


class _WebSocketTransport:
    """The :class:`Transport` a client connection writes to: MQTT bytes out as binary frames."""

    __slots__ = ("_transport", "_ws")

    def __init__(self, transport: asyncio.Transport, ws: ServerProtocol) -> None:
        self._transport = transport
        self._ws = ws

    def send_pending(self) -> None:
        transport = self._transport
        for data in self._ws.data_to_send():
            if data:
                transport.write(data)
            else:
                transport.close()  # end of stream (the closing handshake is done)

    def write(self, data: bytes | bytearray | memoryview, /) -> None:
        self._ws.send_binary(data)
        self.send_pending()

    def writelines(self, list_of_data: Iterable[bytes | bytearray | memoryview], /) -> None:
        self._ws.send_binary(b"".join(list_of_data))
        self.send_pending()

    def close(self) -> None:
        if not self._transport.is_closing():
            try:
                self._ws.send_close(1000)
                self.send_pending()
            except Exception:
                pass  # the WebSocket is already closing: just drop the TCP connection
            self._transport.close()

    def abort(self) -> None:
        self._transport.abort()

    def can_write_eof(self) -> bool:
        return False  # the WebSocket closing handshake ends the stream

    def write_eof(self) -> None:
        raise NotImplementedError

    def is_closing(self) -> bool:
        return self._transport.is_closing()

    def pause_reading(self) -> None:
        self._transport.pause_reading()

    def resume_reading(self) -> None:
        self._transport.resume_reading()

    def get_extra_info(self, name: str, default: Any = None, /) -> Any:
        return self._transport.get_extra_info(name, default)


class WebSocketMQTTProtocol(asyncio.Protocol):
    """HTTP upgrade, then WebSocket frames carrying an MQTT byte stream."""

    def __init__(self, broker: Broker, listener: str = "ws") -> None:
        self._broker = broker
        self._listener = listener  # "ws", or "wss" on TLS
        self._transport: asyncio.Transport | None = None
        self._ws = ServerProtocol(
            subprotocols=list(_ACCEPTED),
            select_subprotocol=_select_subprotocol,
            # One WebSocket message holds at most one MQTT packet plus change: until the client is accepted, a
            # CONNECT (max_connect_size); then a maximum-size packet (see data_received).
            max_size=min(broker.config.max_connect_size, broker.config.max_packet_size) + 1024,
            logger=_ws_log,
        )
        self._adapter: _WebSocketTransport | None = None
        self._client: ClientConnection | None = None
        self._timeout: asyncio.TimerHandle | None = None
        # Counted among the connections in their handshake from the TCP connection on (the HTTP upgrade is
        # part of it); handed to the client connection after the upgrade.
        self._ticket: HandshakeTicket | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._ticket = self._broker.handshakes.admit(address_of(transport.get_extra_info("peername")))
        if self._ticket is None:
            # Too many connections in their handshake: close at once, read nothing.
            cast(asyncio.Transport, transport).abort()
            return
        # uvloop's transports implement asyncio.Transport without subclassing it.
        self._transport = tcp = cast(asyncio.Transport, transport)
        self._adapter = _WebSocketTransport(tcp, self._ws)
        self._timeout = self._broker.loop.call_later(self._broker.config.connect_timeout, tcp.abort)

    def data_received(self, data: bytes) -> None:
        ws = self._ws
        adapter = self._adapter
        if adapter is None:
            return  # refused in connection_made
        client = self._client
        if client is not None and client.session is not None:
            ws.max_message_size = self._broker.config.max_packet_size + 1024
        ws.receive_data(data)
        try:
            for event in ws.events_received():
                if isinstance(event, Request):
                    self._handshake(event)
                elif isinstance(event, Frame):
                    self._frame(event)
        except Exception as exc:
            if self._client is not None:
                self._client.abort_on_error(exc)
            else:
                log.exception("MQTT over WebSocket handshake failed")
                adapter.abort()
            return
        adapter.send_pending()

    def _handshake(self, request: Request) -> None:
        ws = self._ws
        assert self._transport is not None and self._adapter is not None
        path = request.path.partition("?")[0]
        if path != self._broker.config.websocket_path:
            response = ws.reject(404, "Not found: MQTT over WebSocket is served on /mqtt\n")
        else:
            response = ws.accept(request)
        ws.send_response(response)
        if response.status_code != 101:
            self._adapter.send_pending()
            self._transport.close()
            return
        if self._timeout is not None:
            self._timeout.cancel()  # the client connection has its own CONNECT timeout
        # The socket's peer, not X-Forwarded-For: a header anyone can set must not reach authorization hooks.
        # On TLS, the client certificate the handshake verified (as on the MQTT over TLS listener).
        certificate = self._transport.get_extra_info("peercert") if self._listener == "wss" else None
        info = ConnectionInfo(self._listener, _peer(self._transport), certificate or None)
        client = self._client = ClientConnection(self._broker, self._adapter, info, self._ticket)
        self._ticket = None
        self._broker.opened(client)

    def _frame(self, frame: Frame) -> None:
        client = self._client
        if client is None:
            return
        if frame.opcode is Opcode.BINARY or frame.opcode is Opcode.CONT:
            client.data_received(frame.data)
        elif frame.opcode is Opcode.TEXT:
            # [MQTT-6.0.0-1] MQTT Control Packets MUST be sent in WebSocket binary data frames.
            log.info("MQTT over WebSocket: text frame from %s", client.info.peer)
            client.close(ReasonCode.MALFORMED_PACKET)

    def eof_received(self) -> bool:
        self._ws.receive_eof()
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        if self._ticket is not None:
            self._ticket.release()
            self._ticket = None
        if self._timeout is not None:
            self._timeout.cancel()
        if self._client is not None:
            self._client.connection_lost(exc)

    def pause_writing(self) -> None:
        if self._client is not None:
            self._client.pause_writing()

    def resume_writing(self) -> None:
        if self._client is not None:
            self._client.resume_writing()


async def serve_websocket(
    broker: Broker, sock: socket.socket, *, ssl_context: ssl.SSLContext | None = None
) -> asyncio.Server:
    """Serve MQTT over WebSocket on an already bound, listening socket (on TLS with ``ssl_context``)."""
    listener = "wss" if ssl_context is not None else "ws"
    return await broker.loop.create_server(
        lambda: WebSocketMQTTProtocol(broker, listener),
        sock=sock,
        ssl=ssl_context,
        ssl_handshake_timeout=broker.config.connect_timeout if ssl_context is not None else None,
    )
