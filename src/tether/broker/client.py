"""One client's network connection: the sans-I/O :class:`ServerConnection` plus broker policy.

Bytes go in through :meth:`ClientConnection.data_received`; every complete packet is dispatched on its type to
one handler; output is collected and flushed once per event-loop turn (see :mod:`.transport`). No task is
created per packet: the only task is an asynchronous :meth:`Hooks.authenticate`, once per CONNECT.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from tether.mqtt.connection import ServerConnection
from tether.mqtt.errors import MQTTError, ProtocolError
from tether.mqtt.packets import (
    Auth,
    Connect,
    Disconnect,
    Packet,
    PingReq,
    PubAck,
    PubComp,
    Publish,
    PubRec,
    PubRel,
    Subscribe,
    Unsubscribe,
)
from tether.mqtt.reason_codes import ReasonCode

from .connect import ConnectFlows
from .handshake import Handshake, HandshakeTicket
from .hooks import ClientInfo, ConnectionInfo
from .keepalive import IdleTimer
from .message import Message
from .mountpoints import Mount
from .ports import BrokerPort
from .qos import QoSFlows
from .sessions import Session
from .subscribe import SubscriptionFlows
from .transport import Transport

__all__ = ["ClientConnection"]

log = logging.getLogger("tether.broker")

_RC = ReasonCode
# Output collected in one loop turn beyond which it is handed to the transport at once (so that the
# transport's flow control, pause_writing, sees it and slow consumers stop receiving before memory grows).
_FLUSH_AT = 256 * 1024
# Payloads of this size or more are passed to the transport without being copied into the output buffer.
_LARGE = 16 * 1024
_PINGRESP = b"\xd0\x00"
# What `_out` is between flushes: one shared empty buffer, never written to (the first packet of a turn gets
# a bytearray of its own), so that an idle connection keeps no empty bytearray.
_NO_OUTPUT = bytearray()
# Seconds a closed connection keeps reading (and discarding) before the socket is closed; see close().
_LINGER = 2.0


class ClientConnection(QoSFlows, SubscriptionFlows, ConnectFlows):
    """The broker side of one network connection (TCP, TLS or WebSocket)."""

    __slots__ = (
        "_acks",
        "_chunk_size",
        "_chunks",
        "_closed",
        "_eof",
        "_out",
        "_scheduled",
        "_writable",
        "broker",
        "conn",
        "disconnect_reason",
        "recv_msg",
        "recv_oct",
        "recv_pkt",
        "send_msg",
        "send_oct",
        "transport",
    )

    def __init__(
        self,
        broker: BrokerPort,
        transport: Transport,
        info: ConnectionInfo,
        handshake: HandshakeTicket | None = None,
    ) -> None:
        config = broker.config
        self.broker = broker
        self.transport = transport
        # Where it comes from and the rest of the handshake, until the CONNACK (then the ClientInfo says
        # where it comes from: see `info`).
        self._pending: Handshake | None = Handshake(info, handshake)
        self.conn = ServerConnection(
            max_packet_size=config.max_packet_size,
            outgoing_topic_aliases=config.outgoing_topic_aliases,
            max_connect_size=config.max_connect_size,
            max_client_id_length=config.max_client_id_length,
        )
        self.version = 4
        self.session: Session | None = None
        self.client: ClientInfo | None = None
        #: Why the connection ended (for the on_disconnected hook).
        self.disconnect_reason: ReasonCode | None = None
        #: Of the accepted CONNECT: the Keep Alive in force.
        self.keep_alive = 0
        # Traffic counters (see `traffic`): bytes and packets received, Application Messages received and
        # sent, bytes handed to the transport. Slots of the connection, not an object of their own.
        self.recv_oct = 0
        self.recv_pkt = 0
        self.recv_msg = 0
        self.send_oct = 0
        self.send_msg = 0
        # Output of this loop turn: small packets gathered in one buffer, large payloads kept aside (by
        # reference) in the order they were written; see flush().
        self._out = _NO_OUTPUT
        self._chunks: list[bytes | bytearray | memoryview] | None = None
        self._chunk_size = 0
        self._scheduled = False
        self._closed = False
        self._eof = False  # write side shut down: nothing more may be written
        self._writable = True
        self._paused = False  # waiting for an asynchronous authenticate hook
        self._receive_maximum = 65_535
        self._will: Message | None = None
        self._will_delay = 0
        #: The client's namespace (AuthResult.mountpoint), or None for the broker's whole topic space.
        self._mount: Mount | None = None
        #: Acknowledgements waiting behind one held for durability (see QoSFlows._acknowledge).
        self._acks: Any = None
        # The CONNECT must arrive within connect_timeout of the connection, however slowly bytes trickle in.
        self._pending.timer = broker.loop.call_later(config.connect_timeout, self._connect_timeout)
        self._timer: IdleTimer | None = None  # keep alive, from the CONNACK on

    def __repr__(self) -> str:
        client_id = self.session.client_id if self.session is not None else None
        return f"ClientConnection({client_id!r}, {self.info.peer})"

    @property
    def receive_maximum(self) -> int:
        """The client's Receive Maximum: the most QoS 1/2 messages in flight to it (spec 3.1.2.11.3)."""
        return self._receive_maximum

    @property
    def mount(self) -> Mount | None:
        """The client's namespace inside the broker (``None``: the whole topic space)."""
        return self._mount

    # ----------------------------------------------------------------------------------------- input

    def data_received(self, data: bytes | bytearray | memoryview) -> None:
        if self._closed:
            return
        timer = self._timer
        if timer is not None:
            timer.last = self.broker.loop.time()
        self.recv_oct += len(data)
        self.conn.receive_data(data)
        if not self._paused:
            self._process()

    def _process(self) -> None:
        conn = self.conn
        handlers = _HANDLERS
        try:
            while not self._paused and not self._closed:
                packet = conn.next_event()
                if packet is None:
                    return
                self.recv_pkt += 1
                handlers[type(packet)](self, packet)
        except ProtocolError as exc:
            self._protocol_error(exc)

    def _protocol_error(self, exc: ProtocolError) -> None:
        # spec 4.13: a CONNACK or DISCONNECT with the reason code (MQTT 5), else just close (3.1.1, spec 4.8).
        log.info("MQTT protocol error from %s: %s", self.info.peer, exc)
        # self.conn keeps the error: without its traceback it holds no frames (nor the bytes received in them)
        # in a reference cycle that only a full collection would free.
        exc.__traceback__ = None
        if self._closed:
            return
        data = self.conn.send_protocol_error(exc)
        if data:
            self._write(data)
        self.close(exc.reason_code)

    # ----------------------------------------------------------------------------------------- output

    def _write(self, data: bytes | bytearray | memoryview) -> None:
        out = self._out
        if len(data) < _LARGE:
            if out is _NO_OUTPUT:
                out = self._out = bytearray()
            out += data
        else:
            # A large payload goes to the transport as it is, after what was written before it.
            chunks = self._chunks
            if chunks is None:
                chunks = self._chunks = []
            if out:
                chunks.append(out)
                self._out = out = _NO_OUTPUT
            chunks.append(data)
            self._chunk_size += len(data)
        if not self._scheduled:
            self._scheduled = True
            self.broker.batcher.schedule(self)
        if len(out) + self._chunk_size > _FLUSH_AT:
            self.flush()

    def flush(self) -> None:
        """Hand this turn's output to the transport: one ``write`` (or a ``writelines`` of a few large
        buffers). Many small buffers in one ``writelines`` are much slower on uvloop than one joined write."""
        self._scheduled = False
        out = self._out
        chunks = self._chunks
        if chunks is None:
            if not out:
                return
            self._out = _NO_OUTPUT  # the transport may keep a view of `out`: never reuse it
            if not self._eof and not self.transport.is_closing():
                self.send_oct += len(out)
                self.transport.write(out)
            return
        if out:
            chunks.append(out)
            self._out = _NO_OUTPUT
        self._chunks = None
        self._chunk_size = 0
        if not self._eof and not self.transport.is_closing():
            self.send_oct += sum(len(chunk) for chunk in chunks)
            self.transport.writelines(chunks)

    def _send(self, packet: Packet) -> None:
        """Encode a (non-PUBLISH) packet; one too large for the client is dropped [MQTT-3.1.2-25]."""
        data = self.conn.try_send(packet)
        if data is not None:
            self._write(data)

    def pause_writing(self) -> None:
        self._writable = False

    def resume_writing(self) -> None:
        self._writable = True
        if self.session is not None and not self._closed:
            self._pump()

    @property
    def will(self) -> Message | None:
        return self._will

    @property
    def will_delay(self) -> int:
        return self._will_delay

    def _keep_alive_expired(self) -> None:
        if self._closed:
            return
        log.info("MQTT client %s keep alive expired", self.session.client_id if self.session else "-")
        if self.version == 5:
            self._send(Disconnect(_RC.KEEP_ALIVE_TIMEOUT))
        self.close(_RC.KEEP_ALIVE_TIMEOUT)

    # ----------------------------------------------------------------------------------------- the rest

    def _on_pingreq(self, packet: PingReq) -> None:
        self._write(_PINGRESP)  # [MQTT-3.12.4-1]

    def _on_disconnect(self, packet: Disconnect) -> None:
        session = self.session
        if session is not None and self.version == 5:
            expiry = packet.properties.session_expiry_interval
            if expiry is not None:
                # spec 3.14.2.2.2: the DISCONNECT may change the Session Expiry Interval.
                session.expiry_interval = min(expiry, self.broker.config.max_session_expiry)
        if packet.reason_code != _RC.DISCONNECT_WITH_WILL_MESSAGE:
            # [MQTT-3.14.4-3] on a normal DISCONNECT the Will Message is deleted without being published.
            self._will = None
        self.close(packet.reason_code)

    def _on_auth(self, packet: Auth) -> None:
        # Unreachable: without an Authentication Method in CONNECT the core rejects AUTH [MQTT-4.12.0-7].
        raise ProtocolError(_RC.PROTOCOL_ERROR, "AUTH without enhanced authentication")

    def take_over(self) -> None:
        """[MQTT-3.1.4-3] another connection uses this Client Identifier: DISCONNECT 0x8E (MQTT 5), close."""
        if self._closed:
            return
        if self.version == 5:
            self._send(Disconnect(_RC.SESSION_TAKEN_OVER))
        self.close(_RC.SESSION_TAKEN_OVER)

    def close_by_server(self, reason: ReasonCode) -> None:
        """The server ends the connection (e.g. 0x98 Administrative action): MQTT 5 DISCONNECT with the reason
        (spec 3.14.2.1), close. The will is published as for any connection the client did not end."""
        if self._closed:
            return
        if self.version == 5:
            self._send(Disconnect(reason))
        self.close(reason)

    def shut_down(self) -> None:
        """The broker is stopping: DISCONNECT 0x8B Server shutting down (MQTT 5), close.

        The will is not published: there is nobody left to receive it, and a persistent session keeps its
        state for the next start.
        """
        if self._closed:
            return
        self._will = None
        if self.version == 5 and self.session is not None:
            self._send(Disconnect(_RC.SERVER_SHUTTING_DOWN))
        self.close(_RC.SERVER_SHUTTING_DOWN, linger=False)

    def close(self, reason: ReasonCode, *, linger: bool = True) -> None:
        """Flush what is queued, close the network connection and let the session go offline.

        The write side is shut down first and what the client still sends is read and discarded for a moment
        before the socket is closed: closing a socket with unread input makes TCP send a reset, which can
        destroy the DISCONNECT (or refusing CONNACK) before the client has read it.
        """
        if self._closed:
            return
        self._closed = True
        self.disconnect_reason = reason
        self.flush()
        transport = self.transport
        if self._paused:
            transport.resume_reading()
        if linger and transport.can_write_eof():
            self._eof = True
            transport.write_eof()
            self.broker.loop.call_later(_LINGER, transport.close)
        else:
            transport.close()
        self._detach()

    def connection_lost(self, exc: BaseException | None) -> None:
        """The transport closed (by the peer, or after :meth:`close`)."""
        if self._closed:
            return
        self._closed = True
        self.disconnect_reason = _RC.UNSPECIFIED_ERROR
        self._out = _NO_OUTPUT
        self._chunks = None
        self._detach()

    def _detach(self) -> None:
        self.conn.discard_input()  # a partial packet's buffer goes now, not when this object is collected
        if self._pending is not None:
            self._pending.cancel()
        if self._timer is not None:
            self._timer.cancel()
        broker = self.broker
        session = self.session
        self.session = None
        broker.disconnected(self, session, self._will, self._will_delay)
        self._will = None

    def abort_on_error(self, exc: BaseException) -> None:
        """A bug in a handler: log it, and drop the connection rather than leave it in an unknown state."""
        if isinstance(exc, MQTTError):
            log.error("MQTT connection %s failed: %s", self.info.peer, exc)
        else:
            log.exception("MQTT connection %s failed", self.info.peer, exc_info=exc)
        if not self._closed:
            self.close(_RC.IMPLEMENTATION_SPECIFIC_ERROR)
            self.transport.abort()


# One dispatch on the packet type (shared by every connection, so idle connections stay small).
_HANDLERS: dict[type, Callable[[ClientConnection, Any], None]] = {
    Connect: ClientConnection._on_connect,
    Publish: ClientConnection._on_publish,
    PubAck: ClientConnection._on_puback,
    PubRec: ClientConnection._on_pubrec,
    PubRel: ClientConnection._on_pubrel,
    PubComp: ClientConnection._on_pubcomp,
    Subscribe: ClientConnection._on_subscribe,
    Unsubscribe: ClientConnection._on_unsubscribe,
    PingReq: ClientConnection._on_pingreq,
    Disconnect: ClientConnection._on_disconnect,
    Auth: ClientConnection._on_auth,
}
