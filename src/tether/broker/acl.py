"""Access control rules from the config file (`[acl]`), evaluated in order, first match wins.

::

    [acl]
    default = "allow"                      # when no rule matches
    [[acl.rules]]
    permission = "deny"                    # allow | deny
    action = "subscribe"                   # publish | subscribe | all
    topic = "test/nosubscribe"             # a topic filter; %c = client id, %u = user name
    # username = "dev1"                    # optional: the rule applies to this user only
    # client_id = "c1"                     # optional: the rule applies to this client only

For PUBLISH the rule's filter is matched against the topic name. For SUBSCRIBE the rule applies when it covers
the requested filter, i.e. when every topic the requested filter can match is matched by the rule's filter (a
rule on `a/#` covers a request for `a/+/c`; a rule on `a/b` does not cover a request for `a/#`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from tether.mqtt.topics import SHARE_PREFIX, filter_covers, is_valid_topic_filter, matches

__all__ = ["AclRule", "check_acl", "parse_acl"]

Action = Literal["publish", "subscribe"]


@dataclass(frozen=True, slots=True)
class AclRule:
    allow: bool
    topic: str
    publish: bool = True
    subscribe: bool = True
    username: str | None = None
    client_id: str | None = None

    def applies_to(self, client_id: str, username: str | None) -> bool:
        if self.username is not None and self.username != username:
            return False
        return self.client_id is None or self.client_id == client_id

    def filter_for(self, client_id: str, username: str | None) -> str | None:
        """The rule's filter with %c and %u substituted; ``None`` if a substitution is not possible."""
        topic = self.topic
        if "%" not in topic:
            return topic
        if "%u" in topic and not username:
            return None
        # A client id or user name with wildcards or "/" must not widen the rule.
        for value in (client_id, username or ""):
            if "+" in value or "#" in value or "/" in value:
                return None
        return topic.replace("%c", client_id).replace("%u", username or "")


def parse_acl(section: Mapping[str, Any]) -> tuple[tuple[AclRule, ...], bool]:
    """Parse the `[acl]` section: (rules, default allow)."""
    default = str(section.get("default", "allow")).lower()
    if default not in ("allow", "deny"):
        raise ValueError("[acl] default must be 'allow' or 'deny'")
    rules: list[AclRule] = []
    for i, raw in enumerate(section.get("rules", [])):
        permission = str(raw.get("permission", "allow")).lower()
        action = str(raw.get("action", "all")).lower()
        topic = str(raw.get("topic", ""))
        if permission not in ("allow", "deny") or action not in ("publish", "subscribe", "all"):
            raise ValueError(f"[[acl.rules]] #{i + 1}: permission allow|deny, action publish|subscribe|all")
        if not is_valid_topic_filter(topic.replace("%c", "c").replace("%u", "u")):
            raise ValueError(f"[[acl.rules]] #{i + 1}: invalid topic filter {topic!r}")
        rules.append(
            AclRule(
                allow=permission == "allow",
                topic=topic,
                publish=action in ("publish", "all"),
                subscribe=action in ("subscribe", "all"),
                username=raw.get("username"),
                client_id=raw.get("client_id"),
            )
        )
    return tuple(rules), default == "allow"


def check_acl(
    rules: tuple[AclRule, ...],
    default_allow: bool,
    action: Action,
    client_id: str,
    username: str | None,
    topic: str,
) -> bool:
    """Whether ``action`` on ``topic`` (a topic name for publish, a filter for subscribe) is allowed."""
    if action == "subscribe" and topic.startswith(SHARE_PREFIX):
        topic = topic[len(SHARE_PREFIX) :].partition("/")[2]
    for rule in rules:
        if not (rule.publish if action == "publish" else rule.subscribe):
            continue
        if not rule.applies_to(client_id, username):
            continue
        rule_filter = rule.filter_for(client_id, username)
        if rule_filter is None:
            continue
        hit = matches(rule_filter, topic) if action == "publish" else filter_covers(rule_filter, topic)
        if hit:
            return rule.allow
    return default_allow
