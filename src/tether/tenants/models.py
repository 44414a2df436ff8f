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
    #: Inventory role assignments of a person (`/user/{tenant}/users/{u}/roles/inventory`).
    inventory: tuple[InventoryGrant, ...] = ()
    #: Set when the REST gate admitted a person by its inventory roles: the ids of the managed objects it
    #: may reach in this request's scope (the assigned objects and their descendants; inventory/access.py).
    readable: frozenset[int] | None = None

    @property
    def is_scoped(self) -> bool:
        """A person reaching the inventory only through inventory roles (`readable`)."""
        return self.readable is not None and not self.roles

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


#: Scopes of inventory role permissions (Cumulocity's inventoryRolePermission.scope).
INVENTORY_SCOPES = ("ALARM", "AUDIT", "EVENT", "MANAGED_OBJECT", "MEASUREMENT", "OPERATION", "*")
INVENTORY_LEVELS = ("READ", "ADMIN", "*")


@dataclass(frozen=True, slots=True)
class InventoryPermission:
    """One permission of an inventory role: a level (READ, ADMIN: read and write, `*`) on a scope (a kind of
    data about the assigned objects, `*` all) and a type (`*`, or for OPERATION the fragment an operation
    must carry, e.g. c8y_Restart)."""

    permission: str
    scope: str
    type: str = "*"

    def grants(self, scope: str, write: bool, fragments: frozenset[str] | None = None) -> bool:
        """Whether this permission lets its holder read (or write) `scope` data; a typed permission only
        writes operations that carry its fragment (`fragments`) and reads nothing by itself."""
        if self.scope not in (scope, "*") or (write and self.permission == "READ"):
            return False
        if self.type == "*":
            return True
        return scope == "OPERATION" and write and fragments is not None and self.type in fragments


@dataclass(frozen=True, slots=True)
class InventoryGrant:
    """What a user's inventory role assignments give on one managed object (and its descendants)."""

    mo_id: int
    permissions: tuple[InventoryPermission, ...]

    def grants(self, scope: str, write: bool, fragments: frozenset[str] | None = None) -> bool:
        return any(p.grants(scope, write, fragments) for p in self.permissions)
