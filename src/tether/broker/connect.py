"""The CONNECT of one connection (spec 3.1, 3.2): the authenticate hook (perhaps asynchronous: the
connection reads nothing more meanwhile), the checks on the client identifier and the will, the session
(claimed first from another cluster node when it is there), the CONNACK and what a resumed session resends.
"""

from __future__ import annotations

import inspect
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import cast

from tether.mqtt.packets import ConnAck, Connect, Packet
from tether.mqtt.properties import EMPTY_PROPERTIES, Properties
from tether.mqtt.reason_codes import ReasonCode

from .facts import ConnectionFacts
from .handshake import Handshake
from .hooks import AuthResult, ClientInfo
from .inflight import AWAIT_PUBCOMP, Delivery
from .keepalive import IdleTimer, keep_alive_timeout
from .message import Message
from .mountpoints import Mount
from .ports import Connection, ConnectionParts
from .qos import ack
from .reserved import is_server_topic
from .sessions import Session, SessionOwner
from .settings import NEVER_EXPIRES
from .transport import Transport
from .will import will_message

__all__ = ["ConnectFlows"]

log = logging.getLogger("tether.broker")

_RC = ReasonCode


class ConnectFlows(ConnectionFacts, ConnectionParts):
    """The CONNECT handling of :class:`~tether.broker.client.ClientConnection` (a mixin, as
    :class:`~tether.broker.qos.QoSFlows`), with the slots of what it establishes: the client, its session
    and namespace, the keep alive and the will (initialised by ClientConnection.__init__)."""

    __slots__ = (
        "_mount",
        "_paused",
        "_pending",
        "_receive_maximum",
        "_timer",
        "_will",
        "_will_delay",
        "client",
        "keep_alive",
        "session",
        "version",
    )

    _pending: Handshake | None
    session: Session | None
    client: ClientInfo | None
    _mount: Mount | None
    _timer: IdleTimer | None
    _will: Message | None

    # The connection's own (declared for the type checker only).
    transport: Transport
    _write: Callable[[bytes | bytearray | memoryview], None]
    _send: Callable[[Packet], None]
    _process: Callable[[], None]
    _pump: Callable[[], None]
    _write_publish: Callable[[Delivery, int, bool, int], bool]
    _keep_alive_expired: Callable[[], None]
    close: Callable[[ReasonCode], None]

    def _handshake(self) -> Handshake:
        pending = self._pending
        assert pending is not None  # until the CONNACK
        return pending

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
        session.owner = cast(SessionOwner, self)
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
        broker.connected(cast(Connection, self), session, present)
        # [MQTT-4.4.0-1] on a resumed session, resend unacknowledged PUBLISH (DUP set) and PUBREL packets in
        # their original order before anything new.
        outbox = session.outbox
        for pid, delivery in list(outbox.inflight.items()):
            if delivery.state == AWAIT_PUBCOMP:
                self._write(ack(0x62, pid))
            elif not self._write_publish(delivery, delivery.qos, True, pid):
                outbox.release(pid)
        self._pump()
