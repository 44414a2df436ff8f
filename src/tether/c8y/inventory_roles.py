"""Inventory roles and their assignments as Cumulocity's /user API reads and shows them (the spec's
inventoryRole, inventoryRolePermission and inventoryAssignment)."""

from __future__ import annotations

from typing import Any

from tether.core.errors import InvalidInput
from tether.tenants.inventory_roles import Assignment, InventoryRole, RoleDraft
from tether.tenants.models import InventoryPermission

Json = dict[str, Any]
R = "user"


def role_url(base: str, role_id: int) -> str:
    return f"{base}/user/inventoryroles/{role_id}"


def role(base: str, r: InventoryRole) -> Json:
    # A permission's id is its place in its role (the role's id is never reused, so neither is this one).
    return {
        "id": r.id,
        "self": role_url(base, r.id),
        "name": r.name,
        "description": r.description or "",
        "permissions": [
            {"id": r.id * 1000 + i, "permission": p.permission, "scope": p.scope, "type": p.type}
            for i, p in enumerate(r.permissions)
        ],
    }


def _string(document: Json, key: str, default: str | None) -> str | None:
    value = document.get(key, default)
    if value is not None and not isinstance(value, str):
        raise InvalidInput(f"'{key}' must be a text", resource=R)
    return value


def role_draft(document: Json, current: InventoryRole | None = None) -> RoleDraft:
    """A POSTed role (name required), or a PUT's fields over the `current` role."""
    name = _string(document, "name", None if current is None else current.name)
    if name is None:
        raise InvalidInput("'name' is required", resource=R)
    description = _string(document, "description", None if current is None else current.description)
    permissions = current.permissions if current is not None else ()
    if "permissions" in document or current is None:
        given = document.get("permissions", [])
        if not isinstance(given, list) or not all(isinstance(p, dict) for p in given):
            raise InvalidInput("'permissions' must be a list of objects", resource=R)
        permissions = tuple(
            InventoryPermission(
                str(p.get("permission", "*")) if p.get("permission") is not None else "*",
                str(p.get("scope", "*")) if p.get("scope") is not None else "*",
                str(p.get("type", "*")) if p.get("type") is not None else "*",
            )
            for p in given
        )
    return RoleDraft(name, description, permissions)


def assignment(base: str, tenant_id: str, a: Assignment, roles: list[InventoryRole]) -> Json:
    return {
        "id": a.id,
        "self": f"{base}/user/{tenant_id}/users/{a.username}/roles/inventory/{a.id}",
        "managedObject": str(a.mo_id),
        "roles": [role(base, r) for r in roles],
    }


def object_id(document: Json) -> int:
    value = document.get("managedObject")
    if isinstance(value, dict):
        value = value.get("id")
    if isinstance(value, str) and value.isdigit() and len(value) < 19:
        return int(value)
    if isinstance(value, int) and not isinstance(value, bool) and 0 < value < 2**63:
        return value
    raise InvalidInput("'managedObject' must be the id of a managed object", resource=R)


def role_ids(document: Json) -> list[int]:
    given = document.get("roles")
    if not isinstance(given, list):
        raise InvalidInput("'roles' must be a list of {id}", resource=R)
    ids = []
    for item in given:
        value = item.get("id") if isinstance(item, dict) else None
        if isinstance(value, str) and value.isdigit() and len(value) < 19:
            value = int(value)
        if not isinstance(value, int) or isinstance(value, bool) or not 0 < value < 2**63:
            raise InvalidInput("'roles' must be a list of {id}", resource=R)
        ids.append(value)
    return ids
