"""End to end against `tether serve` (the `server` fixture); needs the wiring in bootstrap.py and create_app.

Expects `server.platform.services.realtime` to be the Hub
and the routes of tether.api.c8y.realtime to be mounted.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
import websockets
from tests.realtime.assembly import token
from tests.realtime.helpers import event, render_thing
from tests.support import ADMIN_PASSWORD, BOOTSTRAP_PASSWORD, ServerThread

from tether.core.events import DomainEvent
from tether.realtime import Endpoint, Hub
from tether.tenants.models import Principal, Role

pytestmark = pytest.mark.anyio
ADMIN = ("t1/admin", ADMIN_PASSWORD)
T1_ADMIN = Principal("t1", "admin", frozenset({Role.ADMIN}))


def hub_of(server: ServerThread) -> Hub:
    hub: Hub = server.platform.services.realtime
    return hub


@pytest.fixture
async def client(server: ServerThread) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=server.url, auth=ADMIN, timeout=60) as client:
        yield client


@pytest.fixture
def operation_renderer(server: ServerThread) -> Iterator[None]:
    """A renderer for the stand-in operations these tests publish, restored afterwards."""
    hub = hub_of(server)
    previous = hub.renderers.get("operations")
    server.call(_set_renderer(hub, "operations", render_thing))
    yield
    server.call(_set_renderer(hub, "operations", previous))


async def _set_renderer(hub: Hub, resource: str, renderer: Any) -> None:
    if renderer is None:
        hub.renderers.pop(resource, None)
    else:
        hub.register_renderer(resource, renderer)


async def _publish(server: ServerThread, domain_event: DomainEvent) -> None:
    server.platform.services.events.publish(domain_event)


async def until_held(server: ServerThread, client_id: str, principal: Principal, endpoint: Endpoint) -> None:
    """Wait (on the test's loop) until the server holds a connect of `client_id`: ordering, not timing."""

    async def held() -> bool:
        session = hub_of(server).find(client_id, principal, endpoint)
        return session is not None and session.waiting

    for _ in range(10_000):
        if await asyncio.to_thread(server.call, held()):
            return
        await asyncio.sleep(0.002)
    raise AssertionError("the connect was never held")


async def bayeux(client: httpx.AsyncClient, path: str, *messages: Any, **kw: Any) -> list[Any]:
    response = await client.post(path, json=list(messages), **kw)
    assert response.status_code == 200, response.text
    body: list[Any] = response.json()
    return body


async def handshake(client: httpx.AsyncClient, path: str, **kw: Any) -> str:
    [reply] = await bayeux(
        client,
        path,
        {
            "id": "1",
            "supportedConnectionTypes": ["long-polling"],
            "channel": "/meta/handshake",
            "version": "1.0",
        },
        **kw,
    )
    assert reply["successful"] is True, reply
    assert reply["version"] == "1.0" and "long-polling" in reply["supportedConnectionTypes"]
    client_id: str = reply["clientId"]
    return client_id


async def subscribe(client: httpx.AsyncClient, path: str, client_id: str, channel: str, **kw: Any) -> None:
    [reply] = await bayeux(
        client, path, {"channel": "/meta/subscribe", "subscription": channel, "clientId": client_id}, **kw
    )
    assert reply["successful"] is True, reply


async def test_device_integration_operations_reach_the_agent(
    server: ServerThread, client: httpx.AsyncClient, operation_renderer: None
) -> None:
    path = "/devicecontrol/notifications"
    client_id = await handshake(client, path)
    await subscribe(client, path, client_id, "/2480300")
    connect = asyncio.create_task(
        bayeux(
            client,
            path,
            {"id": "3", "connectionType": "long-polling", "channel": "/meta/connect", "clientId": client_id},
        )
    )
    await until_held(server, client_id, T1_ADMIN, Endpoint.OPERATIONS)
    server.call(_publish(server, event("operations", 2480301, object_id=2546600, agent_id=2480300)))
    data, reply = await connect
    assert data == {
        "channel": "/2480300",
        "data": {"id": "2546600", "name": "thing", "self": f"{server.url}/things/2546600"},
        "id": "1",
    }
    assert reply["channel"] == "/meta/connect" and reply["id"] == "3" and reply["successful"] is True


async def test_inventory_updates_wake_a_held_connect(server: ServerThread, client: httpx.AsyncClient) -> None:
    mo = (await client.post("/inventory/managedObjects", json={"name": "before", "c8y_IsDevice": {}})).json()
    path = "/notification/realtime"
    client_id = await handshake(client, path)
    await subscribe(client, path, client_id, "/managedobjects/*")
    connect = asyncio.create_task(bayeux(client, path, {"channel": "/meta/connect", "clientId": client_id}))
    await until_held(server, client_id, T1_ADMIN, Endpoint.REALTIME)
    assert (
        await client.put(f"/inventory/managedObjects/{mo['id']}", json={"name": "after"})
    ).status_code == 200
    data, reply = await connect
    assert data["channel"] == f"/managedobjects/{mo['id']}"
    assert data["data"]["realtimeAction"] == "UPDATE"
    assert data["data"]["data"]["name"] == "after" and data["data"]["data"]["self"] == mo["self"]
    assert reply["channel"] == "/meta/connect" and reply["successful"] is True

    # messages between connects wait for the next connect, in order
    await client.put(f"/inventory/managedObjects/{mo['id']}", json={"name": "again"})
    assert (await client.delete(f"/inventory/managedObjects/{mo['id']}")).status_code == 204
    replies = await bayeux(client, path, {"channel": "/meta/connect", "clientId": client_id})
    assert [(r["data"]["realtimeAction"]) for r in replies[:-1]] == ["UPDATE", "DELETE"]
    assert replies[1]["data"]["data"] == mo["id"]
    assert replies[-1]["channel"] == "/meta/connect"


async def test_created_objects_are_announced(server: ServerThread, client: httpx.AsyncClient) -> None:
    path = "/notification/realtime"
    client_id = await handshake(client, path)
    await subscribe(client, path, client_id, "/managedobjects/*")
    mo = (await client.post("/inventory/managedObjects", json={"name": "new"})).json()
    replies = await bayeux(
        client, path, {"channel": "/meta/connect", "clientId": client_id, "advice": {"timeout": 0}}
    )
    assert [r["channel"] for r in replies] == [f"/managedobjects/{mo['id']}", "/meta/connect"]
    assert replies[0]["data"]["realtimeAction"] == "CREATE" and replies[0]["data"]["data"]["name"] == "new"


async def test_errors_are_bayeux_replies(server: ServerThread, client: httpx.AsyncClient) -> None:
    replies = await bayeux(
        client,
        "/notification/realtime/",  # a trailing slash is tolerated like everywhere else
        {"channel": "/meta/connect", "clientId": "made-up", "id": "1"},
        {"id": "2"},
        {"channel": "/meta/subscribe", "clientId": "made-up", "subscription": "/measurements/abc"},
    )
    assert [r["successful"] for r in replies] == [False, False, False]
    assert replies[0]["error"] == "402::Unknown client" and replies[0]["advice"]["reconnect"] == "handshake"
    assert replies[1]["error"].startswith("400:")
    client_id = await handshake(client, "/notification/realtime")
    [reply] = await bayeux(
        client,
        "/notification/realtime",
        {"channel": "/meta/subscribe", "clientId": client_id, "subscription": "/measurements/abc"},
    )
    assert reply["successful"] is False and reply["error"].startswith("400:")
    response = await client.post(
        "/notification/realtime", content=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400 and response.json()["error"] == "realtime/Bad Request"
    assert (
        await client.post("/notification/realtime", json=[], auth=("t1/admin", "wrong"))
    ).status_code == 401


async def test_the_bootstrap_user_may_not_listen(client: httpx.AsyncClient) -> None:
    auth = ("management/devicebootstrap", BOOTSTRAP_PASSWORD)
    [reply] = await bayeux(client, "/devicecontrol/notifications", {"channel": "/meta/handshake"}, auth=auth)
    assert reply["successful"] is False and reply["error"] == "403::Forbidden"


async def test_another_tenant_receives_nothing(server: ServerThread, client: httpx.AsyncClient) -> None:
    tenants = server.platform.services.tenants
    server.call(tenants.create_tenant("t2"))
    server.call(tenants.create_user("t2", "admin", "t2-secret", {Role.ADMIN}))
    t2 = ("t2/admin", "t2-secret")
    path = "/notification/realtime"
    theirs = await handshake(client, path, auth=t2)
    await subscribe(client, path, theirs, "/managedobjects/*", auth=t2)
    mo = (await client.post("/inventory/managedObjects", json={"name": "t1 object"})).json()
    await client.put(f"/inventory/managedObjects/{mo['id']}", json={"name": "t1 secret"})
    connect = {"channel": "/meta/connect", "clientId": theirs, "advice": {"timeout": 0}}
    [reply] = await bayeux(client, path, connect, auth=t2)
    assert reply["channel"] == "/meta/connect" and reply["successful"] is True
    # and t1 cannot use t2's client
    [reply] = await bayeux(client, path, connect)
    assert reply["error"] == "402::Unknown client"


async def test_websocket_with_the_ext_token(server: ServerThread, client: httpx.AsyncClient) -> None:
    mo = (await client.post("/inventory/managedObjects", json={"name": "ws"})).json()
    url = server.url.replace("http://", "ws://") + "/notification/realtime"
    async with websockets.connect(url, proxy=None) as ws:
        ext = token("t1/admin", ADMIN_PASSWORD)
        await ws.send(json.dumps([{"channel": "/meta/handshake", "version": "1.0", "ext": ext}]))
        [handshake_reply] = json.loads(await ws.recv())
        assert handshake_reply["successful"] is True
        client_id = handshake_reply["clientId"]
        subscription = f"/managedobjects/{mo['id']}"
        await ws.send(
            json.dumps(
                [
                    {"channel": "/meta/subscribe", "subscription": subscription, "clientId": client_id},
                    {
                        "channel": "/meta/connect",
                        "connectionType": "websocket",
                        "clientId": client_id,
                        "id": "c",
                    },
                ]
            )
        )
        [subscribed] = json.loads(await ws.recv())
        assert subscribed["successful"] is True
        await until_held(server, client_id, T1_ADMIN, Endpoint.REALTIME)
        await client.put(f"/inventory/managedObjects/{mo['id']}", json={"c8y_Position": {"lat": 51.2}})
        data, reply = json.loads(await ws.recv())
        assert data["channel"] == subscription and data["data"]["data"]["c8y_Position"] == {"lat": 51.2}
        assert data["data"]["data"]["self"] == mo["self"]  # http links, not ws
        assert reply["id"] == "c" and reply["successful"] is True
