"""Exceptions of the MQTT protocol core.

Everything raised while decoding bytes from the network is a :class:`ProtocolError` (or a subclass). Each
carries the MQTT 5 reason code the broker should report (in a CONNACK before the session exists, in a
DISCONNECT after; MQTT 3.1.1 has no DISCONNECT from the server, so there the network connection is simply
closed, spec 4.8).

Problems with packets *we* are about to send (a programming error in the caller) raise :class:`EncodeError`,
which is also a :class:`ValueError`.
"""

from __future__ import annotations

from .reason_codes import ReasonCode

__all__ = [
    "EncodeError",
    "LocalProtocolError",
    "MQTTError",
    "MalformedPacket",
    "PacketTooLarge",
    "PacketTooLargeForPeer",
    "ProtocolError",
    "UnsupportedProtocolVersion",
]


class MQTTError(Exception):
    """Base class of every exception raised by :mod:`tether.mqtt`."""


class ProtocolError(MQTTError):
    """The peer violated the protocol. ``reason_code`` says how to report it (spec 4.13)."""

    default_reason_code: ReasonCode = ReasonCode.PROTOCOL_ERROR

    def __init__(self, reason_code: ReasonCode | None = None, message: str = "") -> None:
        self.reason_code: ReasonCode = self.default_reason_code if reason_code is None else reason_code
        self.message = message
        super().__init__(f"{self.reason_code.name} (0x{self.reason_code.value:02X}): {message}")


class MalformedPacket(ProtocolError):
    """The bytes cannot be parsed according to the specification (spec 4.13.1, reason 0x81)."""

    default_reason_code = ReasonCode.MALFORMED_PACKET

    def __init__(self, message: str = "", reason_code: ReasonCode | None = None) -> None:
        super().__init__(reason_code, message)


class PacketTooLarge(ProtocolError):
    """An incoming packet exceeds the maximum packet size of the server (spec 3.2.2.3.6, reason 0x95)."""

    default_reason_code = ReasonCode.PACKET_TOO_LARGE

    def __init__(self, size: int, maximum: int) -> None:
        self.size = size
        self.maximum = maximum
        super().__init__(None, f"packet of {size} bytes exceeds the maximum packet size {maximum}")


class UnsupportedProtocolVersion(ProtocolError):
    """CONNECT names a protocol level we do not speak [MQTT-3.1.2-2] (reason 0x84, 3.1.1 return code 1)."""

    default_reason_code = ReasonCode.UNSUPPORTED_PROTOCOL_VERSION

    def __init__(self, protocol_name: str, protocol_level: int) -> None:
        self.protocol_name = protocol_name
        self.protocol_level = protocol_level
        super().__init__(None, f"unsupported protocol {protocol_name!r} level {protocol_level}")


class EncodeError(MQTTError, ValueError):
    """A packet cannot be encoded: a field is out of range or not representable in the protocol version."""


class PacketTooLargeForPeer(EncodeError):
    """The encoded packet exceeds the Maximum Packet Size the peer announced [MQTT-3.1.2-24]."""

    def __init__(self, size: int, maximum: int) -> None:
        self.size = size
        self.maximum = maximum
        super().__init__(f"packet of {size} bytes exceeds the peer's maximum packet size {maximum}")


class LocalProtocolError(MQTTError):
    """We tried to do something the protocol forbids in the current state (e.g. PUBLISH before CONNACK)."""
