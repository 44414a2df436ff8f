"""/api/v5/authorization/sources/built_in_database/rules/{users,clients,all}: operator rules of the caller's
tenant, in EMQX 5's shapes (emqx_authz_api_mnesia; docs/protocols.md section 8):

* GET /users, /clients: `{data: [{username|clientid, rules}], meta}` (filter like_username / like_clientid);
  POST: an array `[{username|clientid, rules}]` -> 204, 409 ALREADY_EXISTS when any has rules already;
* GET/PUT/DELETE /users/{username}, /clients/{clientid}: `{username|clientid, rules}` / 204 / 204, 404;
* GET /all `{rules}`, POST /all `{rules}` -> 204 (replaces), DELETE /all -> 204 (empties).
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tether.api.context import ctx
from tether.api.emqx.common import (
    caller,
    json,
    no_content,
    page_request,
    paged,
    read_json,
    read_object,
)
from tether.api.emqx.errors import R
from tether.core.errors import BadRequest
from tether.credentials.models import AclRule, RuleScope, RuleSet
from tether.credentials.rules import parse_rules, render_rule

BASE = "/authorization/sources/built_in_database/rules"  # under the app's mount, /api/v5
_KEY = {RuleScope.USERNAME: "username", RuleScope.CLIENTID: "clientid"}


def render(rule_set: RuleSet) -> dict[str, Any]:
    body: dict[str, Any] = {}
    if rule_set.scope in _KEY:
        body[_KEY[rule_set.scope]] = rule_set.who
    body["rules"] = [render_rule(rule) for rule in rule_set.rules]
    return body


def _entry(raw: Any, scope: RuleScope) -> tuple[str, tuple[AclRule, ...]]:
    key = _KEY[scope]
    if not isinstance(raw, dict):
        raise BadRequest(f"Each item must be an object {{{key}, rules}}", resource=R)
    who = raw.get(key)
    if not isinstance(who, str) or not who:
        raise BadRequest(f"Missing required parameter: {key}", resource=R)
    if "rules" not in raw:
        raise BadRequest("Missing required parameter: rules", resource=R)
    return who, parse_rules(raw["rules"])


def _scoped(scope: RuleScope) -> tuple[Any, Any, Any, Any, Any]:
    key = _KEY[scope]

    async def list_sets(request: Request) -> Response:
        who = await caller(request)
        like = request.query_params.get(f"like_{key}") or None
        page = await ctx(request).acl.list_rules(who, scope, page_request(request), like)
        return json(paged([render(s) for s in page.items], page))

    async def create_sets(request: Request) -> Response:
        who = await caller(request)
        document = await read_json(request)
        if not isinstance(document, list):
            raise BadRequest(f"The body must be an array of {{{key}, rules}}", resource=R)
        await ctx(request).acl.create(who, scope, [_entry(item, scope) for item in document])
        return no_content()

    async def get_set(request: Request) -> Response:
        who = await caller(request)
        return json(render(await ctx(request).acl.get(who, scope, request.path_params[key])))

    async def put_set(request: Request) -> Response:
        who = await caller(request)
        subject, rules = _entry(await read_object(request), scope)
        if subject != request.path_params[key]:
            raise BadRequest(f"The body's {key} must be the one in the path", resource=R)
        await ctx(request).acl.put(who, scope, subject, rules)
        return no_content()

    async def delete_set(request: Request) -> Response:
        who = await caller(request)
        await ctx(request).acl.delete(who, scope, request.path_params[key])
        return no_content()

    return list_sets, create_sets, get_set, put_set, delete_set


async def get_all(request: Request) -> Response:
    who = await caller(request)
    return json(render(await ctx(request).acl.get(who, RuleScope.ALL, "")))


async def post_all(request: Request) -> Response:
    who = await caller(request)
    document = await read_object(request)
    if "rules" not in document:
        raise BadRequest("Missing required parameter: rules", resource=R)
    await ctx(request).acl.put(who, RuleScope.ALL, "", parse_rules(document["rules"]))
    return no_content()


async def delete_all(request: Request) -> Response:
    who = await caller(request)
    await ctx(request).acl.delete(who, RuleScope.ALL, "")
    return no_content()


def _routes() -> list[Route]:
    routes = []
    for scope, path in ((RuleScope.USERNAME, "users"), (RuleScope.CLIENTID, "clients")):
        list_sets, create_sets, get_set, put_set, delete_set = _scoped(scope)
        key = _KEY[scope]
        routes += [
            Route(f"{BASE}/{path}", list_sets, methods=["GET"]),
            Route(f"{BASE}/{path}", create_sets, methods=["POST"]),
            Route(f"{BASE}/{path}/{{{key}}}", get_set, methods=["GET"]),
            Route(f"{BASE}/{path}/{{{key}}}", put_set, methods=["PUT"]),
            Route(f"{BASE}/{path}/{{{key}}}", delete_set, methods=["DELETE"]),
        ]
    routes += [
        Route(f"{BASE}/all", get_all, methods=["GET"]),
        Route(f"{BASE}/all", post_all, methods=["POST"]),
        Route(f"{BASE}/all", delete_all, methods=["DELETE"]),
    ]
    return routes


routes = _routes()
