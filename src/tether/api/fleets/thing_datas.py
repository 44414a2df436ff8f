"""The ThingDatas HTTPS API of devices (docs/protocols.md section 10), HTTP Basic `apiKey:apiSecret` (an API
key of the tenant; an administrator's credentials work too): a thing's shadow read and its reported state
written by name. A device that cannot keep an MQTT connection polls its desired state here."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tether.api.context import ctx
from tether.api.emqx.common import caller, json, read_object
from tether.api.fleets.things import render_event
from tether.core.clock import now_ms
from tether.core.errors import InvalidInput, NotFound
from tether.fleets import events, shadow
from tether.fleets.models import R, Thing, thing_name


async def _thing(request: Request, name: object) -> Thing:
    who = await caller(request)
    checked = thing_name(name, "thingName")
    thing = await ctx(request).things.by_name(who.tenant_id, checked)
    if thing is None:
        raise NotFound(f"Thing '{checked}' not found", resource=R)
    return thing


async def get_shadow(request: Request) -> Response:
    thing = await _thing(request, request.path_params["name"])
    return json(await ctx(request).shadows.get(thing))


async def report(request: Request) -> Response:
    """`{thingName, state: {reported}, clientToken?, version?}` (version 0: no check) -> the accepted
    answer, as `.../update/accepted` would carry it."""
    document = await read_object(request)
    thing = await _thing(request, document.get("thingName"))
    update = shadow.parse_update(
        {key: value for key, value in document.items() if key != "thingName"}, zero_version_means_none=True
    )
    if set(update.state) != {"reported"}:
        raise InvalidInput("'state' must hold 'reported' only", resource=R)
    updated = await ctx(request).shadows.update(thing, update, "thing-datas")
    return json(updated.accepted)


async def post_event(request: Request) -> Response:
    """`{thingName, type, ...fields}` -> 201 with the event, as `$emqx/things/<name>/events/<type>` makes
    it."""
    who = await caller(request)
    document = await read_object(request)
    thing = await _thing(request, document.get("thingName"))
    kind = document.get("type")
    if not isinstance(kind, str):
        raise InvalidInput("'type' must be a string", resource=R)
    fields = {key: value for key, value in document.items() if key not in ("thingName", "type")}
    draft = events.draft(thing, kind, fields, now_ms())
    return json(render_event(await ctx(request).device_events.create(who, draft)), 201)


routes = [
    Route("/thing-datas/{name}/shadow", get_shadow, methods=["GET"]),
    Route("/thing-datas/shadow/reported", report, methods=["POST"]),
    Route("/thing-datas/events", post_event, methods=["POST"]),
]
