"""Real-time notifications follow the REST read rules (docs/security.md, Real-time notifications).

Device user A may read through REST only what it owns (B's objects answer 404). On every Bayeux endpoint
(/notification/realtime, /cep/realtime, /devicecontrol/notifications, /notification/operations) a subscription
to an object A may not read is refused with a Bayeux 403, a wildcard is narrowed to what A may read, message
by message (objects created after the subscription included), and admins keep hearing everything.

Real clients against `tether serve` (the `server` fixture: SQLite, and PostgreSQL when configured), over
HTTP long-polling with httpx and over WebSocket with `websockets`. "Not delivered" is shown by ordering, not
timing: the forbidden data is written first, then a sentinel the client may read; when the sentinel arrives,
anything forbidden would already have been queued before it.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import websockets
from tests.realtime.assembly import token
from tests.realtime.helpers import BASE, DEVICE, event, render_thing
from tests.support import ADMIN_PASSWORD, ServerThread, unique
from tests.telemetry.helpers import ALARMS, EVENTS, MEASUREMENTS, alarm, created, measurement
from tests.telemetry.helpers import event as event_document

from tether.core.events import EventBus
from tether.realtime import Endpoint, Hub, View
from tether.tenants.models import Role

pytestmark = pytest.mark.anyio

ADMIN = ("t1/admin", ADMIN_PASSWORD)
TIME = "2024-01-01T00:00:00Z"
REALTIME_PATHS = ["/notification/realtime", "/cep/realtime"]
AGENT_PATHS = ["/devicecontrol/notifications", "/notification/operations"]
RESOURCES = ["managedobjects", "measurements", "events", "alarms", "operations"]
CONNECTS = 20  # a held connect may come back empty (its timeout) before the data: bounded retries


@dataclass(frozen=True)
class Device:
    """A device user and the device object it created (an agent: its operations are routed to itself)."""

    auth: tuple[str, str]
    id: str


@dataclass(frozen=True)
class World:
    a: Device
    b: Device


def _device_user(server: ServerThread, label: str) -> Device:
    name, password = unique(f"device_{label}"), unique("pw")
    server.call(server.platform.services.tenants.create_user("t1", name, password, {Role.DEVICE}))
    auth = (f"t1/{name}", password)
    with httpx.Client(base_url=server.url, auth=auth, timeout=30) as client:
        mo = created(
            client.post(
                "/inventory/managedObjects",
                json={"name": label, "c8y_IsDevice": {}, "com_cumulocity_model_Agent": {}},
            )
        )
    return Device(auth, mo["id"])


@pytest.fixture(scope="module")
def world(server: ServerThread) -> World:
    return World(_device_user(server, "A"), _device_user(server, "B"))


@pytest.fixture
async def http(server: ServerThread) -> AsyncIterator[Callable[[tuple[str, str]], httpx.AsyncClient]]:
    """AsyncClients for several users, closed at the end of the test."""
    clients: list[httpx.AsyncClient] = []

    def open_client(auth: tuple[str, str]) -> httpx.AsyncClient:
        client = httpx.AsyncClient(base_url=server.url, auth=auth, timeout=60)
        clients.append(client)
        return client

    yield open_client
    for client in clients:
        await client.aclose()


class LongPolling:
    """A Bayeux client over HTTP long-polling (one POST per batch)."""

    def __init__(self, client: httpx.AsyncClient, path: str) -> None:
        self.client = client
        self.path = path
        self.client_id = ""

    async def send(self, *messages: dict[str, Any]) -> list[dict[str, Any]]:
        response = await self.client.post(self.path, json=list(messages))
        assert response.status_code == 200, response.text
        replies: list[dict[str, Any]] = response.json()
        return replies

    async def handshake(self) -> LongPolling:
        [reply] = await self.send(
            {"channel": "/meta/handshake", "version": "1.0", "supportedConnectionTypes": ["long-polling"]}
        )
        assert reply["successful"] is True, reply
        self.client_id = reply["clientId"]
        return self

    async def subscribe(self, subscription: str | list[str]) -> dict[str, Any]:
        [reply] = await self.send(
            {"channel": "/meta/subscribe", "subscription": subscription, "clientId": self.client_id}
        )
        return reply

    async def until(self, done: Callable[[list[dict[str, Any]]], bool]) -> list[dict[str, Any]]:
        """Connect again and again; every data message received up to the connect after which `done`."""
        received: list[dict[str, Any]] = []
        for _ in range(CONNECTS):
            replies = await self.send(
                {"channel": "/meta/connect", "connectionType": "long-polling", "clientId": self.client_id}
            )
            assert replies[-1]["successful"] is True, replies
            received.extend(m for m in replies if not m["channel"].startswith("/meta/"))
            if done(received):
                return received
        raise AssertionError(f"the expected notifications never arrived: {received}")


def refused(reply: dict[str, Any]) -> None:
    assert reply["successful"] is False, reply
    assert reply["error"].startswith("403::Forbidden"), reply


def subscribed(reply: dict[str, Any]) -> None:
    assert reply["successful"] is True, reply


async def produce(writer: httpx.AsyncClient, admin: httpx.AsyncClient, resource: str, device: str) -> str:
    """Write one piece of `resource` data about `device`; a marker found in its notification."""
    marker = unique("m")
    if resource == "managedobjects":
        response = await writer.put(f"/inventory/managedObjects/{device}", json={"c8y_Marker": marker})
        assert response.status_code == 200, response.text
    elif resource == "measurements":
        created(await writer.post(MEASUREMENTS, json=measurement(device, TIME, c8y_Marker=marker)))
    elif resource == "events":
        created(await writer.post(EVENTS, json=event_document(device, TIME, c8y_Marker=marker)))
    elif resource == "alarms":
        created(await writer.post(ALARMS, json=alarm(device, TIME, type_=marker, c8y_Marker=marker)))
    else:  # an operator queues an operation for the device
        created(
            await admin.post("/devicecontrol/operations", json={"deviceId": device, "c8y_Marker": marker})
        )
    return marker


def data(message: dict[str, Any]) -> Any:
    """The object a notification carries (the realtime endpoints wrap it with its realtimeAction)."""
    payload = message["data"]
    return (
        payload.get("data", payload) if isinstance(payload, dict) and "realtimeAction" in payload else payload
    )


def markers(messages: Iterable[dict[str, Any]]) -> set[str]:
    found = set()
    for message in messages:
        body = data(message)
        if isinstance(body, dict) and isinstance(body.get("c8y_Marker"), str):
            found.add(body["c8y_Marker"])
    return found


def mentions(messages: Iterable[dict[str, Any]], device: str) -> list[dict[str, Any]]:
    """Notifications about `device`: on its channel, or carrying it as source, device or object."""
    hits = []
    for message in messages:
        body, channel = data(message), message["channel"]
        about = {body} if isinstance(body, str) else set()  # a deleted object: only its id
        if isinstance(body, dict):
            source = body.get("source")
            about |= {body.get("deviceId"), source.get("id") if isinstance(source, dict) else None}
            if channel.startswith("/managedobjects/"):
                about.add(body.get("id"))
        if channel.endswith(f"/{device}") or device in about:
            hits.append(message)
    return hits


# -- a specific object: refused unless readable; own data delivered -------------------------------------


CHANNELS = [(path, f"/{resource}/{{}}", resource) for path in REALTIME_PATHS for resource in RESOURCES] + [
    (path, "/{}", "operations") for path in AGENT_PATHS
]


@pytest.mark.parametrize(("path", "channel", "resource"), CHANNELS)
async def test_another_devices_channel_is_refused_and_the_own_one_delivered(
    world: World,
    http: Callable[[tuple[str, str]], httpx.AsyncClient],
    path: str,
    channel: str,
    resource: str,
) -> None:
    a, b, admin = http(world.a.auth), http(world.b.auth), http(ADMIN)
    assert (await a.get(f"/inventory/managedObjects/{world.b.id}")).status_code == 404  # REST's answer
    listener = await LongPolling(a, path).handshake()

    refused(await listener.subscribe(channel.format(world.b.id)))
    # An id that exists nowhere gets the same answer: existence is not confirmed either.
    refused(await listener.subscribe(channel.format(9_000_000_000)))
    # All channels of a message or none: the readable one is not subscribed beside the refused one.
    refused(await listener.subscribe([channel.format(world.a.id), channel.format(world.b.id)]))

    subscribed(await listener.subscribe(channel.format(world.a.id)))  # the session is still usable
    forbidden = await produce(b, admin, resource, world.b.id)
    own = await produce(a, admin, resource, world.a.id)
    received = await listener.until(lambda got: own in markers(got))
    assert forbidden not in markers(received)
    assert mentions(received, world.b.id) == []


@pytest.mark.parametrize("path", REALTIME_PATHS[:1])
async def test_admins_subscribe_to_any_object(
    world: World, http: Callable[[tuple[str, str]], httpx.AsyncClient], path: str
) -> None:
    b, admin = http(world.b.auth), http(ADMIN)
    listener = await LongPolling(admin, path).handshake()
    subscribed(await listener.subscribe([f"/{resource}/{world.b.id}" for resource in RESOURCES]))
    expected = {await produce(b, admin, resource, world.b.id) for resource in RESOURCES}
    received = await listener.until(lambda got: expected <= markers(got))
    assert {m["channel"] for m in received} == {f"/{resource}/{world.b.id}" for resource in RESOURCES}


# -- wildcards: narrowed per message -------------------------------------------------------------------


WILDCARDS = [(path, [f"/{r}/*" for r in RESOURCES], RESOURCES) for path in REALTIME_PATHS] + [
    (path, ["/*"], ["operations"]) for path in AGENT_PATHS
]


@pytest.mark.parametrize(("path", "channels", "resources"), WILDCARDS)
async def test_wildcards_carry_only_what_the_subscriber_may_read(
    world: World,
    http: Callable[[tuple[str, str]], httpx.AsyncClient],
    path: str,
    channels: list[str],
    resources: list[str],
) -> None:
    a, b, admin = http(world.a.auth), http(world.b.auth), http(ADMIN)
    device_a = await LongPolling(a, path).handshake()
    operator = await LongPolling(admin, path).handshake()
    for listener in (device_a, operator):
        subscribed(await listener.subscribe(channels))

    forbidden = {await produce(b, admin, resource, world.b.id) for resource in resources}
    own = {await produce(a, admin, resource, world.a.id) for resource in resources}

    received = await device_a.until(lambda got: own <= markers(got))
    assert markers(received) & forbidden == set()
    assert mentions(received, world.b.id) == []
    everything = await operator.until(lambda got: own | forbidden <= markers(got))
    assert mentions(everything, world.b.id)  # admins keep their full rights


async def test_objects_created_after_subscribing_are_judged_when_their_data_arrives(
    world: World, http: Callable[[tuple[str, str]], httpx.AsyncClient]
) -> None:
    a, b, admin = http(world.a.auth), http(world.b.auth), http(ADMIN)
    listener = await LongPolling(a, "/notification/realtime").handshake()
    subscribed(await listener.subscribe(["/managedobjects/*", "/measurements/*", "/operations/*"]))

    # B's brand-new device, its data and its deletion: none of it reaches A.
    theirs = created(await b.post("/inventory/managedObjects", json={"name": "B2", "c8y_IsDevice": {}}))["id"]
    forbidden = {
        await produce(b, admin, "measurements", theirs),
        await produce(b, admin, "operations", theirs),
    }
    assert (await b.delete(f"/inventory/managedObjects/{theirs}")).status_code == 204
    # A's new device is A's from its creation on (SQLite may even give it B2's freed id): its creation, data
    # and deletion reach A, in order, and nothing else.
    mine = created(await a.post("/inventory/managedObjects", json={"name": "A2", "c8y_IsDevice": {}}))["id"]
    own = await produce(a, admin, "measurements", mine)
    assert (await a.delete(f"/inventory/managedObjects/{mine}")).status_code == 204

    received = await listener.until(
        lambda got: any(m["data"] == {"realtimeAction": "DELETE", "data": mine} for m in got)
    )
    assert markers(received) & forbidden == set()
    assert [(m["channel"], m["data"]["realtimeAction"]) for m in received] == [
        (f"/managedobjects/{mine}", "CREATE"),
        (f"/measurements/{mine}", "CREATE"),
        (f"/managedobjects/{mine}", "DELETE"),
    ]
    assert received[0]["data"]["data"]["name"] == "A2"
    assert own in markers(received)


async def test_an_agent_hears_the_operations_routed_to_it_for_a_child_it_does_not_own(
    world: World, http: Callable[[tuple[str, str]], httpx.AsyncClient]
) -> None:
    """REST lets an agent read the operations of its child devices, even one an operator created (owned by the
    admin): the same rule opens the child's operations channel and the agent's channel to it."""
    a, admin = http(world.a.auth), http(ADMIN)
    child = created(await admin.post("/inventory/managedObjects", json={"name": "kid", "c8y_IsDevice": {}}))
    linked = await admin.post(
        f"/inventory/managedObjects/{world.a.id}/childDevices", json={"managedObject": {"id": child["id"]}}
    )
    assert linked.status_code == 201, linked.text
    assert (await a.get(f"/inventory/managedObjects/{child['id']}")).status_code == 404

    realtime = await LongPolling(a, "/notification/realtime").handshake()
    refused(await realtime.subscribe(f"/measurements/{child['id']}"))  # the object itself: not A's
    subscribed(await realtime.subscribe(f"/operations/{child['id']}"))  # its operations: A executes them
    agent = await LongPolling(a, "/devicecontrol/notifications").handshake()
    subscribed(await agent.subscribe(f"/{world.a.id}"))

    marker = await produce(admin, admin, "operations", child["id"])
    for listener, channel in ((realtime, f"/operations/{child['id']}"), (agent, f"/{world.a.id}")):
        received = await listener.until(lambda got: marker in markers(got))
        assert [m["channel"] for m in received] == [channel]
        operation = data(received[0])
        assert (await a.get(f"/devicecontrol/operations/{operation['id']}")).status_code == 200  # REST agrees


# -- WebSocket -----------------------------------------------------------------------------------------


async def test_websocket_subscriptions_follow_the_same_rules(
    server: ServerThread, world: World, http: Callable[[tuple[str, str]], httpx.AsyncClient]
) -> None:
    a, b, admin = http(world.a.auth), http(world.b.auth), http(ADMIN)
    url = server.url.replace("http://", "ws://") + "/notification/realtime"

    async def exchange(ws: Any, *messages: dict[str, Any]) -> list[dict[str, Any]]:
        await ws.send(json.dumps(list(messages)))
        frame: list[dict[str, Any]] = json.loads(await ws.recv())
        return frame

    async with websockets.connect(url, proxy=None) as ws:
        [shake] = await exchange(
            ws, {"channel": "/meta/handshake", "version": "1.0", "ext": token(*world.a.auth)}
        )
        assert shake["successful"] is True, shake
        client_id = shake["clientId"]

        def subscribe(channel: str) -> dict[str, Any]:
            return {"channel": "/meta/subscribe", "subscription": channel, "clientId": client_id}

        [mine] = await exchange(ws, subscribe(f"/alarms/{world.b.id}"))
        refused(mine)
        [wildcard] = await exchange(ws, subscribe("/alarms/*"))
        subscribed(wildcard)

        forbidden = await produce(b, admin, "alarms", world.b.id)
        own = await produce(a, admin, "alarms", world.a.id)
        received: list[dict[str, Any]] = []
        for _ in range(CONNECTS):
            await ws.send(
                json.dumps(
                    [{"channel": "/meta/connect", "connectionType": "websocket", "clientId": client_id}]
                )
            )
            frame = json.loads(await ws.recv())
            received.extend(m for m in frame if not m["channel"].startswith("/meta/"))
            if own in markers(received):
                break
        assert own in markers(received) and forbidden not in markers(received)
        assert mentions(received, world.b.id) == []


# -- the hub alone: the per-message filter fails closed ------------------------------------------------


def test_a_device_session_without_a_view_hears_nothing() -> None:
    """A non-admin session subscribed past the checked path (no view of its rights) gets no message at all."""
    bus = EventBus()
    hub = Hub(bus, {"measurements": render_thing, "operations": render_thing})
    session = hub.handshake(DEVICE, Endpoint.REALTIME, BASE)
    hub.subscribe(session, "/measurements/*")
    bus.publish(event("measurements", 5))
    assert session.drain() == []
    session.view = View(DEVICE)
    session.view.ids.add(5)
    bus.publish(event("measurements", 5))
    bus.publish(event("measurements", 6))
    assert [m["channel"] for m in session.drain()] == ["/measurements/5"]
    hub.close()
