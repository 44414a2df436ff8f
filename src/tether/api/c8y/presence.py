"""A device's connections and availability: GET /inventory/managedObjects/{id}/availability (Cumulocity's
shape) and /inventory/managedObjects/{id}/connections (its connection history, newest first)."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tether.api.auth import authenticate
from tether.api.c8y.telemetry import query_date
from tether.api.context import ctx
from tether.api.http import collection, json_response, page_request, path_id
from tether.core.clock import to_iso
from tether.presence.models import ConnectionRecord, HistoryCriteria

R = "inventory"


def connection(record: ConnectionRecord) -> dict[str, Any]:
    shown = {
        "clientid": record.client_id,
        "username": record.username,
        "externalId": record.device,
        "ip_address": record.ip_address,
        "proto_ver": record.proto_ver,
        "clean_start": record.clean_start,
        "keepalive": record.keepalive,
        "connected_at": to_iso(record.connected_at),
        "disconnected_at": to_iso(record.disconnected_at) if record.disconnected_at is not None else None,
        "reason": record.reason,
    }
    if record.node:  # in a cluster: the node the connection is (or was) on (docs/cluster.md)
        shown["node"] = record.node
    return shown


async def availability(request: Request) -> Response:
    who = await authenticate(request)
    mo_id = path_id(request, "id", resource=R, what="managedObject")
    found = await ctx(request).presence.device_availability(who, mo_id)
    body: dict[str, Any] = {
        "deviceId": str(found.mo_id),
        "connectionStatus": found.connection_status,
        "dataStatus": found.data_status,
    }
    if found.external_id is not None:
        body["externalId"] = found.external_id
    if found.interval is not None:
        body["interval"] = found.interval
    if found.last_message is not None:
        body["lastMessage"] = to_iso(found.last_message)
    return json_response(request, body, "managedObjectAvailability")


async def connections(request: Request) -> Response:
    who = await authenticate(request)
    mo_id = path_id(request, "id", resource=R, what="managedObject")
    criteria = HistoryCriteria(
        mo_id=mo_id,
        date_from=query_date(request, "dateFrom", resource=R),
        date_to=query_date(request, "dateTo", resource=R),
    )
    page = await ctx(request).presence.history(who, criteria, page_request(request, resource=R))
    items = [connection(r) for r in page.items]
    return json_response(request, collection(request, "connections", items, page), "connectionCollection")


_ONE = "/inventory/managedObjects/{id}"
#: Before the inventory's `{id}/{kind}` routes.
routes = [
    Route(_ONE + "/availability", availability, methods=["GET"]),
    Route(_ONE + "/connections", connections, methods=["GET"]),
]
