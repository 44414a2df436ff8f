"""/retention/retentions: a tenant's data retention rules (ROLE_RETENTION_RULE_READ; changes: _ADMIN)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tether.api.auth import authenticate
from tether.api.context import ctx
from tether.api.http import base_url, collection, json_response, page_request, path_id, read_json_object
from tether.c8y import retention as wire

R = "retention"


async def list_rules(request: Request) -> Response:
    who = await authenticate(request)
    page = await ctx(request).retention.find(who, page_request(request, resource=R))
    items = [wire.rule(base_url(request), r) for r in page.items]
    body = collection(request, "retentionRules", items, page)
    return json_response(request, body, "retentionRuleCollection")


async def create_rule(request: Request) -> Response:
    who = await authenticate(request)
    document = await read_json_object(request, resource=R)
    rule = await ctx(request).retention.create(who, wire.draft(document))
    body = wire.rule(base_url(request), rule)
    return json_response(request, body, "retentionRule", 201, {"Location": body["self"]})


async def get_rule(request: Request) -> Response:
    who = await authenticate(request)
    rule_id = path_id(request, "id", resource=R, what="retention rule")
    rule = await ctx(request).retention.get(who, rule_id)
    return json_response(request, wire.rule(base_url(request), rule), "retentionRule")


async def update_rule(request: Request) -> Response:
    who = await authenticate(request)
    rule_id = path_id(request, "id", resource=R, what="retention rule")
    document = await read_json_object(request, resource=R)
    service = ctx(request).retention
    current = await service.get(who, rule_id)
    rule = await service.update(who, rule_id, wire.draft(document, current))
    return json_response(request, wire.rule(base_url(request), rule), "retentionRule")


async def delete_rule(request: Request) -> Response:
    who = await authenticate(request)
    rule_id = path_id(request, "id", resource=R, what="retention rule")
    await ctx(request).retention.delete(who, rule_id)
    return Response(status_code=204)


routes = [
    Route("/retention/retentions", list_rules, methods=["GET"]),
    Route("/retention/retentions", create_rule, methods=["POST"]),
    Route("/retention/retentions/{id}", get_rule, methods=["GET"]),
    Route("/retention/retentions/{id}", update_rule, methods=["PUT"]),
    Route("/retention/retentions/{id}", delete_rule, methods=["DELETE"]),
]
