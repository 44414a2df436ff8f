"""MQTT reason codes (MQTT 5.0 spec 2.4) and MQTT 3.1.1 CONNACK return codes (3.1.1 spec 3.2.2.3).

A single :class:`ReasonCode` enum covers every MQTT 5 reason code. Several codes share a value with a
different meaning depending on the packet (0x00 is *Success*, *Normal disconnection* and *Granted QoS 0*);
those are enum aliases of the same member.
"""

from __future__ import annotations

from enum import IntEnum

__all__ = [
    "AUTH_REASON_CODES",
    "CONNACK_REASON_CODES",
    "DISCONNECT_REASON_CODES",
    "PUBACK_REASON_CODES",
    "PUBCOMP_REASON_CODES",
    "PUBREC_REASON_CODES",
    "PUBREL_REASON_CODES",
    "SUBACK_REASON_CODES",
    "UNSUBACK_REASON_CODES",
    "ConnectReturnCode",
    "ReasonCode",
    "connack_reason_from_v311",
    "connack_return_code_for",
    "suback_code_for_v311",
]


class ReasonCode(IntEnum):
    """MQTT 5.0 reason codes (spec 2.4, table 2-6)."""

    SUCCESS = 0x00
    NORMAL_DISCONNECTION = 0x00
    GRANTED_QOS_0 = 0x00
    GRANTED_QOS_1 = 0x01
    GRANTED_QOS_2 = 0x02
    DISCONNECT_WITH_WILL_MESSAGE = 0x04
    NO_MATCHING_SUBSCRIBERS = 0x10
    NO_SUBSCRIPTION_EXISTED = 0x11
    CONTINUE_AUTHENTICATION = 0x18
    RE_AUTHENTICATE = 0x19
    UNSPECIFIED_ERROR = 0x80
    MALFORMED_PACKET = 0x81
    PROTOCOL_ERROR = 0x82
    IMPLEMENTATION_SPECIFIC_ERROR = 0x83
    UNSUPPORTED_PROTOCOL_VERSION = 0x84
    CLIENT_IDENTIFIER_NOT_VALID = 0x85
    BAD_USER_NAME_OR_PASSWORD = 0x86
    NOT_AUTHORIZED = 0x87
    SERVER_UNAVAILABLE = 0x88
    SERVER_BUSY = 0x89
    BANNED = 0x8A
    SERVER_SHUTTING_DOWN = 0x8B
    BAD_AUTHENTICATION_METHOD = 0x8C
    KEEP_ALIVE_TIMEOUT = 0x8D
    SESSION_TAKEN_OVER = 0x8E
    TOPIC_FILTER_INVALID = 0x8F
    TOPIC_NAME_INVALID = 0x90
    PACKET_IDENTIFIER_IN_USE = 0x91
    PACKET_IDENTIFIER_NOT_FOUND = 0x92
    RECEIVE_MAXIMUM_EXCEEDED = 0x93
    TOPIC_ALIAS_INVALID = 0x94
    PACKET_TOO_LARGE = 0x95
    MESSAGE_RATE_TOO_HIGH = 0x96
    QUOTA_EXCEEDED = 0x97
    ADMINISTRATIVE_ACTION = 0x98
    PAYLOAD_FORMAT_INVALID = 0x99
    RETAIN_NOT_SUPPORTED = 0x9A
    QOS_NOT_SUPPORTED = 0x9B
    USE_ANOTHER_SERVER = 0x9C
    SERVER_MOVED = 0x9D
    SHARED_SUBSCRIPTIONS_NOT_SUPPORTED = 0x9E
    CONNECTION_RATE_EXCEEDED = 0x9F
    MAXIMUM_CONNECT_TIME = 0xA0
    SUBSCRIPTION_IDENTIFIERS_NOT_SUPPORTED = 0xA1
    WILDCARD_SUBSCRIPTIONS_NOT_SUPPORTED = 0xA2

    @property
    def is_error(self) -> bool:
        """Reason codes of 0x80 or greater indicate failure (spec 2.4)."""
        return self.value >= 0x80


RC = ReasonCode

# Which reason codes each packet type may carry (spec 3.2.2.2, 3.4.2.1, 3.5.2.1, 3.6.2.1, 3.7.2.1, 3.9.3,
# 3.11.3, 3.14.2.1, 3.15.2.1).
CONNACK_REASON_CODES: frozenset[ReasonCode] = frozenset(
    {
        RC.SUCCESS,
        RC.UNSPECIFIED_ERROR,
        RC.MALFORMED_PACKET,
        RC.PROTOCOL_ERROR,
        RC.IMPLEMENTATION_SPECIFIC_ERROR,
        RC.UNSUPPORTED_PROTOCOL_VERSION,
        RC.CLIENT_IDENTIFIER_NOT_VALID,
        RC.BAD_USER_NAME_OR_PASSWORD,
        RC.NOT_AUTHORIZED,
        RC.SERVER_UNAVAILABLE,
        RC.SERVER_BUSY,
        RC.BANNED,
        RC.BAD_AUTHENTICATION_METHOD,
        RC.TOPIC_NAME_INVALID,
        RC.PACKET_TOO_LARGE,
        RC.QUOTA_EXCEEDED,
        RC.PAYLOAD_FORMAT_INVALID,
        RC.RETAIN_NOT_SUPPORTED,
        RC.QOS_NOT_SUPPORTED,
        RC.USE_ANOTHER_SERVER,
        RC.SERVER_MOVED,
        RC.CONNECTION_RATE_EXCEEDED,
    }
)
PUBACK_REASON_CODES: frozenset[ReasonCode] = frozenset(
    {
        RC.SUCCESS,
        RC.NO_MATCHING_SUBSCRIBERS,
        RC.UNSPECIFIED_ERROR,
        RC.IMPLEMENTATION_SPECIFIC_ERROR,
        RC.NOT_AUTHORIZED,
        RC.TOPIC_NAME_INVALID,
        RC.PACKET_IDENTIFIER_IN_USE,
        RC.QUOTA_EXCEEDED,
        RC.PAYLOAD_FORMAT_INVALID,
    }
)
PUBREC_REASON_CODES: frozenset[ReasonCode] = PUBACK_REASON_CODES
PUBREL_REASON_CODES: frozenset[ReasonCode] = frozenset({RC.SUCCESS, RC.PACKET_IDENTIFIER_NOT_FOUND})
PUBCOMP_REASON_CODES: frozenset[ReasonCode] = PUBREL_REASON_CODES
SUBACK_REASON_CODES: frozenset[ReasonCode] = frozenset(
    {
        RC.GRANTED_QOS_0,
        RC.GRANTED_QOS_1,
        RC.GRANTED_QOS_2,
        RC.UNSPECIFIED_ERROR,
        RC.IMPLEMENTATION_SPECIFIC_ERROR,
        RC.NOT_AUTHORIZED,
        RC.TOPIC_FILTER_INVALID,
        RC.PACKET_IDENTIFIER_IN_USE,
        RC.QUOTA_EXCEEDED,
        RC.SHARED_SUBSCRIPTIONS_NOT_SUPPORTED,
        RC.SUBSCRIPTION_IDENTIFIERS_NOT_SUPPORTED,
        RC.WILDCARD_SUBSCRIPTIONS_NOT_SUPPORTED,
    }
)
UNSUBACK_REASON_CODES: frozenset[ReasonCode] = frozenset(
    {
        RC.SUCCESS,
        RC.NO_SUBSCRIPTION_EXISTED,
        RC.UNSPECIFIED_ERROR,
        RC.IMPLEMENTATION_SPECIFIC_ERROR,
        RC.NOT_AUTHORIZED,
        RC.TOPIC_FILTER_INVALID,
        RC.PACKET_IDENTIFIER_IN_USE,
    }
)
DISCONNECT_REASON_CODES: frozenset[ReasonCode] = frozenset(
    {
        RC.NORMAL_DISCONNECTION,
        RC.DISCONNECT_WITH_WILL_MESSAGE,
        RC.UNSPECIFIED_ERROR,
        RC.MALFORMED_PACKET,
        RC.PROTOCOL_ERROR,
        RC.IMPLEMENTATION_SPECIFIC_ERROR,
        RC.NOT_AUTHORIZED,
        RC.SERVER_BUSY,
        RC.SERVER_SHUTTING_DOWN,
        RC.KEEP_ALIVE_TIMEOUT,
        RC.SESSION_TAKEN_OVER,
        RC.TOPIC_FILTER_INVALID,
        RC.TOPIC_NAME_INVALID,
        RC.RECEIVE_MAXIMUM_EXCEEDED,
        RC.TOPIC_ALIAS_INVALID,
        RC.PACKET_TOO_LARGE,
        RC.MESSAGE_RATE_TOO_HIGH,
        RC.QUOTA_EXCEEDED,
        RC.ADMINISTRATIVE_ACTION,
        RC.PAYLOAD_FORMAT_INVALID,
        RC.RETAIN_NOT_SUPPORTED,
        RC.QOS_NOT_SUPPORTED,
        RC.USE_ANOTHER_SERVER,
        RC.SERVER_MOVED,
        RC.SHARED_SUBSCRIPTIONS_NOT_SUPPORTED,
        RC.CONNECTION_RATE_EXCEEDED,
        RC.MAXIMUM_CONNECT_TIME,
        RC.SUBSCRIPTION_IDENTIFIERS_NOT_SUPPORTED,
        RC.WILDCARD_SUBSCRIPTIONS_NOT_SUPPORTED,
    }
)
AUTH_REASON_CODES: frozenset[ReasonCode] = frozenset(
    {RC.SUCCESS, RC.CONTINUE_AUTHENTICATION, RC.RE_AUTHENTICATE}
)


class ConnectReturnCode(IntEnum):
    """MQTT 3.1.1 CONNACK return codes (3.1.1 spec 3.2.2.3, table 3.1). Values 6-255 are reserved."""

    ACCEPTED = 0
    UNACCEPTABLE_PROTOCOL_VERSION = 1
    IDENTIFIER_REJECTED = 2
    SERVER_UNAVAILABLE = 3
    BAD_USER_NAME_OR_PASSWORD = 4
    NOT_AUTHORIZED = 5


_V5_TO_V311: dict[ReasonCode, ConnectReturnCode] = {
    RC.SUCCESS: ConnectReturnCode.ACCEPTED,
    RC.UNSUPPORTED_PROTOCOL_VERSION: ConnectReturnCode.UNACCEPTABLE_PROTOCOL_VERSION,
    RC.CLIENT_IDENTIFIER_NOT_VALID: ConnectReturnCode.IDENTIFIER_REJECTED,
    RC.SERVER_UNAVAILABLE: ConnectReturnCode.SERVER_UNAVAILABLE,
    RC.SERVER_BUSY: ConnectReturnCode.SERVER_UNAVAILABLE,
    RC.BAD_USER_NAME_OR_PASSWORD: ConnectReturnCode.BAD_USER_NAME_OR_PASSWORD,
    RC.NOT_AUTHORIZED: ConnectReturnCode.NOT_AUTHORIZED,
    RC.BANNED: ConnectReturnCode.NOT_AUTHORIZED,
}

_V311_TO_V5: dict[int, ReasonCode] = {
    ConnectReturnCode.ACCEPTED: RC.SUCCESS,
    ConnectReturnCode.UNACCEPTABLE_PROTOCOL_VERSION: RC.UNSUPPORTED_PROTOCOL_VERSION,
    ConnectReturnCode.IDENTIFIER_REJECTED: RC.CLIENT_IDENTIFIER_NOT_VALID,
    ConnectReturnCode.SERVER_UNAVAILABLE: RC.SERVER_UNAVAILABLE,
    ConnectReturnCode.BAD_USER_NAME_OR_PASSWORD: RC.BAD_USER_NAME_OR_PASSWORD,
    ConnectReturnCode.NOT_AUTHORIZED: RC.NOT_AUTHORIZED,
}


def connack_return_code_for(reason_code: ReasonCode) -> ConnectReturnCode:
    """Map an MQTT 5 CONNACK reason code to the closest MQTT 3.1.1 return code.

    0x84 -> 1, 0x85 -> 2, 0x86 -> 4, 0x87 and 0x8A (banned) -> 5; any other failure -> 3 (server unavailable).
    """
    code = _V5_TO_V311.get(reason_code)
    if code is not None:
        return code
    return ConnectReturnCode.SERVER_UNAVAILABLE


def connack_reason_from_v311(return_code: int) -> ReasonCode | None:
    """Map an MQTT 3.1.1 CONNACK return code to its MQTT 5 reason code; ``None`` for reserved values."""
    return _V311_TO_V5.get(return_code)


def suback_code_for_v311(reason_code: ReasonCode) -> int:
    """MQTT 3.1.1 SUBACK return codes are 0x00-0x02 or 0x80 (failure) [MQTT-3.9.3-2]."""
    return reason_code.value if reason_code.value < 0x80 else 0x80
