"""/api/v5 connectors and actions (EMQX 5's data integration API, emqx_connector_api / emqx_bridge_v2_api):
the caller's tenant's sinks. Services: rules/connector_service.py (definitions), connectors/manager.py (the
running clients, status and metrics).

* GET /connectors `[connector]`; POST /connectors `{type, name, <config>, enable?, description?}` -> 201;
  GET|PUT|DELETE /connectors/{type:name} (PUT: the configuration; a secret sent as ****** is kept) -> 200 |
  204; 400 when actions use the connector; POST /connectors/{id}/start -> 204 after a health check;
  POST /connectors_probe `{type, name, <config>}` -> 204, or 400 TEST_FAILED with the reason;
* GET /actions; POST /actions `{type, name, connector, parameters, resource_opts?, enable?, description?}`
  -> 201; GET|PUT|DELETE /actions/{type:name} (400 when rules use it); GET /actions/{id}/metrics;
  PUT /actions/{id}/metrics/reset -> 204; GET /action_types.

A connector shows its configuration (passwords as ******), `status` (connected, connecting, disconnected)
and `status_reason` in words; an action its connector's status and the rules that use it.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tether.api.context import ctx
from tether.api.emqx.common import caller, json, no_content, read_object
from tether.api.emqx.errors import EmqxError
from tether.core.clock import to_iso
from tether.core.errors import BadRequest
from tether.rules.connector_service import LoadedAction
from tether.rules.connectors import R_ACTIONS, R_CONNECTORS, TYPES, Connector, masked
from tether.services import Services

_COMMON = {
    "type",
    "name",
    "enable",
    "description",
    "status",
    "status_reason",
    "node_status",
    "actions",
    "created_at",
    "last_modified_at",
}
_CHECK_WAIT = 5.0  # how long a create or update waits for its first health check before answering


def _node_status(services: Services, status: str, reason: str) -> list[dict[str, Any]]:
    return [{"node": services.monitoring.node, "status": status, "status_reason": reason}]


def render_connector(services: Services, connector: Connector) -> dict[str, Any]:
    status, reason = services.sinks.status(connector)
    return {
        "type": connector.type,
        "name": connector.name,
        **masked(connector.type, connector.config),
        "enable": connector.enable,
        "description": connector.description,
        "status": status,
        "status_reason": reason,
        "node_status": _node_status(services, status, reason),
        "actions": [a.action.name for a in services.connectors.actions_using(connector)],
        "created_at": to_iso(connector.created_at),
        "last_modified_at": to_iso(connector.updated_at),
    }


def render_action(services: Services, loaded: LoadedAction) -> dict[str, Any]:
    action = loaded.action
    status, reason = services.sinks.action_status(action.tenant_id, action.id)
    return {
        "type": action.type,
        "name": action.name,
        "connector": action.connector,
        "parameters": action.parameters,
        "resource_opts": action.resource_opts,
        "enable": action.enable,
        "description": action.description,
        "status": status,
        "status_reason": reason,
        "node_status": _node_status(services, status, reason),
        "rules": services.connectors.rules_using(action.tenant_id, action.id),
        "created_at": to_iso(action.created_at),
        "last_modified_at": to_iso(action.updated_at),
    }


def _flags(document: dict[str, Any], resource: str) -> tuple[bool | None, str | None]:
    enable, description = document.get("enable"), document.get("description")
    if enable is not None and not isinstance(enable, bool):
        raise BadRequest("'enable' must be a boolean", resource=resource)
    if description is not None and not isinstance(description, str):
        raise BadRequest("'description' must be a string", resource=resource)
    return enable, description


def _config(document: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in document.items() if k not in _COMMON}


async def _checked(services: Services, connector: Connector) -> None:
    with contextlib.suppress(TimeoutError):  # still connecting: the status says so
        await asyncio.wait_for(services.sinks.check(connector), _CHECK_WAIT)


# ------------------------------------------------------------------------------------------ connectors


async def list_connectors(request: Request) -> Response:
    who = await caller(request)
    services = ctx(request)
    return json([render_connector(services, c) for c in services.connectors.list_connectors(who)])


async def create_connector(request: Request) -> Response:
    who = await caller(request)
    document = await read_object(request)
    enable, description = _flags(document, R_CONNECTORS)
    services = ctx(request)
    connector = await services.connectors.create_connector(
        who,
        document.get("type"),
        document.get("name"),
        _config(document),
        True if enable is None else enable,
        description or "",
    )
    await _checked(services, connector)
    return json(render_connector(services, connector), 201)


async def get_connector(request: Request) -> Response:
    who = await caller(request)
    services = ctx(request)
    return json(render_connector(services, services.connectors.get_connector(who, request.path_params["id"])))


async def update_connector(request: Request) -> Response:
    who = await caller(request)
    document = await read_object(request)
    enable, description = _flags(document, R_CONNECTORS)
    services = ctx(request)
    connector = await services.connectors.update_connector(
        who, request.path_params["id"], _config(document), enable, description
    )
    await _checked(services, connector)
    return json(render_connector(services, connector))


async def delete_connector(request: Request) -> Response:
    who = await caller(request)
    await ctx(request).connectors.delete_connector(who, request.path_params["id"])
    return no_content()


async def start_connector(request: Request) -> Response:
    """EMQX's POST /connectors/{id}/start: (re)check the server now; 204, or 503 with the reason."""
    who = await caller(request)
    services = ctx(request)
    connector = services.connectors.get_connector(who, request.path_params["id"])
    if not connector.enable:
        raise EmqxError(400, "BAD_REQUEST", "Forbidden operation, connector not enabled")
    status, reason = await services.sinks.check(connector)
    if status != "connected":
        raise EmqxError(503, "SERVICE_UNAVAILABLE", reason or status)
    return no_content()


async def probe_connector(request: Request) -> Response:
    """POST /connectors_probe: try a configuration without saving it."""
    who = await caller(request)
    document = await read_object(request)
    kind = document.get("type")
    if kind not in TYPES:
        raise BadRequest(f"'type' must be one of {', '.join(TYPES)}", resource=R_CONNECTORS)
    assert isinstance(kind, str)
    services = ctx(request)
    services.connectors.list_connectors(who)  # the same rights as reading connectors
    reason = await services.sinks.probe(kind, str(document.get("name") or "probe"), _config(document))
    if reason is not None:
        raise EmqxError(400, "TEST_FAILED", reason)
    return no_content()


# ------------------------------------------------------------------------------------------ actions


def _action_fields(document: dict[str, Any]) -> tuple[Any, dict[str, Any], dict[str, Any]]:
    unknown = set(document) - _COMMON - {"connector", "parameters", "resource_opts", "rules"}
    if unknown:
        raise BadRequest(f"Unknown fields: {', '.join(sorted(unknown))}", resource=R_ACTIONS)
    parameters, opts = document.get("parameters", {}), document.get("resource_opts", {})
    if not isinstance(parameters, dict) or not isinstance(opts, dict):
        raise BadRequest("'parameters' and 'resource_opts' must be objects", resource=R_ACTIONS)
    return document.get("connector"), parameters, opts


async def list_actions(request: Request) -> Response:
    who = await caller(request)
    services = ctx(request)
    return json([render_action(services, a) for a in services.connectors.list_actions(who)])


async def create_action(request: Request) -> Response:
    who = await caller(request)
    document = await read_object(request)
    enable, description = _flags(document, R_ACTIONS)
    connector, parameters, opts = _action_fields(document)
    services = ctx(request)
    loaded = await services.connectors.create_action(
        who,
        document.get("type"),
        document.get("name"),
        connector,
        parameters,
        opts,
        True if enable is None else enable,
        description or "",
    )
    return json(render_action(services, loaded), 201)


async def get_action(request: Request) -> Response:
    who = await caller(request)
    services = ctx(request)
    return json(render_action(services, services.connectors.get_action(who, request.path_params["id"])))


async def update_action(request: Request) -> Response:
    who = await caller(request)
    document = await read_object(request)
    enable, description = _flags(document, R_ACTIONS)
    services = ctx(request)
    old = services.connectors.get_action(who, request.path_params["id"]).action
    connector, parameters, opts = _action_fields(document)
    loaded = await services.connectors.update_action(
        who,
        old.id,
        connector if connector is not None else old.connector,
        parameters,
        opts,
        enable,
        description,
    )
    return json(render_action(services, loaded))


async def delete_action(request: Request) -> Response:
    who = await caller(request)
    await ctx(request).connectors.delete_action(who, request.path_params["id"])
    return no_content()


async def action_metrics(request: Request) -> Response:
    who = await caller(request)
    services = ctx(request)
    action = services.connectors.get_action(who, request.path_params["id"]).action
    metrics = services.sinks.action_metrics(who.tenant_id, action.id)
    return json(
        {"metrics": metrics, "node_metrics": [{"node": services.monitoring.node, "metrics": metrics}]}
    )


async def reset_action_metrics(request: Request) -> Response:
    who = await caller(request)
    services = ctx(request)
    action = services.connectors.get_action(who, request.path_params["id"]).action
    services.sinks.reset_metrics(who.tenant_id, action.id)
    return no_content()


async def action_types(request: Request) -> Response:
    await caller(request)
    return json(list(TYPES))


routes = [
    Route("/connectors", list_connectors, methods=["GET"]),
    Route("/connectors", create_connector, methods=["POST"]),
    Route("/connectors_probe", probe_connector, methods=["POST"]),
    Route("/connectors/{id}", get_connector, methods=["GET"]),
    Route("/connectors/{id}", update_connector, methods=["PUT"]),
    Route("/connectors/{id}", delete_connector, methods=["DELETE"]),
    Route("/connectors/{id}/start", start_connector, methods=["POST"]),
    Route("/actions", list_actions, methods=["GET"]),
    Route("/actions", create_action, methods=["POST"]),
    Route("/action_types", action_types, methods=["GET"]),
    Route("/actions/{id}", get_action, methods=["GET"]),
    Route("/actions/{id}", update_action, methods=["PUT"]),
    Route("/actions/{id}", delete_action, methods=["DELETE"]),
    Route("/actions/{id}/metrics", action_metrics, methods=["GET"]),
    Route("/actions/{id}/metrics/reset", reset_action_metrics, methods=["PUT"]),
]
