"""/event/events: create, query, update (text and fragments), delete one or by query."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tether.api.auth import authenticate
from tether.api.c8y.telemetry import (
    check_range,
    processing_mode,
    query_bool,
    query_date,
    query_fragment,
    query_id,
    query_text,
)
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
from tether.core.errors import InvalidInput
from tether.telemetry.models import EventCriteria

R = "event"


def _criteria(request: Request) -> EventCriteria:
    fragment = query_fragment(request, "fragmentType", resource=R)
    value = query_text(request, "fragmentValue", resource=R)
    if value is not None and fragment is None:
        raise InvalidInput("'fragmentValue' needs 'fragmentType'", resource=R)
    criteria = EventCriteria(
        source_id=query_id(request, "source", resource=R),
        with_source_assets=bool(query_bool(request, "withSourceAssets", resource=R)),
        with_source_devices=bool(query_bool(request, "withSourceDevices", resource=R)),
        type=query_text(request, "type", resource=R),
        fragment_type=fragment,
        fragment_value=value,
        date_from=query_date(request, "dateFrom", resource=R),
        date_to=query_date(request, "dateTo", resource=R),
        created_from=query_date(request, "createdFrom", resource=R),
        created_to=query_date(request, "createdTo", resource=R),
        newest_first=not query_flag(request, "revert"),  # events: newest first unless revert=true
    )
    check_range(criteria.date_from, criteria.date_to, resource=R)
    return criteria


async def create_event(request: Request) -> Response:
    who = await authenticate(request)
    mode = processing_mode(request, resource=R)
    document = await read_json_object(request, resource=R)
    event = await ctx(request).device_events.create(who, documents.event(document), mode)
    body = render.event(base_url(request), event)
    headers = {"Location": body["self"]} if "self" in body else None
    return json_response(request, body, "event", 201, headers)


async def list_events(request: Request) -> Response:
    who = await authenticate(request)
    page = await ctx(request).device_events.find(who, _criteria(request), page_request(request, resource=R))
    base = base_url(request)
    items = [render.event(base, e) for e in page.items]
    return json_response(request, collection(request, "events", items, page), "eventCollection")


async def get_event(request: Request) -> Response:
    who = await authenticate(request)
    event_id = path_id(request, "id", resource=R, what="event")
    event = await ctx(request).device_events.get(who, event_id)
    return json_response(request, render.event(base_url(request), event), "event")


async def update_event(request: Request) -> Response:
    """Text and custom fragments change; source, type and time are read-only and ignored."""
    who = await authenticate(request)
    mode = processing_mode(request, resource=R)
    event_id = path_id(request, "id", resource=R, what="event")
    document = await read_json_object(request, resource=R)
    event = await ctx(request).device_events.update(who, event_id, documents.event_change(document), mode)
    return json_response(request, render.event(base_url(request), event), "event")


async def delete_event(request: Request) -> Response:
    who = await authenticate(request)
    mode = processing_mode(request, resource=R)
    event_id = path_id(request, "id", resource=R, what="event")
    await ctx(request).device_events.delete(who, event_id, mode)
    return Response(status_code=204)


async def delete_events(request: Request) -> Response:
    """Every event matching the filters; without filters, all the caller may see (as Cumulocity)."""
    who = await authenticate(request)
    mode = processing_mode(request, resource=R)
    await ctx(request).device_events.delete_matching(who, _criteria(request), mode)
    return Response(status_code=204)


_ALL = "/event/events"
routes = [
    Route(_ALL, list_events, methods=["GET"]),
    Route(_ALL, create_event, methods=["POST"]),
    Route(_ALL, delete_events, methods=["DELETE"]),
    Route(_ALL + "/{id}", get_event, methods=["GET"]),
    Route(_ALL + "/{id}", update_event, methods=["PUT"]),
    Route(_ALL + "/{id}", delete_event, methods=["DELETE"]),
]
