"""/api/v5/stats, /api/v5/metrics and /api/v5/prometheus/stats (EMQX 5 emqx_mgmt_api_stats,
emqx_mgmt_api_metrics, emqx_prometheus_api; docs/protocols.md section 8).

Scope: an operator of tenant t (its administrators and API keys) gets the figures of t's namespace: its
sessions, subscriptions and retained messages, and the connection events of its clients. The platform
operator (an administrator of the default tenant) gets the whole broker's, and the message counters, which
the broker keeps for all tenants at once; the Prometheus endpoint is the platform operator's only.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tether.adapters.namespaces import tenant_mountpoint
from tether.api.context import ctx
from tether.api.emqx.common import caller, json, query_bool
from tether.api.emqx.errors import EmqxError
from tether.monitoring.prometheus import CONTENT_TYPE, Scrape, render
from tether.tenants.models import Principal


def is_platform_operator(request: Request, who: Principal) -> bool:
    return who.is_admin and who.tenant_id == ctx(request).settings.tenant


async def _operator(request: Request) -> Principal:
    who = await caller(request)
    if not who.is_admin:
        raise EmqxError(403, "UNAUTHORIZED_ROLE", "Operators only")
    return who


def _per_node(request: Request, by_node: dict[str, dict[str, Any]]) -> Response:
    """EMQX answers one object with `aggregate=true` (every node's figures summed), else one object per node
    (with `node`). In a cluster every live node's figures count (docs/cluster.md)."""
    if query_bool(request, "aggregate"):
        total: dict[str, Any] = {}
        for figures in by_node.values():
            for name, value in figures.items():
                total[name] = total.get(name, 0) + value
        return json(total)
    return json([{"node": node, **figures} for node, figures in sorted(by_node.items())])


async def stats(request: Request) -> Response:
    who = await _operator(request)
    services = ctx(request)
    mountpoint = None if is_platform_operator(request, who) else tenant_mountpoint(who.tenant_id)
    return _per_node(request, await services.broker.stats(mountpoint))


async def metrics(request: Request) -> Response:
    who = await _operator(request)
    services = ctx(request)
    node = request.query_params.get("node")
    by_node = await services.broker.metrics(who.tenant_id, is_platform_operator(request, who))
    if node is not None:
        if node not in by_node:
            raise EmqxError(404, "NOT_FOUND", f"node {node!r} not found")
        by_node = {node: by_node[node]}
    return _per_node(request, by_node)


async def prometheus_stats(request: Request) -> Response:
    who = await _operator(request)
    if not is_platform_operator(request, who):
        raise EmqxError(403, "UNAUTHORIZED_ROLE", "The Prometheus figures are the platform operator's")
    services = ctx(request)
    monitoring = services.monitoring
    broker = services.broker.broker if services.broker.running else None
    latency = await monitoring.database.latency() if monitoring.database is not None else None
    scrape = Scrape(
        stats=monitoring.stats.stats(broker, None) if broker is not None else {},
        metrics=monitoring.stats.metrics(broker, who.tenant_id, True) if broker is not None else {},
        http=monitoring.http,
        mqtt=monitoring.mqtt,
        broker=broker,
        database_latency=latency,
        realtime_sessions=len(services.realtime),
        rules=tuple((r.rule.tenant_id, r.rule.id, r.metrics.render()) for r in services.rules.every()),
        rule_engine=(services.rule_engine.queued, services.rule_engine.dropped),
    )
    return Response(render(scrape), media_type=CONTENT_TYPE)


routes = [
    Route("/stats", stats, methods=["GET"]),
    Route("/metrics", metrics, methods=["GET"]),
    Route("/prometheus/stats", prometheus_stats, methods=["GET"]),
]
