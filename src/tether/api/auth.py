"""HTTP authentication: Basic `tenant/user:password`, plain `user` for the default tenant, or an API key
`key:secret` (an administrator of the key's tenant, one that may only read for a viewer key; the request
scope names the key in `tether.api_key`); or `Bearer <token>` of `POST /api/v5/login` (tenants/tokens.py:
the person who logged in, with its roles of now, until the token expires or is logged out), which the web
console sends. Both pass the same gate of global roles (api/permissions.py `admitted`)."""

from __future__ import annotations

import base64

from starlette.requests import Request

from tether.api.context import ctx
from tether.api.permissions import admitted, inventory_scope
from tether.core.errors import Forbidden, TooManyRequests, Unauthorized
from tether.credentials.api_keys import api_key_principal, looks_like_api_key
from tether.credentials.models import ApiKeyRole
from tether.tenants.models import Principal
from tether.tenants.tokens import TokenRefused


def parse_basic(header: str, default_tenant: str) -> tuple[str, str, str] | None:
    """(tenant, user, password) from an Authorization header, or None if it is not valid Basic."""
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic" or not encoded:
        return None
    try:  # the header arrives latin-1 decoded: b64decode refuses non-ASCII text with a plain ValueError
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except ValueError:  # binascii.Error and UnicodeDecodeError included
        return None
    if "\x00" in decoded:  # no stored name or password holds NUL (PostgreSQL text cannot)
        return None
    login, sep, password = decoded.partition(":")
    if not sep or not login:
        return None
    tenant, slash, user = login.partition("/")
    if not slash:
        tenant, user = default_tenant, login
    if not tenant or not user:
        return None
    return tenant, user, password


#: What a viewer API key may do (EMQX: the viewer role may only GET).
_READS = frozenset({"GET", "HEAD"})


async def authenticate(request: Request) -> Principal:
    cached: Principal | None = request.scope.get("tether.principal")
    if cached is not None:
        return cached
    context = ctx(request)
    header = request.headers.get("authorization")
    if not header:
        raise Unauthorized("Full authentication is required to access this resource", resource="security")
    scheme, _, token = header.partition(" ")
    if scheme.lower() == "bearer":
        return await _bearer(request, token.strip())
    credentials = parse_basic(header, context.settings.tenant)
    if credentials is None:
        raise Unauthorized("Invalid credentials!", resource="security")
    tenant, user, password = credentials
    # Failed logins are throttled as on MQTT, per (address, user name) first (tenants/throttle.py).
    address = request.client.host if request.client is not None else None
    login = f"{tenant}/{user}"
    wait = context.throttle.retry_after(address, login)
    if wait is not None:
        raise TooManyRequests(
            f"Too many failed logins of {login}: retry in {wait} s", retry_after=wait, resource="security"
        )
    principal = None
    viewer = False
    if looks_like_api_key(user):
        key = await context.api_keys.authenticate(user, password)
        if key is not None:
            principal = api_key_principal(key)
            request.scope["tether.api_key"] = key.name
            viewer = key.role is ApiKeyRole.VIEWER
    if principal is None:
        principal = await context.tenants.authenticate(tenant, user, password)
    if principal is not None and not context.tenants.is_active(principal.tenant_id):
        principal = None  # a suspended (or deleted) tenant's credentials, API keys included
    if principal is None:
        context.throttle.failed(address, login)
        raise Unauthorized("Invalid credentials!", resource="security")
    context.throttle.succeeded(address, login)
    if viewer and request.method not in _READS:
        raise Forbidden("A viewer API key may only read (GET)", resource="security")
    if not principal.roles:  # a person: global roles by path (api/permissions.py); others pass as they are
        principal = admitted(principal, request.method, request.url.path)  # (request.url: ~4% of a POST)
    scoped = inventory_scope(principal, request.method)  # or inventory roles: what they reach
    if scoped is not None:
        principal = await context.inventory.scoped(principal, (scoped[0],), scoped[1])
    request.scope["tether.principal"] = principal
    return principal


async def _bearer(request: Request, token: str) -> Principal:
    """A token signed by this platform cannot be guessed, so a refused one is not throttled."""
    try:
        principal = await ctx(request).tokens.verify(token)
    except TokenRefused as refused:
        raise Unauthorized(refused.message, resource="security") from None
    principal = admitted(principal, request.method, request.url.path)
    request.scope["tether.principal"] = principal
    return principal
