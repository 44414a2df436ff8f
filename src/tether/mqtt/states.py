"""The states of a server connection and the packets a client may send in each (spec 3.x "direction of flow",
[MQTT-3.1.0-1], [MQTT-3.1.0-2], [MQTT-3.14.4-1], [MQTT-3.1.2-30]).

:class:`~tether.mqtt.connection.ServerConnection` checks the first byte of every packet as soon as it arrives,
before the body is buffered, against a table of the 256 first bytes made once per (state, version, pending
enhanced authentication).
"""

from __future__ import annotations

from enum import Enum

from .codec import check_first_byte
from .constants import PacketType
from .errors import ProtocolError
from .reason_codes import ReasonCode

__all__ = ["ConnectionState", "first_byte_problem", "first_byte_table"]

_RC = ReasonCode


class ConnectionState(Enum):
    AWAIT_CONNECT = "await_connect"  # nothing received yet
    CONNECTING = "connecting"  # CONNECT received, CONNACK not yet sent (enhanced auth may be under way)
    CONNECTED = "connected"  # successful CONNACK sent
    CLOSED = "closed"  # DISCONNECT received or sent, or a refusing CONNACK sent
    ERROR = "error"  # the client violated the protocol


# Packets a server may receive from a client once connected (spec 3.x "direction of flow").
_FROM_CLIENT = frozenset(
    {
        PacketType.PUBLISH,
        PacketType.PUBACK,
        PacketType.PUBREC,
        PacketType.PUBREL,
        PacketType.PUBCOMP,
        PacketType.SUBSCRIBE,
        PacketType.UNSUBSCRIBE,
        PacketType.PINGREQ,
        PacketType.DISCONNECT,
        PacketType.AUTH,
    }
)


def first_byte_problem(
    first: int, state: ConnectionState, version: int, auth_pending: bool
) -> ProtocolError | None:
    """Why a packet starting with ``first`` is not acceptable from a client in ``state``, or ``None``."""
    ptype = first >> 4
    if state is ConnectionState.AWAIT_CONNECT:
        # [MQTT-3.1.0-1] the first packet sent from the Client to the Server MUST be a CONNECT packet.
        if ptype != PacketType.CONNECT:
            return ProtocolError(_RC.PROTOCOL_ERROR, "the first packet must be CONNECT")
        version = 4
    elif state is ConnectionState.CLOSED:
        # [MQTT-3.14.4-1] after sending a DISCONNECT the sender MUST NOT send any more packets.
        return ProtocolError(_RC.PROTOCOL_ERROR, "data after DISCONNECT")
    try:
        check_first_byte(first, version)
    except ProtocolError as exc:
        return exc
    if state is ConnectionState.AWAIT_CONNECT:
        return None
    if ptype == PacketType.CONNECT:
        # [MQTT-3.1.0-2] a second CONNECT is a Protocol Error.
        return ProtocolError(_RC.PROTOCOL_ERROR, "second CONNECT")
    if ptype not in _FROM_CLIENT:
        return ProtocolError(_RC.PROTOCOL_ERROR, f"a client must not send {PacketType(ptype).name}")
    if auth_pending and ptype != PacketType.AUTH and ptype != PacketType.DISCONNECT:
        # [MQTT-3.1.2-30] with an Authentication Method the client MUST NOT send packets other than AUTH or
        # DISCONNECT until it has received a CONNACK.
        return ProtocolError(_RC.PROTOCOL_ERROR, "only AUTH or DISCONNECT may precede the CONNACK")
    return None


_FIRST_BYTE_TABLES: dict[tuple[ConnectionState, int, bool], bytes] = {}


def first_byte_table(state: ConnectionState, version: int, auth_pending: bool) -> bytes:
    """256 flags: 1 where a first byte is acceptable. Built once per (state, version, auth) combination."""
    key = (state, version, auth_pending)
    table = _FIRST_BYTE_TABLES.get(key)
    if table is None:
        table = bytes(first_byte_problem(b, state, version, auth_pending) is None for b in range(256))
        _FIRST_BYTE_TABLES[key] = table
    return table
