"""One client's network connection: the sans-I/O :class:`ServerConnection` plus broker policy.

Bytes go in through :meth:`ClientConnection.data_received`; every complete packet is dispatched on its type to
one handler; output is collected and flushed once per event-loop turn (see :mod:`.transport`). No task is
created per packet: the only task is an asynchronous :meth:`Hooks.authenticate`, once per CONNECT.
"""

from __future__ import annotations

import inspect
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from tether.mqtt.connection import ServerConnection
from tether.mqtt.errors import MQTTError, ProtocolError
from tether.mqtt.packets import (
    Auth,
    ConnAck,
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
from tether.mqtt.properties import EMPTY_PROPERTIES, Properties
from tether.mqtt.reason_codes import ReasonCode

from .facts import ConnectionFacts
from .handshake import Handshake, HandshakeTicket
from .hooks import AuthResult, ClientInfo, ConnectionInfo
from .inflight import AWAIT_PUBCOMP
from .keepalive import IdleTimer, keep_alive_timeout
from .message import Message
from .mountpoints import Mount
from .ports import BrokerPort
from .qos import QoSFlows, ack
from .reserved import is_server_topic
from .sessions import Session
from .settings import NEVER_EXPIRES
from .subscribe import SubscriptionFlows
from .transport import Transport
from .will import will_message

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


class ClientConnection(QoSFlows, SubscriptionFlows, ConnectionFacts):
    """The broker side of one network connection (TCP, TLS or WebSocket)."""

    __slots__ = (
        "_acks",
        "_chunk_size",
        "_chunks",
        "_closed",
        "_eof",
        "_mount",
        "_out",
        "_paused",
        "_pending",
        "_receive_maximum",
        "_scheduled",
        "_timer",
        "_will",
        "_will_delay",
        "_writable",
        "broker",
        "client",
        "conn",
        "disconnect_reason",
        "keep_alive",
        "recv_msg",
        "recv_oct",
        "recv_pkt",
        "send_msg",
        "send_oct",
        "session",
        "transport",
        "version",
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

    def _handshake(self) -> Handshake:
        pending = self._pending
        assert pending is not None  # until the CONNACK
        return pending

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

    # ----------------------------------------------------------------------------------------- CONNECT

    def _cancel_connect_timer(self) -> None:
        # The CONNECT arrived, or the connection ended: no timeout, no place among the pending ones.
        if self._pending is not None:
            self._pending.release()

    def _connect_timeout(self) -> None:
        if self._pending is not None:
            self._pending.timer = None
        if self.session is None and not self._closed:
            log.info("MQTT client %s sent no CONNECT in time", self.info.peer)
            self.close(_RC.MAXIMUM_CONNECT_TIME)

    def _on_connect(self, packet: Connect) -> None:
        # The CONNECT arrived in time: waiting for the authenticate hook (a password hash queued behind
        # others) is not the client's delay.
        self._cancel_connect_timer()
        broker = self.broker
        self.version = packet.protocol_level
        if broker.connection_count > broker.config.max_connections:
            self._refuse(_RC.SERVER_BUSY)
            return
        if self.version == 5 and packet.properties.authentication_method is not None:
            # spec 4.12: enhanced authentication is not supported.
            self._refuse(_RC.BAD_AUTHENTICATION_METHOD)
            return
        broker.stats.count(None, "client.connect")
        result = broker.hooks.authenticate(packet, self.info)
        if inspect.isawaitable(result):
            # Read nothing more until the hook answered (spec 3.1.4: the CONNECT is processed first).
            self._paused = True
            self.transport.pause_reading()
            self._handshake().task = broker.loop.create_task(self._authenticate(packet, result))
        else:
            assert isinstance(result, AuthResult)
            self._accept(packet, result)

    async def _authenticate(self, packet: Connect, pending: Awaitable[AuthResult]) -> None:
        try:
            result = await pending
        except Exception:
            log.exception("MQTT authenticate hook failed")
            result = AuthResult(_RC.UNSPECIFIED_ERROR)
        self._handshake().task = None
        if self._closed:
            return
        self._paused = False
        self._accept(packet, result)
        self._resume()

    def _resume(self) -> None:
        # The CONNECT is processed: read what followed it (unless a claimed session is still on its way).
        if not self._closed and not self._paused:
            self.transport.resume_reading()
            self._process()

    def _refuse(self, reason: ReasonCode) -> None:
        # [MQTT-3.2.2-7] a CONNACK with a failure reason code, then close the network connection.
        self._send(ConnAck(reason_code=reason))
        self.close(reason)

    def _accept(self, packet: Connect, result: AuthResult) -> None:
        broker = self.broker
        broker.hooks.on_connack(packet, self.info, result)
        if not result.ok:
            broker.stats.count(None, "authentication.failure")
            self._refuse(result.reason_code)
            return
        broker.stats.count(result.mountpoint, "authentication.success")
        if result.login is None:
            broker.stats.count(result.mountpoint, "authentication.success.anonymous")
        v5 = self.version == 5
        client_id = packet.client_id
        assigned = None
        if not client_id:
            # [MQTT-3.1.3-6] a zero-length ClientID gets a unique one; MQTT 5 returns it [MQTT-3.1.3-7].
            client_id = assigned = f"auto-{uuid.uuid4().hex}"
        connected_at = time.time()
        client = ClientInfo(
            client_id,
            packet.username,
            self.version,
            self.info.listener,
            self.info.peer,
            result.login,
            result.mountpoint,
            self.info.certificate,
            packet.clean_start,
            packet.keep_alive,
            connected_at,
        )
        will = packet.will
        if will is not None and is_server_topic(will.topic):
            # spec 4.7.2: no will on the server's `$` topics (3.1.1 has no code for it: 5 Not authorized).
            self._refuse(_RC.TOPIC_NAME_INVALID if v5 else _RC.NOT_AUTHORIZED)
            return
        if will is not None and not broker.hooks.authorize_publish(client, will.topic, will.qos, will.retain):
            broker.stats.count(result.mountpoint, "authorization.deny")
            self._refuse(_RC.NOT_AUTHORIZED)
            return
        if not result.mountpoint and client_id.startswith("$"):
            # A session key starting with `$` is a mounted one (`$tenant/<id>/<client id>`): a client of the
            # whole topic space may not name one, or it would take over a tenant's session.
            self._refuse(_RC.CLIENT_IDENTIFIER_NOT_VALID)
            return
        session_key = client_id
        if result.mountpoint:
            # Sessions of two namespaces never meet: the key is the mounted client identifier.
            self._mount = Mount(result.mountpoint, client_id, result.private_roots)
            session_key = result.mountpoint + client_id
        claim = broker.claim_session
        pending = None if claim is None else claim(session_key, packet.clean_start)
        if pending is not None:
            # In a cluster the session may be on another node: it comes here first ([MQTT-3.1.4-3]).
            if not self._paused:
                self._paused = True
                self.transport.pause_reading()
            claimed = self._claimed(pending, packet, client, session_key, assigned)
            self._handshake().task = broker.loop.create_task(claimed)
            return
        self._open(packet, client, session_key, assigned)

    async def _claimed(
        self,
        pending: Awaitable[None],
        packet: Connect,
        client: ClientInfo,
        session_key: str,
        assigned: str | None,
    ) -> None:
        try:
            await pending
        except Exception as exc:
            log.warning("MQTT session of %s could not be claimed: %s", client.client_id, exc)
            self._handshake().task = None
            if not self._closed:
                self._refuse(_RC.SERVER_UNAVAILABLE)  # the client tries again
            return
        self._handshake().task = None
        if self._closed:
            return
        self._paused = False
        self._open(packet, client, session_key, assigned)
        self._resume()

    def _open(self, packet: Connect, client: ClientInfo, session_key: str, assigned: str | None) -> None:
        """Open (or resume) the session of an accepted CONNECT and answer with the CONNACK."""
        broker = self.broker
        config = broker.config
        v5 = self.version == 5
        props = packet.properties
        mount = self._mount
        will = packet.will
        # MQTT 3.1.1 Clean Session 0: the session lasts until a Clean Session 1 connection ends it.
        v311_expiry = 0 if packet.clean_start else NEVER_EXPIRES
        expiry = (props.session_expiry_interval or 0) if v5 else v311_expiry
        capped_expiry = min(expiry, config.max_session_expiry)
        session, present = broker.open_session(session_key, packet.clean_start, config.max_queued_messages)
        session.expiry_interval = capped_expiry
        session.owner = self
        if not present:
            session.created_at = client.connected_at  # the same instant: one float, not two
        self.session = session
        self.client = client
        keep_alive = packet.keep_alive
        server_keep_alive = None
        cap = config.max_keep_alive
        if v5 and cap and (keep_alive == 0 or keep_alive > cap):
            # spec 3.2.2.3.14: the Server Keep Alive replaces the client's value [MQTT-3.2.2-21].
            keep_alive = server_keep_alive = cap
        connack_props = EMPTY_PROPERTIES
        if v5:
            connack_props = Properties(
                session_expiry_interval=capped_expiry if capped_expiry != expiry else None,
                receive_maximum=config.receive_maximum if config.receive_maximum != 65_535 else None,
                maximum_packet_size=config.max_packet_size,
                topic_alias_maximum=config.topic_alias_maximum or None,
                assigned_client_identifier=assigned,
                server_keep_alive=server_keep_alive,
            )
        connack = self.conn.try_send(ConnAck(present, _RC.SUCCESS, connack_props))
        if connack is None:
            # [MQTT-3.1.2-24] the client's Maximum Packet Size leaves no room even for the CONNACK: nothing
            # can be said to it, so the network connection is closed.
            log.info("MQTT client %s: its maximum packet size is too small for a CONNACK", self.info.peer)
            self.close(_RC.PACKET_TOO_LARGE)
            return
        self._write(connack)
        self._cancel_connect_timer()
        if keep_alive:  # Keep Alive 0: no timer (nor its bound method) for the connection's lifetime
            self._timer = IdleTimer(broker.loop, keep_alive_timeout(keep_alive), self._keep_alive_expired)
        if will is not None:
            self._will = will_message(will, mount.topic(will.topic) if mount is not None else will.topic)
            self._will_delay = (will.properties.will_delay_interval or 0) if v5 else 0
        self._receive_maximum = self.conn.client_limits.receive_maximum
        self.keep_alive = keep_alive
        self._pending = None  # the handshake is over; the ClientInfo has the listener, peer and certificate
        broker.connected(self, session, present)
        # [MQTT-4.4.0-1] on a resumed session, resend unacknowledged PUBLISH (DUP set) and PUBREL packets in
        # their original order before anything new.
        outbox = session.outbox
        for pid, delivery in list(outbox.inflight.items()):
            if delivery.state == AWAIT_PUBCOMP:
                self._write(ack(0x62, pid))
            elif not self._write_publish(delivery, delivery.qos, True, pid):
                outbox.release(pid)
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
