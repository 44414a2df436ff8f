"""/api/v5/banned: the caller's tenant's bans, in EMQX 5's shapes (emqx_mgmt_api_banned; docs/protocols.md
section 8). The service: credentials/banning.py; kicking: adapters/bans.py.

* GET /banned: `{data: [{as, who, by, reason, at, until}], meta}`; page, limit and at most one filter of
  clientid, username, peerhost (exact), like_clientid, like_username, like_peerhost (substring),
  like_peerhost_net (the network bans overlapping an address or network); `count` is left out with a like_
  filter, as EMQX does;
* POST /banned `{as, who, by?, reason?, at?, until?}` (`until` "infinity" by default; times RFC 3339 or epoch
  seconds) -> 200 the ban; the tenant's connected clients it matches are kicked; 400 ALREADY_EXISTS when
  banned already, 400 BAD_REQUEST for an invalid `who` or a ban that has already ended;
* DELETE /banned -> 204 (every ban of the tenant); DELETE /banned/{as}/{who} -> 204, 404 NOT_FOUND.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tether.adapters.bans import kick_banned
from tether.api.context import ctx
from tether.api.emqx.common import caller, json, no_content, page_request, read_object
from tether.api.emqx.errors import EmqxError, R
from tether.core.clock import parse_iso, to_iso
from tether.core.errors import BadRequest, Conflict, NotFound
from tether.credentials.bans import Ban, BanFilter, BanKind

_FILTERS: dict[str, tuple[BanKind, bool]] = {
    "clientid": (BanKind.CLIENTID, False),
    "username": (BanKind.USERNAME, False),
    "peerhost": (BanKind.PEERHOST, False),
    "like_clientid": (BanKind.CLIENTID, True),
    "like_username": (BanKind.USERNAME, True),
    "like_peerhost": (BanKind.PEERHOST, True),
    "like_peerhost_net": (BanKind.PEERHOST_NET, True),
}
_FIELDS = frozenset({"as", "who", "by", "reason", "at", "until"})


def render(ban: Ban) -> dict[str, Any]:
    return {
        "as": ban.kind.value,
        "who": ban.who,
        "by": ban.by,
        "reason": ban.reason,
        "at": to_iso(ban.at),
        "until": "infinity" if ban.until is None else to_iso(ban.until),
    }


def _time(document: dict[str, Any], name: str) -> int | None:
    """Absent: None; "infinity" (until only): None; an RFC 3339 date-time or epoch seconds: ms."""
    raw = document.get(name)
    if raw is None or (name == "until" and raw == "infinity"):
        return None
    if isinstance(raw, int) and not isinstance(raw, bool):
        return raw * 1000
    if isinstance(raw, str):
        return parse_iso(raw, field=name, resource=R)
    raise BadRequest(f"'{name}' must be an RFC 3339 date-time or epoch seconds", resource=R)


def _text(document: dict[str, Any], name: str, default: str) -> str:
    value = document.get(name, default)
    if not isinstance(value, str):
        raise BadRequest(f"'{name}' must be a string", resource=R)
    return value


def _criteria(request: Request) -> BanFilter:
    given = [(name, request.query_params[name]) for name in _FILTERS if request.query_params.get(name)]
    if len(given) > 1:
        raise BadRequest("Only one filter is allowed", resource=R)
    if not given:
        return BanFilter()
    name, value = given[0]
    kind, like = _FILTERS[name]
    return BanFilter(kind, value, like)


async def list_bans(request: Request) -> Response:
    who = await caller(request)
    page = page_request(request)
    criteria = _criteria(request)
    bans = ctx(request).bans.find(who, criteria)
    items = [render(ban) for ban in bans[page.offset : page.offset + page.page_size]]
    meta: dict[str, Any] = {"page": page.current_page, "limit": page.page_size}
    if not criteria.like:
        meta["count"] = len(bans)
    meta["hasnext"] = page.offset + len(items) < len(bans)
    return json({"data": items, "meta": meta})


async def create_ban(request: Request) -> Response:
    who = await caller(request)
    document = await read_object(request)
    unknown = set(document) - _FIELDS
    if unknown:
        raise BadRequest(f"Unknown fields: {', '.join(sorted(unknown))}", resource=R)
    try:
        kind = BanKind(str(document.get("as")))
    except ValueError:
        raise BadRequest(f"'as' must be one of {', '.join(k.value for k in BanKind)}", resource=R) from None
    subject = document.get("who")
    if not isinstance(subject, str):
        raise BadRequest("Missing required parameter: who", resource=R)
    services = ctx(request)
    try:
        ban = await services.bans.create(
            who,
            kind,
            subject,
            by=_text(document, "by", "mgmt_api"),
            reason=_text(document, "reason", ""),
            at=_time(document, "at"),
            until=_time(document, "until"),
        )
    except Conflict as exc:  # EMQX answers a duplicate with 400, not 409
        raise EmqxError(400, "ALREADY_EXISTS", exc.message) from None
    if services.broker.running:
        kick_banned(services.broker.broker, ban)
    return json(render(ban))


async def clear_bans(request: Request) -> Response:
    who = await caller(request)
    await ctx(request).bans.clear(who)
    return no_content()


async def delete_ban(request: Request) -> Response:
    who = await caller(request)
    try:
        kind = BanKind(request.path_params["as"])
    except ValueError:
        raise NotFound("Not Found", resource=R) from None
    await ctx(request).bans.delete(who, kind, request.path_params["who"])
    return no_content()


routes = [
    Route("/banned", list_bans, methods=["GET"]),
    Route("/banned", create_ban, methods=["POST"]),
    Route("/banned", clear_bans, methods=["DELETE"]),
    Route("/banned/{as}/{who:path}", delete_ban, methods=["DELETE"]),
]
