"""What clients ask at login: /tenant/currentTenant, /tenant/loginOptions, /user/currentUser."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tether.api.auth import authenticate
from tether.api.context import ctx
from tether.api.http import base_url, json_response
from tether.tenants.models import Role

# Cumulocity role names the clients look for, per Tether role.
EFFECTIVE_ROLES = {
    Role.ADMIN: [
        "ROLE_INVENTORY_ADMIN",
        "ROLE_INVENTORY_READ",
        "ROLE_INVENTORY_CREATE",
        "ROLE_IDENTITY_ADMIN",
        "ROLE_IDENTITY_READ",
        "ROLE_TENANT_ADMIN",
        "ROLE_USER_MANAGEMENT_READ",
    ],
    Role.DEVICE: ["ROLE_INVENTORY_CREATE", "ROLE_IDENTITY_ADMIN", "ROLE_DEVICE"],
    Role.BOOTSTRAP: ["ROLE_DEVICE_BOOTSTRAP"],
}


async def current_tenant(request: Request) -> Response:
    who = await authenticate(request)
    tenant = await ctx(request).tenants.get_tenant(who.tenant_id)
    body = {
        "name": who.tenant_id,
        "domainName": tenant.domain if tenant else who.tenant_id,
        "allowCreateTenants": False,
        "customProperties": {},
        "self": f"{base_url(request)}/tenant/currentTenant",
    }
    return json_response(request, body, "currentTenant")


async def login_options(request: Request) -> Response:
    base = base_url(request)
    body = {
        "self": f"{base}/tenant/loginOptions",
        "loginOptions": [
            {
                "id": "basic",
                "type": "BASIC",
                "userManagementSource": "INTERNAL",
                "visibleOnLoginPage": True,
                "grantType": "PASSWORD",
                "initRequest": f"{base}/tenant/oauth?tenant_id={ctx(request).settings.tenant}",
                "self": f"{base}/tenant/loginOptions/basic",
            }
        ],
    }
    return json_response(request, body, "loginOptionCollection")


async def current_user(request: Request) -> Response:
    who = await authenticate(request)
    user = await ctx(request).tenants.get_user(who.tenant_id, who.username)
    roles = sorted({name for role in who.roles for name in EFFECTIVE_ROLES[role]})
    body = {
        "id": who.username,
        "userName": who.username,
        "self": f"{base_url(request)}/user/currentUser",
        "email": user.email if user else None,
        "shouldResetPassword": False,
        "effectiveRoles": [
            {"id": r, "name": r, "self": f"{base_url(request)}/user/roles/{r}"} for r in roles
        ],
    }
    return json_response(request, body, "currentUser")


routes = [
    Route("/tenant/currentTenant", current_tenant, methods=["GET"]),
    Route("/tenant/loginOptions", login_options, methods=["GET"]),
    Route("/user/currentUser", current_user, methods=["GET"]),
]
