"""The REST gate of Cumulocity's global roles: which API family a path belongs to, and who may use it.

A person (a user without a Tether role: its rights are its global roles) reaches a family's data only with
`ROLE_<FAMILY>_READ` (GET, HEAD) or `ROLE_<FAMILY>_ADMIN` (every method); otherwise 403 `security/Forbidden`.
Once in, the services see an administrator of that family (`Principal.family`). Administrators, devices, the
bootstrap user and API keys keep their fixed rights, which the services check. /user checks its own
(tenants/directory.py); what every login may ask (/user/currentUser, /tenant/currentTenant) has no family.
"""

from __future__ import annotations

import dataclasses

from tether.core.errors import Forbidden
from tether.inventory.access import SCOPES, may_enter
from tether.tenants.models import Principal, Role

#: Path prefix -> API family (tenants/permissions.py FAMILIES).
PREFIXES = (
    ("/inventory/", "INVENTORY"),
    ("/identity/", "IDENTITY"),
    ("/measurement/", "MEASUREMENT"),
    ("/event/", "EVENT"),
    ("/alarm/", "ALARM"),
    ("/devicecontrol/", "DEVICE_CONTROL"),
    ("/tenant/tenants", "TENANT_MANAGEMENT"),  # tenants and their trusted certificates
    ("/tenant/options", "OPTION_MANAGEMENT"),
    ("/tenant/statistics", "INVENTORY"),  # Cumulocity: ROLE_TENANT_STATISTICS_READ or ROLE_INVENTORY_READ
    ("/audit", "AUDIT"),
    ("/retention/", "RETENTION_RULE"),
)
READS = frozenset({"GET", "HEAD"})
#: What the real-time notifications deliver: a person listening reads all of these.
REALTIME_FAMILIES = ("INVENTORY", "MEASUREMENT", "EVENT", "ALARM", "DEVICE_CONTROL")


def family_of(path: str) -> str | None:
    for prefix, family in PREFIXES:
        if path.startswith(prefix):
            return family
    return None


def required(method: str, path: str) -> tuple[str, frozenset[str]] | None:
    """(the family whose data the request touches, the roles any of which admits it), None for no family.
    Where Cumulocity's spec asks otherwise than READ for GET and ADMIN for the rest, it says so here."""
    family = family_of(path)
    if family is None:
        return None
    if family == "TENANT_MANAGEMENT" and "/trusted-certificates" in path:  # the admin role even to read
        return family, frozenset({"ROLE_TENANT_MANAGEMENT_ADMIN"})
    if path.startswith("/tenant/statistics"):
        return family, frozenset(
            {"ROLE_INVENTORY_READ", "ROLE_INVENTORY_ADMIN", "ROLE_TENANT_MANAGEMENT_READ"}
        )
    if method == "DELETE" and path.startswith("/devicecontrol/newDeviceRequests/"):
        return family, frozenset({"ROLE_USER_MANAGEMENT_ADMIN"})
    if path.startswith("/devicecontrol/bulkoperations"):  # Cumulocity: ROLE_BULK_OPERATION_READ|ADMIN
        roles = {"ROLE_BULK_OPERATION_ADMIN", "ROLE_DEVICE_CONTROL_ADMIN"}
        if method in READS:
            roles |= {"ROLE_BULK_OPERATION_READ", "ROLE_DEVICE_CONTROL_READ"}
        return family, frozenset(roles)
    admin = f"ROLE_{family}_ADMIN"
    if method in READS:
        return family, frozenset({f"ROLE_{family}_READ", admin})
    if method == "POST" and path.rstrip("/") == "/inventory/managedObjects":
        return family, frozenset({admin, "ROLE_INVENTORY_CREATE"})
    return family, frozenset({admin})


def admitted(who: Principal, method: str, path: str) -> Principal:
    """The principal the services see for this request, or Forbidden. A person without the family's roles
    but with inventory roles of the family's scope is let in with `family` set and no role: the caller then
    resolves what those roles reach (`inventory_scope`, InventoryService.scoped)."""
    if who.roles:  # administrators, devices, bootstrap, API keys
        return who
    rule = required(method, path)
    if rule is None:
        return who
    family, roles = rule
    if roles & who.grants:
        return dataclasses.replace(who, roles=who.roles | {Role.ADMIN}, family=family)
    scope = SCOPES.get(family)
    if scope is not None and may_enter(who, scope, method not in READS):
        return dataclasses.replace(who, family=family)
    raise Forbidden("Access is denied", resource="security")


def inventory_scope(who: Principal, method: str) -> tuple[str, bool] | None:
    """(scope, write) when `admitted` let `who` in by its inventory roles (its reach is still to resolve)."""
    if who.roles or who.family is None or who.readable is not None or who.family not in SCOPES:
        return None
    return SCOPES[who.family], method not in READS


def listener(who: Principal | None) -> Principal | None:
    """A person may listen to real-time notifications when it reads every family they deliver (they are
    then filtered as an administrator's); others keep their principal (and the hub's refusal; a person with
    inventory roles is resolved by `realtime_scopes`)."""
    if who is None or who.roles or not all(who.may(f, False) for f in REALTIME_FAMILIES):
        return who
    return dataclasses.replace(who, roles=frozenset({Role.ADMIN}), family="REALTIME")


def realtime_scopes(who: Principal | None) -> tuple[str, ...] | None:
    """The inventory role scopes a listener without the realtime families' global roles is resolved in:
    every scope the notifications deliver, so that it hears of an object only what it may read of all of its
    data (None: not such a listener)."""
    if who is None or who.roles or not who.inventory:
        return None
    return tuple(SCOPES[f] for f in REALTIME_FAMILIES)
