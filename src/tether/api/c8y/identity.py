"""/identity: external ids of managed objects."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tether.api.auth import authenticate
from tether.api.context import ctx
from tether.api.http import base_url, collection, json_response, page_request, path_id, read_json_object
from tether.c8y import render
from tether.core.errors import InvalidInput

R = "identity"


async def resolve(request: Request) -> Response:
    who = await authenticate(request)
    xid = await ctx(request).identity.resolve(who, request.path_params["type"], request.path_params["value"])
    return json_response(request, render.external_id(base_url(request), xid), "externalId")


async def delete(request: Request) -> Response:
    who = await authenticate(request)
    await ctx(request).identity.delete(who, request.path_params["type"], request.path_params["value"])
    return Response(status_code=204)


async def list_for_object(request: Request) -> Response:
    who = await authenticate(request)
    mo_id = path_id(request, "id", resource="inventory", what="managedObject")
    page = await ctx(request).identity.list_for(who, mo_id, page_request(request, resource=R))
    base = base_url(request)
    items = [render.external_id(base, xid) for xid in page.items]
    return json_response(request, collection(request, "externalIds", items, page), "externalIdCollection")


async def register(request: Request) -> Response:
    who = await authenticate(request)
    mo_id = path_id(request, "id", resource="inventory", what="managedObject")
    document = await read_json_object(request, resource=R)
    type_, value = document.get("type"), document.get("externalId")
    if not isinstance(type_, str) or not isinstance(value, str) or not type_ or not value:
        raise InvalidInput("'type' and 'externalId' must be non-empty strings", resource=R)
    xid = await ctx(request).identity.register(who, mo_id, type_, value)
    body = render.external_id(base_url(request), xid)
    return json_response(request, body, "externalId", 201, {"Location": body["self"]})


routes = [
    Route("/identity/externalIds/{type}/{value:path}", resolve, methods=["GET"]),
    Route("/identity/externalIds/{type}/{value:path}", delete, methods=["DELETE"]),
    Route("/identity/globalIds/{id}/externalIds", list_for_object, methods=["GET"]),
    Route("/identity/globalIds/{id}/externalIds", register, methods=["POST"]),
]
