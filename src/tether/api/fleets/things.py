"""/api/v1/things: things (devices of the one inventory), their shadows and their device credentials."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tether.api.context import ctx
from tether.api.emqx.common import caller, json, no_content, page_request, paged, read_object
from tether.core.clock import to_iso
from tether.core.errors import BadRequest
from tether.fleets import shadow
from tether.fleets.models import R, Thing, ThingFilter, parse_thing, parse_thing_change
from tether.fleets.things import status_of, thing_of
from tether.inventory.models import ManagedObject
from tether.telemetry.models import Event, EventCriteria


def render(thing: Thing, mo: ManagedObject, groups: list[str]) -> dict[str, Any]:
    return {
        "id": thing.id,
        "name": thing.name,
        "clientId": thing.client_id,
        "thingType": thing.thing_type,
        "groups": groups,
        "attributes": thing.attributes,
        "status": status_of(mo),
        "deviceId": str(mo.id),
        "createdAt": to_iso(mo.creation_time),
        "updatedAt": to_iso(mo.last_updated),
    }


async def _one(request: Request, thing: Thing, mo: ManagedObject, status: int = 200) -> Response:
    who = await caller(request)
    groups = await ctx(request).things.groups_of(who, [mo.id])
    return json(render(thing, mo, groups.get(mo.id, [])), status)


async def create_thing(request: Request) -> Response:
    who = await caller(request)
    draft = parse_thing(await read_object(request))
    thing = await ctx(request).things.create(who, draft)
    _, mo = await ctx(request).things.get(who, thing.id)
    return await _one(request, thing, mo, 201)


def _filter(request: Request) -> ThingFilter:
    query = request.query_params
    status = query.get("status")
    if status not in (None, "online", "offline"):
        raise BadRequest("'status' must be online or offline", resource=R)
    return ThingFilter(
        name=query.get("name") or None,
        thing_type=query.get("thingType") or None,
        group=query.get("group") or None,
        status=status,
    )


async def list_things(request: Request) -> Response:
    who = await caller(request)
    where, page_req = _filter(request), page_request(request)
    things = ctx(request).things
    page = await things.find(who, where, page_req)
    groups = await things.groups_of(who, [mo.id for mo in page.items])
    items = []
    for mo in page.items:
        thing = thing_of(mo)
        if thing is not None:
            items.append(render(thing, mo, groups.get(mo.id, [])))
    return json(paged(items, page))


async def get_thing(request: Request) -> Response:
    who = await caller(request)
    thing, mo = await ctx(request).things.get(who, request.path_params["id"])
    return await _one(request, thing, mo)


async def update_thing(request: Request) -> Response:
    who = await caller(request)
    change = parse_thing_change(await read_object(request))
    things = ctx(request).things
    thing = await things.update(who, request.path_params["id"], change)
    _, mo = await things.get(who, thing.id)
    return await _one(request, thing, mo)


async def delete_thing(request: Request) -> Response:
    who = await caller(request)
    await ctx(request).things.delete(who, request.path_params["id"])
    return no_content()


# -- shadow ------------------------------------------------------------------------------------------


async def get_shadow(request: Request) -> Response:
    who = await caller(request)
    thing, _ = await ctx(request).things.get(who, request.path_params["id"])
    return json(await ctx(request).shadows.get(thing))


async def patch_shadow(request: Request) -> Response:
    """An AWS update request (`{"state": {"desired": {...}}, "version"?, "clientToken"?}`); 200 with the
    whole new document."""
    who = await caller(request)
    thing, _ = await ctx(request).things.get(who, request.path_params["id"])
    update = shadow.parse_update(await read_object(request))
    shadows = ctx(request).shadows
    await shadows.update(thing, update, "http")
    return json(await shadows.get(thing, update.client_token))


async def delete_shadow(request: Request) -> Response:
    who = await caller(request)
    thing, _ = await ctx(request).things.get(who, request.path_params["id"])
    return json(await ctx(request).shadows.delete(thing, None, None, "http"))


# -- events ------------------------------------------------------------------------------------------


def render_event(event: Event) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": None if event.id is None else str(event.id),
        "type": event.type,
        "text": event.text,
        "time": to_iso(event.time),
        "createdAt": to_iso(event.creation_time),
    }
    body["data"] = event.fragments
    return body


async def list_events(request: Request) -> Response:
    """The thing's events (Cumulocity events of its device, of any origin), newest first."""
    who = await caller(request)
    thing, _ = await ctx(request).things.get(who, request.path_params["id"])
    criteria = EventCriteria(source_id=thing.mo_id, type=request.query_params.get("type") or None)
    page = await ctx(request).device_events.find(who, criteria, page_request(request))
    return json(paged([render_event(e) for e in page.items], page))


# -- device credentials ------------------------------------------------------------------------------


async def issue_credential(request: Request) -> Response:
    who = await caller(request)
    username, password, client_id = await ctx(request).things.issue_credential(who, request.path_params["id"])
    return json({"username": username, "password": password, "clientId": client_id}, 201)


async def list_credentials(request: Request) -> Response:
    who = await caller(request)
    things = ctx(request).things
    thing, _ = await things.get(who, request.path_params["id"])
    data = []
    if await things.has_credential(who, thing):
        data.append({"username": f"{who.tenant_id}/device_{thing.client_id}", "clientId": thing.client_id})
    return json({"data": data})


async def revoke_credential(request: Request) -> Response:
    who = await caller(request)
    await ctx(request).things.revoke_credential(who, request.path_params["id"])
    return no_content()


routes = [
    Route("/things", create_thing, methods=["POST"]),
    Route("/things", list_things, methods=["GET"]),
    Route("/things/{id}", get_thing, methods=["GET"]),
    Route("/things/{id}", update_thing, methods=["PUT"]),
    Route("/things/{id}", delete_thing, methods=["DELETE"]),
    Route("/things/{id}/shadow", get_shadow, methods=["GET"]),
    Route("/things/{id}/shadow", patch_shadow, methods=["PATCH"]),
    Route("/things/{id}/shadow", delete_shadow, methods=["DELETE"]),
    Route("/things/{id}/events", list_events, methods=["GET"]),
    Route("/things/{id}/credentials", issue_credential, methods=["POST"]),
    Route("/things/{id}/credentials", list_credentials, methods=["GET"]),
    Route("/things/{id}/credentials", revoke_credential, methods=["DELETE"]),
]
