"""API keys, MQTT users, authorization rules and trusted CA certificates: the records and their rules.

Shapes follow the systems clients already know: EMQX 5's management API for API keys, built-in database users
and rules (docs/protocols.md section 8), Cumulocity's trusted certificates (its OpenAPI
`TrustedCertificate`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import StrEnum

from tether.core.errors import Forbidden
from tether.tenants.models import Principal

R_API_KEY = "api_key"
R_MQTT_USER = "authentication"
R_ACL = "authorization"
R_CERT = "tenant"

#: EMQX `validate_name`: 1..256 characters, `^[A-Za-z]+[A-Za-z0-9-_]*$`.
API_KEY_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_-]{0,255}")
#: Every API key starts with this, so HTTP Basic can tell `key:secret` from `user:password` at a glance.
API_KEY_PREFIX = "tak_"
MAX_USER_ID_LENGTH = 255


class ApiKeyRole(StrEnum):
    """EMQX's API key roles: an administrator may do everything within the key's tenant, a viewer only read
    (GET) what an administrator may."""

    ADMINISTRATOR = "administrator"
    VIEWER = "viewer"


@dataclass(frozen=True, slots=True)
class ApiKey:
    """An HTTPS client's key; the secret is kept only as a hash and shown once, at creation."""

    tenant_id: str
    name: str
    api_key: str
    secret_hash: str = field(repr=False)
    created_at: int
    expired_at: int | None  # ms since the epoch; None: never ("infinity")
    desc: str
    enable: bool
    role: ApiKeyRole = ApiKeyRole.ADMINISTRATOR

    def expired(self, now: int) -> bool:
        return self.expired_at is not None and self.expired_at <= now

    def usable(self, now: int) -> bool:
        return self.enable and not self.expired(now)


@dataclass(frozen=True, slots=True)
class NewApiKey:
    """The outcome of creating a key: the secret exists in clear only here and in the response."""

    key: ApiKey
    api_secret: str


@dataclass(frozen=True, slots=True)
class MqttUser:
    """A user of the EMQX built-in database authenticator (`password_based:built_in_database`)."""

    tenant_id: str
    user_id: str
    password_hash: str = field(repr=False)
    is_superuser: bool
    created_at: int


class Permission(StrEnum):
    ALLOW = "allow"
    DENY = "deny"


class Action(StrEnum):
    PUBLISH = "publish"
    SUBSCRIBE = "subscribe"
    ALL = "all"


class RuleScope(StrEnum):
    """Whom a rule set applies to: one user name, one client id, or every client (EMQX `all`)."""

    USERNAME = "username"
    CLIENTID = "clientid"
    ALL = "all"


@dataclass(frozen=True, slots=True)
class AclRule:
    """One rule of the EMQX built-in database: `{topic, permission, action, qos, retain}`.

    `topic` may start with `eq ` (match the filter literally) and may hold `${username}` / `${clientid}`.
    `retain` None means `all`.
    """

    topic: str
    permission: Permission
    action: Action
    qos: tuple[int, ...] = (0, 1, 2)
    retain: bool | None = None


@dataclass(frozen=True, slots=True)
class RuleSet:
    """The ordered rules of one scope and subject (`who` is "" for the scope `all`)."""

    tenant_id: str
    scope: RuleScope
    who: str
    rules: tuple[AclRule, ...]


class CertificateStatus(StrEnum):
    ENABLED = "ENABLED"
    DISABLED = "DISABLED"


@dataclass(frozen=True, slots=True)
class TrustedCertificate:
    """A CA certificate a tenant trusts: device certificates it issued log in on the TLS listener.

    `subject` and `issuer` are distinguished names in the form ``ssl.SSLSocket.getpeercert()`` gives them
    (a tuple of RDNs, each a tuple of (attribute, value) pairs), so a client certificate's issuer compares
    with a CA's subject exactly.
    """

    tenant_id: str
    fingerprint: str  # SHA-1 of the DER, lowercase hex (Cumulocity's identifier)
    name: str
    cert_pem: str
    status: CertificateStatus
    auto_registration: bool
    subject: tuple[tuple[tuple[str, str], ...], ...]
    issuer: tuple[tuple[tuple[str, str], ...], ...]
    serial_number: str
    not_before: int
    not_after: int
    version: int
    created_at: int

    @property
    def enabled(self) -> bool:
        return self.status is CertificateStatus.ENABLED


def require_admin(who: Principal) -> None:
    """Managing credentials is for the tenant's administrators (and administrator API keys)."""
    if not who.is_admin:
        raise Forbidden("Access is denied", resource="security")
