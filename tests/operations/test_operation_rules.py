"""Operation rules at the service level, over real storage: the lifecycle table, routing to the
nearest agent (several parents, cycles), access, concurrency and the events announced."""

from __future__ import annotations

import asyncio

import pytest
from tests.operations.helpers import Services

from tether.core.errors import Forbidden, InvalidInput, NotFound
from tether.core.paging import PageRequest
from tether.inventory.models import ChildKind, NewManagedObject
from tether.operations.models import (
    FINAL,
    TRANSITIONS,
    InvalidTransition,
    OperationCriteria,
    OperationStatus,
    check_transition,
)
from tether.tenants.models import Principal, Role

pytestmark = pytest.mark.anyio
S = OperationStatus
ADMIN = Principal("t1", "admin", frozenset({Role.ADMIN}))
T2_ADMIN = Principal("t2", "admin", frozenset({Role.ADMIN}))
GATEWAY_USER = Principal("t1", "device_gw", frozenset({Role.DEVICE}))
OTHER_DEVICE = Principal("t1", "device_other", frozenset({Role.DEVICE}))
BOOTSTRAP = Principal("management", "devicebootstrap", frozenset({Role.BOOTSTRAP}))
ALL = PageRequest(page_size=2000)


async def mo(
    services: Services, name: str, *, agent: bool = False, owner: str = "admin", tenant: str = "t1"
) -> int:
    fragments: dict[str, object] = {"c8y_IsDevice": {}}
    if agent:
        fragments["com_cumulocity_model_Agent"] = {}
    created = await services.storage.managed_objects.create(
        tenant, NewManagedObject(owner=owner, name=name, type=None, fragments=fragments), 1
    )
    return created.id


async def link(services: Services, parent: int, child: int, kind: ChildKind = ChildKind.DEVICE) -> None:
    await services.storage.managed_objects.add_child("t1", parent, kind, child, 1)


def test_transition_table() -> None:
    assert {S.SUCCESSFUL, S.FAILED} == FINAL
    for current in S:
        check_transition(current, current)  # repeating a status is not a transition
        for new in S:
            if new is current:
                continue
            if new in TRANSITIONS[current]:
                check_transition(current, new)
            else:
                with pytest.raises(InvalidTransition) as info:
                    check_transition(current, new)
                assert info.value.resource == "devicecontrol"
                assert isinstance(info.value, InvalidInput)  # 422 over HTTP


async def test_routing_to_the_nearest_agent(services: Services) -> None:
    ops = services.operations
    top = await mo(services, "top", agent=True)
    middle = await mo(services, "middle")
    near = await mo(services, "near", agent=True)
    far = await mo(services, "far", agent=True)
    leaf = await mo(services, "leaf")
    asset_parent = await mo(services, "asset parent", agent=True)
    # leaf has two device parents: `middle` (no agent, below `top`) and `near` (an agent); and an
    # asset parent that is an agent but does not count (only childDevices route operations).
    await link(services, top, middle)
    await link(services, middle, leaf)
    await link(services, near, leaf)
    await link(services, far, near)
    await link(services, asset_parent, leaf, ChildKind.ASSET)

    op = await ops.create(ADMIN, leaf, {"c8y_Restart": {}})
    assert op.agent_id == near and op.delivered_to == near
    assert (await ops.create(ADMIN, middle, {})).agent_id == top
    assert (await ops.create(ADMIN, far, {})).agent_id == far

    # Two agents at the same distance: the lower id wins, deterministically.
    twin_a = await mo(services, "twin a", agent=True)
    twin_b = await mo(services, "twin b", agent=True)
    shared = await mo(services, "shared")
    await link(services, twin_b, shared)
    await link(services, twin_a, shared)
    assert (await ops.create(ADMIN, shared, {})).agent_id == min(twin_a, twin_b)


async def test_routing_survives_cycles_and_finds_no_agent(services: Services) -> None:
    a = await mo(services, "a")
    b = await mo(services, "b")
    c = await mo(services, "c")
    await link(services, a, b)
    await link(services, b, c)
    await link(services, c, a)  # a cycle without any agent
    op = await services.operations.create(ADMIN, c, {"c8y_Restart": {}})
    assert op.agent_id is None and op.delivered_to == c
    page = await services.operations.find(ADMIN, OperationCriteria(agent_id=c), ALL)
    assert [o.id for o in page.items] == [op.id]


async def test_create_validates_device_and_caller(services: Services) -> None:
    ops = services.operations
    mine = await mo(services, "gw", agent=True, owner="device_gw")
    child = await mo(services, "child")  # the admin's, below the device user's gateway
    await link(services, mine, child)
    foreign = await mo(services, "foreign")
    other_tenant = await mo(services, "elsewhere", tenant="t2")

    for who, device in (
        (ADMIN, 999_999),
        (ADMIN, other_tenant),
        (GATEWAY_USER, foreign),
        (OTHER_DEVICE, mine),
    ):
        with pytest.raises(InvalidInput):
            await ops.create(who, device, {})
    with pytest.raises(Forbidden):
        await ops.create(BOOTSTRAP, mine, {})
    assert services.events == []

    own = await ops.create(GATEWAY_USER, mine, {"x": 1, "dropped": None})
    assert own.fragments == {"x": 1}
    as_agent = await ops.create(GATEWAY_USER, child, {})
    assert as_agent.agent_id == mine
    assert (await ops.create(T2_ADMIN, other_tenant, {})).agent_id is None


async def test_reading_and_updating_follow_ownership(services: Services) -> None:
    ops = services.operations
    gateway = await mo(services, "gw", agent=True, owner="device_gw")
    child = await mo(services, "child")
    await link(services, gateway, child)
    foreign = await mo(services, "foreign")
    routed = await ops.create(ADMIN, child, {})
    not_mine = await ops.create(ADMIN, foreign, {})

    assert (await ops.get(GATEWAY_USER, routed.id)).id == routed.id
    for who in (GATEWAY_USER, OTHER_DEVICE):
        with pytest.raises(NotFound):
            await ops.get(who, not_mine.id)
        with pytest.raises(NotFound):
            await ops.update(who, not_mine.id, status=S.EXECUTING)
    with pytest.raises(NotFound):
        await ops.get(T2_ADMIN, routed.id)
    with pytest.raises(Forbidden):
        await ops.get(BOOTSTRAP, routed.id)
    listed = await ops.find(GATEWAY_USER, OperationCriteria(), ALL)
    assert [o.id for o in listed.items] == [routed.id]
    assert (await ops.find(OTHER_DEVICE, OperationCriteria(), ALL)).items == []
    updated = await ops.update(GATEWAY_USER, routed.id, status=S.EXECUTING)
    assert updated.status is S.EXECUTING
    with pytest.raises(Forbidden):
        await ops.delete(GATEWAY_USER, OperationCriteria())
    assert (await ops.get(ADMIN, not_mine.id)).status is S.PENDING


async def test_failure_reason_rules(services: Services) -> None:
    ops = services.operations
    device = await mo(services, "d")
    op = await ops.create(ADMIN, device, {})
    with pytest.raises(InvalidInput):
        await ops.update(ADMIN, op.id, status=S.EXECUTING, failure_reason="no")
    await ops.update(ADMIN, op.id, status=S.EXECUTING)
    failed = await ops.update(ADMIN, op.id, status=S.FAILED, failure_reason="boom")
    assert failed.failure_reason == "boom"
    # Repeating FAILED keeps the reason unless a new one is given.
    assert (await ops.update(ADMIN, op.id, status=S.FAILED)).failure_reason == "boom"
    assert (await ops.update(ADMIN, op.id, fragments={"log": "x"})).failure_reason == "boom"
    assert (await ops.update(ADMIN, op.id, status=S.FAILED, failure_reason="again")).failure_reason == "again"
    with pytest.raises(InvalidTransition):
        await ops.update(ADMIN, op.id, status=S.SUCCESSFUL)


async def test_concurrent_outcomes_have_one_winner(services: Services) -> None:
    """Two agents reporting different outcomes at once: one wins, the other is refused (422)."""
    ops = services.operations
    device = await mo(services, "d")
    op = await ops.create(ADMIN, device, {})
    await ops.update(ADMIN, op.id, status=S.EXECUTING)
    outcomes = [S.SUCCESSFUL, S.FAILED] * 5
    results = await asyncio.gather(
        *(ops.update(ADMIN, op.id, status=s, fragments={"attempt": i}) for i, s in enumerate(outcomes)),
        return_exceptions=True,
    )
    succeeded = [r for r in results if not isinstance(r, BaseException)]
    refused = [r for r in results if isinstance(r, BaseException)]
    final = await ops.get(ADMIN, op.id)
    # Repeating the final status is allowed, so every writer of the winning outcome may succeed.
    assert succeeded and all(r.status is final.status for r in succeeded)
    assert all(isinstance(r, InvalidTransition) for r in refused)
    assert {r.status for r in succeeded} == {final.status}
    assert len(refused) == sum(1 for s in outcomes if s is not final.status)


async def test_events_carry_device_agent_and_payload(services: Services) -> None:
    ops = services.operations
    gateway = await mo(services, "gw", agent=True)
    child = await mo(services, "child")
    await link(services, gateway, child)
    op = await ops.create(ADMIN, child, {"c8y_Restart": {}})
    updated = await ops.update(ADMIN, op.id, status=S.EXECUTING)
    with pytest.raises(InvalidTransition):
        await ops.update(ADMIN, op.id, status=S.PENDING)
    assert await ops.delete(ADMIN, OperationCriteria(device_id=child)) == 1
    assert [(e.action, e.payload) for e in services.events] == [
        ("CREATE", op),
        ("UPDATE", updated),
        ("DELETE", updated),
    ]
    for event in services.events:
        assert (event.tenant_id, event.resource, event.id) == ("t1", "operations", op.id)
        assert (event.source_id, event.agent_id) == (child, gateway)
