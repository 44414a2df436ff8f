"""/v1/devices: registration with a model's hardware key (no user credentials), and the calls of a
registered device, authenticated with its bare access key in `Authorization` and its id in the path
(dev.xyte.io "device-authentication"): Send Telemetry, Get Command, Update Command, and the list of its
commands. Telemetry is stored as measurements, commands are operations (adapters/xyte_format.py)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tether.adapters import xyte_format
from tether.api.context import ctx
from tether.api.http import read_json_object
from tether.api.xyte.common import authenticate_device, public_urls, respond
from tether.core.errors import NotFound
from tether.registration.xyte_models import parse_registration

R = "xyte"


async def register(request: Request) -> Response:
    """201 {id, access_key, hub_url, hub_url_static_cert, mqtt_hub_url} (docs/protocols.md section 9)."""
    document = await read_json_object(request, resource=R)
    registered = await ctx(request).xyte.register(parse_registration(document))
    body = {"id": registered.device.id, "access_key": registered.access_key, **public_urls(request)}
    response = respond(body, 201)
    response.headers["Cache-Control"] = "no-store"
    return response


async def telemetry(request: Request) -> Response:
    """Send Telemetry: stored (durably) as one measurement before the answer, which tells whether a
    command waits (`command`); configuration, licenses and firmware are not served here."""
    device = await authenticate_device(request)
    draft = xyte_format.measurement(device, await read_json_object(request, resource=R))
    context = ctx(request)
    await context.measurements.create(device.principal, [draft])
    waiting = await context.xyte.pending_commands(device, limit=1)
    return respond(
        {
            "config_version": 0,
            "command": bool(waiting),
            "info_version": 0,
            "new_licenses": False,
            "latest_fw_version": None,
            "latest_fw_file_id": None,
            "space_data_version": 0,
            "success": True,
        }
    )


async def next_command(request: Request) -> Response:
    """Get Command: the command to execute now (one in progress first, else the oldest pending); 404 when
    there is none."""
    device = await authenticate_device(request)
    waiting = await ctx(request).xyte.pending_commands(device, limit=1)
    if not waiting:
        raise NotFound("No pending command", resource=R)
    return respond(xyte_format.command(device, waiting[0]))


async def list_commands(request: Request) -> Response:
    """Every command the device has to execute (in progress, then pending; oldest first)."""
    device = await authenticate_device(request)
    waiting = await ctx(request).xyte.pending_commands(device)
    return respond([xyte_format.command(device, op) for op in waiting])


async def update_command(request: Request) -> Response:
    """Update Command: `{"id", "status": in_progress | done | failed | error, "message"}`; answers the
    command as it is now."""
    device = await authenticate_device(request)
    update = xyte_format.command_update(await read_json_object(request, resource=R))
    op = await ctx(request).xyte.update_command(device, update.op_id, update.status, update.message)
    return respond(xyte_format.command(device, op))


routes = [
    Route("/devices", register, methods=["POST"]),
    Route("/devices/{id}/telemetry", telemetry, methods=["POST"]),
    Route("/devices/{id}/command", next_command, methods=["GET"]),
    Route("/devices/{id}/command", update_command, methods=["POST"]),
    Route("/devices/{id}/commands", list_commands, methods=["GET"]),
]
