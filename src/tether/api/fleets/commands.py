"""/api/v1/things/{id}/commands and /api/v1/commands/{executionId}: Fleets commands, which are operations."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tether.api.context import ctx
from tether.api.emqx.common import caller, json, page_request, paged, read_object
from tether.core.clock import to_iso
from tether.fleets.commands import Command, parse_command


def render(command: Command) -> dict[str, Any]:
    op = command.operation
    body: dict[str, Any] = {
        "executionId": command.execution_id,
        "thingName": command.thing_name,
        "deviceId": str(command.device_id),
        "action": command.action,
        "params": command.params,
        "ttl": command.ttl,
        "status": command.status.value,
        "operationStatus": op.status.value,
        "createdAt": to_iso(op.creation_time),
        "updatedAt": to_iso(op.last_updated),
        "expiresAt": to_iso(command.expires_at),
    }
    if command.result is not None:
        body["result"] = command.result
    return body


async def send(request: Request) -> Response:
    who = await caller(request)
    action, params, ttl = parse_command(await read_object(request))
    commands = ctx(request).commands
    return json(render(await commands.send(who, request.path_params["id"], action, params, ttl)), 201)


async def of_thing(request: Request) -> Response:
    who = await caller(request)
    page = await ctx(request).commands.of_thing(who, request.path_params["id"], page_request(request))
    return json(paged([render(c) for c in page.items], page))


async def get_command(request: Request) -> Response:
    who = await caller(request)
    return json(render(await ctx(request).commands.get(who, request.path_params["execution_id"])))


async def cancel(request: Request) -> Response:
    who = await caller(request)
    return json(render(await ctx(request).commands.cancel(who, request.path_params["execution_id"])))


routes = [
    Route("/things/{id}/commands", send, methods=["POST"]),
    Route("/things/{id}/commands", of_thing, methods=["GET"]),
    Route("/commands/{execution_id}", get_command, methods=["GET"]),
    Route("/commands/{execution_id}/cancel", cancel, methods=["POST"]),
]
