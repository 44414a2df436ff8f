"""The server side of one MQTT connection as a sans-I/O state machine (h11 style).

::

    conn = ServerConnection(max_packet_size=1 << 20)
    try:
        conn.receive_data(data)                 # bytes from the socket, in any chunking
        for packet in conn.next_events():       # Connect, Publish, Subscribe, ...
            if isinstance(packet, Connect):
                write(conn.send(ConnAck(properties=Properties(topic_alias_maximum=16))))
            ...
    except ProtocolError as exc:                # carries the reason code
        write(conn.send_protocol_error(exc))    # CONNACK / DISCONNECT / nothing, as the version requires
        close()

The connection decodes what the client sends, checks the protocol rules that need per-connection state (first
packet CONNECT, a single CONNECT, packet directions, topic aliases, the limits the server announced in its
CONNACK) and encodes what the server sends with the negotiated protocol version, honouring the limits the
client announced in its CONNECT. Sessions, QoS flows, subscriptions and retained messages belong to the
broker.
"""

from __future__ import annotations

import dataclasses
import struct
from collections.abc import Iterator
from typing import Any, cast

from .codec import decode_body, encode
from .constants import MAX_PACKET_SIZE, PacketType, ProtocolVersion
from .decoder import DECODERS
from .encoder import encode_publish
from .errors import (
    LocalProtocolError,
    MalformedPacket,
    PacketTooLarge,
    PacketTooLargeForPeer,
    ProtocolError,
    UnsupportedProtocolVersion,
)
from .framing import PacketFramer, body_start, peek_protocol_level
from .limits import ClientLimits, ServerLimits, Settings, shared
from .packets import (
    Auth,
    ConnAck,
    Connect,
    Disconnect,
    Packet,
    PingResp,
    PubAck,
    PubComp,
    Publish,
    PubRec,
    PubRel,
    SubAck,
    Subscribe,
    UnsubAck,
)
from .properties import Properties
from .reason_codes import CONNACK_REASON_CODES, DISCONNECT_REASON_CODES, ReasonCode
from .states import ConnectionState, first_byte_problem, first_byte_table
from .topic_aliases import IncomingTopicAliases, OutgoingTopicAliases

__all__ = ["ConnectionState", "ServerConnection"]

_RC = ReasonCode
_V5 = ProtocolVersion.MQTT_5

# Packets a server may send once connected.
_TO_CLIENT: frozenset[type] = frozenset(
    {Publish, PubAck, PubRec, PubRel, PubComp, SubAck, UnsubAck, PingResp, Disconnect, Auth}
)
# [MQTT-3.1.2-29] with Request Problem Information 0 the server may still send a Reason String or User
# Properties on these packets only.
_PROBLEM_INFO_ALWAYS: frozenset[type] = frozenset({Publish, ConnAck, Disconnect})


#: The incoming aliases of every connection that announced none (Topic Alias Maximum 0: every alias is refused
#: before anything is stored), shared; a connection that announces some gets its own.
_NO_INCOMING_ALIASES = IncomingTopicAliases(0)
_CLIENT_DEFAULTS = shared(ClientLimits())
_SERVER_DEFAULTS = shared(ServerLimits())


class ServerConnection(PacketFramer):
    """Protocol state of one client connection, seen from the server.

    ``max_packet_size`` bounds incoming packets (fixed header included); until the CONNECT has been received
    the tighter ``max_connect_size`` applies, so that a client nobody has authenticated yet cannot make the
    server buffer a maximum-size packet. ``max_client_id_length`` caps the Client Identifier (characters): the
    server MUST allow 1-23 and MAY allow more [MQTT-3.1.3-5]; longer ones get 0x85 (3.1.1: return code 2). The
    other
    limits on incoming packets are the ones the server announces in the CONNACK it sends through :meth:`send`
    (MQTT 5 Topic Alias Maximum, Maximum QoS, Retain Available, Maximum Packet Size, Subscription Identifiers
    Available); until then the spec defaults apply.

    With ``outgoing_topic_aliases=True`` PUBLISH packets sent to an MQTT 5 client that allows topic aliases
    get aliases chosen by :class:`OutgoingTopicAliases`.
    """

    # One per client connection: slots, no instance dict. It is its own PacketFramer (the framer's state in
    # the same object: one object less per connection).
    __slots__ = (
        "_closed_by_us",
        "_connack_sent",
        "_error",
        "_first_ok",
        "_settings",
        "_state",
        "client_limits",
        "error_protocol_version",
        "incoming_aliases",
        "outgoing_aliases",
        "protocol_version",
        "server_limits",
    )

    def __init__(
        self,
        *,
        max_packet_size: int = MAX_PACKET_SIZE,
        outgoing_topic_aliases: bool = False,
        max_connect_size: int = MAX_PACKET_SIZE,
        max_client_id_length: int = 65_535,
    ) -> None:
        PacketFramer.__init__(self, min(max_connect_size, max_packet_size))
        # The limits are shared immutable values (mqtt/limits.py): most connections have the same.
        self._settings = shared(Settings(max_packet_size, max_client_id_length, outgoing_topic_aliases))
        #: Protocol level of the client (3, 4 or 5) once its CONNECT has been accepted.
        self.protocol_version: int | None = None
        # The level found in a CONNECT that failed to decode: errors are reported in that version.
        self.error_protocol_version: int | None = None
        self._error: ProtocolError | None = None
        self._connack_sent = False
        self._closed_by_us = False
        # Limits announced by the server in its CONNACK (MQTT 5); spec defaults until then.
        #: Topic aliases of incoming PUBLISH packets; the maximum comes from the CONNACK (spec 3.2.2.3.8:
        #: absent means 0, no aliases).
        self.incoming_aliases = _NO_INCOMING_ALIASES
        self.server_limits = _SERVER_DEFAULTS
        #: What the client's CONNECT said: its Keep Alive and (MQTT 5) limits. The packet itself is not kept:
        #: its password and will would stay in memory for the connection's lifetime.
        self.client_limits = _CLIENT_DEFAULTS
        self.outgoing_aliases: OutgoingTopicAliases | None = None
        self._state = ConnectionState.AWAIT_CONNECT
        self._first_ok = b""
        self._set_state(ConnectionState.AWAIT_CONNECT)

    # ------------------------------------------------------------------------------------------ properties

    @property
    def state(self) -> ConnectionState:
        return self._state

    @property
    def topic_alias_maximum(self) -> int:
        """The Topic Alias Maximum the server announced in its CONNACK (0 until then)."""
        return self.incoming_aliases.maximum

    @property
    def keep_alive(self) -> int:
        """Seconds of keep alive in force: the Server Keep Alive if the CONNACK set one, else the client's."""
        server_keep_alive = self.server_limits.server_keep_alive
        if server_keep_alive is not None:
            return server_keep_alive
        return self.client_limits.keep_alive

    # ------------------------------------------------------------------------------------------ receiving

    def receive_data(self, data: bytes | bytearray | memoryview) -> None:
        """Add bytes received from the network. Then call :meth:`next_event` / :meth:`next_events`."""
        if self._closed_by_us or self._state is ConnectionState.ERROR:
            return  # the connection is being torn down: ignore whatever is still in flight
        self.feed(data)

    def next_events(self) -> Iterator[Packet]:
        """Yield every complete packet received so far, in order.

        Raises :class:`ProtocolError` at the first violation, after yielding the packets before it.
        """
        while True:
            packet = self.next_event()
            if packet is None:
                return
            yield packet

    def next_event(self) -> Packet | None:
        """The next complete packet, or ``None`` if more data is needed."""
        if self._error is not None:
            raise self._error
        try:
            return self._next_event()
        except PacketTooLarge as exc:
            if self.protocol_version is None:
                # A CONNECT over the size limit: answer in the client's protocol version if its first bytes
                # tell it (CONNACK 0x95 in 5.0; 3.1.1 has no return code for it, so the connection is closed).
                head = self.peek(16)  # fixed header (<= 5) + protocol name (6) + level
                start = body_start(head)
                level = peek_protocol_level(head, start, len(head)) if start is not None else None
                if level in (3, 4, 5):
                    self.error_protocol_version = level
            self._fail(exc)
            raise
        except ProtocolError as exc:
            self._fail(exc)
            raise
        except (IndexError, ValueError, struct.error) as exc:  # pragma: no cover - safety net for decoders
            error = MalformedPacket(f"cannot decode packet: {exc}")
            self._fail(error)
            raise error from exc

    def _fail(self, error: ProtocolError) -> None:
        self._error = error
        self._set_state(ConnectionState.ERROR)
        self.clear()

    def discard_input(self) -> None:
        """The connection is over: drop the bytes received and not yet decoded, and ignore further ones."""
        self.clear()

    def _set_state(self, state: ConnectionState) -> None:
        self._state = state
        # Which first bytes are acceptable depends on the state; the table is shared between connections.
        if state is ConnectionState.AWAIT_CONNECT or state is ConnectionState.CLOSED:
            self._first_ok = first_byte_table(state, 0, False)
        elif state is ConnectionState.CONNECTING or state is ConnectionState.CONNECTED:
            method = self.client_limits.authentication_method
            auth_pending = state is ConnectionState.CONNECTING and method is not None
            self._first_ok = first_byte_table(state, self.protocol_version or 4, auth_pending)

    def _next_event(self) -> Packet | None:
        first = self.peek_first_byte()
        if first is None or self._closed_by_us:
            return None
        # The type and flags are checked as soon as the first byte arrives, before the body is buffered.
        if not self._first_ok[first]:
            raise self._first_byte_error(first)
        frame = self.next_frame()
        if frame is None:
            return None
        first, buf, pos, end = frame
        version = self.protocol_version
        if version is None:
            return self._on_connect(first, buf, pos, end)
        ptype = first >> 4
        decoder = DECODERS[ptype]
        assert decoder is not None
        packet = decoder(first, buf, pos, end, version)
        if ptype == PacketType.PUBLISH:
            assert isinstance(packet, Publish)
            return self._on_publish(packet) if version == _V5 else packet
        state = self._state
        cls = type(packet)
        if cls is Disconnect:
            assert isinstance(packet, Disconnect)
            # spec 3.14.2.2.2: if the CONNECT Session Expiry Interval was 0, it is a Protocol Error to set a
            # non-zero Session Expiry Interval in the DISCONNECT sent by the Client.
            if packet.properties.session_expiry_interval and not self.client_limits.session_expiry:
                raise ProtocolError(_RC.PROTOCOL_ERROR, "session expiry set on DISCONNECT after 0 in CONNECT")
            self._set_state(ConnectionState.CLOSED)
        elif cls is Auth:
            assert isinstance(packet, Auth)
            self._on_auth(packet, state)
        elif cls is Subscribe:
            assert isinstance(packet, Subscribe)
            available = self.server_limits.subscription_identifiers_available
            if packet.properties.subscription_identifiers and not available:
                # spec 3.2.2.3.12: the server announced Subscription Identifier Available 0 (reason 0xA1).
                raise ProtocolError(_RC.SUBSCRIPTION_IDENTIFIERS_NOT_SUPPORTED, "subscription identifier")
        return packet

    def _first_byte_error(self, first: int) -> ProtocolError:
        method = self.client_limits.authentication_method
        auth_pending = self._state is ConnectionState.CONNECTING and method is not None
        error = first_byte_problem(first, self._state, self.protocol_version or 4, auth_pending)
        assert error is not None
        return error

    def _on_auth(self, packet: Auth, state: ConnectionState) -> None:
        # [MQTT-4.12.0-7] without an Authentication Method in CONNECT the client MUST NOT send AUTH;
        # [MQTT-4.12.0-5] every AUTH carries the Authentication Method of the CONNECT.
        method = self.client_limits.authentication_method
        if method is None or packet.properties.authentication_method != method:
            raise ProtocolError(_RC.PROTOCOL_ERROR, "AUTH without the authentication method of the CONNECT")
        rc = packet.reason_code
        if state is ConnectionState.CONNECTING:
            # [MQTT-4.12.0-3] during the CONNECT exchange the client answers with 0x18 Continue
            # authentication.
            ok = rc == _RC.CONTINUE_AUTHENTICATION
        else:
            # spec 4.12.1: re-authentication starts with 0x19 and continues with 0x18; 0x00 is sent by the
            # server.
            ok = rc in (_RC.CONTINUE_AUTHENTICATION, _RC.RE_AUTHENTICATE)
        if not ok:
            raise ProtocolError(_RC.PROTOCOL_ERROR, f"a client must not send AUTH with {rc.name}")

    def _on_connect(self, first: int, buf: bytes, pos: int, end: int) -> Connect:
        # Learn the protocol level before decoding the rest, so that an error in the CONNECT can be reported
        # in the client's protocol version (CONNACK 0x81/0x82 in 5.0).
        level = peek_protocol_level(buf, pos, end)
        if level in (3, 4, 5):
            self.error_protocol_version = level
        packet = decode_body(first, buf, pos, end, 4)
        assert isinstance(packet, Connect)
        settings = self._settings
        length, limit = len(packet.client_id), settings.max_client_id_length
        if length > limit:
            raise ProtocolError(
                _RC.CLIENT_IDENTIFIER_NOT_VALID, f"client identifier of {length} characters (at most {limit})"
            )
        # The CONNECT is in: from now on the maximum packet size applies (the CONNACK may lower it).
        self.max_packet_size = settings.max_packet_size
        props = packet.properties
        if packet.protocol_level == _V5:
            size, receive = props.maximum_packet_size, props.receive_maximum
            limits = ClientLimits(
                packet.keep_alive,
                _CLIENT_DEFAULTS.maximum_packet_size if size is None else size,
                _CLIENT_DEFAULTS.receive_maximum if receive is None else receive,
                props.topic_alias_maximum or 0,
                _available(props.request_problem_information),
                props.authentication_method,
                props.session_expiry_interval or 0,
            )
            self.client_limits = shared(limits)
            if settings.outgoing_topic_aliases and limits.topic_alias_maximum:
                self.outgoing_aliases = OutgoingTopicAliases(limits.topic_alias_maximum)
        elif not packet.client_id and not packet.clean_start:
            # [MQTT-3.1.3-8] (3.1.1) a zero-byte ClientId with CleanSession 0 is answered with return code
            # 0x02.
            raise ProtocolError(
                _RC.CLIENT_IDENTIFIER_NOT_VALID, "empty client identifier without clean session"
            )
        elif packet.protocol_level == ProtocolVersion.MQTT_3_1 and not 0 < len(packet.client_id) <= 23:
            # MQTT 3.1 spec 3.1: the Client Identifier is between 1 and 23 characters long.
            raise ProtocolError(
                _RC.CLIENT_IDENTIFIER_NOT_VALID, "MQTT 3.1 client identifier must be 1-23 chars"
            )
        if packet.protocol_level != _V5 and packet.keep_alive:
            self.client_limits = shared(ClientLimits(packet.keep_alive))
        self.protocol_version = packet.protocol_level
        self._set_state(ConnectionState.CONNECTING)
        return packet

    def _on_publish(self, packet: Publish) -> Publish:
        props = packet.properties
        if props.subscription_identifiers:
            # [MQTT-3.3.4-6] a PUBLISH sent from a Client to a Server MUST NOT contain a Subscription
            # Identifier.
            raise ProtocolError(_RC.PROTOCOL_ERROR, "subscription identifier in PUBLISH from a client")
        server = self.server_limits
        if packet.qos > server.maximum_qos:
            # spec 3.2.2.3.4: a PUBLISH above the Maximum QoS of the CONNACK is a Protocol Error; reason 0x9B.
            raise ProtocolError(_RC.QOS_NOT_SUPPORTED, f"QoS {packet.qos} above the server maximum")
        if packet.retain and not server.retain_available:
            # spec 3.2.2.3.5 [MQTT-3.2.2-14]: RETAIN set although the CONNACK said Retain Available 0; 0x9A.
            raise ProtocolError(_RC.RETAIN_NOT_SUPPORTED, "retain is not available")
        if props.topic_alias is None:
            return packet
        return self.incoming_aliases.resolve(packet)

    # ------------------------------------------------------------------------------------------ sending

    def send(self, packet: Packet) -> bytes:
        """Encode a packet for the client with the negotiated protocol version.

        Raises :class:`PacketTooLargeForPeer` when the packet exceeds the client's Maximum Packet Size (after
        dropping the Reason String and User Properties where the spec allows it); the broker must then discard
        it and behave as if it had been sent [MQTT-3.1.2-25]. Raises :class:`LocalProtocolError` for a packet
        the server may not send in the current state and :class:`EncodeError` for an invalid packet.
        """
        data = self.try_send(packet)
        if data is None:
            size = len(encode(packet, self.protocol_version or 4))
            raise PacketTooLargeForPeer(size, self.client_limits.maximum_packet_size)
        return data

    def try_send(self, packet: Packet) -> bytes | None:
        """Like :meth:`send`, but ``None`` (changing no state) for a packet too large for the client."""
        if (
            type(packet) is Publish
            and self._state is ConnectionState.CONNECTED
            and self.outgoing_aliases is None
        ):
            # Hot path: a PUBLISH on an established connection (CONNECTED implies CONNACK sent, not closed).
            version = self.protocol_version
            assert version is not None
            if version == _V5:
                alias = packet.properties.topic_alias
                # [MQTT-3.3.2-11] not above the Topic Alias Maximum the client sent in CONNECT.
                if alias is not None and not 0 < alias <= self.client_limits.topic_alias_maximum:
                    raise LocalProtocolError(f"topic alias {alias} exceeds the client's maximum")
            data = encode_publish(packet, version)
            return data if len(data) <= self.client_limits.maximum_packet_size else None
        version = self._check_send(packet)
        aliases = self.outgoing_aliases
        if aliases is not None and type(packet) is Publish:
            assert isinstance(packet, Publish)
            aliased, alias = aliases.prepare(packet)
            data = encode(aliased, version)
            if len(data) > self.client_limits.maximum_packet_size:
                return None
            if alias:
                aliases.commit(packet.topic, alias)
            return data
        encoded = self._encode(packet, version)
        if encoded is not None:
            self._after_send(packet)
        return encoded

    def fits(self, packet: Packet) -> bool:
        """Whether the client would accept ``packet`` (its Maximum Packet Size); changes no state."""
        version = self.protocol_version or 4
        if self.outgoing_aliases is not None and type(packet) is Publish:
            assert isinstance(packet, Publish)
            packet = self.outgoing_aliases.prepare(packet)[0]
        return self._encode(packet, version) is not None

    def _encode(self, packet: Packet, version: int) -> bytes | None:
        packet = self._strip_problem_info(packet)
        data = encode(packet, version)
        limit = self.client_limits.maximum_packet_size
        if len(data) <= limit:
            return data
        if version != _V5 or type(packet) is Publish:
            return None
        # [MQTT-3.2.2-19] [MQTT-3.2.2-20] [MQTT-3.4.2-2] [MQTT-3.4.2-3] ... the Reason String and User
        # Properties MUST NOT be sent if they would make the packet exceed the client's Maximum Packet Size.
        props = getattr(packet, "properties", None)
        if props is None:
            return None
        for changes in ({"reason_string": None}, {"reason_string": None, "user_properties": ()}):
            data = encode(_with_properties(packet, props.replace(**changes)), version)
            if len(data) <= limit:
                return data
        return None

    def _strip_problem_info(self, packet: Packet) -> Packet:
        # [MQTT-3.1.2-29] with Request Problem Information 0 the server MUST NOT send a Reason String or User
        # Properties on packets other than PUBLISH, CONNACK or DISCONNECT.
        if self.client_limits.request_problem_information or type(packet) in _PROBLEM_INFO_ALWAYS:
            return packet
        props = getattr(packet, "properties", None)
        if props is None or (props.reason_string is None and not props.user_properties):
            return packet
        return _with_properties(packet, props.replace(reason_string=None, user_properties=()))

    def _check_send(self, packet: Packet) -> int:
        state = self._state
        version = self.protocol_version
        if version is None or state is ConnectionState.AWAIT_CONNECT:
            raise LocalProtocolError("nothing can be sent before the client's CONNECT has been received")
        if self._closed_by_us:
            raise LocalProtocolError("the connection has been closed")
        cls = type(packet)
        if not self._connack_sent:
            # [MQTT-3.2.0-1] the first packet from the Server to the Client MUST be a CONNACK; AUTH may
            # precede it during enhanced authentication (spec 4.12).
            if cls is ConnAck:
                assert isinstance(packet, ConnAck)
                self._check_connack(packet, version)
                return version
            if cls is Auth and self.client_limits.authentication_method is not None:
                assert isinstance(packet, Auth)
                self._check_auth(packet)
                return version
            raise LocalProtocolError(f"{cls.__name__} cannot be sent before CONNACK")
        if cls not in _TO_CLIENT:
            raise LocalProtocolError(f"a server does not send {cls.__name__}")
        if version != _V5 and cls in (Disconnect, Auth):
            raise LocalProtocolError(f"an MQTT {version} server does not send {cls.__name__}")
        if cls is Auth:
            assert isinstance(packet, Auth)
            self._check_auth(packet)
        elif cls is Disconnect:
            assert isinstance(packet, Disconnect)
            # [MQTT-3.14.2-2] The Session Expiry Interval MUST NOT be sent on a DISCONNECT by the Server.
            if packet.properties.session_expiry_interval is not None:
                raise LocalProtocolError("a server DISCONNECT must not carry a session expiry interval")
        elif cls is Publish:
            assert isinstance(packet, Publish)
            alias = packet.properties.topic_alias
            # [MQTT-3.3.2-11] not above the Topic Alias Maximum the client sent in CONNECT.
            maximum = self.client_limits.topic_alias_maximum
            if alias is not None and version == _V5 and not 0 < alias <= maximum:
                raise LocalProtocolError(f"topic alias {alias} exceeds the client's maximum")
        return version

    def _check_connack(self, packet: ConnAck, version: int) -> None:
        if version != _V5 or packet.reason_code.is_error:
            return
        method = packet.properties.authentication_method
        own = self.client_limits.authentication_method
        if own is None and method is not None:
            # [MQTT-4.12.0-6] without an Authentication Method in CONNECT the server MUST NOT send one in
            # CONNACK.
            raise LocalProtocolError("CONNACK names an authentication method the client did not use")
        if own is not None and method != own:
            # [MQTT-4.12.0-5] a successful CONNACK carries the Authentication Method of the CONNECT.
            raise LocalProtocolError("CONNACK must carry the authentication method of the CONNECT")

    def _check_auth(self, packet: Auth) -> None:
        # [MQTT-4.12.0-6] without an Authentication Method in CONNECT the server MUST NOT send AUTH;
        # [MQTT-4.12.0-5] AUTH carries the same Authentication Method.
        method = self.client_limits.authentication_method
        if method is None or packet.properties.authentication_method != method:
            raise LocalProtocolError("AUTH must carry the authentication method of the CONNECT")
        # spec 3.15.2.1: a server sends 0x00 (Success) or 0x18 (Continue authentication).
        if packet.reason_code == _RC.RE_AUTHENTICATE:
            raise LocalProtocolError("only a client sends AUTH with Re-authenticate")

    def _after_send(self, packet: Packet) -> None:
        cls = type(packet)
        if cls is ConnAck:
            assert isinstance(packet, ConnAck)
            self._connack_sent = True
            if packet.reason_code.is_error:
                # [MQTT-3.2.2-5] (3.1.1) / [MQTT-3.2.2-7] (5.0) after a refusing CONNACK the Server MUST
                # close.
                self._closed_by_us = True
                self._set_state(ConnectionState.CLOSED)
                return
            if self._state is ConnectionState.CONNECTING:
                self._set_state(ConnectionState.CONNECTED)
            if self.protocol_version == _V5:
                props = packet.properties
                if props.topic_alias_maximum:
                    self.incoming_aliases = IncomingTopicAliases(props.topic_alias_maximum)
                announced = ServerLimits(
                    _SERVER_DEFAULTS.maximum_qos if props.maximum_qos is None else props.maximum_qos,
                    _available(props.retain_available),
                    _available(props.subscription_identifier_available),
                    props.server_keep_alive,
                )
                self.server_limits = shared(announced)
                if props.maximum_packet_size is not None:
                    self.max_packet_size = min(self.max_packet_size, props.maximum_packet_size)
        elif cls is Disconnect:
            self._closed_by_us = True
            self._set_state(ConnectionState.CLOSED)

    def send_protocol_error(self, error: ProtocolError) -> bytes:
        """The bytes to send before closing the connection because of ``error`` (possibly ``b""``).

        Before CONNACK: a refusing CONNACK (MQTT 3.1.1 only has return codes for some errors, e.g. an
        unsupported protocol version [MQTT-3.1.2-2] or a rejected client identifier [MQTT-3.1.3-8]). After
        CONNACK: a DISCONNECT with the reason code in MQTT 5 (spec 4.13); nothing in 3.1.1 (spec 4.8).
        """
        if self._closed_by_us:
            return b""
        self._closed_by_us = True
        self._set_state(ConnectionState.CLOSED if self._error is None else ConnectionState.ERROR)
        rc = error.reason_code
        version = self.protocol_version or self.error_protocol_version
        if not self._connack_sent:
            self._connack_sent = True
            if isinstance(error, UnsupportedProtocolVersion):
                # [MQTT-3.1.2-2] respond with return code 0x01 in the 3.1.1 format every client can read.
                return encode(ConnAck(reason_code=_RC.UNSUPPORTED_PROTOCOL_VERSION), 4)
            if version is None:
                return b""  # [MQTT-3.1.0-1] not an MQTT client: just close
            if version == _V5:
                if rc not in CONNACK_REASON_CODES or not rc.is_error:
                    rc = (
                        _RC.UNSPECIFIED_ERROR
                        if not isinstance(error, MalformedPacket)
                        else _RC.MALFORMED_PACKET
                    )
                return encode(ConnAck(reason_code=rc), _V5)
            if rc in (
                _RC.CLIENT_IDENTIFIER_NOT_VALID,
                _RC.BAD_USER_NAME_OR_PASSWORD,
                _RC.NOT_AUTHORIZED,
                _RC.SERVER_UNAVAILABLE,
                _RC.SERVER_BUSY,
            ):
                return encode(ConnAck(reason_code=rc), version)
            return b""
        if version == _V5:
            if rc not in DISCONNECT_REASON_CODES or not rc.is_error:
                rc = _RC.PROTOCOL_ERROR
            return encode(Disconnect(rc), _V5)
        return b""


def _available(flag: bool | None) -> bool:
    """A boolean property: absent means 1 (request problem information, retain and subscription identifiers
    available: spec 3.1.2.11.7, 3.2.2.3.5, 3.2.2.3.12)."""
    return True if flag is None else bool(flag)


def _with_properties(packet: Packet, props: Properties) -> Packet:
    replaced: Packet = dataclasses.replace(cast(Any, packet), properties=props)
    return replaced
