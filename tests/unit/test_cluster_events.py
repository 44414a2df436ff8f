"""The event bus's scopes and the codec of events between cluster nodes (tether.core.events,
tether.cluster.events), without NATS: tests/cluster/test_platform.py runs them between real nodes."""

from __future__ import annotations

import datetime
import decimal
import os
import pickle
from typing import Any

import pytest

from tether.cluster.events import decode, encode
from tether.core.events import DomainEvent, EventBus
from tether.inventory.models import ManagedObject
from tether.operations.models import Operation, OperationStatus
from tether.presence.models import AvailabilityStatus, DevicePresence
from tether.tenants.models import Principal, Role


class FakeRemote:
    def __init__(self, wanted: set[tuple[str, str]]) -> None:
        self.wanted = wanted
        self.sent: list[DomainEvent] = []
        self.changes = 0

    def listens(self, tenant_id: str, resource: str) -> bool:
        return (tenant_id, resource) in self.wanted

    def forward(self, event: DomainEvent) -> None:
        if self.listens(event.tenant_id, event.resource):
            self.sent.append(event)

    def interest_changed(self) -> None:
        self.changes += 1

    async def settled(self) -> None:
        return None


def event(resource: str, tenant: str = "t1", payload: object = None) -> DomainEvent:
    return DomainEvent(tenant, resource, "CREATE", 1, 2, payload)


def test_local_subscribers_hear_only_this_node_and_cluster_subscribers_both() -> None:
    bus = EventBus()
    local: list[DomainEvent] = []
    everywhere: list[DomainEvent] = []
    bus.subscribe(local.append, resources={"operations"})
    bus.subscribe(everywhere.append, resources={"operations"}, cluster=True)
    mine, theirs = event("operations"), event("operations")
    bus.publish(mine)
    bus.deliver(theirs)  # from another node
    assert local == [mine]
    assert everywhere == [mine, theirs]


def test_what_a_node_wants_from_the_others_and_what_it_forwards() -> None:
    bus = EventBus()
    tenants = {"t1"}
    bus.subscribe(lambda e: None, resources={"measurements"})  # local: never announced
    bus.subscribe(lambda e: None, resources={"operations"}, cluster=True)
    unsubscribe = bus.subscribe(
        lambda e: None, wants=lambda t: t in tenants, cluster=True, tenants=lambda: tenants
    )
    assert bus.wanted() == {"operations": None, "*": {"t1"}}
    assert bus.wants_remote("t1", "alarms") and not bus.wants_remote("t2", "alarms")
    remote = FakeRemote({("t2", "measurements")})
    bus.remote = remote
    # listens: this node's subscribers first, then the others'.
    assert bus.listens("t2", "measurements")  # the local subscriber (no `wants`)
    assert not bus.listens("t3", "alarms")
    tenants.add("t3")
    assert bus.listens("t3", "alarms")
    bus.interest_changed()
    unsubscribe()
    assert remote.changes == 2
    sent = event("measurements", "t2")
    bus.publish(sent)
    bus.publish(event("alarms", "t9"))
    bus.tell_others(event("measurements", "t2"))
    assert remote.sent == [sent, event("measurements", "t2")]
    with pytest.raises(ValueError, match="must list its tenants"):
        bus.subscribe(lambda e: None, wants=lambda t: True, cluster=True)


@pytest.mark.parametrize(
    "payload",
    [
        Operation(5, "t1", 2, 3, OperationStatus.PENDING, 1, 2, fragments={"c8y_Restart": {"a": [1, 2.5]}}),
        ManagedObject(2, "t1", "admin", 1, 2, "dev", "c8y_Type", {"c8y_IsDevice": {}}),
        Principal("t1", "device_x", frozenset({Role.DEVICE})),
        (DevicePresence("t1", 2, True, 5, 10, AvailabilityStatus.AVAILABLE, 1, None, False),),
        {"at": datetime.datetime(2026, 12, 4, tzinfo=datetime.UTC), "value": decimal.Decimal("1.5")},
        "t1",
    ],
    ids=["operation", "managed-object", "principal", "presence", "datetime-decimal", "text"],
)
def test_domain_objects_travel_intact(payload: Any) -> None:
    sent = DomainEvent("t1", "operations", "UPDATE", 5, 2, payload, agent_id=3)
    origin, received = decode(encode("n1", sent))
    assert origin == "n1" and received == sent


class _Evil:
    def __reduce__(self) -> tuple[Any, ...]:
        return (os.system, ("true",))


class _EvilTether:
    def __reduce__(self) -> tuple[Any, ...]:
        from tether.core import clock

        return (clock.now_ms, ())


@pytest.mark.parametrize(
    "payload", [_Evil(), _EvilTether(), eval], ids=["os.system", "tether-function", "eval"]
)
def test_only_tethers_models_and_plain_values_are_read(payload: Any) -> None:
    data = b"n2\n" + pickle.dumps(DomainEvent("t1", "alarms", "CREATE", 1, 1, payload), protocol=5)
    with pytest.raises(pickle.UnpicklingError, match="not allowed"):
        decode(data)
    with pytest.raises(pickle.UnpicklingError, match="not a domain event"):
        decode(b"n2\n" + pickle.dumps(("t1", 1), protocol=5))
