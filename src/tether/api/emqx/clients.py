"""/api/v5/clients: the caller's tenant's MQTT clients in EMQX 5's shapes (emqx_mgmt_api_clients;
docs/protocols.md section 8), over :mod:`tether.adapters.clients`:

* GET /clients (paging; filters clientid and username, repeatable, ip_address, conn_state, clean_start,
  proto_ver, like_clientid, like_username, gte_/lte_created_at, gte_/lte_connected_at; `fields`);
* GET /clients/{clientid}; DELETE /clients/{clientid} (kick: 204); POST /clients/kickout/bulk `[ids]` (204);
* GET /clients/{clientid}/subscriptions; POST .../subscribe `{topic, qos, nl, rap, rh}` (200 subscription) and
  .../subscribe/bulk `[...]` (200 array); POST .../unsubscribe `{topic}` and .../unsubscribe/bulk (204).

Unknown clients: 404 CLIENTID_NOT_FOUND; a subscription the client's ACL refuses: 403 FORBIDDEN.
"""

from __future__ import annotations

import socket
from typing import Any, get_args

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tether.adapters.clients import ClientDetails, ClientFilter, ConnState, SubscriptionView
from tether.adapters.control import Clients
from tether.api.context import ctx
from tether.api.emqx.common import caller, json, no_content, page_request, read_json, read_object
from tether.api.emqx.errors import EmqxError
from tether.core.clock import parse_iso, to_iso
from tether.core.ids import parse_int

#: This node's name in EMQX's `node` fields when the answer does not name one.
NODE = f"tether@{socket.gethostname()}"


def _iso(seconds: float) -> str:
    return to_iso(int(seconds * 1000))


def render_client(c: ClientDetails) -> dict[str, Any]:
    body: dict[str, Any] = {
        "clientid": c.client_id,
        "username": c.username,
        "node": c.node or NODE,
        "ip_address": c.host,
        "port": c.port,
        "peerport": c.port,
        "listener": f"{c.listener}:default" if c.listener else None,
        "proto_name": "MQTT",
        "proto_ver": c.proto_ver,
        "clean_start": c.clean_start,
        "keepalive": c.keep_alive,
        "expiry_interval": c.expiry_interval,
        "connected": c.connected,
        "connected_at": _iso(c.connected_at) if c.connected_at is not None else None,
        "created_at": _iso(c.created_at),
        "is_bridge": False,
        "is_expired": False,
        "durable": False,
        "mountpoint": c.mountpoint,
        "subscriptions_cnt": c.subscriptions,
        "subscriptions_max": "infinity",
        "inflight_cnt": c.inflight,
        "inflight_max": c.inflight_max,
        "mqueue_len": c.queued,
        "mqueue_max": c.queue_max,
        "mqueue_dropped": c.queue_dropped,
        "awaiting_rel_cnt": c.awaiting_rel,
        "awaiting_rel_max": c.awaiting_rel_max,
        "recv_cnt": c.recv_pkt,
        "recv_pkt": c.recv_pkt,
        "recv_msg": c.recv_msg,
        "recv_oct": c.recv_oct,
        "send_msg": c.send_msg,
        "send_oct": c.send_oct,
    }
    if not c.connected:
        body["disconnected_at"] = _iso(c.disconnected_at) if c.disconnected_at else None
    return body


def render_subscription(s: SubscriptionView) -> dict[str, Any]:
    return {
        "node": s.node or NODE,
        "clientid": s.client_id,
        "topic": s.topic,
        "qos": s.qos,
        "nl": int(s.no_local),
        "rap": int(s.retain_as_published),
        "rh": s.retain_handling,
        "durable": False,
    }


def _invalid(message: str) -> EmqxError:
    return EmqxError(400, "INVALID_PARAMETER", message)


def _time(request: Request, name: str) -> float | None:
    """An RFC 3339 date-time or epoch milliseconds (EMQX's `timestamp` query type), in seconds."""
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return None
    if raw.isdigit():
        return int(raw) / 1000
    return parse_iso(raw, field=name, resource="emqx") / 1000


def _filter(request: Request) -> ClientFilter:
    q = request.query_params
    state = q.get("conn_state") or None
    if state is not None and state not in get_args(ConnState):
        raise _invalid("'conn_state' must be connected, idle or disconnected")
    proto = q.get("proto_ver") or None
    proto_ver = parse_int(proto) if proto is not None else None
    if proto is not None and proto_ver is None:
        raise _invalid("'proto_ver' must be an integer")
    clean = q.get("clean_start") or None
    if clean is not None and clean not in ("true", "false"):
        raise _invalid("'clean_start' must be true or false")
    return ClientFilter(
        client_ids=frozenset(q.getlist("clientid")),
        usernames=frozenset(q.getlist("username")),
        ip_address=q.get("ip_address") or None,
        conn_state=state,  # type: ignore[arg-type]
        clean_start=None if clean is None else clean == "true",
        proto_ver=proto_ver,
        like_clientid=q.get("like_clientid") or None,
        like_username=q.get("like_username") or None,
        gte_created_at=_time(request, "gte_created_at"),
        lte_created_at=_time(request, "lte_created_at"),
        gte_connected_at=_time(request, "gte_connected_at"),
        lte_connected_at=_time(request, "lte_connected_at"),
    )


async def _clients(request: Request) -> Clients:
    who = await caller(request)
    return ctx(request).broker.clients(who.tenant_id)


async def list_clients(request: Request) -> Response:
    clients = await _clients(request)
    paging = page_request(request)
    where = _filter(request)
    fields = request.query_params.get("fields", "all")
    found, total = await clients.page(where, paging.offset, paging.page_size)
    data = [render_client(c) for c in found]
    if fields != "all":
        keep = {f.strip() for f in fields.split(",") if f.strip()}
        data = [{k: v for k, v in item.items() if k in keep} for item in data]
    meta: dict[str, Any] = {
        "page": paging.current_page,
        "limit": paging.page_size,
        "hasnext": paging.offset + len(found) < total,
    }
    if where.like_clientid is None and where.like_username is None:
        meta["count"] = total  # EMQX leaves it out of fuzzy searches
    return json({"data": data, "meta": meta})


async def get_client(request: Request) -> Response:
    clients = await _clients(request)
    return json(render_client(await clients.get(request.path_params["clientid"])))


async def kick(request: Request) -> Response:
    clients = await _clients(request)
    client_id = request.path_params["clientid"]
    if not await clients.kick(client_id):
        await clients.get(client_id)  # 404 CLIENTID_NOT_FOUND
    return no_content()


async def kick_bulk(request: Request) -> Response:
    clients = await _clients(request)
    ids = await read_json(request)
    if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
        raise EmqxError(400, "BAD_REQUEST", "The body must be an array of client ids")
    for client_id in ids:
        await clients.kick(client_id)
    return no_content()


async def subscriptions(request: Request) -> Response:
    clients = await _clients(request)
    found = await clients.subscriptions_of(request.path_params["clientid"])
    return json([render_subscription(s) for s in found])


def _flag(body: dict[str, Any], name: str, top: int) -> int:
    value = body.get(name, 0)
    if isinstance(value, bool):
        value = int(value)
    if not isinstance(value, int) or not 0 <= value <= top:
        raise EmqxError(400, "BAD_REQUEST", f"'{name}' must be an integer 0..{top}")
    return value


def _subscription(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise EmqxError(400, "BAD_REQUEST", "A subscription is an object {topic, qos, nl, rap, rh}")
    topic = body.get("topic")
    if not isinstance(topic, str) or not topic:
        raise EmqxError(400, "BAD_REQUEST", "Missing required parameter: topic")
    return {
        "topic_filter": topic,
        "qos": _flag(body, "qos", 2),
        "no_local": bool(_flag(body, "nl", 1)),
        "retain_as_published": bool(_flag(body, "rap", 1)),
        "retain_handling": _flag(body, "rh", 2),
    }


async def subscribe(request: Request) -> Response:
    clients = await _clients(request)
    client_id = request.path_params["clientid"]
    sub = _subscription(await read_object(request))
    return json(render_subscription(await clients.subscribe(client_id, **sub)))


async def subscribe_bulk(request: Request) -> Response:
    clients = await _clients(request)
    client_id = request.path_params["clientid"]
    document = await read_json(request)
    if not isinstance(document, list):
        raise EmqxError(400, "BAD_REQUEST", "The body must be an array of subscriptions")
    subs = [_subscription(item) for item in document]
    for sub in subs:  # all or nothing: every one is checked before any is made
        await clients.check_subscription(client_id, sub["topic_filter"], sub["qos"], sub["no_local"])
    return json([render_subscription(await clients.subscribe(client_id, **sub)) for sub in subs])


def _topic(body: Any) -> str:
    topic = body.get("topic") if isinstance(body, dict) else None
    if not isinstance(topic, str) or not topic:
        raise EmqxError(400, "BAD_REQUEST", "Missing required parameter: topic")
    return topic


async def unsubscribe(request: Request) -> Response:
    clients = await _clients(request)
    await clients.unsubscribe(request.path_params["clientid"], _topic(await read_object(request)))
    return no_content()


async def unsubscribe_bulk(request: Request) -> Response:
    clients = await _clients(request)
    client_id = request.path_params["clientid"]
    document = await read_json(request)
    if not isinstance(document, list):
        raise EmqxError(400, "BAD_REQUEST", "The body must be an array of {topic}")
    topics = [_topic(item) for item in document]
    await clients.get(client_id)  # 404 CLIENTID_NOT_FOUND also for an empty list
    for topic in topics:
        await clients.unsubscribe(client_id, topic)
    return no_content()


routes = [
    Route("/clients", list_clients, methods=["GET"]),
    Route("/clients/kickout/bulk", kick_bulk, methods=["POST"]),
    Route("/clients/{clientid}", get_client, methods=["GET"]),
    Route("/clients/{clientid}", kick, methods=["DELETE"]),
    Route("/clients/{clientid}/subscriptions", subscriptions, methods=["GET"]),
    Route("/clients/{clientid}/subscribe", subscribe, methods=["POST"]),
    Route("/clients/{clientid}/subscribe/bulk", subscribe_bulk, methods=["POST"]),
    Route("/clients/{clientid}/unsubscribe", unsubscribe, methods=["POST"]),
    Route("/clients/{clientid}/unsubscribe/bulk", unsubscribe_bulk, methods=["POST"]),
]
