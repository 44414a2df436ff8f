"""/devicecontrol/newDeviceRequests (the operator's side of device bootstrap) and
/devicecontrol/deviceCredentials (the device's side, as the bootstrap user).

deviceCredentials answers 201 Created when it hands out credentials. Cumulocity's documentation
shows 200, but the official `c8y-api` client (CumulocityDeviceRegistry.await_credentials) accepts
only 201 and a device user is indeed created; 201 keeps that client working.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tether.api.auth import authenticate
from tether.api.context import ctx
from tether.api.http import base_url, collection, json_response, page_request, read_json_object
from tether.core.clock import to_iso
from tether.core.errors import InvalidInput
from tether.registration.models import DeviceCredentials, DeviceRequest, RequestStatus

R = "devicecontrol"
_STATUSES = ", ".join(s.value for s in RequestStatus)


def request_url(base: str, request_id: str) -> str:
    return f"{base}/devicecontrol/newDeviceRequests/{quote(request_id, safe='')}"


def render_request(base: str, request: DeviceRequest) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": request.id,
        "self": request_url(base, request.id),
        "status": request.status.value,
        "creationTime": to_iso(request.creation_time),
    }
    if request.owner is not None:
        body["owner"] = request.owner
    return body


def render_credentials(base: str, credentials: DeviceCredentials) -> dict[str, Any]:
    return {
        "id": credentials.id,
        "self": f"{base}/devicecontrol/deviceCredentials/{quote(credentials.id, safe='')}",
        "tenantId": credentials.tenant_id,
        "username": credentials.username,
        "password": credentials.password,
    }


def _id(document: dict[str, Any]) -> str:
    raw = document.get("id")
    if isinstance(raw, int) and not isinstance(raw, bool):
        raw = str(raw)
    if not isinstance(raw, str) or not raw:
        raise InvalidInput("'id' is required: the device's unique identifier, as a string", resource=R)
    return raw


async def list_requests(request: Request) -> Response:
    who = await authenticate(request)
    page = await ctx(request).registration.list_requests(who, page_request(request, resource=R))
    base = base_url(request)
    items = [render_request(base, r) for r in page.items]
    return json_response(
        request, collection(request, "newDeviceRequests", items, page), "newDeviceRequestCollection"
    )


async def create_request(request: Request) -> Response:
    who = await authenticate(request)
    document = await read_json_object(request, resource=R)
    created = await ctx(request).registration.create_request(who, _id(document))
    body = render_request(base_url(request), created)
    return json_response(request, body, "newDeviceRequest", 201, {"Location": body["self"]})


async def get_request(request: Request) -> Response:
    who = await authenticate(request)
    found = await ctx(request).registration.get_request(who, request.path_params["id"])
    return json_response(request, render_request(base_url(request), found), "newDeviceRequest")


async def update_request(request: Request) -> Response:
    who = await authenticate(request)
    document = await read_json_object(request, resource=R)
    raw = document.get("status")
    try:
        status = RequestStatus(raw) if isinstance(raw, str) else None
    except ValueError:
        status = None
    if status is None:
        raise InvalidInput(f"Invalid status {raw!r}; expected one of {_STATUSES}", resource=R)
    updated = await ctx(request).registration.update_request(who, request.path_params["id"], status)
    return json_response(request, render_request(base_url(request), updated), "newDeviceRequest")


async def delete_request(request: Request) -> Response:
    who = await authenticate(request)
    await ctx(request).registration.delete_request(who, request.path_params["id"])
    return Response(status_code=204)


async def device_credentials(request: Request) -> Response:
    who = await authenticate(request)
    document = await read_json_object(request, resource=R)
    credentials = await ctx(request).registration.device_credentials(who, _id(document))
    body = render_credentials(base_url(request), credentials)
    return json_response(request, body, "deviceCredentials", 201, {"Cache-Control": "no-store"})


routes = [
    Route("/devicecontrol/newDeviceRequests", list_requests, methods=["GET"]),
    Route("/devicecontrol/newDeviceRequests", create_request, methods=["POST"]),
    Route("/devicecontrol/newDeviceRequests/{id}", get_request, methods=["GET"]),
    Route("/devicecontrol/newDeviceRequests/{id}", update_request, methods=["PUT"]),
    Route("/devicecontrol/newDeviceRequests/{id}", delete_request, methods=["DELETE"]),
    Route("/devicecontrol/deviceCredentials", device_credentials, methods=["POST"]),
]
