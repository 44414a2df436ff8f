"""/devicecontrol/operations: create, read, update (status lifecycle) and bulk-delete operations (the
documents in and out: c8y/documents.py, c8y/render.py)."""

from __future__ import annotations

import re

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tether.api.auth import authenticate
from tether.api.context import ctx
from tether.api.http import (
    base_url,
    collection,
    json_response,
    page_request,
    path_id,
    query_flag,
    read_json_object,
)
from tether.c8y import documents, render
from tether.core.clock import parse_iso
from tether.core.errors import BadRequest
from tether.core.ids import parse_id
from tether.operations.models import OperationCriteria

R = "devicecontrol"

# `+01:00` sent unencoded in a query string arrives as ` 01:00`.
_ZONE_AS_SPACE = re.compile(r"(T[0-9:.]+) ([0-9]{2}(?::?[0-9]{2})?)$")


def _id_param(request: Request, name: str) -> int | None:
    """The numeric id in a query parameter; None when absent. An id that is not a number names no
    object: it becomes -1, which matches nothing (ids are positive)."""
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return None
    value = parse_id(raw)
    return -1 if value is None else value


def _date_param(request: Request, name: str) -> int | None:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return None
    try:
        return parse_iso(_ZONE_AS_SPACE.sub(r"\1+\2", raw.strip()), field=name, resource=R)
    except OverflowError:
        raise BadRequest(f"Invalid date for '{name}': {raw!r}; out of range", resource=R) from None


def _criteria(request: Request) -> OperationCriteria:
    params = request.query_params
    status = params.get("status")
    return OperationCriteria(
        agent_id=_id_param(request, "agentId"),
        device_id=_id_param(request, "deviceId"),
        bulk_operation_id=_id_param(request, "bulkOperationId"),
        status=documents.operation_status(status) if status else None,
        fragment_type=params.get("fragmentType") or None,
        date_from=_date_param(request, "dateFrom"),
        date_to=_date_param(request, "dateTo"),
        newest_first=query_flag(request, "revert"),
    )


async def list_operations(request: Request) -> Response:
    who = await authenticate(request)
    criteria = _criteria(request)
    page = await ctx(request).operations.find(who, criteria, page_request(request, resource=R))
    base = base_url(request)
    items = [render.operation(base, op) for op in page.items]
    return json_response(request, collection(request, "operations", items, page), "operationCollection")


async def create_operation(request: Request) -> Response:
    who = await authenticate(request)
    document = await read_json_object(request, resource=R)
    device_id = documents.operation_device_id(document)
    op = await ctx(request).operations.create(who, device_id, documents.operation_fragments(document))
    body = render.operation(base_url(request), op)
    return json_response(request, body, "operation", 201, {"Location": body["self"]})


async def get_operation(request: Request) -> Response:
    who = await authenticate(request)
    op_id = path_id(request, "id", resource=R, what="operation")
    op = await ctx(request).operations.get(who, op_id)
    return json_response(request, render.operation(base_url(request), op), "operation")


async def update_operation(request: Request) -> Response:
    who = await authenticate(request)
    op_id = path_id(request, "id", resource=R, what="operation")
    document = await read_json_object(request, resource=R)
    change = documents.operation_update(document)
    op = await ctx(request).operations.update(
        who, op_id, status=change.status, failure_reason=change.failure_reason, fragments=change.fragments
    )
    return json_response(request, render.operation(base_url(request), op), "operation")


async def delete_operations(request: Request) -> Response:
    who = await authenticate(request)
    await ctx(request).operations.delete(who, _criteria(request))
    return Response(status_code=204)


routes = [
    Route("/devicecontrol/operations", list_operations, methods=["GET"]),
    Route("/devicecontrol/operations", create_operation, methods=["POST"]),
    Route("/devicecontrol/operations", delete_operations, methods=["DELETE"]),
    Route("/devicecontrol/operations/{id}", get_operation, methods=["GET"]),
    Route("/devicecontrol/operations/{id}", update_operation, methods=["PUT"]),
]
