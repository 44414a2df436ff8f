"""Protocol constants shared by every module: packet types, protocol versions and wire limits."""

from __future__ import annotations

from enum import IntEnum

__all__ = [
    "MAX_PACKET_ID",
    "MAX_PACKET_SIZE",
    "MAX_STRING_LENGTH",
    "MAX_VARIABLE_BYTE_INTEGER",
    "WILL_PROPERTIES",
    "PacketType",
    "ProtocolVersion",
]


class PacketType(IntEnum):
    """MQTT Control Packet types: the high nibble of the first fixed header byte (spec 2.1.2)."""

    CONNECT = 1
    CONNACK = 2
    PUBLISH = 3
    PUBACK = 4
    PUBREC = 5
    PUBREL = 6
    PUBCOMP = 7
    SUBSCRIBE = 8
    SUBACK = 9
    UNSUBSCRIBE = 10
    UNSUBACK = 11
    PINGREQ = 12
    PINGRESP = 13
    DISCONNECT = 14
    AUTH = 15  # MQTT 5 only; reserved in 3.1.1


class ProtocolVersion(IntEnum):
    """The Protocol Level byte of CONNECT (spec 3.1.2.2)."""

    MQTT_3_1 = 3  # protocol name "MQIsdp"
    MQTT_3_1_1 = 4
    MQTT_5 = 5


#: Pseudo packet type used as the property context of the Will Properties in CONNECT (spec 3.1.3.2).
WILL_PROPERTIES = 0

#: Largest value of a Variable Byte Integer (spec 1.5.5).
MAX_VARIABLE_BYTE_INTEGER = 268_435_455
#: Largest possible packet: 1 type byte + 4 length bytes + the maximum remaining length (spec 2.1.4).
MAX_PACKET_SIZE = 1 + 4 + MAX_VARIABLE_BYTE_INTEGER
#: UTF-8 strings and binary data carry a two byte length prefix (spec 1.5.4, 1.5.6).
MAX_STRING_LENGTH = 65_535
#: Packet identifiers are non-zero Two Byte Integers (spec 2.2.1).
MAX_PACKET_ID = 65_535
