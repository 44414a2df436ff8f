"""/alarm/alarms: raise (de-duplicated), query, count, update one or by query, delete by query."""

from __future__ import annotations

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tether.api.auth import authenticate
from tether.api.c8y.telemetry import (
    check_range,
    processing_mode,
    query_bool,
    query_date,
    query_enums,
    query_fragment,
    query_id,
    query_list,
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
from tether.telemetry.models import AlarmCriteria, AlarmSeverity, AlarmStatus

R = "alarm"


def _criteria(request: Request) -> AlarmCriteria:
    types = query_list(request, "type", resource=R)
    criteria = AlarmCriteria(
        source_id=query_id(request, "source", resource=R),
        with_source_assets=bool(query_bool(request, "withSourceAssets", resource=R)),
        with_source_devices=bool(query_bool(request, "withSourceDevices", resource=R)),
        types=tuple(types) if types else None,
        statuses=query_enums(request, "status", AlarmStatus, resource=R),
        severities=query_enums(request, "severity", AlarmSeverity, resource=R),
        resolved=query_bool(request, "resolved", resource=R),
        fragment_type=query_fragment(request, "fragmentType", resource=R),
        date_from=query_date(request, "dateFrom", resource=R),
        date_to=query_date(request, "dateTo", resource=R),
        created_from=query_date(request, "createdFrom", resource=R),
        created_to=query_date(request, "createdTo", resource=R),
        newest_first=not query_flag(request, "revert"),  # alarms: newest first unless revert=true
    )
    check_range(criteria.date_from, criteria.date_to, resource=R)
    return criteria


async def create_alarm(request: Request) -> Response:
    """201 with the new alarm, or with the open alarm of the same source and type it was folded into."""
    who = await authenticate(request)
    mode = processing_mode(request, resource=R)
    document = await read_json_object(request, resource=R)
    alarm = await ctx(request).alarms.create(who, documents.alarm(document), mode)
    body = render.alarm(base_url(request), alarm)
    headers = {"Location": body["self"]} if "self" in body else None
    return json_response(request, body, "alarm", 201, headers)


async def list_alarms(request: Request) -> Response:
    who = await authenticate(request)
    page = await ctx(request).alarms.find(who, _criteria(request), page_request(request, resource=R))
    base = base_url(request)
    items = [render.alarm(base, a) for a in page.items]
    return json_response(request, collection(request, "alarms", items, page), "alarmCollection")


async def count_alarms(request: Request) -> Response:
    """A bare integer (the c8y-api client reads it as JSON); text/plain when only that is accepted."""
    who = await authenticate(request)
    total = await ctx(request).alarms.count(who, _criteria(request))
    accept = request.headers.get("accept", "").lower()
    media = "text/plain" if "text/plain" in accept and "json" not in accept else "application/json"
    return Response(orjson.dumps(total), media_type=media)


async def get_alarm(request: Request) -> Response:
    who = await authenticate(request)
    alarm_id = path_id(request, "id", resource=R, what="alarm")
    alarm = await ctx(request).alarms.get(who, alarm_id)
    return json_response(request, render.alarm(base_url(request), alarm), "alarm")


async def update_alarm(request: Request) -> Response:
    """Status, severity, text and custom fragments change; source, type and time are ignored."""
    who = await authenticate(request)
    mode = processing_mode(request, resource=R)
    alarm_id = path_id(request, "id", resource=R, what="alarm")
    document = await read_json_object(request, resource=R)
    alarm = await ctx(request).alarms.update(who, alarm_id, documents.alarm_change(document), mode)
    return json_response(request, render.alarm(base_url(request), alarm), "alarm")


async def update_alarms(request: Request) -> Response:
    """PUT /alarm/alarms?<filters> {"status": ...}: at least one filter; 200 with no body."""
    who = await authenticate(request)
    mode = processing_mode(request, resource=R)
    criteria = _criteria(request)
    document = await read_json_object(request, resource=R)
    await ctx(request).alarms.update_matching(who, criteria, documents.alarm_status(document), mode)
    return Response(status_code=200)


async def delete_alarms(request: Request) -> Response:
    """Every alarm matching the filters; without filters, all the caller may see (as Cumulocity)."""
    who = await authenticate(request)
    mode = processing_mode(request, resource=R)
    await ctx(request).alarms.delete_matching(who, _criteria(request), mode)
    return Response(status_code=204)


_ALL = "/alarm/alarms"
routes = [
    Route(_ALL, list_alarms, methods=["GET"]),
    Route(_ALL, create_alarm, methods=["POST"]),
    Route(_ALL, update_alarms, methods=["PUT"]),
    Route(_ALL, delete_alarms, methods=["DELETE"]),
    Route(_ALL + "/count", count_alarms, methods=["GET"]),  # before /{id}, which would take "count"
    Route(_ALL + "/{id}", get_alarm, methods=["GET"]),
    Route(_ALL + "/{id}", update_alarm, methods=["PUT"]),
]
