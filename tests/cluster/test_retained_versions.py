"""Retained versions in one node's router (cluster/routing.py, "Retained messages"): the newest change wins
whatever the order it arrives in, and a cleared topic's version is forgotten once TOMBSTONE_TTL has passed
(a NATS connection is not needed: only the version bookkeeping runs)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from tether.broker import Broker, Message
from tether.cluster import retained_versions, routing
from tether.cluster.frames import RETAINED, encode_frame, encode_header
from tether.mqtt.properties import EMPTY_PROPERTIES

pytestmark = pytest.mark.anyio


class _Node:
    """What Router reads of the cluster node for retained changes."""

    name = "n1"

    class bus:  # stands for ClusterBus (post only)
        posted: list[tuple[str, bytes]] = []

        @classmethod
        def post(cls, subject: str, data: bytes) -> None:
            cls.posted.append((subject, data))


def change(router: routing.Router, node: str, topic: str, payload: bytes, version: int) -> None:
    message = Message(topic, payload, 1, True, EMPTY_PROPERTIES, None, None)
    frame = encode_frame(message, router.loop.time(), version=version)
    router._apply_retained(encode_header(RETAINED, 0, node) + frame)


def retained(broker: Broker, topic: str) -> list[bytes]:
    message = broker.retained.get(topic)
    return [] if message is None else [bytes(message.payload)]


async def test_newest_change_wins_and_cleared_topics_are_forgotten(monkeypatch: Any) -> None:
    broker = Broker()
    router = routing.Router(_Node(), broker)  # type: ignore[arg-type]
    change(router, "n2", "a/b", b"new", 20)
    change(router, "n3", "a/b", b"old", 10)  # older, arrived later: ignored
    assert retained(broker, "a/b") == [b"new"]
    change(router, "n3", "a/b", b"", 30)  # cleared
    change(router, "n2", "a/b", b"older", 25)  # sent before the clear: stays cleared
    assert retained(broker, "a/b") == []
    assert "a/b" in router._versions
    monkeypatch.setattr(retained_versions, "TOMBSTONE_TTL", 0.0)
    await asyncio.sleep(0.01)
    change(router, "n2", "c/d", b"x", 40)  # any later change prunes what is past its time
    assert "a/b" not in router._versions
    assert router._versions["c/d"] == (40, "n2")  # a live retained message keeps its version
