"""EMQX built-in database rules: parsing and evaluation (first match wins; `eq`; placeholders; qos/retain)."""

from __future__ import annotations

import pytest

from tether.core.errors import BadRequest
from tether.credentials.rules import compile_rules, decide, parse_rule, parse_rules, render_rule
from tether.mqtt.topics import filter_covers as covers


def rules(*raw: dict[str, object], username: str | None = "u1", client_id: str = "c1"):
    return compile_rules(parse_rules(list(raw)), username, client_id)


def test_defaults_and_rendering() -> None:
    rule = parse_rule({"topic": "a/#", "permission": "allow", "action": "all"})
    assert render_rule(rule) == {
        "topic": "a/#",
        "permission": "allow",
        "action": "all",
        "qos": [0, 1, 2],
        "retain": "all",
    }
    assert parse_rule(render_rule(rule)) == rule


def test_first_match_wins() -> None:
    chain = rules(
        {"topic": "a/secret", "permission": "deny", "action": "all"},
        {"topic": "a/#", "permission": "allow", "action": "publish"},
    )
    assert decide(chain, True, "a/secret") is False
    assert decide(chain, True, "a/open") is True
    assert decide(chain, False, "a/open") is None  # publish-only rule: no match for subscribe
    assert decide(chain, True, "b") is None


def test_subscribe_filters_are_covered_not_matched() -> None:
    chain = rules({"topic": "a/+/c", "permission": "allow", "action": "subscribe"})
    assert decide(chain, False, "a/b/c") is True
    assert decide(chain, False, "a/+/c") is True
    assert decide(chain, False, "a/#") is None  # reaches further than the rule
    assert decide(chain, False, "$share/g/a/x/c") is True
    assert covers("#", "a/#") and not covers("#", "$SYS/x") and not covers("a/b", "a/b/c")


def test_eq_and_placeholders() -> None:
    chain = rules(
        {"topic": "eq a/#", "permission": "allow", "action": "subscribe"},
        {"topic": "users/${username}/#", "permission": "allow", "action": "all"},
        {"topic": "clients/${clientid}", "permission": "allow", "action": "publish"},
    )
    assert decide(chain, False, "a/#") is True
    assert decide(chain, False, "a/b") is None
    assert decide(chain, True, "users/u1/x") is True
    assert decide(chain, True, "users/u2/x") is None
    assert decide(chain, True, "clients/c1") is True
    # A value that would widen a filter never fills a placeholder.
    widened = rules({"topic": "users/${username}", "permission": "allow", "action": "all"}, username="a/#")
    assert widened == ()
    assert rules({"topic": "users/${username}", "permission": "allow", "action": "all"}, username=None) == ()


def test_qos_and_retain_conditions() -> None:
    chain = rules(
        {"topic": "t", "permission": "deny", "action": "publish", "qos": [2]},
        {"topic": "t", "permission": "deny", "action": "publish", "retain": True},
        {"topic": "t", "permission": "allow", "action": "publish"},
    )
    assert decide(chain, True, "t", 2, False) is False
    assert decide(chain, True, "t", 1, True) is False
    assert decide(chain, True, "t", 1, False) is True
    # Unknown qos/retain (the broker does not say yet): restricted deny rules match, restricted allows do not.
    assert decide(chain, True, "t") is False
    allow_only = rules({"topic": "t", "permission": "allow", "action": "publish", "qos": [0]})
    assert decide(allow_only, True, "t") is None
    assert decide(allow_only, True, "t", 0) is True


@pytest.mark.parametrize(
    "raw",
    [
        {"permission": "allow", "action": "all"},
        {"topic": "", "permission": "allow", "action": "all"},
        {"topic": "a/#/b", "permission": "allow", "action": "all"},
        {"topic": "a", "permission": "ALLOW", "action": "all"},
        {"topic": "a", "permission": "allow", "action": "pub"},
        {"topic": "a", "permission": "allow", "action": "all", "qos": [True]},
        {"topic": "a", "permission": "allow", "action": "all", "retain": 1},
        ["a"],
    ],
)
def test_bad_rules(raw: object) -> None:
    with pytest.raises(BadRequest):
        parse_rule(raw)
