"""What clients ask at login: /tenant/currentTenant, /tenant/loginOptions (/user/currentUser: users.py)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tether.api.auth import authenticate
from tether.api.context import ctx
from tether.api.http import base_url, json_response


async def current_tenant(request: Request) -> Response:
    who = await authenticate(request)
    tenant = await ctx(request).tenants.get_tenant(who.tenant_id)
    body = {
        "name": who.tenant_id,
        "domainName": tenant.domain if tenant else who.tenant_id,
        "allowCreateTenants": who.tenant_id == ctx(request).settings.tenant,  # the management tenant
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


routes = [
    Route("/tenant/currentTenant", current_tenant, methods=["GET"]),
    Route("/tenant/loginOptions", login_options, methods=["GET"]),
]
