"""/api/v5/login, /api/v5/logout and /api/v5/status (EMQX 5 emqx_dashboard_api, emqx_mgmt_api_status;
docs/protocols.md section 8).

A person of a tenant (`tenant/user` or plain `user` for the default tenant, as with HTTP Basic) logs in with
its password and gets a bearer token (tenants/tokens.py) that acts as it, with its roles of the moment: an
administrator on every /api/v5 endpoint (`role` administrator), anyone else only where its global roles
admit it on the REST APIs (`role` viewer: the web console shows such a user what it may read; /api/v5 itself
answers it 403 UNAUTHORIZED_ROLE, as with Basic). Devices and the bootstrap user get no token. Failed logins
are throttled like every other login (tenants/throttle.py).
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from tether import __version__
from tether.api.context import ctx
from tether.api.emqx.common import caller, json, no_content, read_object
from tether.api.emqx.errors import EmqxError
from tether.core.errors import TooManyRequests
from tether.tenants.tokens import TokenRefused

BEARER = "bearer"


async def login(request: Request) -> Response:
    context = ctx(request)
    document = await read_object(request)
    username, password = document.get("username"), document.get("password")
    if not isinstance(username, str) or not isinstance(password, str) or not username:
        raise EmqxError(400, "BAD_REQUEST", "username and password are required strings")
    tenant_id, slash, name = username.partition("/")
    if not slash:
        tenant_id, name = context.settings.tenant, username
    address = request.client.host if request.client is not None else None
    key = f"{tenant_id}/{name}"
    wait = context.throttle.retry_after(address, key)
    if wait is not None:
        raise TooManyRequests(
            f"Too many failed logins of {key}: retry in {wait} s", retry_after=wait, resource="emqx"
        )
    principal = await context.tenants.authenticate(tenant_id, name, password) if tenant_id and name else None
    user = await context.tenants.get_user(tenant_id, name) if principal is not None else None
    if principal is None or user is None:
        context.throttle.failed(address, key)
        raise EmqxError(401, "BAD_USERNAME_OR_PWD", "Auth failed")
    context.throttle.succeeded(address, key)
    if not context.tokens.may_log_in(principal):
        raise EmqxError(403, "UNAUTHORIZED_ROLE", "Devices do not log in to the management API")
    issued = context.tokens.issue(user)
    return json(
        {
            "token": issued.token,
            "version": __version__,
            "license": {"edition": "opensource"},
            "role": "administrator" if principal.is_admin else "viewer",
        }
    )


async def logout(request: Request) -> Response:
    """Ends the bearer token of the request (EMQX: a token, not an API key or Basic credentials); any
    token's holder may end it, administrator or not."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != BEARER:
        await caller(request, allow_api_key=False)  # 401 without valid credentials
        raise EmqxError(400, "BAD_REQUEST", "Log out with the bearer token of POST /login")
    tokens = ctx(request).tokens
    try:
        await tokens.verify(token.strip())
    except TokenRefused as refused:
        raise EmqxError(401, refused.code, refused.message) from None
    await tokens.revoke(token.strip())
    return no_content()


async def status(request: Request) -> Response:
    """Whether the node runs (no credentials, as EMQX): text, or JSON with `format=json`."""
    context = ctx(request)
    node = context.monitoring.node
    running = context.readiness.ready and context.broker.running
    code = 200 if running else 503
    if request.query_params.get("format") == "json":
        body = {
            "node_name": node,
            "rel_vsn": __version__,
            "broker_status": "started" if running else "stopped",
            "app_status": "running" if running else "not_running",
        }
        return json(body, code)
    state = ("started", "running") if running else ("stopped", "not running")
    text = f"Node {node} is {state[0]}\ntether is {state[1]}"
    return PlainTextResponse(text, status_code=code)


routes = [
    Route("/login", login, methods=["POST"]),
    Route("/logout", logout, methods=["POST"]),
    Route("/status", status, methods=["GET"]),
]
