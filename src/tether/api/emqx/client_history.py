"""GET /api/v5/clients/{clientid}/history: a client's connections, newest first, also while it is offline
(docs/protocols.md section 8). `from` and `to` (epoch ms or RFC 3339) keep the connections that overlap the
range; EMQX paging (`page`, `limit`)."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tether.api.context import ctx
from tether.api.emqx.common import caller, json, page_request, paged
from tether.api.emqx.errors import EmqxError
from tether.core.clock import parse_iso, to_iso
from tether.core.errors import BadRequest
from tether.core.ids import parse_int
from tether.presence.models import ConnectionRecord, HistoryCriteria


def _instant(request: Request, name: str) -> int | None:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return None
    number = parse_int(raw)
    if number is not None:
        return number
    try:
        return parse_iso(raw, field=name)
    except BadRequest:
        raise EmqxError(
            400, "INVALID_PARAMETER", f"'{name}' must be epoch milliseconds or RFC 3339"
        ) from None


def history_row(record: ConnectionRecord) -> dict[str, Any]:
    row = {
        "clientid": record.client_id,
        "username": record.username,
        "ip_address": record.ip_address,
        "proto_ver": record.proto_ver,
        "clean_start": record.clean_start,
        "keepalive": record.keepalive,
        "connected_at": to_iso(record.connected_at),
        "disconnected_at": to_iso(record.disconnected_at) if record.disconnected_at is not None else None,
        "reason": record.reason,
    }
    if record.node:  # in a cluster: the node the connection is (or was) on, as EMQX's client info says
        row["node"] = record.node
    return row


async def history(request: Request) -> Response:
    who = await caller(request)
    criteria = HistoryCriteria(
        client_id=request.path_params["clientid"],
        date_from=_instant(request, "from"),
        date_to=_instant(request, "to"),
    )
    page = await ctx(request).presence.history(who, criteria, page_request(request))
    return json(paged([history_row(r) for r in page.items], page))


routes = [Route("/clients/{clientid}/history", history, methods=["GET"])]
