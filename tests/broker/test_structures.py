"""The broker's data structures alone: subscription trie, retained store, ACL, settings."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tether.broker import BrokerConfig
from tether.broker.acl import check_acl, parse_acl
from tether.broker.message import Message
from tether.broker.retained import RetainedStore
from tether.broker.subscriptions import Subscription, SubscriptionTrie
from tether.mqtt import matches
from tether.mqtt.topics import filter_covers


def _sub(client_id: str, topic_filter: str, qos: int = 0) -> Subscription:
    share = topic_filter.split("/")[1] if topic_filter.startswith("$share/") else None
    return Subscription(client_id, topic_filter, qos, share_name=share)


def _matching(trie: SubscriptionTrie, topic: str) -> set[tuple[str, str]]:
    subs, groups = trie.match(topic)
    found = {(s.client_id, s.topic_filter) for s in subs}
    found |= {(m.client_id, m.topic_filter) for g in groups for m in g.order}
    return found


@pytest.mark.parametrize(
    ("topic_filter", "topic", "hit"),
    [
        ("a/b", "a/b", True),
        ("a/+", "a/b", True),
        ("a/+", "a/b/c", False),
        ("a/#", "a", True),  # spec 4.7.1.2: the parent level too
        ("a/#", "a/b/c", True),
        ("#", "a/b", True),
        ("+/+", "/x", True),  # an empty first level
        ("+", "/x", False),
        ("#", "$SYS/x", False),  # [MQTT-4.7.2-1]
        ("+/x", "$SYS/x", False),
        ("$SYS/#", "$SYS/x", True),
        ("$share/g/a/+", "a/b", True),
    ],
)
def test_trie_matching(topic_filter: str, topic: str, hit: bool) -> None:
    trie = SubscriptionTrie()
    trie.add(_sub("c", topic_filter))
    assert bool(_matching(trie, topic)) is hit


def test_trie_replace_remove_and_prune() -> None:
    trie = SubscriptionTrie()
    assert trie.add(_sub("c", "a/+/c", 0)) is None
    old = trie.add(_sub("c", "a/+/c", 2))  # [MQTT-3.8.4-3] replaces
    assert old is not None and old.qos == 0
    assert len(trie) == 1
    assert [s.qos for s in trie.match("a/b/c")[0]] == [2]
    assert trie.remove("c", "a/+/c") is not None
    assert trie.remove("c", "a/+/c") is None
    assert len(trie) == 0
    assert trie._root.empty()  # unused levels are pruned


def test_trie_cache_is_invalidated() -> None:
    trie = SubscriptionTrie()
    trie.add(_sub("a", "x/#"))
    assert _matching(trie, "x/y") == {("a", "x/#")}
    trie.add(_sub("b", "x/y"))
    assert _matching(trie, "x/y") == {("a", "x/#"), ("b", "x/y")}
    trie.remove("a", "x/#")
    assert _matching(trie, "x/y") == {("b", "x/y")}


def test_shared_groups() -> None:
    trie = SubscriptionTrie()
    trie.add(_sub("a", "$share/g/t"))
    trie.add(_sub("b", "$share/g/t"))
    trie.add(_sub("c", "$share/h/t"))
    subs, groups = trie.match("t")
    assert subs == []
    assert sorted((g.name, sorted(m.client_id for m in g.order)) for g in groups) == [
        ("g", ["a", "b"]),
        ("h", ["c"]),
    ]
    trie.remove("a", "$share/g/t")
    trie.remove("c", "$share/h/t")
    assert [[m.client_id for m in g.order] for g in trie.match("t")[1]] == [["b"]]


_level = st.sampled_from(["a", "b", "", "$x"])
_topics = st.lists(_level, min_size=1, max_size=4).map("/".join)
_filters = st.lists(st.sampled_from(["a", "b", "", "+", "$x"]), min_size=1, max_size=4).flatmap(
    lambda levels: st.sampled_from(["/".join(levels), "/".join([*levels, "#"])])
)


@settings(max_examples=300, deadline=None)
@given(st.lists(_filters, min_size=1, max_size=8, unique=True), _topics)
def test_trie_agrees_with_the_reference_matcher(filters: list[str], topic: str) -> None:
    trie = SubscriptionTrie()
    for i, f in enumerate(filters):
        trie.add(_sub(str(i), f))
    expected = {(str(i), f) for i, f in enumerate(filters) if matches(f, topic)}
    assert _matching(trie, topic) == expected


@settings(max_examples=300, deadline=None)
@given(st.lists(_topics, min_size=1, max_size=8, unique=True), _filters)
def test_retained_store_agrees_with_the_reference_matcher(topics: list[str], topic_filter: str) -> None:
    store = RetainedStore()
    for t in topics:
        store.set(Message(t, b"x", retain=True))
    found = sorted(m.topic for m in store.match(topic_filter, 0.0))
    assert found == sorted(t for t in topics if matches(topic_filter, t))


def test_retained_store_limit_and_delete() -> None:
    store = RetainedStore(limit=2)
    assert store.set(Message("a", b"1"))
    assert store.set(Message("b/c", b"2"))
    assert not store.set(Message("d", b"3"))  # full: not stored
    assert store.set(Message("a", b"4"))  # replacing is fine
    assert len(store) == 2
    store.set(Message("b/c", b""))  # empty payload deletes
    assert len(store) == 1 and store.get("b/c") is None
    assert store._root.children.keys() == {"a"}  # pruned


@pytest.mark.parametrize(
    ("rule", "requested", "covered"),
    [
        ("a/#", "a/+/c", True),
        ("a/#", "a", True),
        ("a/+", "a/b", True),
        ("a/+", "a/+", True),
        ("a/b", "a/+", False),
        ("a/+", "a/#", False),
        ("#", "$SYS/x", False),
        ("test/nosubscribe", "test/nosubscribe", True),
        ("test/nosubscribe", "#", False),
    ],
)
def test_filter_covers(rule: str, requested: str, covered: bool) -> None:
    assert filter_covers(rule, requested) is covered


def test_acl_rules_in_order_with_substitution() -> None:
    rules, default_allow = parse_acl(
        {
            "default": "deny",
            "rules": [
                {"permission": "allow", "action": "all", "topic": "devices/%c/#"},
                {"permission": "deny", "action": "subscribe", "topic": "shared/secret"},
                {"permission": "allow", "action": "subscribe", "topic": "shared/#"},
                {"permission": "allow", "action": "publish", "topic": "up/#", "username": "gw"},
            ],
        }
    )
    assert not default_allow

    def allowed(action: str, client: str, user: str | None, topic: str) -> bool:
        return check_acl(rules, default_allow, action, client, user, topic)  # type: ignore[arg-type]

    assert allowed("publish", "d1", None, "devices/d1/t")
    assert not allowed("publish", "d1", None, "devices/d2/t")
    assert not allowed("publish", "+", None, "devices/x/t")  # a wildcard client id does not widen a rule
    assert allowed("subscribe", "d1", None, "shared/news")
    assert not allowed("subscribe", "d1", None, "shared/secret")
    assert allowed("subscribe", "d1", None, "$share/g/shared/news")
    assert allowed("publish", "x", "gw", "up/1")
    assert not allowed("publish", "x", "other", "up/1")


def test_acl_rejects_bad_rules() -> None:
    with pytest.raises(ValueError):
        parse_acl({"rules": [{"permission": "maybe", "topic": "a"}]})
    with pytest.raises(ValueError):
        parse_acl({"rules": [{"topic": "a/#/b"}]})


def test_config_from_sections() -> None:
    config = BrokerConfig.from_sections(
        {
            "mqtt": {"max-keep-alive": 60, "receive_maximum": 5},
            "acl": {"rules": [{"permission": "deny", "action": "subscribe", "topic": "test/nosubscribe"}]},
            "tls": {"certfile": "c.pem", "keyfile": "k.pem"},
        },
        allow_anonymous=True,
    )
    assert (config.max_keep_alive, config.receive_maximum, config.allow_anonymous) == (60, 5, True)
    assert len(config.acl_rules) == 1
    assert config.tls is not None and config.tls.certfile == "c.pem"
    with pytest.raises(ValueError, match="unknown setting"):
        BrokerConfig.from_sections({"mqtt": {"no_such_thing": 1}})
    with pytest.raises(ValueError):
        BrokerConfig.from_sections({"mqtt": {"receive_maximum": 0}})


def test_invalid_sections_are_config_errors() -> None:
    from tether.config import ConfigError, Settings

    with pytest.raises(ConfigError, match="MQTT configuration"):
        BrokerConfig.from_settings(Settings(sections={"mqtt": {"max_connections": 0}}))
    with pytest.raises(ConfigError):
        BrokerConfig.from_settings(Settings(sections={"tls": {"certfile": "only-a-cert.pem"}}))


def test_shipped_paho_config_loads() -> None:
    from pathlib import Path

    from tether.config import load_settings

    path = Path(__file__).resolve().parents[2] / "config" / "paho-interop.toml"
    config = BrokerConfig.from_settings(load_settings({"config": str(path)}, environ={}))
    assert config.allow_anonymous
    assert config.max_keep_alive == 60
    rules, default = config.acl_rules, config.acl_default_allow
    assert not check_acl(rules, default, "subscribe", "c", None, "test/nosubscribe")
