"""What the /api/v5 routers share: authentication, paging, JSON bodies (errors: `errors.py`)."""

from __future__ import annotations

from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from tether.api import http
from tether.api.auth import authenticate
from tether.api.context import ctx
from tether.api.emqx.errors import EmqxError, R
from tether.core import errors
from tether.core.ids import parse_int
from tether.core.paging import Page, PageRequest
from tether.tenants.models import Principal
from tether.tenants.tokens import TokenRefused


async def caller(request: Request, *, allow_api_key: bool = True) -> Principal:
    """Basic admin user or API key, or a bearer token of POST /login, of the caller's tenant. EMQX refuses
    API keys on /api_key (401 API_KEY_NOT_ALLOW): a key cannot mint or revoke keys."""
    header = request.headers.get("authorization")
    if not header:
        raise EmqxError(401, "AUTHORIZATION_HEADER_ERROR", "Support authorization: basic or bearer")
    scheme, _, token = header.partition(" ")
    if scheme.lower() == "bearer":
        return await _bearer(request, token.strip())
    who = await authenticate(request)
    if not allow_api_key and request.scope.get("tether.api_key") is not None:
        raise EmqxError(401, "API_KEY_NOT_ALLOW", "API key is not allowed to manage API keys")
    if not who.is_admin:  # devices and persons without every role (api/permissions.py) manage nothing here
        raise EmqxError(403, "UNAUTHORIZED_ROLE", "Access is denied")
    return who


async def _bearer(request: Request, token: str) -> Principal:
    """The administrator of a token from POST /login (tenants/tokens.py); a person with fewer rights is
    refused as with Basic."""
    cached: Principal | None = request.scope.get("tether.principal")
    if cached is None:
        try:
            cached = await ctx(request).tokens.verify(token)
        except TokenRefused as refused:
            raise EmqxError(401, refused.code, refused.message) from None
        request.scope["tether.principal"] = cached
    if not cached.is_admin:
        raise EmqxError(403, "UNAUTHORIZED_ROLE", "Access is denied")
    return cached


def page_request(request: Request) -> PageRequest:
    """EMQX paging: `page` from 1, `limit` 1..10000 (default 100); else 400 INVALID_PARAMETER."""
    page = parse_int(request.query_params.get("page", "1"))
    limit = parse_int(request.query_params.get("limit", "100"))
    if page is None or limit is None or page < 1 or not 1 <= limit <= 10_000:
        raise EmqxError(400, "INVALID_PARAMETER", "page_limit_invalid")
    return PageRequest(current_page=page, page_size=limit, with_total=True)


def paged(items: list[Any], page: Page[Any]) -> dict[str, Any]:
    total = page.total_elements or 0
    request = page.request
    return {
        "data": items,
        "meta": {
            "page": request.current_page,
            "limit": request.page_size,
            "count": total,
            "hasnext": request.offset + len(items) < total,
        },
    }


def query_bool(request: Request, name: str) -> bool | None:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return None
    if raw.lower() in ("true", "false"):
        return raw.lower() == "true"
    raise EmqxError(400, "INVALID_PARAMETER", f"'{name}' must be true or false")


async def read_json(request: Request) -> Any:
    """The JSON body (object or array): api/http.py reads every body, with its limits."""
    return await http.read_json(request, resource=R)


async def read_object(request: Request) -> dict[str, Any]:
    document = await read_json(request)
    if not isinstance(document, dict):
        raise errors.BadRequest("The body must be a JSON object", resource=R)
    return document


def json(body: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(body), status_code=status, media_type="application/json")


def no_content() -> Response:
    return Response(status_code=204)
