"""Broker configuration: limits and policies, read from the `[mqtt]`, `[acl]` and `[tls]` config sections.

Every limit here is announced to MQTT 5 clients in the CONNACK where the spec has a property for it (spec
3.2.2.3) and enforced for every protocol version.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING, Any

from tether.config import ConfigError
from tether.mqtt.constants import MAX_PACKET_SIZE

from .acl import AclRule, parse_acl

if TYPE_CHECKING:
    from tether.config import Settings

__all__ = ["NEVER_EXPIRES", "BrokerConfig", "TlsConfig"]

#: Session Expiry Interval 0xFFFFFFFF: the session does not expire (spec 3.1.2.11.2).
NEVER_EXPIRES = 0xFFFF_FFFF


@dataclass(frozen=True)
class TlsConfig:
    """The `[tls]` section: PEM certificate chain and private key for the MQTT over TLS listener."""

    certfile: str
    keyfile: str
    cafile: str | None = None  # set to require (and verify) client certificates
    password: str | None = None


@dataclass(frozen=True)
class BrokerConfig:
    """Limits and policies of the broker. Defaults suit a device fleet on one machine."""

    #: Accept clients without credentials (`--allow-anonymous`).
    allow_anonymous: bool = False
    #: Largest packet accepted from a client, fixed header included (spec 3.2.2.3.6, announced in CONNACK).
    max_packet_size: int = 1024 * 1024
    #: QoS 1 and 2 PUBLISH packets a client may have unacknowledged towards the broker (spec 3.2.2.3.3);
    #: exceeding it gets DISCONNECT 0x93.
    receive_maximum: int = 64
    #: Topic aliases a client may use towards the broker (spec 3.2.2.3.8).
    topic_alias_maximum: int = 10
    #: Choose topic aliases for PUBLISH packets to clients that accept them (spec 3.3.2.3.4).
    outgoing_topic_aliases: bool = True
    #: Cap on the keep alive: MQTT 5 clients asking for more (or 0) get a Server Keep Alive (spec 3.2.2.3.14).
    max_keep_alive: int = 0  # 0: no cap
    #: Cap on the Session Expiry Interval a client may ask for (seconds).
    max_session_expiry: int = NEVER_EXPIRES
    #: Seconds a new network connection may take to send its CONNECT before it is closed.
    connect_timeout: float = 10.0
    #: Largest CONNECT accepted (bytes, fixed header included): until a client is authenticated it may make
    #: the broker buffer no more than this. 64 KiB holds a CONNECT with a will and user properties; a larger
    #: one gets CONNACK 0x95 Packet too large (3.1.1: the connection is closed).
    max_connect_size: int = 64 * 1024
    #: Longest Client Identifier in characters (the spec requires 1-23, allows more [MQTT-3.1.3-5]); a longer
    #: one gets CONNACK 0x85 Client Identifier not valid (3.1.1: return code 2).
    max_client_id_length: int = 256
    #: Network connections still in their handshake (no CONNACK yet: TLS or WebSocket upgrade, CONNECT,
    #: authentication), in total and from one IP address; beyond either a new connection is closed at once.
    max_pending_connects: int = 5_000
    max_pending_connects_per_address: int = 500
    #: Open network connections; beyond this CONNECT is refused with 0x89 Server busy (3.1.1: 3).
    max_connections: int = 100_000
    #: Messages queued per session (offline, or beyond the client's receive maximum); then dropped, counted.
    max_queued_messages: int = 1000
    #: Queue QoS 0 messages for offline persistent sessions too (the spec makes it optional, 3.1.2.4).
    queue_qos0_offline: bool = False
    #: Retained messages kept (spec 3.3.1.3); beyond this new retained topics are not stored.
    max_retained_messages: int = 1_000_000
    #: Seconds between saves of changed sessions and retained messages (with a store).
    persist_interval: float = 1.0
    #: ACL: rules in order, first match wins; `acl_default` when none matches.
    acl_rules: tuple[AclRule, ...] = ()
    acl_default_allow: bool = True
    tls: TlsConfig | None = None
    #: Path of the MQTT over WebSocket endpoint.
    websocket_path: str = "/mqtt"
    extra: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def from_settings(cls, settings: Settings) -> BrokerConfig:
        """From `tether serve` settings: `--allow-anonymous` and the config file's sections.

        Raises :class:`ConfigError` for an invalid section.
        """
        try:
            return cls.from_sections(settings.sections, allow_anonymous=settings.allow_anonymous)
        except (ValueError, TypeError, KeyError) as exc:
            raise ConfigError(f"MQTT configuration: {exc}") from None

    @classmethod
    def from_sections(cls, sections: Mapping[str, Any], *, allow_anonymous: bool = False) -> BrokerConfig:
        """Build from the sections of the config file (`settings.sections`).

        `[mqtt]` holds the keys of this class (dashes or underscores), `[acl]` the rules, `[tls]` the
        certificate and key.
        """
        known = {f.name for f in fields(cls)} - {"acl_rules", "acl_default_allow", "tls", "extra"}
        values: dict[str, Any] = {"allow_anonymous": allow_anonymous}
        for key, value in dict(sections.get("mqtt", {})).items():
            name = key.replace("-", "_")
            if name not in known:
                raise ValueError(f"unknown setting {key!r} in [mqtt]")
            values[name] = value
        acl = sections.get("acl")
        if acl:
            rules, default_allow = parse_acl(acl)
            values["acl_rules"] = rules
            values["acl_default_allow"] = default_allow
        tls = sections.get("tls")
        if tls:
            values["tls"] = TlsConfig(
                certfile=str(tls["certfile"]),
                keyfile=str(tls["keyfile"]),
                cafile=str(tls["cafile"]) if tls.get("cafile") else None,
                password=str(tls["password"]) if tls.get("password") else None,
            )
        config = cls(**values)
        config.validate()
        return config

    def validate(self) -> None:
        if not 0 < self.receive_maximum <= 65_535:
            raise ValueError("receive_maximum must be 1..65535")
        if not 0 <= self.topic_alias_maximum <= 65_535:
            raise ValueError("topic_alias_maximum must be 0..65535")
        if not 0 <= self.max_keep_alive <= 65_535:
            raise ValueError("max_keep_alive must be 0..65535")
        if not 0 < self.max_packet_size <= MAX_PACKET_SIZE:
            raise ValueError(f"max_packet_size must be 1..{MAX_PACKET_SIZE}")
        if self.max_connect_size < 1:
            raise ValueError("max_connect_size must be >= 1 (max_packet_size caps it as well)")
        if not 23 <= self.max_client_id_length <= 65_535:
            raise ValueError("max_client_id_length must be 23..65535 (spec 3.1.3.1)")
        if self.max_pending_connects < 1 or self.max_pending_connects_per_address < 1:
            raise ValueError("max_pending_connects and max_pending_connects_per_address must be >= 1")
        if self.max_queued_messages < 0 or self.max_connections < 1:
            raise ValueError("max_queued_messages must be >= 0 and max_connections >= 1")
        if not 0 <= self.max_session_expiry <= NEVER_EXPIRES:
            raise ValueError("max_session_expiry must be 0..4294967295")
