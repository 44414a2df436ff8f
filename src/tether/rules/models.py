"""A rule as operators define it (EMQX 5's rule object: id, name, sql, actions, enable, description,
metadata) and its built-in actions, `republish` and `console`, checked once when the rule is saved."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from tether.core.errors import BadRequest

from .templates import Template

__all__ = [
    "R_RULES",
    "Action",
    "Console",
    "Republish",
    "Rule",
    "RuleDraft",
    "Sink",
    "parse_actions",
    "render_action",
    "validate_id",
]

R_RULES = "rules"
MAX_TEXT = 255
MAX_SQL = 64 * 1024
_ID = re.compile(r"[A-Za-z0-9_.:\-]{1,255}")

#: republish's `mqtt_properties` (EMQX's names) -> the MQTT 5 property they set (spec 3.3.2.3).
MQTT_PROPERTIES = {
    "Payload-Format-Indicator": "payload_format_indicator",
    "Message-Expiry-Interval": "message_expiry_interval",
    "Content-Type": "content_type",
    "Response-Topic": "response_topic",
    "Correlation-Data": "correlation_data",
}


@dataclass(frozen=True, slots=True)
class Republish:
    """Publish each output to a topic of the rule's tenant; every argument is a `${var}` template."""

    topic: Template
    qos: Template
    retain: Template
    payload: Template  # empty: the output as JSON
    user_properties: Template
    mqtt_properties: tuple[tuple[str, Template], ...] = ()
    direct_dispatch: bool = False  # EMQX's option; accepted and shown, routing is the same here

    function = "republish"


@dataclass(frozen=True, slots=True)
class Console:
    """Log each output (the server's log, at INFO)."""

    function = "console"


@dataclass(frozen=True, slots=True)
class Sink:
    """A sink action of the tenant (`/api/v5/actions`), named `<type>:<name>` as EMQX's rules name it."""

    id: str

    function = "sink"


Action = Republish | Console | Sink
#: The sink types a rule may name (rules/connectors.py offers them).
SINK_TYPES = ("http", "pgsql", "mysql", "redis", "mqtt")
_SINK = re.compile(r"(http|pgsql|mysql|redis|mqtt):[A-Za-z0-9][A-Za-z0-9_.\-]{0,254}")


@dataclass(frozen=True)
class RuleDraft:
    """What an operator sends (POST, PUT); checked by the service."""

    id: str | None
    name: str
    sql: str
    actions: tuple[Action, ...]
    enable: bool = True
    description: str = ""
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Rule:
    tenant_id: str
    id: str
    name: str
    sql: str
    actions: tuple[Action, ...]
    enable: bool
    description: str
    metadata: dict[str, Any]
    created_at: int  # ms since the epoch
    updated_at: int


def validate_id(rule_id: str) -> str:
    if not _ID.fullmatch(rule_id):
        raise BadRequest("a rule id is 1 to 255 letters, digits and the characters _ . : -", resource=R_RULES)
    return rule_id


def _template(args: dict[str, Any], name: str, default: str) -> Template:
    raw = args.get(name, default)
    if isinstance(raw, bool):
        raw = "true" if raw else "false"
    elif isinstance(raw, int):
        raw = str(raw)
    if not isinstance(raw, str):
        raise BadRequest(f"republish: '{name}' must be a string template", resource=R_RULES)
    try:
        return Template.parse(raw)
    except Exception as exc:  # RuleSyntaxError: where in the template
        raise BadRequest(f"republish: '{name}': {exc}", resource=R_RULES) from None


def _republish(args: object) -> Republish:
    if not isinstance(args, dict):
        raise BadRequest("republish: 'args' must be an object", resource=R_RULES)
    known = {"topic", "qos", "retain", "payload", "user_properties", "mqtt_properties", "direct_dispatch"}
    unknown = set(args) - known
    if unknown:
        raise BadRequest(f"republish: unknown arguments {', '.join(sorted(unknown))}", resource=R_RULES)
    if not isinstance(args.get("topic"), str) or not args["topic"]:
        raise BadRequest("republish: 'topic' is required", resource=R_RULES)
    qos = args.get("qos", 0)
    if isinstance(qos, int) and not isinstance(qos, bool) and qos not in (0, 1, 2):
        raise BadRequest("republish: 'qos' must be 0, 1, 2 or a template", resource=R_RULES)
    properties = args.get("mqtt_properties", {})
    if not isinstance(properties, dict):
        raise BadRequest("republish: 'mqtt_properties' must be an object", resource=R_RULES)
    bad = set(properties) - set(MQTT_PROPERTIES)
    if bad:
        raise BadRequest(
            f"republish: unknown mqtt_properties {', '.join(sorted(bad))} "
            f"(known: {', '.join(MQTT_PROPERTIES)})",
            resource=R_RULES,
        )
    direct = args.get("direct_dispatch", False)
    if not isinstance(direct, bool):
        raise BadRequest("republish: 'direct_dispatch' must be a boolean", resource=R_RULES)
    return Republish(
        topic=_template(args, "topic", ""),
        qos=_template(args, "qos", "0"),
        retain=_template(args, "retain", "false"),
        payload=_template(args, "payload", ""),
        user_properties=_template(args, "user_properties", "${user_properties}"),
        mqtt_properties=tuple((name, _template(properties, name, "")) for name in sorted(properties)),
        direct_dispatch=direct,
    )


def parse_actions(raw: object) -> tuple[Action, ...]:
    """EMQX's `actions`: `{"function": "republish", "args": {...}}` or `{"function": "console"}` (or the
    bare name "console"), and sinks by their id `"<type>:<name>"` (`"http:my_webhook"`)."""
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise BadRequest("'actions' must be an array", resource=R_RULES)
    actions: list[Action] = []
    for item in raw:
        if item == "console":
            actions.append(Console())
            continue
        if isinstance(item, str):
            if not _SINK.fullmatch(item):
                raise BadRequest(
                    f"unknown action {item!r}: republish, console or a sink <type>:<name> "
                    f"(types {', '.join(SINK_TYPES)})",
                    resource=R_RULES,
                )
            actions.append(Sink(item))
            continue
        if not isinstance(item, dict):
            raise BadRequest("an action is an object with 'function'", resource=R_RULES)
        function = item.get("function")
        if function == "console":
            if set(item) - {"function", "args"}:
                raise BadRequest("console takes no arguments", resource=R_RULES)
            actions.append(Console())
        elif function == "republish":
            if set(item) - {"function", "args"}:
                raise BadRequest("an action has only 'function' and 'args'", resource=R_RULES)
            actions.append(_republish(item.get("args")))
        else:
            raise BadRequest(
                f"unknown action function {function!r}: republish and console are available",
                resource=R_RULES,
            )
    return tuple(actions)


def render_action(action: Action) -> dict[str, Any] | str:
    """An action in EMQX's shape (what `parse_actions` reads back)."""
    if isinstance(action, Sink):
        return action.id
    if isinstance(action, Console):
        return {"function": "console", "args": {}}
    return {
        "function": "republish",
        "args": {
            "topic": action.topic.text,
            "qos": _scalar(action.qos.text),
            "retain": _scalar(action.retain.text),
            "payload": action.payload.text,
            "user_properties": action.user_properties.text,
            "mqtt_properties": {name: template.text for name, template in action.mqtt_properties},
            "direct_dispatch": action.direct_dispatch,
        },
    }


def _scalar(text: str) -> int | bool | str:
    """qos and retain as given: a number or a boolean when they are one, else the template."""
    if text in ("0", "1", "2"):
        return int(text)
    if text in ("true", "false"):
        return text == "true"
    return text
