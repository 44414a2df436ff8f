"""Real transports: the assembled app under uvicorn in the test's loop; `websockets` and httpx clients."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import websockets
from tests.realtime.assembly import T1_ADMIN, Assembled, assemble, serving, token
from tests.realtime.helpers import event, render_thing, until_waiting
from tests.support import ADMIN_PASSWORD
from websockets.asyncio.client import ClientConnection

from tether.realtime import Endpoint

pytestmark = pytest.mark.anyio


@pytest.fixture(scope="module")
async def running(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[tuple[str, Assembled]]:
    assembled = await assemble(tmp_path_factory.mktemp("realtime"))
    async with serving(assembled.app) as url:
        yield url.replace("http://", "ws://"), assembled
    assembled.hub.close()
    await assembled.platform.close()


async def exchange(ws: ClientConnection, *messages: Any) -> list[Any]:
    await ws.send(json.dumps(list(messages)))
    return await receive(ws)


async def receive(ws: ClientConnection) -> list[Any]:
    frame: list[Any] = json.loads(await ws.recv())
    return frame


def basic(login: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + token(login, password)["com.cumulocity.authn"]["token"]}


async def test_websocket_with_the_ext_token(running: tuple[str, Assembled]) -> None:
    url, assembled = running
    async with websockets.connect(url + "/notification/realtime", proxy=None) as ws:
        ext = token("t1/admin", ADMIN_PASSWORD)
        [handshake] = await exchange(
            ws, {"channel": "/meta/handshake", "version": "1.0", "id": "1", "ext": ext}
        )
        assert handshake["successful"] is True and "websocket" in handshake["supportedConnectionTypes"]
        client_id = handshake["clientId"]
        [subscribed] = await exchange(
            ws,
            {"channel": "/meta/subscribe", "subscription": "/operations/*", "clientId": client_id, "id": "2"},
            {"channel": "/meta/connect", "connectionType": "websocket", "clientId": client_id, "id": "3"},
        )  # the subscribe is answered at once; the connect is held
        assert subscribed["successful"] is True and subscribed["id"] == "2"
        session = assembled.hub.find(client_id, T1_ADMIN, Endpoint.REALTIME)
        assert session is not None
        await until_waiting(session)
        assembled.platform.services.events.publish(event("operations", 7, object_id=70, agent_id=1))
        data, reply = await receive(ws)
        host = url.removeprefix("ws://")
        assert data == {
            "channel": "/operations/7",
            "data": {
                "realtimeAction": "CREATE",
                "data": {"id": "70", "name": "thing", "self": f"http://{host}/things/70"},
            },
            "id": "1",
        }
        assert reply["channel"] == "/meta/connect" and reply["id"] == "3" and reply["successful"] is True


async def test_websocket_with_basic_on_the_upgrade(running: tuple[str, Assembled]) -> None:
    url, assembled = running
    headers = basic("t1/admin", ADMIN_PASSWORD)
    async with websockets.connect(
        url + "/devicecontrol/notifications", additional_headers=headers, proxy=None
    ) as ws:
        [handshake] = await exchange(ws, {"channel": "/meta/handshake", "version": "1.0"})
        client_id = handshake["clientId"]
        [subscribed] = await exchange(
            ws, {"channel": "/meta/subscribe", "subscription": "/42", "clientId": client_id}
        )
        assert subscribed["successful"] is True
        assembled.platform.services.events.publish(event("operations", 43, object_id=5, agent_id=42))
        data, reply = await exchange(ws, {"channel": "/meta/connect", "clientId": client_id})
        assert data["channel"] == "/42" and data["data"]["id"] == "5"  # buffered before the connect
        assert reply["channel"] == "/meta/connect"


async def test_a_newer_connect_releases_the_held_one(running: tuple[str, Assembled]) -> None:
    url, assembled = running
    async with websockets.connect(
        url + "/notification/realtime", additional_headers=basic("t1/admin", ADMIN_PASSWORD), proxy=None
    ) as ws:
        [handshake] = await exchange(ws, {"channel": "/meta/handshake"})
        client_id = handshake["clientId"]
        await ws.send(json.dumps([{"channel": "/meta/connect", "clientId": client_id, "id": "a"}]))
        session = assembled.hub.find(client_id, T1_ADMIN, Endpoint.REALTIME)
        assert session is not None
        await until_waiting(session)
        await ws.send(json.dumps([{"channel": "/meta/connect", "clientId": client_id, "id": "b"}]))
        [first] = await receive(ws)
        assert first["id"] == "a" and first["successful"] is True
        await ws.send(json.dumps([{"channel": "/meta/disconnect", "clientId": client_id, "id": "c"}]))
        replies = [(await receive(ws))[0] for _ in range(2)]
        assert sorted(r["id"] for r in replies) == ["b", "c"]


async def test_websocket_errors_are_bayeux_replies(running: tuple[str, Assembled]) -> None:
    url, _ = running
    async with websockets.connect(url + "/notification/realtime", proxy=None) as ws:
        [reply] = await exchange(ws, {"channel": "/meta/handshake"})  # no credentials anywhere
        assert reply["error"] == "401::Unauthorized"
        await ws.send("not json")
        assert (await receive(ws))[0]["error"].startswith("400::Malformed JSON")
        [reply] = await exchange(ws, {"channel": "/meta/connect", "clientId": "made-up"})
        assert reply["error"] == "402::Unknown client"


async def test_websocket_with_wrong_basic_or_token_is_refused_and_a_token_accepted(
    running: tuple[str, Assembled],
) -> None:
    url, assembled = running
    for headers in (basic("t1/admin", "wrong"), {"Authorization": "Bearer not.a.token"}):
        with pytest.raises(websockets.InvalidStatus) as refused:
            async with websockets.connect(
                url + "/notification/realtime", additional_headers=headers, proxy=None
            ):
                pass
        assert refused.value.response.status_code in (401, 403)
    # A bearer token of POST /api/v5/login on the upgrade, as on long-polling.
    services = assembled.platform.services
    admin = await services.tenants.get_user("t1", "admin")
    assert admin is not None
    headers = {"Authorization": "Bearer " + services.tokens.issue(admin).token}
    async with websockets.connect(
        url + "/notification/realtime", additional_headers=headers, proxy=None
    ) as ws:
        [handshake] = await exchange(ws, {"channel": "/meta/handshake", "version": "1.0"})
        assert handshake["successful"] is True


async def test_an_abandoned_long_poll_keeps_its_messages(running: tuple[str, Assembled]) -> None:
    """A client that drops a held connect loses nothing: what arrives next waits for its next connect."""
    url, assembled = running
    assembled.hub.register_renderer("events", render_thing)
    base = url.replace("ws://", "http://")
    path = "/notification/realtime"
    async with httpx.AsyncClient(base_url=base, auth=("t1/admin", ADMIN_PASSWORD)) as client:
        [handshake] = (await client.post(path, json=[{"channel": "/meta/handshake"}])).json()
        client_id = handshake["clientId"]
        subscribe = {"channel": "/meta/subscribe", "subscription": "/events/*", "clientId": client_id}
        await client.post(path, json=[subscribe])
        session = assembled.hub.find(client_id, T1_ADMIN, Endpoint.REALTIME)
        assert session is not None
        held = asyncio.create_task(
            client.post(path, json=[{"channel": "/meta/connect", "clientId": client_id}])
        )
        await until_waiting(session)
        held.cancel()  # the client goes away; the server notices the closed connection
        with contextlib.suppress(asyncio.CancelledError):
            await held
        for _ in range(10_000):
            if not session.waiting:
                break
            await asyncio.sleep(0.001)
        assert not session.waiting
        assembled.platform.services.events.publish(event("events", 1))
        replies = (await client.post(path, json=[{"channel": "/meta/connect", "clientId": client_id}])).json()
        assert [r["channel"] for r in replies] == ["/events/1", "/meta/connect"]
