"""The seam between the broker and the rest of Tether: authentication, authorization, connection events.

Subclass :class:`Hooks` and override what you need; the base class allows everything and ignores events.

* :meth:`Hooks.authenticate` runs once per CONNECT and may be a coroutine (a password check can hit the
  database); while it runs the connection reads nothing more.
* :meth:`Hooks.authorize_publish` and :meth:`Hooks.authorize_subscribe` run on the hot path and are plain
  functions: load what they need at :meth:`Hooks.authenticate` time into :attr:`AuthResult.login`, a value
  of the hooks' own type that the broker hands back unread as :attr:`ClientInfo.login`.
* The ``on_*`` events are plain functions too; start a task from them for slow work.

Tenants: :attr:`AuthResult.mountpoint` puts a client's topics under a prefix inside the broker (like EMQX's
listener mountpoint), so clients of two tenants never see each other's topics or sessions; hooks and handlers
always see topics as the client sent them. See :mod:`.mountpoints`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Mapping
from dataclasses import dataclass
from typing import Any

from tether.mqtt.packets import Connect
from tether.mqtt.reason_codes import ReasonCode

from .acl import AclRule, check_acl

__all__ = ["AuthResult", "ClientInfo", "ConnectionInfo", "DefaultHooks", "Hooks"]


@dataclass(frozen=True, slots=True)
class ConnectionInfo:
    """Where a network connection comes from: the listener (`tcp`, `tls`, `ws`), the peer address and, on
    the TLS listener, the client certificate the handshake verified (``ssl.SSLSocket.getpeercert()``)."""

    listener: str
    peer: str | None = None
    certificate: Mapping[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class ClientInfo:
    """An authenticated client, as the hooks see it."""

    client_id: str
    username: str | None
    protocol_version: int
    listener: str
    peer: str | None = None
    #: What :meth:`Hooks.authenticate` attached (:attr:`AuthResult.login`; e.g. the tenant and device of the
    #: credentials), opaque to the broker.
    login: object | None = None
    #: The client's topic namespace inside the broker (:attr:`AuthResult.mountpoint`).
    mountpoint: str = ""
    #: The verified TLS client certificate, if any (:attr:`ConnectionInfo.certificate`).
    certificate: Mapping[str, Any] | None = None
    #: The CONNECT's Clean Start (3.1.1: Clean Session) flag and Keep Alive (seconds, as the client asked).
    clean_start: bool = True
    keep_alive: int = 0
    #: When the CONNECT was accepted (wall clock, seconds).
    connected_at: float = 0.0


@dataclass(frozen=True, slots=True)
class AuthResult:
    """The outcome of :meth:`Hooks.authenticate`: a CONNACK reason code (0x00 accepts) and what the hooks
    want to know of the client later."""

    reason_code: ReasonCode = ReasonCode.SUCCESS
    #: The hooks' record of the login, of their own type; the broker keeps it as :attr:`ClientInfo.login`
    #: and never reads it.
    login: object | None = None
    #: Prefix of every topic of this client inside the broker (e.g. ``$tenant/t1/``); sessions are keyed by
    #: mountpoint + client id. Empty: the client sees the broker's whole topic space.
    mountpoint: str = ""
    #: First topic levels that are private to the client under its mountpoint (e.g. SmartREST's ``s``):
    #: mounted at ``<mountpoint>$client/<client id>/``.
    private_roots: frozenset[str] = frozenset()

    @property
    def ok(self) -> bool:
        return not self.reason_code.is_error


ACCEPT = AuthResult()


class Hooks:
    """Authentication, authorization and connection events. The base class allows everything."""

    def authenticate(
        self, connect: Connect, connection: ConnectionInfo
    ) -> AuthResult | Awaitable[AuthResult]:
        """Accept or refuse a CONNECT (spec 3.1.4 step 3): e.g. 0x86 Bad User Name or Password, 0x87."""
        return ACCEPT

    def authorize_publish(self, client: ClientInfo, topic: str, qos: int = 0, retain: bool = False) -> bool:
        """May the client publish to this topic name at this QoS, retained or not? (Wills are checked at
        CONNECT.)"""
        return True

    def authorize_subscribe(self, client: ClientInfo, topic_filter: str, qos: int = 0) -> bool:
        """May the client subscribe to this topic filter (as sent, `$share/...` included) at this QoS?"""
        return True

    def subscribe_refusal(self, client: ClientInfo) -> ReasonCode:
        """The SUBACK reason code for a refused subscription: 0x80 Unspecified error "does not wish to reveal
        the reason" (spec 3.9.3; Paho's test client accepts only 0x80) or 0x87 Not authorized. MQTT 3.1.1
        clients get 0x80 Failure either way."""
        return ReasonCode.UNSPECIFIED_ERROR

    def on_connack(self, connect: Connect, connection: ConnectionInfo, result: AuthResult) -> None:
        """After :meth:`authenticate` answered a CONNECT (accepted or refused), before the CONNACK goes out
        with ``result.reason_code``."""

    def on_connected(self, client: ClientInfo, session_present: bool) -> None:
        """After the successful CONNACK has been queued."""

    def on_disconnected(self, client: ClientInfo, reason: ReasonCode) -> None:
        """After the network connection of an accepted client ended, with the reason: the client's
        DISCONNECT reason code, or the one the broker sent or would have sent (0x8D keep alive timeout, 0x8E
        session taken over, 0x80 for a lost connection)."""

    def on_subscribed(self, client: ClientInfo, topic_filter: str, qos: int) -> None:
        """After a subscription was granted with this maximum QoS."""

    def on_unsubscribed(self, client: ClientInfo, topic_filter: str) -> None:
        """After a subscription was removed by UNSUBSCRIBE."""


class DefaultHooks(Hooks):
    """`--allow-anonymous` and the ACL rules of the config file.

    Without a credential store (the device-auth issue adds one), clients with or without credentials are
    accepted exactly when anonymous access is allowed.
    """

    def __init__(
        self, *, allow_anonymous: bool, acl_rules: tuple[AclRule, ...] = (), acl_default_allow: bool = True
    ) -> None:
        self.allow_anonymous = allow_anonymous
        self.acl_rules = acl_rules
        self.acl_default_allow = acl_default_allow

    def authenticate(
        self, connect: Connect, connection: ConnectionInfo
    ) -> AuthResult | Awaitable[AuthResult]:
        if self.allow_anonymous:
            return ACCEPT
        if connect.username is None and connect.password is None:
            return AuthResult(ReasonCode.NOT_AUTHORIZED)
        return AuthResult(ReasonCode.BAD_USER_NAME_OR_PASSWORD)

    def authorize_publish(self, client: ClientInfo, topic: str, qos: int = 0, retain: bool = False) -> bool:
        if not self.acl_rules:
            return self.acl_default_allow
        return check_acl(
            self.acl_rules, self.acl_default_allow, "publish", client.client_id, client.username, topic
        )

    def authorize_subscribe(self, client: ClientInfo, topic_filter: str, qos: int = 0) -> bool:
        if not self.acl_rules:
            return self.acl_default_allow
        return check_acl(
            self.acl_rules,
            self.acl_default_allow,
            "subscribe",
            client.client_id,
            client.username,
            topic_filter,
        )
