"""/api/v1/thing-types and /api/v1/thing-groups (groups are Cumulocity device groups; members are things)."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tether.api.context import ctx
from tether.api.emqx.common import caller, json, no_content, page_request, paged, read_object
from tether.api.fleets.things import render as render_thing
from tether.core.clock import to_iso
from tether.core.errors import InvalidInput, NotFound
from tether.fleets.catalog import group_of, type_of
from tether.fleets.models import R, ThingGroup, ThingType, group_name, parse_type
from tether.fleets.things import thing_of


def render_type(thing_type: ThingType) -> dict[str, Any]:
    return {
        "id": thing_type.id,
        "name": thing_type.name,
        "description": thing_type.description,
        "properties": thing_type.properties,
        "events": thing_type.events,
        "commands": thing_type.commands,
        "createdAt": to_iso(thing_type.creation_time),
    }


def render_group(group: ThingGroup) -> dict[str, Any]:
    return {
        "id": group.id,
        "name": group.name,
        "description": group.description,
        "deviceId": str(group.mo_id),
        "createdAt": to_iso(group.creation_time),
    }


async def create_type(request: Request) -> Response:
    who = await caller(request)
    draft = parse_type(await read_object(request))
    return json(render_type(await ctx(request).things.catalog.create_type(who, draft)), 201)


async def list_types(request: Request) -> Response:
    who = await caller(request)
    page = await ctx(request).things.catalog.list_types(who, page_request(request))
    items = [render_type(t) for t in map(type_of, page.items) if t is not None]
    return json(paged(items, page))


async def get_type(request: Request) -> Response:
    who = await caller(request)
    return json(render_type(await ctx(request).things.catalog.get_type(who, request.path_params["id"])))


async def update_type(request: Request) -> Response:
    who = await caller(request)
    draft = parse_type(await read_object(request))
    catalog = ctx(request).things.catalog
    return json(render_type(await catalog.update_type(who, request.path_params["id"], draft)))


async def delete_type(request: Request) -> Response:
    who = await caller(request)
    await ctx(request).things.catalog.delete_type(who, request.path_params["id"])
    return no_content()


def _description(document: dict[str, Any]) -> str | None:
    value = document.get("description")
    if value is not None and (not isinstance(value, str) or len(value) > 1024):
        raise InvalidInput("'description' must be a string of at most 1024 characters", resource=R)
    return value


async def create_group(request: Request) -> Response:
    who = await caller(request)
    document = await read_object(request)
    name, description = group_name(document.get("name")), _description(document)
    group = await ctx(request).things.catalog.create_group(who, name, description)
    return json(render_group(group), 201)


async def list_groups(request: Request) -> Response:
    who = await caller(request)
    page = await ctx(request).things.catalog.list_groups(who, page_request(request))
    items = [render_group(g) for g in map(group_of, page.items) if g is not None]
    return json(paged(items, page))


async def get_group(request: Request) -> Response:
    who = await caller(request)
    return json(render_group(await ctx(request).things.catalog.get_group(who, request.path_params["id"])))


async def update_group(request: Request) -> Response:
    who = await caller(request)
    document = await read_object(request)
    raw = document.get("name")
    name = None if raw is None else group_name(raw)
    catalog = ctx(request).things.catalog
    group = await catalog.update_group(who, request.path_params["id"], name, _description(document))
    return json(render_group(group))


async def delete_group(request: Request) -> Response:
    who = await caller(request)
    await ctx(request).things.catalog.delete_group(who, request.path_params["id"])
    return no_content()


async def list_members(request: Request) -> Response:
    who = await caller(request)
    things = ctx(request).things
    page = await things.members(who, request.path_params["id"], page_request(request))
    groups = await things.groups_of(who, [mo.id for mo in page.items])
    items = []
    for mo in page.items:
        thing = thing_of(mo)
        if thing is not None:
            items.append(render_thing(thing, mo, groups.get(mo.id, [])))
    return json(paged(items, page))


async def add_members(request: Request) -> Response:
    """`{"thingIds": [...]}`: each must be a thing of the tenant (else 400, and none is added)."""
    who = await caller(request)
    document = await read_object(request)
    ids = document.get("thingIds")
    if not isinstance(ids, list) or not ids or len(ids) > 1000 or not all(isinstance(i, str) for i in ids):
        raise InvalidInput("'thingIds' must be a list of 1 to 1000 thing ids", resource=R)
    things = ctx(request).things
    group_id = request.path_params["id"]
    await things.catalog.get_group(who, group_id)
    members = []
    for thing_id in dict.fromkeys(ids):
        try:
            thing, _ = await things.get(who, thing_id)
        except NotFound as exc:
            raise InvalidInput(f"No thing with id '{thing_id}'", resource=R) from exc
        members.append(thing)
    for thing in members:
        await things.catalog.add_member(who, group_id, thing.mo_id)
    return no_content()


async def remove_member(request: Request) -> Response:
    who = await caller(request)
    things = ctx(request).things
    thing, _ = await things.get(who, request.path_params["thing_id"])
    await things.catalog.remove_member(who, request.path_params["id"], thing.mo_id)
    return no_content()


routes = [
    Route("/thing-types", create_type, methods=["POST"]),
    Route("/thing-types", list_types, methods=["GET"]),
    Route("/thing-types/{id}", get_type, methods=["GET"]),
    Route("/thing-types/{id}", update_type, methods=["PUT"]),
    Route("/thing-types/{id}", delete_type, methods=["DELETE"]),
    Route("/thing-groups", create_group, methods=["POST"]),
    Route("/thing-groups", list_groups, methods=["GET"]),
    Route("/thing-groups/{id}", get_group, methods=["GET"]),
    Route("/thing-groups/{id}", update_group, methods=["PUT"]),
    Route("/thing-groups/{id}", delete_group, methods=["DELETE"]),
    Route("/thing-groups/{id}/things", list_members, methods=["GET"]),
    Route("/thing-groups/{id}/things", add_members, methods=["POST"]),
    Route("/thing-groups/{id}/things/{thing_id}", remove_member, methods=["DELETE"]),
]
