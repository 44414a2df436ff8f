"""The fixed header of every MQTT Control Packet (spec 2.1): packet type, flags and Remaining Length."""

from __future__ import annotations

from .constants import ProtocolVersion
from .errors import MalformedPacket

__all__ = ["FIXED_HEADER_FLAGS", "check_first_byte", "parse_fixed_header"]

_V5 = ProtocolVersion.MQTT_5

# Required low nibble of the first byte per packet type; None: PUBLISH carries DUP/QoS/RETAIN (spec 2.1.3).
FIXED_HEADER_FLAGS: tuple[int | None, ...] = (
    None,  # 0 reserved
    0,  # CONNECT
    0,  # CONNACK
    None,  # PUBLISH
    0,  # PUBACK
    0,  # PUBREC
    0b0010,  # PUBREL
    0,  # PUBCOMP
    0b0010,  # SUBSCRIBE
    0,  # SUBACK
    0b0010,  # UNSUBSCRIBE
    0,  # UNSUBACK
    0,  # PINGREQ
    0,  # PINGRESP
    0,  # DISCONNECT
    0,  # AUTH
)


def check_first_byte(first: int, protocol_version: int) -> None:
    """Validate the packet type and flags of the first fixed header byte (spec 2.1.2, 2.1.3)."""
    ptype = first >> 4
    # spec 2.1.2: type 0 is reserved; type 15 is reserved in 3.1.1 and AUTH in 5.0.
    if ptype == 0 or (ptype == 15 and protocol_version < _V5):
        raise MalformedPacket(f"reserved packet type {ptype}")
    required = FIXED_HEADER_FLAGS[ptype]
    if required is None:
        # [MQTT-3.3.1-4] A PUBLISH Packet MUST NOT have both QoS bits set to 1.
        if first & 0b0110 == 0b0110:
            raise MalformedPacket("PUBLISH with QoS 3")
        # [MQTT-3.3.1-2] The DUP flag MUST be set to 0 for all QoS 0 messages.
        if first & 0b1110 == 0b1000:
            raise MalformedPacket("PUBLISH with DUP set and QoS 0")
    elif first & 0x0F != required:
        # [MQTT-2.1.3-1] reserved flags MUST be set to the listed value; otherwise the packet is malformed.
        raise MalformedPacket(f"invalid fixed header flags 0x{first & 0x0F:X} for packet type {ptype}")


def parse_fixed_header(buf: bytes | bytearray, pos: int, end: int) -> tuple[int, int] | None:
    """Parse the Remaining Length that follows the first byte at ``pos``.

    Returns ``(remaining_length, header_length)`` or ``None`` if more bytes are needed.
    """
    value = 0
    shift = 0
    i = pos + 1
    while True:
        if i >= end:
            return None
        byte = buf[i]
        i += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, i - pos
        shift += 7
        if shift == 28:
            # spec 2.1.4 / 1.5.5: at most four bytes of Remaining Length.
            raise MalformedPacket("Remaining Length longer than four bytes")
