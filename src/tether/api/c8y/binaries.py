"""/inventory/binaries (files described by managed objects) and /event/events/{id}/binaries (attachments):
uploads streamed into the BinaryStore, downloads streamed out of it (StreamingResponse)."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from tether.api.auth import authenticate
from tether.api.c8y.inventory import criteria
from tether.api.context import ctx
from tether.api.http import base_url, collection, json_response, page_request, path_id
from tether.api.uploads import receive_upload
from tether.binaries.service import DEFAULT_TYPE, IS_BINARY, Attachment
from tether.c8y import render

R = "inventory"


def _file(body: AsyncIterator[bytes], size: int, content_type: str, name: str | None) -> Response:
    headers = {"Content-Length": str(size)}
    if name:
        headers["Content-Disposition"] = f"attachment; filename*=UTF-8''{quote(name)}"
    return StreamingResponse(body, media_type=content_type, headers=headers)


async def upload(request: Request) -> Response:
    who = await authenticate(request)
    binaries = ctx(request).binaries
    received = await receive_upload(request, binaries, who, resource=R)
    mo = await binaries.create(
        who, received.staged, received.name or "file", received.content_type, received.type
    )
    body = render.managed_object(base_url(request), mo)
    return json_response(request, body, "managedobject", 201, {"Location": body["self"]})


async def list_binaries(request: Request) -> Response:
    who = await authenticate(request)
    wanted = dataclasses.replace(criteria(request), fragment_type=IS_BINARY)
    page = await ctx(request).binaries.find(who, wanted, page_request(request, resource=R))
    base = base_url(request)
    items = [render.managed_object(base, mo) for mo in page.items]
    return json_response(
        request, collection(request, "managedObjects", items, page), "managedObjectCollection"
    )


async def download(request: Request) -> Response:
    who = await authenticate(request)
    mo_id = path_id(request, "id", resource=R, what="binary")
    mo, size, body = await ctx(request).binaries.download(who, mo_id)
    content_type = mo.fragments.get("contentType")
    return _file(body, size, content_type if isinstance(content_type, str) else DEFAULT_TYPE, mo.name)


async def replace(request: Request) -> Response:
    who = await authenticate(request)
    mo_id = path_id(request, "id", resource=R, what="binary")
    binaries = ctx(request).binaries
    received = await receive_upload(request, binaries, who, resource=R)
    mo = await binaries.replace(who, mo_id, received.staged, received.content_type)
    return json_response(request, render.managed_object(base_url(request), mo), "managedobject", 201)


async def delete(request: Request) -> Response:
    who = await authenticate(request)
    await ctx(request).binaries.delete(who, path_id(request, "id", resource=R, what="binary"))
    return Response(status_code=204)


def _attachment(request: Request, attachment: Attachment) -> Response:
    url = f"{base_url(request)}/event/events/{attachment.event_id}/binaries"
    body = {"self": url, "source": str(attachment.event_id), "name": attachment.name, "type": attachment.type}
    return json_response(request, body, "event", 201)


async def attach(request: Request) -> Response:
    """POST adds the attachment (409 when there is one), PUT replaces it (404 when there is none)."""
    who = await authenticate(request)
    event_id = path_id(request, "id", resource="event", what="event")
    binaries = ctx(request).binaries
    received = await receive_upload(request, binaries, who, resource="event")
    attachment = await binaries.attach(
        who, event_id, received.staged, received.name, received.content_type, replace=request.method == "PUT"
    )
    return _attachment(request, attachment)


async def read_attachment(request: Request) -> Response:
    who = await authenticate(request)
    event_id = path_id(request, "id", resource="event", what="event")
    event, size, body = await ctx(request).binaries.read_attachment(who, event_id)
    info = event.fragments.get(IS_BINARY)
    info = info if isinstance(info, dict) else {}
    kind, name = info.get("type"), info.get("name")
    return _file(
        body, size, kind if isinstance(kind, str) else DEFAULT_TYPE, name if isinstance(name, str) else None
    )


async def detach(request: Request) -> Response:
    who = await authenticate(request)
    await ctx(request).binaries.detach(who, path_id(request, "id", resource="event", what="event"))
    return Response(status_code=204)


_ALL = "/inventory/binaries"
_EVENT = "/event/events/{id}/binaries"
routes = [
    Route(_ALL, list_binaries, methods=["GET"]),
    Route(_ALL, upload, methods=["POST"]),
    Route(_ALL + "/{id}", download, methods=["GET"]),
    Route(_ALL + "/{id}", replace, methods=["PUT"]),
    Route(_ALL + "/{id}", delete, methods=["DELETE"]),
    Route(_EVENT, read_attachment, methods=["GET"]),
    Route(_EVENT, attach, methods=["POST", "PUT"]),
    Route(_EVENT, detach, methods=["DELETE"]),
]
