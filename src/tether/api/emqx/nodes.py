"""/api/v5/nodes (EMQX 5 emqx_mgmt_api_nodes): the nodes of the cluster, this one alone without a cluster.

Each node is described by what its heartbeats carry (tether.cluster.membership): name, version, uptime and
its listeners; ``node_status`` is always ``running``, since a node that stopped or fell silent leaves the
list. Operators only, as /stats is.
"""

from __future__ import annotations

import time
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tether import __version__
from tether.api.context import ctx
from tether.api.emqx.common import json
from tether.api.emqx.errors import EmqxError
from tether.api.emqx.monitoring import _operator
from tether.cluster import NodeInfo
from tether.cluster.leader import ADVERTISED

_STARTED = time.time()


def _shown(node: NodeInfo, me: str) -> dict[str, Any]:
    return {
        "node": node.name,
        "node_status": "running",
        "version": node.version,
        "uptime": int((time.time() - node.started_at) * 1000),
        "role": "core",
        "this_node": node.name == me,
        # The leader of the cluster (cluster/leader.py) says so in its heartbeats.
        "leader": node.info.get(ADVERTISED) == "true",
        "listeners": {k: v for k, v in node.info.items() if k != ADVERTISED},
    }


def _nodes(request: Request) -> list[dict[str, Any]]:
    services = ctx(request)
    me = services.monitoring.node
    if services.cluster is None:
        # Alone: its listeners as they bound (the addresses /health reports); it leads.
        info = {**dict(services.readiness.addresses), ADVERTISED: "true"}
        return [_shown(NodeInfo(me, _STARTED, __version__, info), me)]
    return [_shown(node, me) for node in services.cluster.membership.nodes]


async def list_nodes(request: Request) -> Response:
    await _operator(request)
    return json(_nodes(request))


async def get_node(request: Request) -> Response:
    await _operator(request)
    name = request.path_params["node"]
    for node in _nodes(request):
        if node["node"] == name:
            return json(node)
    raise EmqxError(404, "NOT_FOUND", f"node {name!r} not found")


routes = [
    Route("/nodes", list_nodes, methods=["GET"]),
    Route("/nodes/{node}", get_node, methods=["GET"]),
]
