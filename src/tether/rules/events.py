"""The sources a rule names in FROM besides topic filters: EMQX 5's `$events/...` (their fields as EMQX names
them) and Tether's platform events `$events/tether/...`, raised by the domain whatever protocol produced the
change (a measurement from SmartREST, Xyte telemetry or REST looks the same). GET /rule_events lists them."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["CLIENT_EVENTS", "EVENTS", "MESSAGE_FIELDS", "PLATFORM_EVENTS", "EventSource", "event_name"]

_COMMON = ("event", "timestamp", "node")


@dataclass(frozen=True, slots=True)
class EventSource:
    topic: str  # as FROM names it
    title: str
    fields: tuple[str, ...]

    @property
    def event(self) -> str:
        return event_name(self.topic)


def event_name(topic: str) -> str:
    """The `event` column: `$events/client_connected` -> `client.connected`, `$events/tether/alarm_raised`
    -> `tether.alarm_raised` (EMQX's spelling of its own events)."""
    name = topic.removeprefix("$events/")
    if name.startswith("tether/"):
        return "tether." + name.removeprefix("tether/")
    return name.replace("_", ".", 1)


#: Client and message events (EMQX's field names). Fed by the presence service's connection facts and the
#: broker's hooks and delivery listeners (adapters/rule_sources.py).
CLIENT_EVENTS = (
    EventSource(
        "$events/client_connected",
        "Client connected",
        ("clientid", "username", "mountpoint", "peername", "sockname", "proto_name", "proto_ver", "keepalive",
         "clean_start", "receive_maximum", "expiry_interval", "is_bridge", "conn_props", "connected_at",
         "client_attrs"),
    ),
    EventSource(
        "$events/client_disconnected",
        "Client disconnected",
        ("reason", "clientid", "username", "peername", "sockname", "proto_name", "proto_ver", "disconn_props",
         "connected_at", "disconnected_at", "client_attrs"),
    ),
    EventSource(
        "$events/client_connack",
        "Client connack",
        ("reason_code", "clientid", "username", "peername", "sockname", "proto_name", "proto_ver",
         "keepalive", "clean_start", "expiry_interval", "conn_props", "connected_at"),
    ),
    EventSource(
        "$events/client_check_authz_complete",
        "Authorization complete",
        ("clientid", "username", "peerhost", "topic", "action", "authz_source", "result"),
    ),
    EventSource(
        "$events/client_check_authn_complete",
        "Authentication complete",
        ("clientid", "username", "peername", "reason_code", "is_superuser", "is_anonymous"),
    ),
    EventSource(
        "$events/session_subscribed",
        "Session subscribed",
        ("clientid", "username", "peerhost", "peername", "topic", "qos", "sub_props", "client_attrs"),
    ),
    EventSource(
        "$events/session_unsubscribed",
        "Session unsubscribed",
        ("clientid", "username", "peerhost", "peername", "topic", "qos", "unsub_props", "client_attrs"),
    ),
    EventSource(
        "$events/message_delivered",
        "Message delivered",
        ("id", "from_clientid", "from_username", "clientid", "username", "payload", "peerhost", "topic",
         "qos", "flags", "pub_props", "publish_received_at"),
    ),
    EventSource(
        "$events/message_acked",
        "Message acknowledged",
        ("id", "from_clientid", "from_username", "clientid", "username", "payload", "peerhost", "topic",
         "qos", "flags", "pub_props", "puback_props", "publish_received_at"),
    ),
    EventSource(
        "$events/message_dropped",
        "Message dropped",
        ("reason", "id", "clientid", "username", "payload", "peerhost", "topic", "qos", "flags", "pub_props",
         "publish_received_at"),
    ),
    EventSource(
        "$events/delivery_dropped",
        "Delivery dropped",
        ("reason", "id", "from_clientid", "from_username", "clientid", "username", "payload", "peerhost",
         "topic", "qos", "flags", "pub_props", "publish_received_at"),
    ),
)  # fmt: skip

#: The platform's own events: the domain object after the change, as the REST API shows it, its fields
#: as columns (and the whole document as `payload`), with the tenant and the device it is about.
_DOCUMENT = ("tenant", "id", "source", "type", "time", "payload")
PLATFORM_EVENTS = (
    EventSource("$events/tether/measurement_created", "Measurement created", _DOCUMENT),
    EventSource("$events/tether/event_created", "Event created", (*_DOCUMENT, "text")),
    EventSource("$events/tether/alarm_raised", "Alarm raised", (*_DOCUMENT, "text", "severity", "status")),
    EventSource("$events/tether/alarm_cleared", "Alarm cleared", (*_DOCUMENT, "text", "severity", "status")),
    EventSource(
        "$events/tether/operation_changed",
        "Operation created or changed",
        ("tenant", "id", "deviceId", "status", "creationTime", "payload"),
    ),
    EventSource(
        "$events/tether/device_created", "Device created", ("tenant", "id", "name", "type", "payload")
    ),
    EventSource(
        "$events/tether/device_deleted", "Device deleted", ("tenant", "id", "name", "type", "payload")
    ),
    EventSource(
        "$events/tether/shadow_updated",
        "Fleets shadow updated or deleted",
        (
            "tenant",
            "thing_name",
            "thing_id",
            "clientid",
            "source",
            "origin",
            "operation",
            "state",
            "version",
            "delta",
            "previous",
            "payload",
        ),
    ),
)

#: Message publishing itself is FROM a topic filter; its columns are these.
MESSAGE_FIELDS = (
    "id", "clientid", "username", "payload", "peerhost", "topic", "qos", "flags", "pub_props", "timestamp",
    "publish_received_at", "node",
)  # fmt: skip

EVENTS = {source.topic: source for source in (*CLIENT_EVENTS, *PLATFORM_EVENTS)}
