"""Encoding and decoding of MQTT Control Packets for MQTT 3.1 (level 3), 3.1.1 (level 4) and 5.0 (level 5).

``encode(packet, protocol_version) -> bytes`` and ``decode_packet(data, protocol_version) -> Packet`` are the
entry points; :func:`decode_body` is the copy-free form used by the streaming connection. Decoding never
raises anything but :class:`ProtocolError` (and its subclass :class:`MalformedPacket`). The data types of
spec 1.5 (Variable Byte Integer, UTF-8 strings, binary data) live in :mod:`.datatypes`, re-exported here.
"""

from __future__ import annotations

from .datatypes import (
    decode_binary,
    decode_string,
    decode_u16,
    decode_u32,
    decode_vbi,
    encode_binary,
    encode_string,
    encode_u16,
    encode_u32,
    encode_vbi,
    vbi_size,
)
from .decoder import decode_body, decode_packet
from .encoder import encode, encode_publish_parts
from .fixed_header import check_first_byte, parse_fixed_header

__all__ = [
    "check_first_byte",
    "decode_binary",
    "decode_body",
    "decode_packet",
    "decode_string",
    "decode_u16",
    "decode_u32",
    "decode_vbi",
    "encode",
    "encode_binary",
    "encode_publish_parts",
    "encode_string",
    "encode_u16",
    "encode_u32",
    "encode_vbi",
    "parse_fixed_header",
    "vbi_size",
]
