"""/v1/models: device models of the caller's tenant (tenant admins, HTTP Basic)."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tether.api.auth import authenticate
from tether.api.context import ctx
from tether.api.http import read_json_object
from tether.api.xyte.common import respond
from tether.core.clock import to_iso
from tether.core.errors import InvalidInput
from tether.registration.xyte_models import DeviceModel, parse_protocol

R = "xyte"


def render_model(model: DeviceModel) -> dict[str, Any]:
    return {
        "id": model.id,
        "name": model.name,
        "communication_protocol": model.communication_protocol.value,
        "hardware_key": model.hardware_key,
        "created_at": to_iso(model.creation_time),
        "updated_at": to_iso(model.last_updated),
    }


def _name(document: dict[str, Any], *, required: bool) -> str | None:
    name = document.get("name")
    if name is None and not required:
        return None
    if not isinstance(name, str) or not name.strip():
        raise InvalidInput("'name' is required: a non-empty string", resource=R)
    return name


async def create_model(request: Request) -> Response:
    who = await authenticate(request)
    document = await read_json_object(request, resource=R)
    if "communication_protocol" not in document:
        raise InvalidInput("'communication_protocol' is required: mqtt or https", resource=R)
    name = _name(document, required=True)
    assert name is not None
    model = await ctx(request).xyte.create_model(
        who, name, parse_protocol(document["communication_protocol"])
    )
    return respond(render_model(model), 201)


async def list_models(request: Request) -> Response:
    who = await authenticate(request)
    return respond([render_model(m) for m in await ctx(request).xyte.list_models(who)])


async def get_model(request: Request) -> Response:
    who = await authenticate(request)
    return respond(render_model(await ctx(request).xyte.get_model(who, request.path_params["id"])))


async def update_model(request: Request) -> Response:
    """PUT and PATCH: the name may change; the communication protocol only "to" the one it has."""
    who = await authenticate(request)
    document = await read_json_object(request, resource=R)
    raw = document.get("communication_protocol")
    protocol = None if raw is None else parse_protocol(raw)
    updated = await ctx(request).xyte.update_model(
        who, request.path_params["id"], name=_name(document, required=False), protocol=protocol
    )
    return respond(render_model(updated))


routes = [
    Route("/models", list_models, methods=["GET"]),
    Route("/models", create_model, methods=["POST"]),
    Route("/models/{id}", get_model, methods=["GET"]),
    Route("/models/{id}", update_model, methods=["PUT", "PATCH"]),
]
