"""Connection facts, history rows and the presence of a device."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

__all__ = [
    "Activity",
    "AvailabilityStatus",
    "ConnectionFact",
    "ConnectionRecord",
    "DeviceAvailability",
    "DevicePresence",
    "HistoryCriteria",
    "PresenceSettings",
    "disconnect_reason",
]


class Activity(Protocol):
    """What the broker hooks count per connection: PUBLISH packets received. One integer increment per
    message is the whole cost on the ingest path; the availability timer samples it.

    It is also the connection's live entry in the presence service: the number of its history id, the
    device's managed object once known and the count at the timer's last sample; its tenant and device are
    the login's. The rest of the record is the broker's (a :class:`ConnectionFact`, given again at the end):
    an idle connection keeps no record of its own. The adapters' login is its Activity (no object of its
    own per connection)."""

    messages: int
    seen: int  # `messages` at the last check
    #: The number of the connection's open history record (PresenceService.connected; None before and
    #: after).
    seq: int | None
    #: The device's managed object, once known.
    known_mo: int | None

    @property
    def tenant_id(self) -> str: ...

    @property
    def device(self) -> str | None: ...


class AvailabilityStatus(StrEnum):
    AVAILABLE = "AVAILABLE"
    UNAVAILABLE = "UNAVAILABLE"


@dataclass(frozen=True, slots=True)
class ConnectionFact:
    """An MQTT connection of a tenant's client as the broker hooks saw it at CONNACK."""

    tenant_id: str
    client_id: str
    username: str | None
    device: str | None  # the serial (c8y_Serial) of the device the login acts as
    mo_id: int | None  # the device's managed object, when the login already knows it (Xyte)
    ip_address: str | None
    proto_ver: int  # 4 = MQTT 3.1.1, 5 = MQTT 5.0
    clean_start: bool
    keepalive: int
    connected_at: int  # ms since the epoch


@dataclass(frozen=True, slots=True)
class ConnectionRecord:
    """One row of the connection history: a connection from CONNACK to its end (open while connected)."""

    id: str
    tenant_id: str
    client_id: str
    username: str | None
    device: str | None
    mo_id: int | None
    ip_address: str | None
    proto_ver: int
    clean_start: bool
    keepalive: int
    connected_at: int
    disconnected_at: int | None = None
    reason: str | None = None
    node: str = ""  # the cluster node the connection is on ("" for a process alone)

    # Positional copies: dataclasses.replace costs several times more, and these run per CONNECT.
    @classmethod
    def opened(cls, id: str, f: ConnectionFact, node: str = "") -> ConnectionRecord:
        return cls(
            id, f.tenant_id, f.client_id, f.username, f.device, f.mo_id, f.ip_address, f.proto_ver,
            f.clean_start, f.keepalive, f.connected_at, None, None, node,
        )  # fmt: skip

    @classmethod
    def closed(
        cls, id: str, f: ConnectionFact, mo_id: int | None, at: int, reason: str, node: str = ""
    ) -> ConnectionRecord:
        return cls(
            id, f.tenant_id, f.client_id, f.username, f.device, mo_id, f.ip_address, f.proto_ver,
            f.clean_start, f.keepalive, f.connected_at, at, reason, node,
        )  # fmt: skip

    def of_device(self, mo_id: int) -> ConnectionRecord:
        return ConnectionRecord(
            self.id, self.tenant_id, self.client_id, self.username, self.device, mo_id, self.ip_address,
            self.proto_ver, self.clean_start, self.keepalive, self.connected_at, self.disconnected_at,
            self.reason, self.node,
        )  # fmt: skip


@dataclass(frozen=True, slots=True)
class HistoryCriteria:
    """One client's or one device's connections; `date_from`/`date_to` keep those that overlap the range."""

    client_id: str | None = None
    mo_id: int | None = None
    date_from: int | None = None
    date_to: int | None = None


@dataclass(slots=True)
class DevicePresence:
    """What the platform knows of a device's presence, kept in the store (survives a restart)."""

    tenant_id: str
    mo_id: int
    connected: bool = False
    last_message: int | None = None  # ms; the last PUBLISH the device sent
    response_interval: int | None = None  # minutes, from c8y_RequiredAvailability; None: not monitored
    status: AvailabilityStatus | None = None  # None: not decided yet
    since: int = 0  # ms; when monitoring (or the current connection state) began
    disconnected_at: int | None = None  # ms; when its last connection dropped
    offline_alarm: bool = False  # the offline alarm was raised and is not cleared yet


@dataclass(frozen=True, slots=True)
class DeviceAvailability:
    """GET /inventory/managedObjects/{id}/availability."""

    mo_id: int
    external_id: str | None
    interval: int | None
    data_status: str  # AVAILABLE, UNAVAILABLE or NOT_MONITORED
    connection_status: str  # CONNECTED or DISCONNECTED
    last_message: int | None


@dataclass(frozen=True, slots=True)
class PresenceSettings:
    history_days: int = 30  # connection history kept this many days (0: forever)
    check_interval: float = 10.0  # seconds between availability checks
    offline_grace: int = 300  # seconds; a dropped device not back by then gets the offline alarm (0: off)


#: EMQX's disconnect reasons (docs/protocols.md section 8) for the MQTT 5 reason codes that end a connection.
_REASONS = {
    0x00: "normal",
    0x04: "normal",
    0x80: "closed",
    0x87: "not_authorized",
    0x8B: "shutdown",
    0x8D: "keepalive_timeout",
    0x8E: "takenover",
    0x98: "kicked",
}


def disconnect_reason(code: int, name: str | None = None) -> str:
    """The reason text of a disconnect reason code: EMQX's word where it has one, else the code's name."""
    return _REASONS.get(code) or (name.lower() if name else f"reason_{code:#04x}")
