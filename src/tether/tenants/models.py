"""Tenant, user and the authenticated caller."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class Role(StrEnum):
    ADMIN = "admin"  # everything within its tenant
    DEVICE = "device"  # only the objects it owns
    BOOTSTRAP = "bootstrap"  # only the device-credentials hand-over


class TenantStatus(StrEnum):
    ACTIVE = "ACTIVE"
    SUSPENDED = "SUSPENDED"  # its users and devices cannot log in (REST, MQTT, real-time)
    DELETED = "DELETED"  # its data is gone; the id is kept so that it is never issued again


@dataclass(frozen=True, slots=True)
class Tenant:
    id: str
    domain: str
    creation_time: int
    status: TenantStatus = TenantStatus.ACTIVE
    company: str | None = None
    contact_name: str | None = None
    contact_phone: str | None = None
    admin_name: str | None = None  # the first administrator, as created with the tenant
    admin_email: str | None = None
    parent: str | None = None  # the tenant that created it (the management tenant)


@dataclass(frozen=True, slots=True)
class User:
    tenant_id: str
    username: str
    password_hash: str
    roles: frozenset[Role]
    creation_time: int
    email: str | None = None
    enabled: bool = True  # a disabled user cannot log in (REST, MQTT, real-time)
    first_name: str | None = None
    last_name: str | None = None
    phone: str | None = None
    display_name: str | None = None
    #: Global roles assigned to the user itself (`ROLE_...`, tenants/permissions.py); groups add theirs.
    global_roles: frozenset[str] = frozenset()
    password_changed: int = 0


@dataclass(frozen=True, slots=True)
class UserCriteria:
    """Filters of `/user/{tenant}/users`: a user name prefix, membership of any of `groups`, and device users
    only (True) or people only (False; Cumulocity's default)."""

    username: str | None = None
    groups: tuple[int, ...] | None = None
    only_devices: bool = False


@dataclass(frozen=True, slots=True)
class Group:
    """A user group (Cumulocity: `group`; c8y-api calls it a global role): its roles apply to its members."""

    tenant_id: str
    id: int
    name: str
    description: str | None = None
    roles: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: every service call is scoped to `tenant_id` and checked against `roles`."""

    tenant_id: str
    username: str
    roles: frozenset[Role] = field(default_factory=frozenset)
    #: Cumulocity global roles (`ROLE_<FAMILY>_READ|ADMIN`) of a person who is no administrator.
    grants: frozenset[str] = field(default_factory=frozenset)
    #: Set when the REST gate (api/permissions.py) let a person into one API family: the services then see an
    #: administrator of that family's data, and `may` still answers for every other family by `grants`.
    family: str | None = None

    @property
    def is_admin(self) -> bool:
        return Role.ADMIN in self.roles

    def may(self, family: str, write: bool) -> bool:
        """Whether the caller may read (GET) or write the API family `family` (e.g. "INVENTORY") of its
        tenant: administrators may everything, others what `ROLE_<family>_ADMIN` (read and write) or
        `ROLE_<family>_READ` (read) grants."""
        if self.is_admin and self.family in (None, family):
            return True
        return f"ROLE_{family}_ADMIN" in self.grants or (not write and f"ROLE_{family}_READ" in self.grants)

    @property
    def is_device(self) -> bool:
        return Role.DEVICE in self.roles and not self.is_admin
