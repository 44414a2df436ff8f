"""OperationService over fake stores: routing to the nearest agent, the status lifecycle (compare-and-set),
who may read, command and delete operations."""

from __future__ import annotations

import pytest
from tests.unit.conftest import ADMIN, BOOTSTRAP, OTHER_ADMIN, World, device_user

from tether.core.errors import Forbidden, InvalidInput, NotFound
from tether.core.paging import PageRequest
from tether.inventory.models import ChildKind
from tether.operations.models import (
    AGENT_FRAGMENT,
    InvalidTransition,
    OperationChange,
    OperationCriteria,
    OperationStatus,
)

pytestmark = pytest.mark.anyio
S = OperationStatus
AGENT: dict[str, object] = {AGENT_FRAGMENT: {}, "c8y_IsDevice": {}}


async def test_an_operation_is_routed_to_the_nearest_agent(world: World) -> None:
    gateway = await world.add_object("device_gw", "gateway", AGENT)
    child = await world.add_object("device_gw", "child", parent=gateway)
    grandchild = await world.add_object("device_gw", "grandchild", parent=child)
    lonely = await world.add_object("device_x", "lonely")

    for device in (gateway, child, grandchild):
        op = await world.operations.create(ADMIN, device.id, {"c8y_Restart": {}})
        assert (op.agent_id, op.delivered_to, op.status) == (gateway.id, gateway.id, S.PENDING)
    op = await world.operations.create(ADMIN, lonely.id, {"c8y_Restart": {}})
    assert (op.agent_id, op.delivered_to) == (None, lonely.id)

    delivered = await world.operations.find(ADMIN, OperationCriteria(agent_id=gateway.id), PageRequest())
    assert [o.device_id for o in delivered.items] == [gateway.id, child.id, grandchild.id]
    assert world.announced_as("operations") == [("CREATE", i) for i in (1, 2, 3, 4)]


async def test_the_nearer_agent_wins_and_the_route_is_fixed_at_creation(world: World) -> None:
    top = await world.add_object("admin", "top", AGENT)
    middle = await world.add_object("admin", "middle", AGENT, parent=top)
    leaf = await world.add_object("admin", "leaf", parent=middle)
    op = await world.operations.create(ADMIN, leaf.id, {"c8y_Command": {"text": "ls"}})
    assert op.agent_id == middle.id
    await world.mos.remove_child("t1", middle.id, ChildKind.DEVICE, leaf.id, 2)
    assert (await world.operations.get(ADMIN, op.id)).agent_id == middle.id
    assert await world.operations.route("t1", leaf) is None


async def test_status_lifecycle(world: World) -> None:
    device = await world.add_object("device_a", "a", AGENT)
    agent = device_user("device_a")
    op = await world.operations.create(ADMIN, device.id, {"c8y_Restart": {}})

    with pytest.raises(InvalidTransition):
        await world.operations.update(agent, op.id, status=S.SUCCESSFUL)  # PENDING must be claimed first
    with pytest.raises(InvalidInput):
        await world.operations.update(agent, op.id, status=S.EXECUTING, failure_reason="why")
    executing = await world.operations.update(agent, op.id, status=S.EXECUTING, fragments={"progress": 1})
    assert executing.status is S.EXECUTING and executing.fragments["progress"] == 1
    again = await world.operations.update(agent, op.id, status=S.EXECUTING)  # a retried update is accepted
    assert again.status is S.EXECUTING
    done = await world.operations.update(agent, op.id, status=S.SUCCESSFUL, fragments={"progress": None})
    assert done.status is S.SUCCESSFUL and "progress" not in done.fragments
    for status in (S.PENDING, S.EXECUTING, S.FAILED):
        with pytest.raises(InvalidTransition):
            await world.operations.update(agent, op.id, status=status)
    assert world.announced_as("operations")[1:] == [("UPDATE", op.id)] * 3


async def test_a_pending_operation_can_be_cancelled_with_a_reason_that_sticks(world: World) -> None:
    device = await world.add_object()
    op = await world.operations.create(ADMIN, device.id, {"c8y_Restart": {}})
    failed = await world.operations.update(ADMIN, op.id, status=S.FAILED, failure_reason="cancelled")
    assert (failed.status, failed.failure_reason) == (S.FAILED, "cancelled")
    kept = await world.operations.update(ADMIN, op.id, fragments={"note": "x"})
    assert (kept.status, kept.failure_reason, kept.fragments["note"]) == (S.FAILED, "cancelled", "x")


async def test_the_store_refuses_a_stale_status(world: World) -> None:
    device = await world.add_object()
    op = await world.operations.create(ADMIN, device.id, {"c8y_Restart": {}})
    stale = OperationChange(S.EXECUTING, S.SUCCESSFUL, None, {})
    assert await world.ops.update("t1", op.id, stale, 5) is None
    claim = OperationChange(S.PENDING, S.EXECUTING, None, {})
    assert (await world.ops.update("t1", op.id, claim, 5)) is not None
    assert await world.ops.update("t1", op.id, claim, 6) is None  # a second agent's claim loses


async def test_who_may_read_and_command(world: World) -> None:
    gateway = await world.add_object("device_gw", "gateway", AGENT)
    child = await world.add_object("device_child", "child", parent=gateway)
    other = await world.add_object("device_other", "other")
    op = await world.operations.create(ADMIN, child.id, {"c8y_Restart": {}})
    gw, owner, stranger = device_user("device_gw"), device_user("device_child"), device_user("device_other")

    assert (await world.operations.get(gw, op.id)).id == op.id  # the agent it is routed to
    assert (await world.operations.get(owner, op.id)).id == op.id  # the device's owner
    with pytest.raises(NotFound):
        await world.operations.get(stranger, op.id)
    with pytest.raises(NotFound):
        await world.operations.get(OTHER_ADMIN, op.id)
    with pytest.raises(Forbidden):
        await world.operations.get(BOOTSTRAP, op.id)
    with pytest.raises(InvalidInput):  # another's device looks like no device at all
        await world.operations.create(stranger, child.id, {"c8y_Restart": {}})
    with pytest.raises(InvalidInput):
        await world.operations.create(OTHER_ADMIN, child.id, {"c8y_Restart": {}})
    await world.operations.create(stranger, other.id, {"c8y_Restart": {}})

    assert await world.operations.may_read_operations_of(gw, child.id)
    assert not await world.operations.may_read_operations_of(stranger, child.id)
    assert not await world.operations.may_read_operations_of(stranger, 999)
    found = await world.operations.find(stranger, OperationCriteria(), PageRequest(with_total=True))
    assert [o.device_id for o in found.items] == [other.id] and found.total_elements == 1
    found = await world.operations.find(gw, OperationCriteria(), PageRequest())
    assert [o.device_id for o in found.items] == [child.id]


async def test_find_filters_and_pages(world: World) -> None:
    device = await world.add_object()
    for i in range(5):
        await world.operations.create(
            ADMIN, device.id, {"c8y_Command": {"n": i}} if i % 2 else {"c8y_Restart": {}}
        )
    await world.operations.update(ADMIN, 1, status=S.EXECUTING)
    newest = await world.operations.find(
        ADMIN, OperationCriteria(newest_first=True), PageRequest(page_size=2)
    )
    assert [o.id for o in newest.items] == [5, 4]
    second = await world.operations.find(ADMIN, OperationCriteria(), PageRequest(current_page=2, page_size=2))
    assert [o.id for o in second.items] == [3, 4]
    commands = await world.operations.find(
        ADMIN, OperationCriteria(fragment_type="c8y_Command.n"), PageRequest()
    )
    assert [o.id for o in commands.items] == [2, 4]
    executing = await world.operations.find(ADMIN, OperationCriteria(status=S.EXECUTING), PageRequest())
    assert [o.id for o in executing.items] == [1]


async def test_only_admins_delete_and_each_deletion_is_announced(world: World) -> None:
    device = await world.add_object("device_a")
    for _ in range(3):
        await world.operations.create(ADMIN, device.id, {"c8y_Restart": {}})
    await world.operations.update(ADMIN, 2, status=S.EXECUTING)
    with pytest.raises(Forbidden):
        await world.operations.delete(device_user("device_a"), OperationCriteria())
    assert await world.operations.delete(OTHER_ADMIN, OperationCriteria()) == 0
    assert await world.operations.delete(ADMIN, OperationCriteria(status=S.PENDING)) == 2
    assert [e for e in world.announced_as("operations") if e[0] == "DELETE"] == [("DELETE", 1), ("DELETE", 3)]
    assert list(world.ops.operations) == [2]


async def test_operations_go_with_their_device(world: World) -> None:
    device = await world.add_object()
    op = await world.operations.create(ADMIN, device.id, {"c8y_Restart": {}})
    await world.mos.delete("t1", [device.id])
    with pytest.raises(NotFound):
        await world.operations.get(ADMIN, op.id)
