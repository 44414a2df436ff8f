"""The hub without any transport: fan-out, tenant isolation, buffering, idle expiry and long-poll wake-up."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from tests.realtime.helpers import (
    ADMIN,
    BASE,
    BOOTSTRAP,
    DEVICE,
    OTHER_TENANT,
    ManualClock,
    event,
    render_thing,
    until_waiting,
)

from tether.core.events import DomainEvent, EventBus
from tether.realtime import BayeuxError, Endpoint, Hub, InvalidChannel


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def bus() -> EventBus:
    return EventBus()


@pytest.fixture
def hub(bus: EventBus, clock: ManualClock) -> Hub:
    renderers = {
        r: render_thing for r in ("managedobjects", "measurements", "events", "alarms", "operations")
    }
    return Hub(bus, renderers, timeout=30, idle_window=10, buffer_size=3, clock=clock)


def test_a_subscriber_receives_events_of_its_channel(hub: Hub, bus: EventBus) -> None:
    session = hub.handshake(ADMIN, Endpoint.REALTIME, BASE)
    hub.subscribe(session, "/measurements/5")
    bus.publish(event("measurements", 5, object_id=77, name="m"))
    bus.publish(event("measurements", 6))  # another device
    bus.publish(event("events", 5))  # another resource
    assert session.drain() == [
        {
            "channel": "/measurements/5",
            "data": {
                "realtimeAction": "CREATE",
                "data": {"id": "77", "name": "m", "self": f"{BASE}/things/77"},
            },
            "id": "1",
        }
    ]


def test_wildcard_and_exact_subscription_deliver_once(hub: Hub, bus: EventBus) -> None:
    session = hub.handshake(ADMIN, Endpoint.REALTIME, BASE)
    hub.subscribe(session, "/alarms/*")
    hub.subscribe(session, "/alarms/5")
    bus.publish(event("alarms", 5, action="UPDATE"))
    bus.publish(event("alarms", 6))
    messages = session.drain()
    assert [(m["channel"], m["data"]["realtimeAction"]) for m in messages] == [
        ("/alarms/5", "UPDATE"),
        ("/alarms/6", "CREATE"),
    ]
    assert [m["id"] for m in messages] == ["1", "2"]


def test_delete_carries_only_the_id(hub: Hub, bus: EventBus) -> None:
    realtime = hub.handshake(ADMIN, Endpoint.REALTIME, BASE)
    hub.subscribe(realtime, "/operations/5")
    operations = hub.handshake(ADMIN, Endpoint.OPERATIONS, BASE)
    hub.subscribe(operations, "/3")
    bus.publish(event("operations", 5, object_id=99, agent_id=3, action="DELETE"))
    assert realtime.drain()[0]["data"] == {"realtimeAction": "DELETE", "data": "99"}
    assert operations.drain()[0]["data"] == {"id": "99"}


def test_operations_endpoint_gets_the_plain_operation_on_the_agent_channel(hub: Hub, bus: EventBus) -> None:
    session = hub.handshake(ADMIN, Endpoint.OPERATIONS, BASE)  # devices: tests/security
    hub.subscribe(session, "/2480300")
    bus.publish(event("operations", 2480301, object_id=2546600, agent_id=2480300, name="c8y_Restart"))
    bus.publish(event("operations", 2480300, object_id=1, agent_id=1))  # routed to another agent
    bus.publish(event("measurements", 2480300))  # not an operation
    assert session.drain() == [
        {
            "channel": "/2480300",
            "data": {"id": "2546600", "name": "c8y_Restart", "self": f"{BASE}/things/2546600"},
            "id": "1",
        }
    ]


def test_tenants_are_isolated(hub: Hub, bus: EventBus) -> None:
    mine = hub.handshake(ADMIN, Endpoint.REALTIME, BASE)
    theirs = hub.handshake(OTHER_TENANT, Endpoint.REALTIME, BASE)
    for session in (mine, theirs):
        hub.subscribe(session, "/managedobjects/*")
    bus.publish(event("managedobjects", 5, tenant="t1"))
    assert len(mine.drain()) == 1
    assert theirs.drain() == []


def test_a_client_id_belongs_to_its_user_and_endpoint(hub: Hub) -> None:
    session = hub.handshake(ADMIN, Endpoint.REALTIME, BASE)
    assert hub.find(session.client_id, ADMIN, Endpoint.REALTIME) is session
    assert hub.find(session.client_id, OTHER_TENANT, Endpoint.REALTIME) is None
    assert hub.find(session.client_id, DEVICE, Endpoint.REALTIME) is None
    assert hub.find(session.client_id, None, Endpoint.REALTIME) is None
    assert hub.find(session.client_id, ADMIN, Endpoint.OPERATIONS) is None
    assert hub.find("guess", ADMIN, Endpoint.REALTIME) is None
    assert hub.find(42, ADMIN, Endpoint.REALTIME) is None


def test_client_ids_are_unguessable(hub: Hub) -> None:
    ids = {hub.handshake(ADMIN, Endpoint.REALTIME, BASE).client_id for _ in range(50)}
    assert len(ids) == 50 and all(len(i) >= 32 for i in ids)


def test_the_bootstrap_user_may_not_listen(hub: Hub) -> None:
    with pytest.raises(BayeuxError) as caught:
        hub.handshake(BOOTSTRAP, Endpoint.REALTIME, BASE)
    assert caught.value.error == "403::Forbidden"


def test_buffer_drops_the_oldest_and_counts(hub: Hub, bus: EventBus) -> None:
    session = hub.handshake(ADMIN, Endpoint.REALTIME, BASE)
    hub.subscribe(session, "/events/*")
    for source in range(1, 6):
        bus.publish(event("events", source))
    assert session.dropped == 2
    assert [m["channel"] for m in session.drain()] == ["/events/3", "/events/4", "/events/5"]
    assert session.drain() == []


def test_requeue_keeps_order_and_bound(hub: Hub, bus: EventBus) -> None:
    session = hub.handshake(ADMIN, Endpoint.REALTIME, BASE)
    hub.subscribe(session, "/events/*")
    bus.publish(event("events", 1))
    bus.publish(event("events", 2))
    taken = session.drain()
    bus.publish(event("events", 3))
    bus.publish(event("events", 4))
    session.requeue(taken)
    assert [m["channel"] for m in session.drain()] == ["/events/2", "/events/3", "/events/4"]
    assert session.dropped == 1


def test_each_subscriber_gets_links_of_its_own_base_url(bus: EventBus) -> None:
    calls: list[str] = []

    def renderer(base_url: str, thing: Any) -> dict[str, Any]:
        calls.append(base_url)
        return render_thing(base_url, thing)

    hub = Hub(bus, {"events": renderer})
    sessions = [hub.handshake(ADMIN, Endpoint.REALTIME, url) for url in (BASE, BASE, "https://other.example")]
    for session in sessions:
        hub.subscribe(session, "/events/1")
    bus.publish(event("events", 1))
    assert sorted(calls) == sorted([BASE, "https://other.example"])  # rendered once per base URL
    links = [s.drain()[0]["data"]["data"]["self"] for s in sessions]
    assert links == [f"{BASE}/things/1", f"{BASE}/things/1", "https://other.example/things/1"]


def test_unrenderable_events_are_skipped_without_breaking_the_bus(bus: EventBus) -> None:
    def broken(base_url: str, thing: Any) -> dict[str, Any]:
        raise RuntimeError("boom")

    hub = Hub(bus, {"events": broken})
    session = hub.handshake(ADMIN, Endpoint.REALTIME, BASE)
    hub.subscribe(session, "/events/*")
    hub.subscribe(session, "/alarms/*")
    bus.publish(event("events", 1))
    bus.publish(event("alarms", 1))  # no renderer registered
    assert session.drain() == []
    hub.register_renderer("alarms", render_thing)
    bus.publish(event("alarms", 1))
    assert len(session.drain()) == 1


def test_subscriptions_are_validated_and_bounded(bus: EventBus) -> None:
    hub = Hub(bus, max_subscriptions=2)
    session = hub.handshake(ADMIN, Endpoint.REALTIME, BASE)
    with pytest.raises(InvalidChannel):
        hub.subscribe(session, "/measurements/abc")
    hub.subscribe(session, "/measurements/1")
    hub.subscribe(session, "/measurements/1")  # idempotent
    hub.subscribe(session, "/measurements/2")
    with pytest.raises(BayeuxError) as caught:
        hub.subscribe(session, "/measurements/3")
    assert caught.value.code == 403


def test_unsubscribe_stops_delivery(hub: Hub, bus: EventBus) -> None:
    session = hub.handshake(ADMIN, Endpoint.REALTIME, BASE)
    hub.subscribe(session, "/events/1")
    hub.unsubscribe(session, "/events/1")
    hub.unsubscribe(session, "/events/2")  # never subscribed: fine
    bus.publish(event("events", 1))
    assert session.drain() == []


def test_idle_clients_are_forgotten(hub: Hub, bus: EventBus, clock: ManualClock) -> None:
    session = hub.handshake(ADMIN, Endpoint.REALTIME, BASE)
    hub.subscribe(session, "/events/*")
    bus.publish(event("events", 1))
    clock.advance(9.9)
    assert hub.sweep() == 0 and len(hub) == 1
    clock.advance(0.1)
    assert hub.sweep() == 1 and len(hub) == 0
    assert session.closed and session.subscriptions == set() and session.pending == 0
    assert hub.find(session.client_id, ADMIN, Endpoint.REALTIME) is None
    bus.publish(event("events", 1))  # nothing holds on to the forgotten client
    assert session.pending == 0


def test_a_late_client_is_unknown_even_before_a_sweep(hub: Hub, clock: ManualClock) -> None:
    session = hub.handshake(ADMIN, Endpoint.REALTIME, BASE)
    clock.advance(5)
    assert hub.find(session.client_id, ADMIN, Endpoint.REALTIME) is session  # a message keeps it alive
    clock.advance(9)
    assert hub.find(session.client_id, ADMIN, Endpoint.REALTIME) is session
    clock.advance(10)
    assert hub.find(session.client_id, ADMIN, Endpoint.REALTIME) is None
    assert len(hub) == 0


def test_clients_per_user_are_bounded(bus: EventBus, clock: ManualClock) -> None:
    hub = Hub(bus, max_clients_per_user=2, clock=clock)
    hub.handshake(ADMIN, Endpoint.REALTIME, BASE)
    hub.handshake(ADMIN, Endpoint.REALTIME, BASE)
    hub.handshake(DEVICE, Endpoint.REALTIME, BASE)  # another user
    with pytest.raises(BayeuxError):
        hub.handshake(ADMIN, Endpoint.REALTIME, BASE)
    clock.advance(10)  # the two went idle: a new one may take their place
    hub.handshake(ADMIN, Endpoint.REALTIME, BASE)


def test_close_releases_everything(hub: Hub, bus: EventBus) -> None:
    session = hub.handshake(ADMIN, Endpoint.REALTIME, BASE)
    hub.subscribe(session, "/events/*")
    hub.close()
    assert len(hub) == 0 and session.closed
    bus.publish(event("events", 1))
    assert session.pending == 0


# -- long-polling wake-up ---------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_a_held_connect_wakes_on_publish(hub: Hub, bus: EventBus) -> None:
    session = hub.handshake(ADMIN, Endpoint.REALTIME, BASE)
    hub.subscribe(session, "/measurements/*")
    waiter = asyncio.create_task(hub.wait(session))  # the hub's timeout is 30 s
    await until_waiting(session)
    assert not waiter.done()
    bus.publish(event("measurements", 1))
    messages = await waiter
    assert messages is not None and [m["channel"] for m in messages] == ["/measurements/1"]
    assert not session.waiting


@pytest.mark.anyio
async def test_buffered_messages_return_at_once(hub: Hub, bus: EventBus) -> None:
    session = hub.handshake(ADMIN, Endpoint.REALTIME, BASE)
    hub.subscribe(session, "/measurements/*")
    bus.publish(event("measurements", 1))
    bus.publish(event("measurements", 2))
    messages = await hub.wait(session)
    assert messages is not None and len(messages) == 2


@pytest.mark.anyio
async def test_a_connect_without_data_ends_with_nothing(bus: EventBus) -> None:
    hub = Hub(bus, timeout=0.01)
    session = hub.handshake(ADMIN, Endpoint.REALTIME, BASE)
    assert await hub.wait(session) == []
    assert await hub.wait(session, 0) == []


@pytest.mark.anyio
async def test_a_newer_connect_supersedes_the_held_one(hub: Hub, bus: EventBus) -> None:
    session = hub.handshake(ADMIN, Endpoint.REALTIME, BASE)
    hub.subscribe(session, "/events/*")
    first = asyncio.create_task(hub.wait(session))
    await until_waiting(session)
    second = asyncio.create_task(hub.wait(session))
    assert await first is None  # released, and it takes nothing
    await until_waiting(session)
    bus.publish(event("events", 1))
    messages = await second
    assert messages is not None and len(messages) == 1


@pytest.mark.anyio
async def test_disconnect_releases_a_held_connect(hub: Hub) -> None:
    session = hub.handshake(ADMIN, Endpoint.REALTIME, BASE)
    waiter = asyncio.create_task(hub.wait(session))
    await until_waiting(session)
    hub.disconnect(session)
    assert await waiter == []
    assert session.closed and len(hub) == 0


@pytest.mark.anyio
async def test_a_held_client_is_never_idle(hub: Hub, bus: EventBus, clock: ManualClock) -> None:
    session = hub.handshake(ADMIN, Endpoint.REALTIME, BASE)
    hub.subscribe(session, "/events/*")
    waiter = asyncio.create_task(hub.wait(session))
    await until_waiting(session)
    clock.advance(60)
    assert hub.sweep() == 0
    bus.publish(event("events", 1))
    assert await waiter
    clock.advance(9)  # the window counts from the end of the connect
    assert hub.find(session.client_id, ADMIN, Endpoint.REALTIME) is session


@pytest.mark.anyio
async def test_the_idle_timer_frees_a_client_that_does_not_come_back(bus: EventBus) -> None:
    hub = Hub(bus, idle_window=0.02)
    session = hub.handshake(ADMIN, Endpoint.REALTIME, BASE)
    hub.subscribe(session, "/events/*")
    bus.publish(event("events", 1))
    for _ in range(10_000):
        if session.closed:
            break
        await asyncio.sleep(0.005)
    assert session.closed and len(hub) == 0 and session.pending == 0


def test_a_deleted_users_clients_are_forgotten(hub: Hub, bus: EventBus) -> None:
    """A retired device (its user deleted, README: Device retirement) keeps no real-time client: its next
    request finds none and must handshake, which takes its (now refused) credentials."""
    gone = hub.handshake(DEVICE, Endpoint.REALTIME, BASE)
    operations = hub.handshake(DEVICE, Endpoint.OPERATIONS, BASE)
    stays = hub.handshake(ADMIN, Endpoint.REALTIME, BASE)
    bus.publish(DomainEvent(DEVICE.tenant_id, "users", "DELETE", None, None, DEVICE))
    assert hub.find(gone.client_id, DEVICE, Endpoint.REALTIME) is None
    assert hub.find(operations.client_id, DEVICE, Endpoint.OPERATIONS) is None
    assert gone.closed and operations.closed
    assert hub.find(stays.client_id, ADMIN, Endpoint.REALTIME) is stays
