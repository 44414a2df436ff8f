"""/api/v5/authentication/password_based:built_in_database/users: MQTT users of the caller's tenant
(EMQX 5 emqx_authn_api; docs/protocols.md section 8)."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tether.api.context import ctx
from tether.api.emqx.common import (
    caller,
    json,
    no_content,
    page_request,
    paged,
    query_bool,
    read_object,
)
from tether.api.emqx.errors import R
from tether.core.errors import BadRequest
from tether.credentials.models import MqttUser

BASE = "/authentication/password_based:built_in_database/users"  # under the app's mount, /api/v5


def render(user: MqttUser) -> dict[str, Any]:
    return {"user_id": user.user_id, "is_superuser": user.is_superuser}


def _text(document: dict[str, Any], key: str) -> str | None:
    value = document.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise BadRequest(f"'{key}' must be a string", resource=R)
    return value


def _flag(document: dict[str, Any], key: str) -> bool | None:
    value = document.get(key)
    if value is None:
        return None
    if not isinstance(value, bool):
        raise BadRequest(f"'{key}' must be true or false", resource=R)
    return value


async def list_users(request: Request) -> Response:
    who = await caller(request)
    page = await ctx(request).mqtt_users.list_users(
        who,
        page_request(request),
        like=request.query_params.get("like_user_id") or None,
        is_superuser=query_bool(request, "is_superuser"),
    )
    return json(paged([render(u) for u in page.items], page))


async def create_user(request: Request) -> Response:
    who = await caller(request)
    document = await read_object(request)
    user_id, password = _text(document, "user_id"), _text(document, "password")
    if user_id is None:
        raise BadRequest("Missing required parameter: user_id", resource=R)
    if password is None:
        raise BadRequest("Missing required parameter: password", resource=R)
    user = await ctx(request).mqtt_users.create(
        who, user_id, password, _flag(document, "is_superuser") or False
    )
    return json(render(user), 201)


async def get_user(request: Request) -> Response:
    who = await caller(request)
    return json(render(await ctx(request).mqtt_users.get(who, request.path_params["user_id"])))


async def update_user(request: Request) -> Response:
    who = await caller(request)
    document = await read_object(request)
    user = await ctx(request).mqtt_users.update(
        who,
        request.path_params["user_id"],
        password=_text(document, "password"),
        is_superuser=_flag(document, "is_superuser"),
    )
    return json(render(user))


async def delete_user(request: Request) -> Response:
    who = await caller(request)
    await ctx(request).mqtt_users.delete(who, request.path_params["user_id"])
    return no_content()


routes = [
    Route(BASE, list_users, methods=["GET"]),
    Route(BASE, create_user, methods=["POST"]),
    Route(BASE + "/{user_id}", get_user, methods=["GET"]),
    Route(BASE + "/{user_id}", update_user, methods=["PUT"]),
    Route(BASE + "/{user_id}", delete_user, methods=["DELETE"]),
]
