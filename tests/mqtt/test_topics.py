"""Topic names, topic filters, matching and shared subscriptions (spec 4.7, 4.8.2)."""

from __future__ import annotations

import pytest

from tether.mqtt import (
    ProtocolError,
    ReasonCode,
    SharedSubscription,
    is_valid_topic_filter,
    is_valid_topic_name,
    matches,
    parse_shared_subscription,
    validate_topic_filter,
    validate_topic_name,
)
from tether.mqtt.topics import has_wildcards, topic_filter_problem


@pytest.mark.parametrize(
    "topic_filter",
    [
        "sport/tennis/player1/#",  # spec 4.7.1.2 examples
        "sport/#",
        "#",
        "sport/tennis/#",
        "+",
        "+/tennis/#",
        "sport/+/player1",
        "/+",
        "+/+",
        "/finance",
        "sport/+",
        "a//b",  # empty levels are allowed (spec 4.7.3)
        "/",
        "$SYS/#",
        "$share/group/a/+",
        "$share/g/#",
        "$share",
        "$sharex/a",
        "\u00e9/\U0001f600",
    ],
)
def test_valid_filters(topic_filter: str) -> None:
    assert is_valid_topic_filter(topic_filter)
    validate_topic_filter(topic_filter)


@pytest.mark.parametrize(
    "topic_filter",
    [
        "",  # [MQTT-4.7.3-1]
        "sport/tennis#",  # [MQTT-4.7.1-2]
        "sport/tennis/#/ranking",
        "sport#",
        "##",
        "sport+",  # [MQTT-4.7.1-3]
        "sport/+tennis",
        "+a",
        "a/\x00",  # [MQTT-4.7.3-2]
        "$share/",  # [MQTT-4.8.2-1]
        "$share//a",
        "$share/g",  # [MQTT-4.8.2-2]
        "$share/g/",
        "$share/g+/a",
        "$share/#/a",
        "$share/g/a#",
        "x" * 65_536,  # [MQTT-4.7.3-3]
        "\u00e9" * 32_768,  # 65,536 bytes of UTF-8
    ],
)
def test_invalid_filters(topic_filter: str) -> None:
    assert not is_valid_topic_filter(topic_filter)
    assert topic_filter_problem(topic_filter)
    with pytest.raises(ProtocolError) as info:
        validate_topic_filter(topic_filter)
    assert info.value.reason_code == ReasonCode.TOPIC_FILTER_INVALID


@pytest.mark.parametrize(
    "topic", ["a", "a/b", "/", "a//b", "$SYS/broker", " ", "x" * 65_535, "\u00e9" * 32_767]
)
def test_valid_names(topic: str) -> None:
    assert is_valid_topic_name(topic)
    validate_topic_name(topic)


@pytest.mark.parametrize("topic", ["", "a/+", "#", "a/#", "a+b", "a\x00", "x" * 65_536])
def test_invalid_names(topic: str) -> None:
    assert not is_valid_topic_name(topic)
    with pytest.raises(ProtocolError) as info:
        validate_topic_name(topic)
    assert info.value.reason_code == ReasonCode.TOPIC_NAME_INVALID


@pytest.mark.parametrize(
    ("topic_filter", "topic", "expected"),
    [
        # spec 4.7.1.2
        ("sport/tennis/player1/#", "sport/tennis/player1", True),
        ("sport/tennis/player1/#", "sport/tennis/player1/ranking", True),
        ("sport/tennis/player1/#", "sport/tennis/player1/score/wimbledon", True),
        ("sport/#", "sport", True),
        ("#", "sport/tennis", True),
        ("#", "/", True),
        # spec 4.7.1.3
        ("sport/tennis/+", "sport/tennis/player1", True),
        ("sport/tennis/+", "sport/tennis/player2", True),
        ("sport/tennis/+", "sport/tennis/player1/ranking", False),
        ("sport/+", "sport", False),
        ("sport/+", "sport/", True),
        ("+/+", "/finance", True),
        ("/+", "/finance", True),
        ("+", "/finance", False),
        ("+", "finance", True),
        ("a//b", "a//b", True),
        ("a/+/b", "a//b", True),
        ("a/b", "a/b/", False),
        ("a/b", "a/B", False),
        ("a/b/#", "a/bc", False),
        # [MQTT-4.7.2-1] $ topics are not matched by a leading wildcard
        ("#", "$SYS/info", False),
        ("+/monitor/Clients", "$SYS/monitor/Clients", False),
        ("$SYS/#", "$SYS/monitor/Clients", True),
        ("$SYS/monitor/+", "$SYS/monitor/Clients", True),
        ("+", "$SYS", False),
        ("a/#", "a/$b", True),
    ],
)
def test_matches(topic_filter: str, topic: str, expected: bool) -> None:
    assert matches(topic_filter, topic) is expected


def test_shared_subscriptions() -> None:
    assert parse_shared_subscription("$share/consumers/sport/tennis/+") == SharedSubscription(
        "consumers", "sport/tennis/+"
    )
    assert parse_shared_subscription("$share/g/#") == SharedSubscription("g", "#")
    assert parse_shared_subscription("$share/g//") == SharedSubscription("g", "/")
    assert parse_shared_subscription("sport/#") is None
    assert parse_shared_subscription("$SYS/#") is None
    with pytest.raises(ProtocolError):
        parse_shared_subscription("$share/g")
    with pytest.raises(ProtocolError):
        parse_shared_subscription("$share/+/a")
    shared = parse_shared_subscription("$share/g/sport/+")
    assert shared is not None and matches(shared.topic_filter, "sport/x")


def test_has_wildcards() -> None:
    assert has_wildcards("a/+")
    assert has_wildcards("#")
    assert not has_wildcards("a/b")
