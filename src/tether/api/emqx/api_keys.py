"""/api/v5/api_key and /api/v5/api_key/{name}: API keys of the caller's tenant (EMQX 5
emqx_mgmt_api_api_keys). The secret is in the POST answer only. Managing keys needs a user's Basic
credentials: a key is refused here (401 API_KEY_NOT_ALLOW, as EMQX does)."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tether.api.context import ctx
from tether.api.emqx.common import caller, json, no_content, read_object
from tether.api.emqx.errors import EmqxError, R
from tether.core.clock import now_ms, parse_iso, to_iso
from tether.core.errors import BadRequest, Conflict
from tether.credentials.models import ApiKey, ApiKeyRole

BASE = "/api_key"  # under the app's mount, /api/v5


def render(key: ApiKey, secret: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": key.name,
        "api_key": key.api_key,
        "expired_at": "infinity" if key.expired_at is None else to_iso(key.expired_at),
        "created_at": to_iso(key.created_at),
        "desc": key.desc,
        "enable": key.enable,
        "expired": key.expired(now_ms()),
        "role": key.role.value,
    }
    if secret is not None:
        body["api_secret"] = secret
    return body


def _expired_at(document: dict[str, Any]) -> int | None:
    """`infinity`/absent: never; an RFC 3339 date-time or epoch seconds (EMQX accepts both)."""
    raw = document.get("expired_at", "infinity")
    if raw in (None, "infinity"):
        return None
    if isinstance(raw, int) and not isinstance(raw, bool):
        return raw * 1000
    if isinstance(raw, str):
        return parse_iso(raw, field="expired_at", resource=R)
    raise BadRequest("'expired_at' must be \"infinity\", an RFC 3339 date-time or epoch seconds", resource=R)


def _desc(document: dict[str, Any]) -> str | None:
    desc = document.get("desc")
    if desc is not None and not isinstance(desc, str):
        raise BadRequest("'desc' must be a string", resource=R)
    return desc


def _enable(document: dict[str, Any]) -> bool | None:
    enable = document.get("enable")
    if enable is not None and not isinstance(enable, bool):
        raise BadRequest("'enable' must be true or false", resource=R)
    return enable


def _role(document: dict[str, Any]) -> ApiKeyRole:
    raw = document.get("role", ApiKeyRole.ADMINISTRATOR.value)
    try:
        return ApiKeyRole(raw)
    except ValueError:
        raise BadRequest(f"Unsupported role {raw!r}: 'administrator' or 'viewer'", resource=R) from None


async def list_keys(request: Request) -> Response:
    who = await caller(request, allow_api_key=False)
    return json([render(k) for k in await ctx(request).api_keys.list_keys(who)])


async def create_key(request: Request) -> Response:
    who = await caller(request, allow_api_key=False)
    document = await read_object(request)
    name = document.get("name")
    if not isinstance(name, str):
        raise BadRequest("Missing required parameter: name", resource=R)
    enable = _enable(document)
    try:
        created = await ctx(request).api_keys.create(
            who,
            name,
            desc=_desc(document) or "",
            enable=True if enable is None else enable,
            expired_at=_expired_at(document),
            role=_role(document),
        )
    except Conflict:  # EMQX answers a taken name with 400
        raise EmqxError(400, "BAD_REQUEST", "name_already_existed") from None
    return json(render(created.key, created.api_secret))


async def get_key(request: Request) -> Response:
    who = await caller(request, allow_api_key=False)
    return json(render(await ctx(request).api_keys.get(who, request.path_params["name"])))


async def update_key(request: Request) -> Response:
    who = await caller(request, allow_api_key=False)
    document = await read_object(request)
    key = await ctx(request).api_keys.update(
        who,
        request.path_params["name"],
        enable=_enable(document),
        desc=_desc(document),
        set_expiry="expired_at" in document,
        expired_at=_expired_at(document),
        role=_role(document) if "role" in document else None,
    )
    return json(render(key))


async def delete_key(request: Request) -> Response:
    who = await caller(request, allow_api_key=False)
    await ctx(request).api_keys.delete(who, request.path_params["name"])
    return no_content()


routes = [
    Route(BASE, list_keys, methods=["GET"]),
    Route(BASE, create_key, methods=["POST"]),
    Route(BASE + "/{name}", get_key, methods=["GET"]),
    Route(BASE + "/{name}", update_key, methods=["PUT"]),
    Route(BASE + "/{name}", delete_key, methods=["DELETE"]),
]
