"""/devicecontrol/bulkoperations: create (for a group, or again for a bulk operation's failed devices), list,
read, change and cancel (DELETE) bulk operations (the documents: c8y/bulk.py)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tether.api.auth import authenticate
from tether.api.context import ctx
from tether.api.http import base_url, collection, json_response, page_request, path_id, read_json_object
from tether.c8y import bulk
from tether.core.clock import now_ms

R = "devicecontrol"
_MEDIA = "bulkOperation"


def _id(request: Request) -> int:
    return path_id(request, "id", resource=R, what="bulk operation")


async def list_bulk(request: Request) -> Response:
    who = await authenticate(request)
    page = await ctx(request).bulk_operations.find(who, page_request(request, resource=R))
    items = [bulk.bulk_operation(base_url(request), v) for v in page.items]
    return json_response(
        request, collection(request, "bulkOperations", items, page), "bulkOperationCollection"
    )


async def create_bulk(request: Request) -> Response:
    who = await authenticate(request)
    draft = bulk.new_bulk_operation(await read_json_object(request, resource=R), now_ms())
    view = await ctx(request).bulk_operations.create(who, draft)
    body = bulk.bulk_operation(base_url(request), view)
    return json_response(request, body, _MEDIA, 201, {"Location": body["self"]})


async def get_bulk(request: Request) -> Response:
    who = await authenticate(request)
    view = await ctx(request).bulk_operations.get(who, _id(request))
    return json_response(request, bulk.bulk_operation(base_url(request), view), _MEDIA)


async def update_bulk(request: Request) -> Response:
    who = await authenticate(request)
    bulk_id = _id(request)
    change = bulk.bulk_change(await read_json_object(request, resource=R))
    view = await ctx(request).bulk_operations.update(who, bulk_id, change)
    return json_response(request, bulk.bulk_operation(base_url(request), view), _MEDIA)


async def delete_bulk(request: Request) -> Response:
    who = await authenticate(request)
    await ctx(request).bulk_operations.cancel(who, _id(request))
    return Response(status_code=204)


routes = [
    Route("/devicecontrol/bulkoperations", list_bulk, methods=["GET"]),
    Route("/devicecontrol/bulkoperations", create_bulk, methods=["POST"]),
    Route("/devicecontrol/bulkoperations/{id}", get_bulk, methods=["GET"]),
    Route("/devicecontrol/bulkoperations/{id}", update_bulk, methods=["PUT"]),
    Route("/devicecontrol/bulkoperations/{id}", delete_bulk, methods=["DELETE"]),
]
