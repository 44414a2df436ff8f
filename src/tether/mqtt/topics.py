"""Topic names, topic filters and shared subscriptions (spec 4.7 and 4.8.2)."""

from __future__ import annotations

from dataclasses import dataclass

from .constants import MAX_STRING_LENGTH
from .errors import ProtocolError
from .reason_codes import ReasonCode

__all__ = [
    "SHARE_PREFIX",
    "SharedSubscription",
    "filter_covers",
    "has_wildcards",
    "is_valid_topic_filter",
    "is_valid_topic_name",
    "matches",
    "parse_shared_subscription",
    "topic_filter_problem",
    "topic_name_problem",
    "validate_topic_filter",
    "validate_topic_name",
]

SHARE_PREFIX = "$share/"


def _length_problem(value: str) -> str | None:
    # [MQTT-4.7.3-1] All Topic Names and Topic Filters MUST be at least one character long.
    if not value:
        return "must be at least one character long"
    # [MQTT-4.7.3-2] Topic Names and Topic Filters MUST NOT include the null character (U+0000).
    if "\x00" in value:
        return "contains U+0000"
    # [MQTT-4.7.3-3] Topic Names and Topic Filters are UTF-8 Encoded Strings; they MUST NOT encode to more
    # than 65,535 bytes. A character takes at most 4 bytes in UTF-8, so only long strings need encoding.
    if len(value) > MAX_STRING_LENGTH // 4:
        try:
            if len(value.encode("utf-8")) > MAX_STRING_LENGTH:
                return "is longer than 65535 bytes"
        except UnicodeEncodeError:
            return "is not valid UTF-8"
    return None


def topic_name_problem(topic: str) -> str | None:
    """Why ``topic`` is not a valid Topic Name, or ``None`` if it is."""
    problem = _length_problem(topic)
    if problem is not None:
        return problem
    # [MQTT-4.7.1-1] The wildcard characters can be used in Topic Filters, but MUST NOT be used within a Topic
    # Name.
    if "+" in topic or "#" in topic:
        return "contains a wildcard character"
    return None


def topic_filter_problem(topic_filter: str) -> str | None:
    """Why ``topic_filter`` is not a valid Topic Filter, or ``None`` if it is.

    ``$share/<ShareName>/<filter>`` filters are also checked against spec 4.8.2.
    """
    problem = _length_problem(topic_filter)
    if problem is not None:
        return problem
    if topic_filter.startswith(SHARE_PREFIX):
        rest = topic_filter[len(SHARE_PREFIX) :]
        name, sep, inner = rest.partition("/")
        # [MQTT-4.8.2-1] a Shared Subscription's Topic Filter MUST start with "$share/" and MUST contain a
        # ShareName that is at least one character long.
        if not name:
            return "shared subscription without a share name"
        # [MQTT-4.8.2-2] The ShareName MUST NOT contain "/", "+" or "#", but MUST be followed by a "/"
        # character. This "/" character MUST be followed by a Topic Filter.
        if "+" in name or "#" in name:
            return "share name contains a wildcard character"
        if not sep or not inner:
            return "shared subscription without a topic filter"
        topic_filter = inner
    if "+" not in topic_filter and "#" not in topic_filter:
        return None
    levels = topic_filter.split("/")
    last = len(levels) - 1
    for i, level in enumerate(levels):
        # [MQTT-4.7.1-2] The multi-level wildcard character MUST be specified either on its own or following a
        # topic level separator. In either case it MUST be the last character specified in the Topic Filter.
        if "#" in level and (level != "#" or i != last):
            return "'#' must be the whole last level"
        # [MQTT-4.7.1-3] The single-level wildcard can be used at any level, but it MUST occupy an entire
        # level.
        if "+" in level and level != "+":
            return "'+' must occupy an entire level"
    return None


def is_valid_topic_name(topic: str) -> bool:
    return topic_name_problem(topic) is None


def is_valid_topic_filter(topic_filter: str) -> bool:
    return topic_filter_problem(topic_filter) is None


def validate_topic_name(topic: str) -> None:
    """Raise :class:`ProtocolError` (0x90 Topic Name invalid) unless ``topic`` is a valid Topic Name."""
    problem = topic_name_problem(topic)
    if problem is not None:
        raise ProtocolError(ReasonCode.TOPIC_NAME_INVALID, f"topic name {topic!r} {problem}")


def validate_topic_filter(topic_filter: str) -> None:
    """Raise :class:`ProtocolError` (0x8F Topic Filter invalid) unless ``topic_filter`` is valid."""
    problem = topic_filter_problem(topic_filter)
    if problem is not None:
        raise ProtocolError(ReasonCode.TOPIC_FILTER_INVALID, f"topic filter {topic_filter!r} {problem}")


def has_wildcards(topic_filter: str) -> bool:
    return "+" in topic_filter or "#" in topic_filter


@dataclass(frozen=True, slots=True)
class SharedSubscription:
    """``$share/<share_name>/<topic_filter>`` (spec 4.8.2)."""

    share_name: str
    topic_filter: str


def parse_shared_subscription(topic_filter: str) -> SharedSubscription | None:
    """Split a shared subscription filter; ``None`` for an ordinary filter.

    Raises :class:`ProtocolError` (0x8F) for a ``$share/`` filter that breaks spec 4.8.2.
    """
    if not topic_filter.startswith(SHARE_PREFIX):
        return None
    validate_topic_filter(topic_filter)
    name, _, inner = topic_filter[len(SHARE_PREFIX) :].partition("/")
    return SharedSubscription(name, inner)


def matches(topic_filter: str, topic: str) -> bool:
    """Whether a (non-shared) Topic Filter matches a Topic Name (spec 4.7).

    For a shared subscription, pass :attr:`SharedSubscription.topic_filter`.
    """
    # [MQTT-4.7.2-1] The Server MUST NOT match Topic Filters starting with a wildcard character (# or +) with
    # Topic Names beginning with a $ character.
    if topic[:1] == "$" and topic_filter[:1] in ("+", "#"):
        return False
    if "+" not in topic_filter and "#" not in topic_filter:
        return topic_filter == topic
    f_levels = topic_filter.split("/")
    t_levels = topic.split("/")
    n = len(t_levels)
    for i, level in enumerate(f_levels):
        if level == "#":
            # spec 4.7.1.2: "sport/#" also matches the parent level "sport".
            return True
        if i >= n:
            return False
        if level != "+" and level != t_levels[i]:
            return False
    return len(f_levels) == n


def filter_covers(rule_filter: str, requested: str) -> bool:
    """Whether every topic name the filter ``requested`` can match is matched by ``rule_filter``: ``a/#``
    covers ``a/+/c``; ``a/b`` covers neither ``a/#`` nor ``a/+`` (ACL rules on subscriptions, like EMQX's
    filter-against-filter match)."""
    # [MQTT-4.7.2-1] a rule starting with a wildcard does not cover "$" topics.
    if requested[:1] == "$" and rule_filter[:1] in ("+", "#"):
        return False
    rule = rule_filter.split("/")
    req = requested.split("/")
    for i, level in enumerate(rule):
        if level == "#":
            return True
        if i >= len(req):
            return False
        asked = req[i]
        if asked == "#":
            return False  # the request reaches deeper than this rule
        if level != "+" and asked != level:
            return False
    return len(rule) == len(req)
