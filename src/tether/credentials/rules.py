"""Authorization rules of the EMQX built-in database shape: parsing, rendering and evaluation.

A rule is `{"topic", "permission": allow|deny, "action": publish|subscribe|all, "qos": [0,1,2],
"retain": true|false|"all"}` (EMQX 5 emqx_authz_api_mnesia `rule_item`; qos defaults to all three, retain to
`all`). A topic may be `eq <filter>` (the filter matched literally) and may use the placeholders
`${username}` and `${clientid}`.

Evaluation is EMQX's: the rules for the client's user name, then those for its client id, then those for
all; the first rule that matches decides; no match leaves the decision to the next authority
(:func:`decide` returns None). Rules are compiled once per connection (placeholders filled), so a check on
the hot path is a short loop over small tuples.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from tether.core.errors import BadRequest
from tether.credentials.models import R_ACL, AclRule, Action, Permission
from tether.mqtt.topics import SHARE_PREFIX, filter_covers, is_valid_topic_filter, matches

__all__ = ["CompiledRule", "compile_rules", "decide", "parse_rule", "parse_rules", "render_rule"]

_EQ = "eq "
_PLACEHOLDERS = ("${username}", "${clientid}")
MAX_RULES = 100  # EMQX's default `max_rules` per user or client


def _fail(message: str) -> BadRequest:
    return BadRequest(message, resource=R_ACL)


def parse_rule(raw: Any) -> AclRule:
    """One rule from JSON; a missing or malformed field is BadRequest (EMQX answers 400 BAD_REQUEST)."""
    if not isinstance(raw, Mapping):
        raise _fail("Each rule must be an object {topic, permission, action, qos, retain}")
    topic = raw.get("topic")
    if not isinstance(topic, str) or not topic:
        raise _fail("Rule field 'topic' is required: a topic filter")
    literal = topic[len(_EQ) :] if topic.startswith(_EQ) else topic
    probe = literal
    for placeholder in _PLACEHOLDERS:
        probe = probe.replace(placeholder, "x")
    if not is_valid_topic_filter(probe):
        raise _fail(f"Rule topic {topic!r} is not a valid topic filter")
    try:
        permission = Permission(str(raw.get("permission")))
    except ValueError:
        raise _fail("Rule field 'permission' must be 'allow' or 'deny'") from None
    try:
        action = Action(str(raw.get("action")))
    except ValueError:
        raise _fail("Rule field 'action' must be 'publish', 'subscribe' or 'all'") from None
    qos_raw = raw.get("qos", [0, 1, 2])
    if isinstance(qos_raw, int) and not isinstance(qos_raw, bool):
        qos_raw = [qos_raw]
    if (
        not isinstance(qos_raw, list)
        or not qos_raw
        or any(not isinstance(q, int) or isinstance(q, bool) or q not in (0, 1, 2) for q in qos_raw)
    ):
        raise _fail("Rule field 'qos' must be a non-empty list of 0, 1 and 2")
    retain_raw = raw.get("retain", "all")
    if retain_raw == "all":
        retain: bool | None = None
    elif isinstance(retain_raw, bool):
        retain = retain_raw
    else:
        raise _fail("Rule field 'retain' must be true, false or \"all\"")
    unknown = set(raw) - {"topic", "permission", "action", "qos", "retain"}
    if unknown:
        raise _fail(f"Unknown rule field(s): {', '.join(sorted(unknown))}")
    return AclRule(topic, permission, action, tuple(sorted(set(qos_raw))), retain)


def parse_rules(raw: Any) -> tuple[AclRule, ...]:
    if not isinstance(raw, list):
        raise _fail("'rules' must be a list of rules")
    if len(raw) > MAX_RULES:
        raise _fail(f"At most {MAX_RULES} rules per user, client or for all")
    return tuple(parse_rule(item) for item in raw)


def render_rule(rule: AclRule) -> dict[str, Any]:
    return {
        "topic": rule.topic,
        "permission": rule.permission.value,
        "action": rule.action.value,
        "qos": list(rule.qos),
        "retain": "all" if rule.retain is None else rule.retain,
    }


@dataclass(frozen=True, slots=True)
class CompiledRule:
    """A rule with its placeholders filled for one connection."""

    allow: bool
    publish: bool
    subscribe: bool
    topic: str
    exact: bool  # `eq`: the filter itself, not what it matches
    qos: frozenset[int] | None  # None: any
    retain: bool | None  # None: any


def _fill(topic: str, username: str | None, client_id: str) -> str | None:
    """Placeholders replaced; None when a value is missing or would widen the filter (`+`, `#`, `/`)."""
    if "${" not in topic:
        return topic
    for placeholder, value in (("${username}", username), ("${clientid}", client_id)):
        if placeholder in topic:
            if not value or any(c in value for c in "+#/"):
                return None
            topic = topic.replace(placeholder, value)
    return topic


def compile_rules(rules: Iterable[AclRule], username: str | None, client_id: str) -> tuple[CompiledRule, ...]:
    compiled = []
    for rule in rules:
        exact = rule.topic.startswith(_EQ)
        topic = _fill(rule.topic[len(_EQ) :] if exact else rule.topic, username, client_id)
        if topic is None:
            continue  # EMQX: a placeholder without a value never matches
        compiled.append(
            CompiledRule(
                allow=rule.permission is Permission.ALLOW,
                publish=rule.action is not Action.SUBSCRIBE,
                subscribe=rule.action is not Action.PUBLISH,
                topic=topic,
                exact=exact,
                qos=None if len(rule.qos) == 3 else frozenset(rule.qos),
                retain=rule.retain,
            )
        )
    return tuple(compiled)


def _condition_ok(value: int | bool | None, wanted: frozenset[int] | bool | None, allow: bool) -> bool:
    """A qos/retain condition of a rule. When the broker does not say (value None), a restricted allow rule
    does not match and a restricted deny rule does: unknown never widens access."""
    if wanted is None:
        return True
    if value is None:
        return not allow
    if isinstance(wanted, frozenset):
        return value in wanted
    return value == wanted


def decide(
    rules: Sequence[CompiledRule],
    publish: bool,
    topic: str,
    qos: int | None = None,
    retain: bool | None = None,
) -> bool | None:
    """True (allow) / False (deny) by the first matching rule, None when no rule matches. `topic` is a
    topic name for publish, the requested filter for subscribe (`$share/<group>/` is ignored)."""
    if not publish and topic.startswith(SHARE_PREFIX):
        topic = topic[len(SHARE_PREFIX) :].partition("/")[2]
    for rule in rules:
        if not (rule.publish if publish else rule.subscribe):
            continue
        if rule.exact:
            hit = rule.topic == topic
        elif publish:
            hit = matches(rule.topic, topic)
        else:
            hit = filter_covers(rule.topic, topic)
        if not hit:
            continue
        if not _condition_ok(qos, rule.qos, rule.allow):
            continue
        if publish and not _condition_ok(retain, rule.retain, rule.allow):
            continue
        return rule.allow
    return None
