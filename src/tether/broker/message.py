"""An Application Message inside the broker (spec 1.2): what is routed, retained, queued and redelivered."""

from __future__ import annotations

import math

from tether.mqtt.packets import Payload
from tether.mqtt.properties import EMPTY_PROPERTIES, Properties

__all__ = ["Message"]


class Message:
    """One published message, shared (never copied) by every subscriber it is delivered to.

    ``properties`` are the ones to forward: the publisher's properties without Topic Alias (it belongs to one
    network connection, [MQTT-3.3.2-7]); Payload Format Indicator, Content Type, Response Topic, Correlation
    Data and User Properties pass through unaltered ([MQTT-3.3.2-4], [MQTT-3.3.2-15], [MQTT-3.3.2-16],
    [MQTT-3.3.2-17], [MQTT-3.3.2-20]). ``expires_at`` is the event-loop time at which the Message Expiry
    Interval runs out (spec 3.3.2.3.3), or ``None``.
    """

    __slots__ = ("expires_at", "packet_id", "payload", "properties", "qos", "retain", "sender", "topic")

    def __init__(
        self,
        topic: str,
        payload: Payload,
        qos: int = 0,
        retain: bool = False,
        properties: Properties = EMPTY_PROPERTIES,
        expires_at: float | None = None,
        sender: str | None = None,
        packet_id: int = 0,
    ) -> None:
        self.topic = topic
        self.payload = payload
        self.qos = qos
        self.retain = retain
        self.properties = properties
        self.expires_at = expires_at
        #: Client identifier of the publisher (for No Local, spec 3.8.3.1); ``None`` for wills and the
        #: broker itself.
        self.sender = sender
        #: The publisher's Packet Identifier (QoS 1 and 2), for the platform's replies to it (an error that
        #: names the message); 0 for QoS 0, wills and the broker's own messages. Not forwarded.
        self.packet_id = packet_id

    def __repr__(self) -> str:
        return f"Message({self.topic!r}, {bytes(self.payload)[:32]!r}, qos={self.qos}, retain={self.retain})"

    def expired(self, now: float) -> bool:
        expires_at = self.expires_at
        return expires_at is not None and now >= expires_at

    def remaining_expiry(self, now: float) -> int:
        """Seconds left of the Message Expiry Interval: the value to forward [MQTT-3.3.2-6]."""
        assert self.expires_at is not None
        return max(0, math.ceil(self.expires_at - now))
