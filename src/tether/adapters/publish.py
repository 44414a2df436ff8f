"""Operators publishing to their tenant's devices through the management API (`POST /api/v5/publish`,
docs/protocols.md section 8): a message is checked as the broker would check a client's PUBLISH and routed
inside the tenant's mountpoint, so exactly the tenant's subscribers (devices, operators) receive it.

Refusals carry MQTT 5 reason codes, as EMQX's answers do: 0x90 (144) Topic Name invalid, 0x97 (151) Quota
exceeded for a message larger than the broker's Maximum Packet Size, 0x83 (131) for anything else.
Topics reserved to the server (spec 4.7.2; broker/reserved.py: `$SYS`, `$tenant`, `$client`) are invalid here
as they are for a client; the devices' private topics (SmartREST `s/ds`, ...) are therefore not reachable,
the Cumulocity operations API is their way in.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from tether.adapters.namespaces import tenant_mountpoint
from tether.broker import Broker
from tether.broker.reserved import is_server_topic
from tether.mqtt.encoder import encode_publish_parts
from tether.mqtt.errors import MQTTError
from tether.mqtt.packets import Publish
from tether.mqtt.properties import EMPTY_PROPERTIES, Properties
from tether.mqtt.reason_codes import ReasonCode
from tether.mqtt.topics import topic_name_problem

__all__ = ["Outgoing", "PublishRefused", "check", "message_id", "publish"]


@dataclass(frozen=True, slots=True)
class Outgoing:
    """One message an operator publishes; `topic` as the tenant's clients see it."""

    topic: str
    payload: bytes
    qos: int = 0
    retain: bool = False
    properties: Properties = EMPTY_PROPERTIES


class PublishRefused(Exception):
    """The message cannot be published: an MQTT 5 reason code and EMQX's message for it."""

    def __init__(self, reason_code: ReasonCode, message: str) -> None:
        super().__init__(message)
        self.reason_code = reason_code
        self.message = message


def check(broker: Broker, message: Outgoing) -> None:
    """Raise PublishRefused unless a client of the tenant could publish this message to the broker."""
    if topic_name_problem(message.topic) is not None or is_server_topic(message.topic):
        raise PublishRefused(ReasonCode.TOPIC_NAME_INVALID, "topic_name_invalid")
    packet = Publish(
        message.topic,
        message.payload,
        message.qos,
        message.retain,
        packet_id=1 if message.qos else 0,
        properties=message.properties,
    )
    try:
        head, payload = encode_publish_parts(packet, 5)
    except (MQTTError, ValueError) as exc:  # e.g. a property the encoder refuses
        raise PublishRefused(ReasonCode.IMPLEMENTATION_SPECIFIC_ERROR, str(exc)) from exc
    if len(head) + len(payload) > broker.config.max_packet_size:
        raise PublishRefused(ReasonCode.QUOTA_EXCEEDED, "packet_too_large")


def publish(broker: Broker, tenant_id: str, message: Outgoing) -> int:
    """Route a checked message in the tenant's mountpoint; returns how many sessions it reached."""
    return broker.publish(
        message.topic,
        message.payload,
        qos=message.qos,
        retain=message.retain,
        mountpoint=tenant_mountpoint(tenant_id),
        properties=message.properties,
    )


def message_id() -> str:
    """An id for the answer, like EMQX's hex GUIDs (the message is not kept under it)."""
    return secrets.token_hex(16).upper()
