"""GET /api/v5/subscriptions: every subscription of the caller's tenant's sessions, in EMQX 5's shape
(emqx_mgmt_api_subscriptions; docs/protocols.md section 8): paging, filters clientid, topic, qos,
share_group and match_topic (subscriptions whose filter matches that topic name)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tether.adapters.clients import SubscriptionFilter
from tether.api.context import ctx
from tether.api.emqx.clients import render_subscription
from tether.api.emqx.common import caller, json, page_request, paged
from tether.api.emqx.errors import EmqxError
from tether.core.paging import Page


async def list_subscriptions(request: Request) -> Response:
    who = await caller(request)
    paging = page_request(request)
    q = request.query_params
    qos = q.get("qos") or None
    if qos is not None and qos not in ("0", "1", "2"):
        raise EmqxError(400, "INVALID_PARAMETER", "'qos' must be 0, 1 or 2")
    where = SubscriptionFilter(
        client_id=q.get("clientid") or None,
        topic=q.get("topic") or None,
        qos=int(qos) if qos is not None else None,
        share_group=q.get("share_group") or None,
        match_topic=q.get("match_topic") or None,
    )
    clients = ctx(request).broker.clients(who.tenant_id)
    found, total = await clients.all_subscriptions(where, paging.offset, paging.page_size)
    return json(paged([render_subscription(s) for s in found], Page(found, paging, total)))


routes = [Route("/subscriptions", list_subscriptions, methods=["GET"])]
