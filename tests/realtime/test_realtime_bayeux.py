"""Bayeux meta messages over the hub, without HTTP: reply shapes and every error as a Bayeux reply."""

from __future__ import annotations

import asyncio
import base64
from typing import Any

import pytest
from tests.realtime.helpers import ADMIN, BASE, BOOTSTRAP, OTHER_TENANT, event, render_thing, until_waiting

from tether.core.events import EventBus
from tether.realtime import Conversation, Endpoint, Hub, MalformedBatch, PendingConnect, decode
from tether.tenants.models import Principal

pytestmark = pytest.mark.anyio


@pytest.fixture
def bus() -> EventBus:
    return EventBus()


@pytest.fixture
def hub(bus: EventBus) -> Hub:
    return Hub(bus, {"operations": render_thing, "measurements": render_thing}, timeout=30, interval=0)


def conversation(
    hub: Hub, principal: Principal | None = ADMIN, endpoint: Endpoint = Endpoint.REALTIME
) -> Conversation:
    return Conversation(hub, endpoint, BASE, principal)


async def handshake(conv: Conversation) -> str:
    [reply] = await conv.process([{"channel": "/meta/handshake", "version": "1.0", "id": "1"}])
    assert reply["successful"] is True
    client_id: str = reply["clientId"]
    return client_id


async def test_handshake_reply(hub: Hub) -> None:
    replies = await conversation(hub).process(
        [
            {
                "id": "1",
                "supportedConnectionTypes": ["long-polling"],
                "channel": "/meta/handshake",
                "version": "1.0",
            }
        ]
    )
    [reply] = replies
    assert reply == {
        "channel": "/meta/handshake",
        "id": "1",
        "successful": True,
        "version": "1.0",
        "minimumVersion": "1.0",
        "clientId": reply["clientId"],
        "supportedConnectionTypes": ["long-polling", "websocket"],
        "advice": {"timeout": 30000, "interval": 0, "reconnect": "retry"},
    }


async def test_handshake_advice_sets_the_connect_timeout_within_the_cap(bus: EventBus) -> None:
    hub = Hub(bus, max_timeout=60)
    conv = conversation(hub)
    [short] = await conv.process([{"channel": "/meta/handshake", "advice": {"timeout": 1500}}])
    [long] = await conv.process([{"channel": "/meta/handshake", "advice": {"timeout": 3_600_000}}])
    assert short["advice"]["timeout"] == 1500 and long["advice"]["timeout"] == 60_000


async def test_the_device_integration_subscribe_and_connect(hub: Hub, bus: EventBus) -> None:
    conv = conversation(hub, endpoint=Endpoint.OPERATIONS)
    client_id = await handshake(conv)
    [subscribed] = await conv.process(
        [{"id": "2", "channel": "/meta/subscribe", "subscription": "/2480300", "clientId": client_id}]
    )
    assert subscribed == {
        "channel": "/meta/subscribe",
        "id": "2",
        "successful": True,
        "clientId": client_id,
        "subscription": "/2480300",
    }
    connect = asyncio.create_task(
        conv.process(
            [{"id": "3", "connectionType": "long-polling", "channel": "/meta/connect", "clientId": client_id}]
        )
    )
    session = hub.find(client_id, ADMIN, Endpoint.OPERATIONS)
    assert session is not None
    await until_waiting(session)
    bus.publish(event("operations", 2480301, object_id=2546600, agent_id=2480300))
    data, reply = await connect
    assert data == {
        "channel": "/2480300",
        "data": {"id": "2546600", "name": "thing", "self": f"{BASE}/things/2546600"},
        "id": "1",
    }
    assert reply == {
        "channel": "/meta/connect",
        "id": "3",
        "successful": True,
        "clientId": client_id,
        "advice": {"timeout": 30000, "interval": 0, "reconnect": "retry"},
    }


async def test_a_batch_is_processed_in_order(hub: Hub, bus: EventBus) -> None:
    conv = conversation(hub)
    client_id = await handshake(conv)
    bus.publish(event("measurements", 1))  # before the subscription: not delivered
    replies = await conv.process(
        [
            {
                "channel": "/meta/subscribe",
                "subscription": ["/measurements/1", "/measurements/2"],
                "clientId": client_id,
            },
            {"channel": "/meta/connect", "clientId": client_id, "advice": {"timeout": 0}},
            {"channel": "/meta/unsubscribe", "subscription": "/measurements/2", "clientId": client_id},
            {"channel": "/meta/disconnect", "clientId": client_id, "id": "9"},
        ]
    )
    assert [r["channel"] for r in replies] == [
        "/meta/subscribe",
        "/meta/connect",
        "/meta/unsubscribe",
        "/meta/disconnect",
    ]
    assert all(r["successful"] for r in replies)
    assert replies[0]["subscription"] == ["/measurements/1", "/measurements/2"]
    assert replies[3] == {"channel": "/meta/disconnect", "id": "9", "successful": True, "clientId": client_id}
    assert hub.find(client_id, ADMIN, Endpoint.REALTIME) is None


async def test_messages_between_connects_are_buffered(hub: Hub, bus: EventBus) -> None:
    conv = conversation(hub)
    client_id = await handshake(conv)
    await conv.process(
        [{"channel": "/meta/subscribe", "subscription": "/measurements/*", "clientId": client_id}]
    )
    for source in (1, 2, 3):
        bus.publish(event("measurements", source))
    replies = await conv.process(
        [{"channel": "/meta/connect", "clientId": client_id, "connectionType": "long-polling"}]
    )
    assert [r["channel"] for r in replies] == [
        "/measurements/1",
        "/measurements/2",
        "/measurements/3",
        "/meta/connect",
    ]


UNKNOWN = {
    "successful": False,
    "error": "402::Unknown client",
    "advice": {"reconnect": "handshake", "interval": 0},
}


@pytest.mark.parametrize(
    "channel", ["/meta/connect", "/meta/subscribe", "/meta/unsubscribe", "/meta/disconnect"]
)
async def test_unknown_client(hub: Hub, channel: str) -> None:
    message = {"channel": channel, "clientId": "nope", "id": "5", "subscription": "/measurements/1"}
    [reply] = await conversation(hub).process([message])
    assert reply == {
        "channel": channel,
        "id": "5",
        "clientId": "nope",
        "subscription": "/measurements/1",
        **UNKNOWN,
    }


async def test_missing_client_id_is_unknown(hub: Hub) -> None:
    [reply] = await conversation(hub).process([{"channel": "/meta/connect"}])
    assert reply == {"channel": "/meta/connect", **UNKNOWN}


async def test_another_users_client_id_is_unknown(hub: Hub) -> None:
    client_id = await handshake(conversation(hub))
    [reply] = await conversation(hub, OTHER_TENANT).process(
        [{"channel": "/meta/connect", "clientId": client_id}]
    )
    assert reply["error"] == "402::Unknown client"
    [reply] = await conversation(hub, ADMIN, Endpoint.OPERATIONS).process(
        [{"channel": "/meta/connect", "clientId": client_id}]
    )
    assert reply["error"] == "402::Unknown client"


async def test_a_disconnected_client_is_unknown(hub: Hub) -> None:
    conv = conversation(hub)
    client_id = await handshake(conv)
    await conv.process([{"channel": "/meta/disconnect", "clientId": client_id}])
    [reply] = await conv.process([{"channel": "/meta/connect", "clientId": client_id}])
    assert reply["error"] == "402::Unknown client" and reply["advice"]["reconnect"] == "handshake"


@pytest.mark.parametrize(
    ("message", "error"),
    [
        (42, "400::A message must be a JSON object"),
        ("hello", "400::A message must be a JSON object"),
        ([{"channel": "/meta/handshake"}], "400::A message must be a JSON object"),
        ({}, "400::Missing channel"),
        ({"channel": 7}, "400::Missing channel"),
        ({"channel": "/meta/nonsense", "id": "1"}, "400::Unknown meta channel /meta/nonsense"),
        ({"channel": "/measurements/1", "data": {}}, "403::Publishing to /measurements/1 is not allowed"),
        (
            {"channel": "/meta/handshake", "supportedConnectionTypes": ["callback-polling"]},
            "400::Unsupported",
        ),
    ],
)
async def test_malformed_messages(hub: Hub, message: object, error: str) -> None:
    [reply] = await conversation(hub).process([message])
    assert reply["successful"] is False and reply["error"].startswith(error)


@pytest.mark.parametrize(
    ("endpoint", "subscription", "error"),
    [
        (Endpoint.REALTIME, None, "400::Missing subscription"),
        (Endpoint.REALTIME, [], "400::Missing subscription"),
        (Endpoint.REALTIME, "/measurements/abc", "400::Invalid channel /measurements/abc"),
        (Endpoint.REALTIME, "/unknown/1", "400::Invalid channel /unknown/1"),
        (Endpoint.REALTIME, "/2480300", "400::Invalid channel /2480300"),
        (Endpoint.REALTIME, ["/measurements/1", "/x"], "400::Invalid channel /x"),
        (Endpoint.OPERATIONS, "/measurements/1", "400::Invalid channel /measurements/1"),
        (Endpoint.REALTIME, 12, "400::Subscription must be a channel name"),
    ],
)
async def test_bad_subscriptions(hub: Hub, endpoint: Endpoint, subscription: Any, error: str) -> None:
    conv = conversation(hub, endpoint=endpoint)
    client_id = await handshake(conv)
    message: dict[str, Any] = {"channel": "/meta/subscribe", "clientId": client_id}
    if subscription is not None:
        message["subscription"] = subscription
    [reply] = await conv.process([message])
    assert reply["successful"] is False and reply["error"].startswith(error)
    session = hub.find(client_id, ADMIN, endpoint)
    assert session is not None and session.subscriptions == set()  # all or nothing


async def test_handshake_needs_a_principal(hub: Hub) -> None:
    [reply] = await conversation(hub, None).process([{"channel": "/meta/handshake"}])
    assert reply["error"] == "401::Unauthorized" and reply["advice"]["reconnect"] == "none"


async def test_bootstrap_user_is_forbidden(hub: Hub) -> None:
    [reply] = await conversation(hub, BOOTSTRAP).process([{"channel": "/meta/handshake", "id": "1"}])
    assert reply == {
        "channel": "/meta/handshake",
        "id": "1",
        "successful": False,
        "error": "403::Forbidden",
        "advice": {"reconnect": "none", "interval": 0},
    }


async def test_ext_token_authenticates(hub: Hub) -> None:
    seen: list[str] = []

    async def authenticate(token: str) -> Principal | None:
        seen.append(token)
        return ADMIN if base64.b64decode(token) == b"t1/admin:secret" else None

    good = base64.b64encode(b"t1/admin:secret").decode()
    conv = Conversation(hub, Endpoint.REALTIME, BASE, None, authenticate)
    ext = {"com.cumulocity.authn": {"token": good}}
    [reply] = await conv.process([{"channel": "/meta/handshake", "ext": ext}])
    assert reply["successful"] is True and conv.principal == ADMIN
    # the conversation (e.g. a WebSocket) stays authenticated for its later messages
    [reply] = await conv.process(
        [{"channel": "/meta/subscribe", "clientId": reply["clientId"], "subscription": "/events/1"}]
    )
    assert reply["successful"] is True and seen == [good]

    bad = Conversation(hub, Endpoint.REALTIME, BASE, None, authenticate)
    wrong = {"com.cumulocity.authn": {"token": base64.b64encode(b"t1/admin:wrong").decode()}}
    [reply] = await bad.process([{"channel": "/meta/handshake", "ext": wrong}])
    assert reply["error"] == "401::Unauthorized" and bad.principal is None


async def test_connect_advice_timeout_zero_returns_at_once(hub: Hub) -> None:
    conv = conversation(hub)
    client_id = await handshake(conv)
    step = await conv.step({"channel": "/meta/connect", "clientId": client_id, "advice": {"timeout": 0}})
    assert isinstance(step, PendingConnect) and step.timeout == 0
    [reply] = await conv.complete(step)
    assert reply["successful"] is True


def test_decode() -> None:
    assert decode(b'[{"channel": "/meta/handshake"}]') == [{"channel": "/meta/handshake"}]
    assert decode('{"channel": "/meta/handshake"}') == [{"channel": "/meta/handshake"}]
    assert decode(b"[]") == []
    assert decode(b"3") == [3]
    for bad in (b"", b"not json", b"[{", b"\xff"):
        with pytest.raises(MalformedBatch):
            decode(bad)
