"""Long-polling over HTTP against the real-time routes, on an app assembled in the test (no wiring needed)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from tests.realtime.assembly import ADMIN_AUTH, BOOTSTRAP_AUTH, T1_ADMIN, Assembled, assemble, token
from tests.realtime.helpers import event, until_waiting
from tests.support import ADMIN_PASSWORD

from tether.c8y import documents
from tether.realtime import Endpoint
from tether.tenants.models import Principal, Role

pytestmark = pytest.mark.anyio
BASE = "http://tether.test"


@pytest.fixture(scope="module")
async def assembled(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Assembled]:
    assembled = await assemble(tmp_path_factory.mktemp("realtime"))
    yield assembled
    assembled.hub.close()
    await assembled.platform.close()


@pytest.fixture
async def client(assembled: Assembled) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=assembled.app)
    async with httpx.AsyncClient(transport=transport, base_url=BASE, auth=ADMIN_AUTH) as client:
        yield client


async def bayeux(client: httpx.AsyncClient, path: str, *messages: dict[str, Any], **kw: Any) -> list[Any]:
    response = await client.post(path, json=list(messages), **kw)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
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
    client_id: str = reply["clientId"]
    return client_id


async def test_device_integration_on_devicecontrol_notifications(
    client: httpx.AsyncClient, assembled: Assembled
) -> None:
    path = "/devicecontrol/notifications"
    client_id = await handshake(client, path)
    [subscribed] = await bayeux(
        client,
        path,
        {"id": "2", "channel": "/meta/subscribe", "subscription": "/2480300", "clientId": client_id},
    )
    assert subscribed["successful"] is True and subscribed["subscription"] == "/2480300"
    connect = asyncio.create_task(
        bayeux(
            client,
            path,
            {"id": "3", "connectionType": "long-polling", "channel": "/meta/connect", "clientId": client_id},
        )
    )
    session = assembled.hub.find(client_id, T1_ADMIN, Endpoint.OPERATIONS)
    assert session is not None
    await until_waiting(session)
    assembled.platform.services.events.publish(
        event("operations", 2480301, object_id=2546600, agent_id=2480300)
    )
    data, reply = await connect
    assert data == {
        "channel": "/2480300",
        "data": {"id": "2546600", "name": "thing", "self": f"{BASE}/things/2546600"},
        "id": "1",
    }
    assert reply["channel"] == "/meta/connect" and reply["id"] == "3" and reply["successful"] is True
    assert reply["advice"]["reconnect"] == "retry"


async def test_inventory_changes_reach_notification_realtime(
    client: httpx.AsyncClient, assembled: Assembled
) -> None:
    inventory = assembled.platform.services.inventory
    mo = await inventory.create(T1_ADMIN, documents.managed_object({"name": "RaspPi", "c8y_IsDevice": {}}))
    path = "/notification/realtime"
    client_id = await handshake(client, path)
    await bayeux(
        client,
        path,
        {"channel": "/meta/subscribe", "subscription": "/managedobjects/*", "clientId": client_id},
    )
    connect = asyncio.create_task(bayeux(client, path, {"channel": "/meta/connect", "clientId": client_id}))
    session = assembled.hub.find(client_id, T1_ADMIN, Endpoint.REALTIME)
    assert session is not None
    await until_waiting(session)
    await inventory.update(T1_ADMIN, mo.id, documents.managed_object_change({"c8y_Hardware": {"model": "B"}}))
    data, reply = await connect
    assert data["channel"] == f"/managedobjects/{mo.id}"
    assert data["data"]["realtimeAction"] == "UPDATE"
    document = data["data"]["data"]
    assert document["id"] == str(mo.id) and document["name"] == "RaspPi" and document["c8y_IsDevice"] == {}
    assert document["c8y_Hardware"] == {"model": "B"}
    assert document["self"] == f"{BASE}/inventory/managedObjects/{mo.id}"
    assert reply["channel"] == "/meta/connect" and reply["successful"] is True

    # between connects, changes are buffered for the next connect
    await inventory.update(T1_ADMIN, mo.id, documents.managed_object_change({"name": "renamed"}))
    await inventory.delete(T1_ADMIN, mo.id)
    replies = await bayeux(client, path, {"channel": "/meta/connect", "clientId": client_id})
    assert [r["data"]["realtimeAction"] for r in replies[:-1]] == ["UPDATE", "DELETE"]
    assert replies[0]["data"]["data"]["name"] == "renamed"
    assert replies[1]["data"]["data"] == str(mo.id)
    assert replies[-1]["channel"] == "/meta/connect"


async def test_legacy_cep_realtime(client: httpx.AsyncClient) -> None:
    client_id = await handshake(client, "/cep/realtime")
    [reply] = await bayeux(
        client,
        "/cep/realtime",
        {"channel": "/meta/subscribe", "subscription": "/measurements/1", "clientId": client_id},
    )
    assert reply["successful"] is True
    # same family as /notification/realtime; the operations endpoints do not know the client
    [reply] = await bayeux(
        client, "/notification/operations", {"channel": "/meta/connect", "clientId": client_id}
    )
    assert reply["error"] == "402::Unknown client"


async def test_a_single_message_object_is_accepted(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/notification/realtime", json={"channel": "/meta/handshake", "version": "1.0"}
    )
    [reply] = response.json()
    assert reply["successful"] is True


async def test_unknown_client_and_malformed_messages_are_bayeux_replies(client: httpx.AsyncClient) -> None:
    replies = await bayeux(
        client,
        "/notification/realtime",
        {"channel": "/meta/connect", "clientId": "made-up", "id": "1"},
        {"id": "2"},
        "not an object",  # type: ignore[arg-type]
        {"channel": "/meta/what", "id": "3"},
    )
    assert [r["successful"] for r in replies] == [False] * 4
    assert replies[0]["error"] == "402::Unknown client" and replies[0]["advice"]["reconnect"] == "handshake"
    assert [r["error"][:4] for r in replies[1:]] == ["400:"] * 3


@pytest.mark.parametrize("body", [b"this is not json", b"[{", b""])
async def test_a_body_that_is_not_json_is_http_400(client: httpx.AsyncClient, body: bytes) -> None:
    response = await client.post(
        "/notification/realtime", content=body, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400
    assert response.json()["error"] == "realtime/Bad Request"


async def test_an_oversized_body_is_413(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/notification/realtime", json=[{"channel": "/meta/handshake", "pad": "x" * 70_000}]
    )
    assert response.status_code == 413


@pytest.mark.parametrize("auth", [None, ("t1/admin", "wrong")])
async def test_credentials_are_required(assembled: Assembled, auth: tuple[str, str] | None) -> None:
    transport = httpx.ASGITransport(app=assembled.app)
    async with httpx.AsyncClient(transport=transport, base_url=BASE, auth=auth) as anonymous:
        response = await anonymous.post("/notification/realtime", json=[{"channel": "/meta/handshake"}])
    assert response.status_code == 401
    assert response.json()["error"] == "security/Unauthorized"


async def test_ext_token_instead_of_basic(assembled: Assembled) -> None:
    transport = httpx.ASGITransport(app=assembled.app)
    async with httpx.AsyncClient(transport=transport, base_url=BASE) as anonymous:
        ext = token("t1/admin", ADMIN_PASSWORD)
        response = await anonymous.post(
            "/notification/realtime", json=[{"channel": "/meta/handshake", "ext": ext}]
        )
        [reply] = response.json()
        assert reply["successful"] is True
        wrong = token("t1/admin", "wrong")
        response = await anonymous.post(
            "/notification/realtime", json=[{"channel": "/meta/handshake", "ext": wrong}]
        )
        assert response.json()[0]["error"] == "401::Unauthorized"


async def test_the_bootstrap_user_is_forbidden(client: httpx.AsyncClient) -> None:
    [reply] = await bayeux(
        client, "/devicecontrol/notifications", {"channel": "/meta/handshake"}, auth=BOOTSTRAP_AUTH
    )
    assert reply["successful"] is False and reply["error"] == "403::Forbidden"


async def test_another_tenant_receives_nothing(client: httpx.AsyncClient, assembled: Assembled) -> None:
    tenants = assembled.platform.services.tenants
    await tenants.create_tenant("t2")
    await tenants.create_user("t2", "admin", "t2-secret", {Role.ADMIN})
    t2 = ("t2/admin", "t2-secret")
    path = "/notification/realtime"
    theirs = await handshake(client, path, auth=t2)
    mine = await handshake(client, path)
    for client_id, auth in ((theirs, t2), (mine, ADMIN_AUTH)):
        await bayeux(
            client,
            path,
            {"channel": "/meta/subscribe", "subscription": "/managedobjects/*", "clientId": client_id},
            auth=auth,
        )
    inventory = assembled.platform.services.inventory
    t2_admin = Principal("t2", "admin", frozenset({Role.ADMIN}))
    mo = await inventory.create(T1_ADMIN, documents.managed_object({"name": "t1 object"}))
    other = await inventory.create(t2_admin, documents.managed_object({"name": "t2 object"}))
    await inventory.update(T1_ADMIN, mo.id, documents.managed_object_change({"name": "t1 only"}))
    await inventory.update(t2_admin, other.id, documents.managed_object_change({"name": "t2 only"}))
    connect = {"channel": "/meta/connect", "advice": {"timeout": 0}}
    # (whether creation is announced too is the inventory's business: only the tenants matter here)
    replies = await bayeux(client, path, {**connect, "clientId": theirs}, auth=t2)
    assert {r["channel"] for r in replies[:-1]} == {f"/managedobjects/{other.id}"}
    assert replies[-2]["data"]["data"]["name"] == "t2 only" and replies[-1]["channel"] == "/meta/connect"
    replies = await bayeux(client, path, {**connect, "clientId": mine})
    assert {r["channel"] for r in replies[:-1]} == {f"/managedobjects/{mo.id}"}
    assert replies[-2]["data"]["data"]["name"] == "t1 only"
    # and a client id is worthless to anyone but its owner
    [reply] = await bayeux(client, path, {**connect, "clientId": mine}, auth=t2)
    assert reply["error"] == "402::Unknown client"
