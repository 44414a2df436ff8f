"""/api/v5 rules (EMQX 5's rule engine API, emqx_rule_engine_api): the caller's tenant's rules, their
metrics, the events they may select from and a dry run of SQL. The service: rules/service.py; the engine
that runs them: adapters/rules.py.

* GET /rules `{data: [rule], meta}` (page, limit; enable, like_id, like_from, like_description, match_from);
* POST /rules `{id?, name?, sql, actions?, enable?, description?, metadata?}` -> 201 the rule; 400 BAD_REQUEST
  for invalid SQL (the message names the line and column), an invalid action or an id in use;
* GET|PUT|DELETE /rules/{id} -> 200 the rule (PUT: the fields given replace the rule's) | 204; 404 NOT_FOUND;
* GET /rules/{id}/metrics `{id, metrics, node_metrics: [{node, metrics}]}`; PUT .../metrics/reset -> 204;
* POST /rule_test `{sql, context: {event_type?, ...columns}}` -> 200 the output (FOREACH: the list), 412
  NOT_MATCH when the rule does not pass or its FROM does not take the context;
* POST /rules/{id}/test `{context, stop_action_after_template_rendering?}`: the same with a stored rule's SQL
  (its actions not run, its metrics unchanged); 404 NOT_FOUND for an unknown id;
* GET /rule_events: the `$events/...` a rule can select from, with their columns.

A rule in EMQX's shape: id, name, sql, actions, enable, description, metadata, from, created_at,
last_modified_at.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tether.api.context import ctx
from tether.api.emqx.common import caller, json, no_content, page_request, query_bool, read_object
from tether.api.emqx.errors import EmqxError
from tether.core.clock import now_ms, to_iso
from tether.core.errors import BadRequest, Conflict
from tether.mqtt.topics import is_valid_topic_filter, is_valid_topic_name, matches
from tether.rules.errors import RuleError
from tether.rules.events import CLIENT_EVENTS, EVENTS, MESSAGE_FIELDS, PLATFORM_EVENTS, event_name
from tether.rules.models import R_RULES, RuleDraft, parse_actions, render_action
from tether.rules.service import LoadedRule, TestResult
from tether.rules.values import to_json

_FIELDS = frozenset({"id", "name", "sql", "actions", "enable", "description", "metadata"})
_READ_ONLY = frozenset({"from", "created_at", "last_modified_at"})


def render(loaded: LoadedRule) -> dict[str, Any]:
    rule = loaded.rule
    return {
        "id": rule.id,
        "name": rule.name,
        "sql": rule.sql,
        "actions": [render_action(a) for a in rule.actions],
        "enable": rule.enable,
        "description": rule.description,
        "metadata": rule.metadata,
        "from": list(loaded.compiled.sources),
        "created_at": to_iso(rule.created_at),
        "last_modified_at": to_iso(rule.updated_at),
    }


def _fields(document: dict[str, Any]) -> dict[str, Any]:
    unknown = set(document) - _FIELDS - _READ_ONLY
    if unknown:
        raise BadRequest(f"Unknown fields: {', '.join(sorted(unknown))}", resource=R_RULES)
    for name in ("id", "name", "sql", "description"):
        if name in document and not isinstance(document[name], str):
            raise BadRequest(f"'{name}' must be a string", resource=R_RULES)
    if "enable" in document and not isinstance(document["enable"], bool):
        raise BadRequest("'enable' must be a boolean", resource=R_RULES)
    if "metadata" in document:
        if not isinstance(document["metadata"], dict):
            raise BadRequest("'metadata' must be an object", resource=R_RULES)
        try:
            to_json(document["metadata"])
        except RuleError:
            raise BadRequest("'metadata' cannot be stored as JSON", resource=R_RULES) from None
    return document


def _keeps(request: Request, loaded: LoadedRule) -> bool:
    query = request.query_params
    enable = query_bool(request, "enable")
    if enable is not None and loaded.rule.enable != enable:
        return False
    if query.get("like_id") and query["like_id"] not in loaded.rule.id:
        return False
    if query.get("like_description") and query["like_description"] not in loaded.rule.description:
        return False
    sources = loaded.compiled.sources
    if query.get("like_from") and not any(query["like_from"] in s for s in sources):
        return False
    match_from = query.get("match_from")
    return not match_from or any(s == match_from or matches(s, match_from) for s in sources)


async def list_rules(request: Request) -> Response:
    who = await caller(request)
    page = page_request(request)
    match_from = request.query_params.get("match_from")
    if match_from and not is_valid_topic_filter(match_from):
        raise EmqxError(400, "INVALID_PARAMETER", "match_from must be a topic")
    found = [r for r in ctx(request).rules.list(who) if _keeps(request, r)]
    items = [render(r) for r in found[page.offset : page.offset + page.page_size]]
    meta = {
        "page": page.current_page,
        "limit": page.page_size,
        "count": len(found),
        "hasnext": page.offset + len(items) < len(found),
    }
    return json({"data": items, "meta": meta})


async def create_rule(request: Request) -> Response:
    who = await caller(request)
    document = _fields(await read_object(request))
    if not isinstance(document.get("sql"), str):
        raise BadRequest("Missing required parameter: sql", resource=R_RULES)
    draft = RuleDraft(
        id=document.get("id") or None,
        name=document.get("name", ""),
        sql=document["sql"],
        actions=parse_actions(document.get("actions", [])),
        enable=document.get("enable", True),
        description=document.get("description", ""),
        metadata=document.get("metadata", {}),
    )
    ctx(request).connectors.check_sinks(who, draft.actions)
    try:
        loaded = await ctx(request).rules.create(who, draft)
    except Conflict:  # EMQX answers a rule id in use with 400
        raise EmqxError(400, "BAD_REQUEST", "rule id already exists") from None
    return json(render(loaded), 201)


async def get_rule(request: Request) -> Response:
    who = await caller(request)
    return json(render(ctx(request).rules.get(who, request.path_params["id"])))


async def update_rule(request: Request) -> Response:
    who = await caller(request)
    document = _fields(await read_object(request))
    rule_id = request.path_params["id"]
    if "id" in document and document["id"] != rule_id:
        raise BadRequest("the id of a rule cannot change", resource=R_RULES)
    actions = parse_actions(document["actions"]) if "actions" in document else None
    if actions is not None:
        ctx(request).connectors.check_sinks(who, actions)
    loaded = await ctx(request).rules.update(
        who,
        rule_id,
        name=document.get("name"),
        sql=document.get("sql"),
        actions=actions,
        enable=document.get("enable"),
        description=document.get("description"),
        metadata=document.get("metadata"),
    )
    return json(render(loaded))


async def delete_rule(request: Request) -> Response:
    who = await caller(request)
    await ctx(request).rules.delete(who, request.path_params["id"])
    return no_content()


async def rule_metrics(request: Request) -> Response:
    who = await caller(request)
    services = ctx(request)
    loaded = services.rules.get(who, request.path_params["id"])
    metrics = loaded.metrics.render()
    node = services.monitoring.node
    node_metrics = [{"node": node, "metrics": metrics}]
    return json({"id": loaded.rule.id, "metrics": metrics, "node_metrics": node_metrics})


async def reset_metrics(request: Request) -> Response:
    who = await caller(request)
    ctx(request).rules.reset_metrics(who, request.path_params["id"])
    return no_content()


def _context(request: Request, context: object) -> tuple[str, dict[str, Any]]:
    """A test's context as the source it stands for and its columns (EMQX's `event_type` names the source:
    `message_publish` by default, or an event such as `client_connected`)."""
    if not isinstance(context, dict):
        raise BadRequest("'context' must be an object", resource=R_RULES)
    event_type = context.get("event_type", "message_publish")
    if not isinstance(event_type, str):
        raise BadRequest("'event_type' must be a string", resource=R_RULES)
    columns: dict[str, Any] = {k: v for k, v in context.items() if k != "event_type"}
    columns.setdefault("timestamp", now_ms())
    columns.setdefault("node", ctx(request).monitoring.node)
    if event_type == "message_publish":
        source = columns.setdefault("topic", "t/a")
        if not isinstance(source, str) or not is_valid_topic_name(source):
            raise BadRequest("'topic' must be a topic name", resource=R_RULES)
        columns.setdefault("event", "message.publish")
    else:
        source = "$events/" + event_type
        columns.setdefault("event", event_name(source))
    return source, columns


def _tested(result: TestResult) -> Response:
    if not result.outputs:
        raise EmqxError(412, "NOT_MATCH", "SQL Not Match")
    try:
        text = to_json(result.outputs if result.foreach else result.outputs[0])
    except RuleError as exc:
        raise BadRequest(str(exc), resource=R_RULES) from None
    return Response(text, media_type="application/json")


async def rule_test(request: Request) -> Response:
    """Run SQL once on a context; the FROM must take the context's source."""
    who = await caller(request)
    document = await read_object(request)
    unknown = set(document) - {"sql", "context"}
    if unknown:
        raise BadRequest(f"Unknown fields: {', '.join(sorted(unknown))}", resource=R_RULES)
    source, columns = _context(request, document.get("context", {}))
    return _tested(ctx(request).rules.test(who, document.get("sql"), source, columns))


async def apply_rule(request: Request) -> Response:
    """POST /rules/{id}/test `{context, stop_action_after_template_rendering?}`: the stored rule's SQL on a
    context, as /rule_test does. Its actions are not run (EMQX runs them only as far as rendering their
    templates by default); its metrics do not change."""
    who = await caller(request)
    document = await read_object(request)
    unknown = set(document) - {"context", "stop_action_after_template_rendering"}
    if unknown:
        raise BadRequest(f"Unknown fields: {', '.join(sorted(unknown))}", resource=R_RULES)
    if not isinstance(document.get("stop_action_after_template_rendering", True), bool):
        raise BadRequest("'stop_action_after_template_rendering' must be a boolean", resource=R_RULES)
    services = ctx(request)
    services.rules.get(who, request.path_params["id"])  # 404 before the context is judged
    source, columns = _context(request, document.get("context", {}))
    return _tested(services.rules.test_stored(who, request.path_params["id"], source, columns))


_EVENT_LIST = [
    {
        "event": "$events/message_publish",
        "title": {"en": "Message publish"},
        "description": {"en": "A message is published: FROM a topic filter"},
        "columns": list(MESSAGE_FIELDS),
        "sql_example": "SELECT payload.msg as msg FROM \"t/#\" WHERE msg = 'hello'",
    },
    *(
        {
            "event": source.topic,
            "title": {"en": source.title},
            "description": {"en": source.title + (" (Tether)" if source in PLATFORM_EVENTS else " (EMQX)")},
            "columns": ["event", "timestamp", "node", *source.fields],
            "sql_example": f'SELECT * FROM "{source.topic}"',
        }
        for source in (*CLIENT_EVENTS, *PLATFORM_EVENTS)
    ),
]
assert len(EVENTS) == len(_EVENT_LIST) - 1


async def rule_events(request: Request) -> Response:
    await caller(request)
    return json(_EVENT_LIST)


routes = [
    Route("/rules", list_rules, methods=["GET"]),
    Route("/rules", create_rule, methods=["POST"]),
    Route("/rules/{id}", get_rule, methods=["GET"]),
    Route("/rules/{id}", update_rule, methods=["PUT"]),
    Route("/rules/{id}", delete_rule, methods=["DELETE"]),
    Route("/rules/{id}/metrics", rule_metrics, methods=["GET"]),
    Route("/rules/{id}/metrics/reset", reset_metrics, methods=["PUT"]),
    Route("/rules/{id}/test", apply_rule, methods=["POST"]),
    Route("/rule_test", rule_test, methods=["POST"]),
    Route("/rule_events", rule_events, methods=["GET"]),
]
