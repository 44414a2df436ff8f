"""The adapter's handler called directly on the server's event loop, for what a network client cannot
arrange deterministically: messages that arrive together are stored in one write, and one that cannot be
stored is retried alone so that only it is refused."""

from __future__ import annotations

import asyncio
import inspect
from typing import Any

import httpx
import orjson
import pytest
from tests.mqtt_device import ServerMqtt
from tests.support import ServerThread
from tests.xyte.helpers import create_model, managed_object_id, register

from tether.adapters.login import Login
from tether.adapters.policy import Policy
from tether.adapters.xyte import XyteAdapter
from tether.broker import ClientInfo, Message
from tether.core.events import DomainEvent
from tether.mqtt.reason_codes import ReasonCode
from tether.registration.xyte_models import XyteDevice
from tether.telemetry.measurements import SourceGrant
from tether.tenants.models import Principal, Role


@pytest.fixture(scope="module")
def adapter(server: ServerThread) -> XyteAdapter:
    """The adapter `tether serve` installed (tether.bootstrap.install_adapters): its `v1` handler's owner."""
    installed = getattr(inspect.unwrap(ServerMqtt(server).broker.handlers["v1"]), "__self__", None)
    assert isinstance(installed, XyteAdapter)
    return installed


class CountingMeasurements:
    """The MeasurementService, recording how many measurements each ingest() call stored; `grants`
    issued before a source was deleted stand in for the real ones, so only the store can refuse them."""

    def __init__(self, real: Any, grants: dict[int, SourceGrant]) -> None:
        self.real = real
        self.grants = grants
        self.calls: list[int] = []

    async def grant(self, who: Principal, source_id: int) -> SourceGrant:
        return self.grants.get(source_id) or await self.real.grant(who, source_id)

    async def ingest(self, rows: list[Any]) -> None:
        self.calls.append(len(rows))
        await self.real.ingest(rows)


def client_of(device: XyteDevice) -> ClientInfo:
    """What the platform hooks attach to a Xyte login (adapters/access.py)."""
    policy = Policy.for_device((), (device.id,), device.id)
    login = Login(device.principal, "xyte", policy, serial=device.id, xyte=device, mo_id=device.mo_id)
    return ClientInfo(device.id, device.id, 5, "tcp", None, login, f"$tenant/{device.tenant_id}/")


def telemetry(device: XyteDevice, n: int) -> tuple[ClientInfo, str, Message]:
    topic = f"v1/device/{device.id}/telemetry"
    return client_of(device), topic, Message(topic, orjson.dumps({"telemetries": {"n": n}}), 1)


def record(server: ServerThread, device: dict[str, Any]) -> XyteDevice:
    found = server.call(server.platform.services.xyte.authenticate(device["id"], device["access_key"]))
    assert found is not None
    return found


def test_messages_together_are_one_write_and_a_bad_one_fails_alone(
    server: ServerThread, admin: httpx.Client, adapter: XyteAdapter
) -> None:
    model = create_model(admin)
    good, gone = (record(server, register(server.url, model)) for _ in range(2))
    granted = server.call(adapter._measurements.grant(gone.principal, gone.mo_id))
    assert admin.delete(f"/inventory/managedObjects/{gone.mo_id}").status_code == 204
    # As if deleted between the adapter's check of the registration and the write (a deleted device is
    # refused before it joins a batch: tests/xyte/test_device_deleted.py): only the store can refuse it.
    server.platform.services.xyte._remember(gone)
    spy = CountingMeasurements(adapter._measurements, {gone.mo_id: granted})
    adapter._measurements = spy  # type: ignore[assignment]
    messages = [telemetry(good, 0), telemetry(good, 1), telemetry(gone, 2), telemetry(good, 3)]

    async def publish_together() -> list[Any]:
        acks = [adapter.handle(*message) for message in messages]  # one loop turn: one batch
        return list(await asyncio.gather(*acks))  # type: ignore[arg-type]

    try:
        results = server.call(publish_together())
    finally:
        adapter._measurements = spy.real
        server.platform.services.xyte._forget_deleted(
            DomainEvent("t1", "managedobjects", "DELETE", gone.mo_id, None, None)
        )
    assert results == [None, None, ReasonCode.IMPLEMENTATION_SPECIFIC_ERROR, None]
    assert spy.calls == [4, 1, 1, 1, 1]  # the batch, refused as a whole, then each alone
    stored = admin.get("/measurement/measurements", params={"source": good.mo_id, "pageSize": 10})
    assert sorted(m["xyte_Telemetry"]["n"]["value"] for m in stored.json()["measurements"]) == [0, 1, 3]


def test_who_may_publish(server: ServerThread, admin: httpx.Client, adapter: XyteAdapter) -> None:
    device = record(server, register(server.url, create_model(admin)))
    other = record(server, register(server.url, create_model(admin)))
    user = ClientInfo(
        "app",
        "t1/admin",
        5,
        "tcp",
        None,
        Login(Principal("t1", "admin", frozenset({Role.ADMIN})), "user", Policy(superuser=True), True),
    )

    async def handle(client: ClientInfo, topic: str, payload: bytes = b"{}") -> Any:
        ack = adapter.handle(client, topic, Message(topic, payload, 1))
        return None if ack is None else await ack

    def call(client: ClientInfo, topic: str, payload: bytes = b"{}") -> Any:
        return server.call(handle(client, topic, payload))

    # Topics the platform does not consume are only routed (no held acknowledgement).
    assert call(client_of(device), f"v1/device/{device.id}/config/update") is None
    assert call(user, f"v1/device/{device.id}/license/update") is None
    # Not a Xyte device, or another device's id: refused.
    assert call(user, f"v1/device/{device.id}/telemetry") is ReasonCode.NOT_AUTHORIZED
    assert call(client_of(other), f"v1/device/{device.id}/telemetry") is ReasonCode.NOT_AUTHORIZED
    assert call(client_of(other), f"v1/device/{device.id}/commands/update") is ReasonCode.NOT_AUTHORIZED
    assert (
        call(client_of(device), f"v1/device/{device.id}/telemetry", b"\xff")
        is ReasonCode.PAYLOAD_FORMAT_INVALID
    )
    assert call(client_of(device), f"v1/device/{device.id}/telemetry") is None
    assert managed_object_id(admin, device.id) == device.mo_id
