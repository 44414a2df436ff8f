"""Users, groups and roles as Cumulocity's /user API shows them."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from tether.core.clock import to_iso
from tether.tenants.models import Group, User
from tether.tenants.permissions import GLOBAL_ROLES

Json = dict[str, Any]


def user_url(base: str, tenant_id: str, username: str) -> str:
    return f"{base}/user/{quote(tenant_id, safe='')}/users/{quote(username, safe='')}"


def group_url(base: str, tenant_id: str, group_id: int) -> str:
    return f"{base}/user/{quote(tenant_id, safe='')}/groups/{group_id}"


def role(base: str, name: str) -> Json:
    return {
        "id": name,
        "name": name,
        "description": GLOBAL_ROLES.get(name, name),
        "self": f"{base}/user/roles/{name}",
    }


def role_reference(base: str, owner_url: str, name: str) -> Json:
    return {"role": role(base, name), "self": f"{owner_url}/roles/{name}"}


def group(base: str, g: Group) -> Json:
    url = group_url(base, g.tenant_id, g.id)
    return {
        "id": g.id,
        "name": g.name,
        "description": g.description,
        "self": url,
        "roles": {
            "self": f"{url}/roles",
            "references": [role_reference(base, url, r) for r in sorted(g.roles)],
        },
        "users": {"self": f"{url}/users"},
        "devicePermissions": {},
        "applications": [],
    }


def group_reference(base: str, g: Group) -> Json:
    return {"group": group(base, g), "self": group_url(base, g.tenant_id, g.id)}


def user(base: str, u: User, groups: list[Group] | None = None) -> Json:
    url = user_url(base, u.tenant_id, u.username)
    body: Json = {
        "id": u.username,
        "userName": u.username,
        "self": url,
        "email": u.email,
        "enabled": u.enabled,
        "firstName": u.first_name,
        "lastName": u.last_name,
        "phone": u.phone,
        "displayName": u.display_name,
        "shouldResetPassword": False,
        "twoFactorAuthenticationEnabled": False,
        "lastPasswordChange": to_iso(u.password_changed or u.creation_time),
        "roles": {
            "self": f"{url}/roles",
            "references": [role_reference(base, url, r) for r in sorted(u.global_roles)],
        },
        "devicePermissions": {},
        "applications": [],
    }
    if groups is not None:
        body["groups"] = {"self": f"{url}/groups", "references": [group_reference(base, g) for g in groups]}
    return body


def user_reference(base: str, u: User) -> Json:
    return {"user": user(base, u), "self": user_url(base, u.tenant_id, u.username)}
