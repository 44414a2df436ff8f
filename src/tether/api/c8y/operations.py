"""/devicecontrol/operations: create, read, update (status lifecycle) and bulk-delete operations.

`render_operation(base, op)` is the Cumulocity JSON of an operation, also used by the real-time
notifications (resource "operations").
"""

from __future__ import annotations

import re
from typing import Any

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
from tether.core.clock import parse_iso, to_iso
from tether.core.errors import BadRequest, InvalidInput
from tether.core.ids import parse_id
from tether.operations.models import Json, Operation, OperationCriteria, OperationStatus

R = "devicecontrol"

# Fields the server owns: a client may send them (documents are echoed back) but they are not fragments.
READ_ONLY = frozenset(
    {
        "id",
        "self",
        "deviceId",
        "deviceName",
        "deviceExternalIDs",
        "agentId",
        "creationTime",
        "lastUpdated",
        "bulkOperationId",
        "status",
        "failureReason",
    }
)
_STATUSES = ", ".join(s.value for s in OperationStatus)
# `+01:00` sent unencoded in a query string arrives as ` 01:00`.
_ZONE_AS_SPACE = re.compile(r"(T[0-9:.]+) ([0-9]{2}(?::?[0-9]{2})?)$")


def operation_url(base: str, op_id: int) -> str:
    return f"{base}/devicecontrol/operations/{op_id}"


def render_operation(base: str, op: Operation) -> dict[str, Any]:
    """An operation as Cumulocity JSON: ids as strings, its fragments (description included) inline."""
    body: dict[str, Any] = {
        "id": str(op.id),
        "self": operation_url(base, op.id),
        "deviceId": str(op.device_id),
        "status": op.status.value,
        "creationTime": to_iso(op.creation_time),
    }
    if op.failure_reason is not None:
        body["failureReason"] = op.failure_reason
    if op.bulk_operation_id is not None:
        body["bulkOperationId"] = str(op.bulk_operation_id)
    for key, value in op.fragments.items():
        if key not in body:
            body[key] = value
    return body


def _fragments(document: dict[str, Any]) -> Json:
    fragments = {k: v for k, v in document.items() if k not in READ_ONLY}
    description = fragments.get("description")
    if description is not None and not isinstance(description, str):
        raise InvalidInput("'description' must be a string", resource=R)
    return fragments


def _device_id(document: dict[str, Any]) -> int:
    raw = document.get("deviceId")
    if raw is None or raw == "":
        raise InvalidInput("'deviceId' is required: the id of the device to run the operation", resource=R)
    device_id = parse_id(raw)
    if device_id is None:
        raise InvalidInput(f"Cannot create operation: no managed object for id '{raw}'!", resource=R)
    return device_id


def _status(raw: object, *, where: str) -> OperationStatus:
    if isinstance(raw, str):
        try:
            return OperationStatus(raw)
        except ValueError:
            pass
    raise InvalidInput(f"Invalid {where} {raw!r}; expected one of {_STATUSES}", resource=R)


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
        status=_status(status, where="status") if status else None,
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
    items = [render_operation(base, op) for op in page.items]
    return json_response(request, collection(request, "operations", items, page), "operationCollection")


async def create_operation(request: Request) -> Response:
    who = await authenticate(request)
    document = await read_json_object(request, resource=R)
    device_id = _device_id(document)
    op = await ctx(request).operations.create(who, device_id, _fragments(document))
    body = render_operation(base_url(request), op)
    return json_response(request, body, "operation", 201, {"Location": body["self"]})


async def get_operation(request: Request) -> Response:
    who = await authenticate(request)
    op_id = path_id(request, "id", resource=R, what="operation")
    op = await ctx(request).operations.get(who, op_id)
    return json_response(request, render_operation(base_url(request), op), "operation")


async def update_operation(request: Request) -> Response:
    who = await authenticate(request)
    op_id = path_id(request, "id", resource=R, what="operation")
    document = await read_json_object(request, resource=R)
    raw_status = document.get("status")
    status = None if raw_status is None else _status(raw_status, where="status")
    reason = document.get("failureReason")
    if reason is not None and not isinstance(reason, str):
        raise InvalidInput("'failureReason' must be a string", resource=R)
    op = await ctx(request).operations.update(
        who, op_id, status=status, failure_reason=reason, fragments=_fragments(document)
    )
    return json_response(request, render_operation(base_url(request), op), "operation")


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
