"""Cumulocity's global roles as Tether enforces them, and the default groups of every tenant.

A global role `ROLE_<FAMILY>_READ` lets its holder read one API family of its tenant (GET),
`ROLE_<FAMILY>_ADMIN` read and write it. Who holds every role Tether enforces is an administrator (as
the first user is).
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from typing import Any, TypeVar

from tether.tenants.models import Group, Principal, Role, User

#: API families with a READ and an ADMIN role each.
FAMILIES = (
    "INVENTORY",
    "IDENTITY",
    "MEASUREMENT",
    "EVENT",
    "ALARM",
    "DEVICE_CONTROL",
    "USER_MANAGEMENT",
    "TENANT_MANAGEMENT",
    "OPTION_MANAGEMENT",
    "AUDIT",
    "RETENTION_RULE",  # /retention/retentions (migration 0020 gives the default groups these)
)

_FAMILY_ROLES: dict[str, str] = {
    **{f"ROLE_{f}_READ": f"Read access to {f.lower().replace('_', ' ')}" for f in FAMILIES},
    **{f"ROLE_{f}_ADMIN": f"Read and write access to {f.lower().replace('_', ' ')}" for f in FAMILIES},
}
#: Holding all of these makes a person an administrator of its tenant.
ADMIN_ROLES = frozenset(_FAMILY_ROLES)
#: Role name -> description, as `/user/roles` lists them (a family's READ and ADMIN, and the rest).
GLOBAL_ROLES: dict[str, str] = {
    **_FAMILY_ROLES,
    "ROLE_INVENTORY_CREATE": "Create managed objects",
    # Cumulocity's roles of /devicecontrol/bulkoperations (api/permissions.py: DEVICE_CONTROL's admit too).
    "ROLE_BULK_OPERATION_READ": "Read bulk operations",
    "ROLE_BULK_OPERATION_ADMIN": "Read, create, change and cancel bulk operations",
}

_READS = frozenset(r for r in ADMIN_ROLES if r.endswith("_READ"))

#: The groups every tenant starts with (Cumulocity's defaults): name -> (description, roles).
DEFAULT_GROUPS: dict[str, tuple[str, frozenset[str]]] = {
    "admins": ("Users with full access to the tenant", ADMIN_ROLES),
    "readers": ("Users who may read everything", _READS),
    "devices": (
        "Device users (their rights are those of a device: the objects they own)",
        frozenset({"ROLE_INVENTORY_READ", "ROLE_IDENTITY_READ"}),
    ),
}


def is_role(name: str) -> bool:
    return name in GLOBAL_ROLES


_ROLE_SETS: dict[frozenset[Any], frozenset[Any]] = {}
T = TypeVar("T")


def interned(roles: frozenset[T]) -> frozenset[T]:
    """One shared frozenset per distinct set of roles: every logged-in device holds the same few (a frozenset
    costs 216 bytes, and there is one per cached login)."""
    return _ROLE_SETS.setdefault(roles, roles)


def principal_of(user: User, groups: Iterable[Group]) -> Principal:
    """The principal of a stored user: its own roles and its groups' roles; a person holding every role is
    an administrator. Devices and the bootstrap user keep their fixed rights (groups do not widen them)."""
    grants = interned(frozenset(user.global_roles).union(*(g.roles for g in groups)))
    roles = user.roles
    if not roles & {Role.DEVICE, Role.BOOTSTRAP} and grants >= ADMIN_ROLES:
        roles = interned(roles | {Role.ADMIN})
    # The tenant id read with the row is one string per login; the interned one is shared by all of them.
    tenant_id = sys.intern(user.tenant_id)
    return Principal(tenant_id=tenant_id, username=user.username, roles=roles, grants=grants)


def effective_roles(who: Principal) -> list[str]:
    """The roles `/user/currentUser` reports."""
    if who.is_admin:
        return sorted(ADMIN_ROLES | {"ROLE_INVENTORY_CREATE", "ROLE_TENANT_ADMIN"})
    if Role.DEVICE in who.roles:
        return ["ROLE_DEVICE", "ROLE_IDENTITY_ADMIN", "ROLE_INVENTORY_CREATE"]
    if Role.BOOTSTRAP in who.roles:
        return ["ROLE_DEVICE_BOOTSTRAP"]
    return sorted(who.grants)
