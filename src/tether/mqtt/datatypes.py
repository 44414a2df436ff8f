"""MQTT data representation (spec 1.5): integers, Variable Byte Integers, UTF-8 strings and binary data.

Decoders work on an immutable ``bytes`` buffer with explicit ``pos``/``end`` offsets, so parsing never copies
the input; they return ``(value, new_pos)`` and raise :class:`MalformedPacket` when the data runs out.
"""

from __future__ import annotations

from struct import Struct

from .constants import MAX_STRING_LENGTH, MAX_VARIABLE_BYTE_INTEGER
from .errors import EncodeError, MalformedPacket

__all__ = [
    "decode_binary",
    "decode_string",
    "decode_u16",
    "decode_u32",
    "decode_vbi",
    "encode_binary",
    "encode_string",
    "encode_u16",
    "encode_u32",
    "encode_vbi",
    "string_bytes",
    "vbi_size",
]

_U16 = Struct(">H")
_U32 = Struct(">I")
pack_u16 = _U16.pack
pack_u32 = _U32.pack

# Single byte Variable Byte Integers (0..127) are by far the most common: precompute them.
_SMALL_VBI: tuple[bytes, ...] = tuple(bytes((i,)) for i in range(128))


def encode_u16(value: int) -> bytes:
    """Two Byte Integer, big-endian (spec 1.5.2)."""
    if not 0 <= value <= 0xFFFF:
        raise EncodeError(f"{value} does not fit a Two Byte Integer")
    return pack_u16(value)


def encode_u32(value: int) -> bytes:
    """Four Byte Integer, big-endian (spec 1.5.3)."""
    if not 0 <= value <= 0xFFFF_FFFF:
        raise EncodeError(f"{value} does not fit a Four Byte Integer")
    return pack_u32(value)


def encode_vbi(value: int) -> bytes:
    """Variable Byte Integer: 7 bits per byte, least significant first, minimum bytes [MQTT-1.5.5-1]."""
    if value < 128:
        if value < 0:
            raise EncodeError(f"{value} is negative")
        return _SMALL_VBI[value]
    if value > MAX_VARIABLE_BYTE_INTEGER:
        raise EncodeError(f"{value} exceeds the Variable Byte Integer maximum {MAX_VARIABLE_BYTE_INTEGER}")
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def vbi_size(value: int) -> int:
    """Number of bytes the Variable Byte Integer encoding of ``value`` takes."""
    if value < 128:
        return 1
    if value < 16_384:
        return 2
    if value < 2_097_152:
        return 3
    return 4


def decode_vbi(buf: bytes, pos: int, end: int) -> tuple[int, int]:
    """Decode a Variable Byte Integer of at most four bytes (spec 1.5.5)."""
    value = 0
    shift = 0
    for _ in range(4):
        if pos >= end:
            raise MalformedPacket("truncated Variable Byte Integer")
        byte = buf[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, pos
        shift += 7
    # A fifth continuation byte makes the integer malformed (spec 1.5.5).
    raise MalformedPacket("Variable Byte Integer longer than four bytes")


def decode_u16(buf: bytes, pos: int, end: int) -> tuple[int, int]:
    if pos + 2 > end:
        raise MalformedPacket("truncated Two Byte Integer")
    return (buf[pos] << 8) | buf[pos + 1], pos + 2


def decode_u32(buf: bytes, pos: int, end: int) -> tuple[int, int]:
    if pos + 4 > end:
        raise MalformedPacket("truncated Four Byte Integer")
    return int.from_bytes(buf[pos : pos + 4], "big"), pos + 4


def string_bytes(value: str, what: str = "string") -> bytes:
    """UTF-8 encode ``value`` checking the rules of spec 1.5.4 (without the length prefix)."""
    # [MQTT-1.5.4-2] a UTF-8 Encoded String MUST NOT include an encoding of the null character U+0000.
    if "\x00" in value:
        raise EncodeError(f"{what} contains U+0000")
    try:
        # [MQTT-1.5.4-1] no encodings of UTF-16 surrogates (U+D800..U+DFFF): the strict codec refuses them.
        data = value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise EncodeError(f"{what} is not valid UTF-8: {exc}") from None
    if len(data) > MAX_STRING_LENGTH:
        raise EncodeError(f"{what} is longer than {MAX_STRING_LENGTH} bytes")
    return data


def encode_string(value: str, what: str = "string") -> bytes:
    """UTF-8 Encoded String: two byte length + data (spec 1.5.4)."""
    data = string_bytes(value, what)
    return pack_u16(len(data)) + data


def encode_binary(value: bytes | bytearray | memoryview, what: str = "binary data") -> bytes:
    """Binary Data: two byte length + bytes (spec 1.5.6)."""
    n = len(value)
    if n > MAX_STRING_LENGTH:
        raise EncodeError(f"{what} is longer than {MAX_STRING_LENGTH} bytes")
    return pack_u16(n) + bytes(value)


def decode_string(buf: bytes, pos: int, end: int) -> tuple[str, int]:
    """Decode a UTF-8 Encoded String (spec 1.5.4)."""
    if pos + 2 > end:
        raise MalformedPacket("truncated string length")
    stop = pos + 2 + ((buf[pos] << 8) | buf[pos + 1])
    if stop > end:
        raise MalformedPacket("string runs past the end of the packet")
    try:
        # [MQTT-1.5.4-1] ill-formed UTF-8 and encoded surrogates are malformed: the strict codec rejects both.
        # [MQTT-1.5.4-3] a BOM (0xEF 0xBB 0xBF) is kept as U+FEFF: the 'utf-8' codec never strips it.
        value = buf[pos + 2 : stop].decode("utf-8")
    except UnicodeDecodeError:
        raise MalformedPacket("string is not well-formed UTF-8") from None
    # [MQTT-1.5.4-2] U+0000 is not allowed.
    if "\x00" in value:
        raise MalformedPacket("string contains U+0000")
    return value, stop


def decode_binary(buf: bytes, pos: int, end: int) -> tuple[bytes, int]:
    """Decode Binary Data (spec 1.5.6)."""
    if pos + 2 > end:
        raise MalformedPacket("truncated binary data length")
    stop = pos + 2 + ((buf[pos] << 8) | buf[pos + 1])
    if stop > end:
        raise MalformedPacket("binary data runs past the end of the packet")
    return buf[pos + 2 : stop], stop
