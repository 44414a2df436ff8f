"""Operation and new-device-request stores, run against SQLite and PostgreSQL (`storage` fixture)."""

from __future__ import annotations

import asyncio

import pytest

from tether.core.errors import Conflict
from tether.core.paging import PageRequest
from tether.inventory.models import ChildKind, NewManagedObject
from tether.operations.models import (
    NewOperation,
    OperationChange,
    OperationCriteria,
    OperationStatus,
)
from tether.registration.models import DeviceRequest, RequestStatus
from tether.storage.sql.storage import SqlStorage

pytestmark = pytest.mark.anyio
ALL = PageRequest(page_size=2000, with_total=True)
S = OperationStatus


async def device(
    storage: SqlStorage, name: str, tenant: str = "t1", owner: str = "admin", **frag: object
) -> int:
    mo = await storage.managed_objects.create(
        tenant,
        NewManagedObject(owner=owner, name=name, type="c8y_Test", fragments={"c8y_IsDevice": {}, **frag}),
        1,
    )
    return mo.id


async def ids(
    storage: SqlStorage, tenant: str = "t1", owner: str | None = None, **criteria: object
) -> list[int]:
    page = await storage.operations.find(
        tenant,
        OperationCriteria(**criteria),  # type: ignore[arg-type]
        ALL,
        owner_scope=owner,
    )
    return [op.id for op in page.items]


async def test_create_get_and_tenant_scope(storage: SqlStorage) -> None:
    ops = storage.operations
    dev = await device(storage, "d")
    draft = NewOperation(dev, None, {"description": "Restart", "c8y_Restart": {}})
    created = await ops.create("t1", draft, 1000)
    assert created.id > 0 and created.status is S.PENDING and created.agent_id is None
    assert created.creation_time == created.last_updated == 1000 and created.failure_reason is None
    assert created.delivered_to == dev
    assert await ops.get("t1", created.id) == created
    assert await ops.get("t2", created.id) is None
    change = OperationChange(S.PENDING, S.EXECUTING, None, {})
    assert await ops.update("t2", created.id, change, 2000) is None
    assert (await ops.find("t2", OperationCriteria(), ALL)).items == []
    assert await ops.delete("t2", OperationCriteria()) == []
    assert await ops.get("t1", created.id) == created


async def test_update_is_compare_and_set_and_merges_fragments(storage: SqlStorage) -> None:
    ops = storage.operations
    dev = await device(storage, "d")
    op = await ops.create("t1", NewOperation(dev, dev, {"c8y_Command": {"text": "ls"}, "keep": 1}), 1000)
    executing = await ops.update("t1", op.id, OperationChange(S.PENDING, S.EXECUTING, None, {}), 2000)
    assert executing is not None and executing.status is S.EXECUTING and executing.last_updated == 2000
    # A writer that read PENDING lost the race: nothing changes.
    assert await ops.update("t1", op.id, OperationChange(S.PENDING, S.FAILED, "late", {}), 3000) is None
    done = await ops.update(
        "t1",
        op.id,
        OperationChange(
            S.EXECUTING, S.FAILED, "disk full", {"c8y_Command": {"text": "ls", "result": "x"}, "keep": None}
        ),
        4000,
    )
    assert done is not None and done.status is S.FAILED and done.failure_reason == "disk full"
    assert done.fragments == {"c8y_Command": {"text": "ls", "result": "x"}}
    assert done.creation_time == 1000 and done.last_updated == 4000
    assert await ops.get("t1", op.id) == done
    assert await ops.update("t1", 999_999, OperationChange(S.PENDING, S.EXECUTING, None, {}), 1) is None


async def test_concurrent_status_changes_have_one_winner(storage: SqlStorage) -> None:
    ops = storage.operations
    dev = await device(storage, "d")
    op = await ops.create("t1", NewOperation(dev, None, {}), 1)
    await ops.update("t1", op.id, OperationChange(S.PENDING, S.EXECUTING, None, {}), 2)
    outcomes = [S.SUCCESSFUL, S.FAILED] * 10
    results = await asyncio.gather(
        *(
            ops.update("t1", op.id, OperationChange(S.EXECUTING, s, None, {"n": i}), 3)
            for i, s in enumerate(outcomes)
        )
    )
    winners = [r for r in results if r is not None]
    assert len(winners) == 1
    assert await ops.get("t1", op.id) == winners[0]


async def test_find_filters_order_paging_and_owner_scope(storage: SqlStorage) -> None:
    ops = storage.operations
    gateway = await device(storage, "gw", owner="device_gw", com_cumulocity_model_Agent={})
    child = await device(storage, "child", owner="admin")
    lonely = await device(storage, "lonely", owner="device_lonely")
    a = await ops.create("t1", NewOperation(child, gateway, {"c8y_Restart": {}}), 1000)
    b = await ops.create("t1", NewOperation(gateway, gateway, {"c8y_Command": {"text": "x"}}), 2000)
    c = await ops.create("t1", NewOperation(lonely, None, {"c8y_Restart": {}}, bulk_operation_id=7), 3000)
    await ops.update("t1", b.id, OperationChange(S.PENDING, S.EXECUTING, None, {}), 2500)
    other = await device(storage, "other", tenant="t2")
    await ops.create("t2", NewOperation(other, None, {"c8y_Restart": {}}), 1500)

    assert await ids(storage) == [a.id, b.id, c.id]
    assert await ids(storage, newest_first=True) == [c.id, b.id, a.id]
    assert await ids(storage, agent_id=gateway) == [a.id, b.id]
    assert await ids(storage, agent_id=lonely) == [c.id]  # no agent found: delivered to the device itself
    assert await ids(storage, agent_id=child) == []  # the child's operation goes to its agent
    assert await ids(storage, agent_id=gateway, status=S.EXECUTING) == [b.id]
    assert await ids(storage, agent_id=gateway, status=S.PENDING) == [a.id]
    assert await ids(storage, device_id=child) == [a.id]
    assert await ids(storage, fragment_type="c8y_Restart") == [a.id, c.id]
    assert await ids(storage, fragment_type="c8y_Command.text") == [b.id]
    assert await ids(storage, fragment_type="c8y_Nothing") == []
    assert await ids(storage, bulk_operation_id=7) == [c.id]
    assert await ids(storage, date_from=2000) == [b.id, c.id]
    assert await ids(storage, date_to=2000) == [a.id]
    assert await ids(storage, date_from=1000, date_to=3000, newest_first=True) == [b.id, a.id]
    assert await ids(storage, device_id=-1) == []
    assert await ids(storage, owner="device_gw") == [a.id, b.id]  # its own and its children's
    assert await ids(storage, owner="device_lonely") == [c.id]
    assert await ids(storage, owner="nobody") == []

    first = await ops.find("t1", OperationCriteria(), PageRequest(1, 2, True))
    assert [op.id for op in first.items] == [a.id, b.id] and first.total_elements == 3
    second = await ops.find("t1", OperationCriteria(), PageRequest(2, 2))
    assert [op.id for op in second.items] == [c.id] and second.total_elements is None


async def test_bulk_delete_and_device_cascade(storage: SqlStorage) -> None:
    ops = storage.operations
    d1 = await device(storage, "d1")
    d2 = await device(storage, "d2")
    o1 = await ops.create("t1", NewOperation(d1, None, {"x": 1}), 1)
    o2 = await ops.create("t1", NewOperation(d1, None, {"x": 2}), 2)
    o3 = await ops.create("t1", NewOperation(d2, None, {"x": 3}), 3)
    await ops.update("t1", o2.id, OperationChange(S.PENDING, S.EXECUTING, None, {}), 4)
    deleted = await ops.delete("t1", OperationCriteria(device_id=d1, status=S.PENDING))
    assert [op.id for op in deleted] == [o1.id] and deleted[0].fragments == {"x": 1}
    assert await ids(storage) == [o2.id, o3.id]
    # Deleting a device deletes its operations (foreign key ON DELETE CASCADE).
    await storage.managed_objects.delete("t1", [d1])
    assert await ids(storage) == [o3.id]
    assert [op.id for op in await ops.delete("t1", OperationCriteria())] == [o3.id]
    assert await ids(storage) == []


async def test_parent_ids(storage: SqlStorage) -> None:
    mos = storage.managed_objects
    top = await device(storage, "top")
    mid = await device(storage, "mid")
    leaf = await device(storage, "leaf")
    await mos.add_child("t1", top, ChildKind.DEVICE, mid, 1)
    await mos.add_child("t1", mid, ChildKind.DEVICE, leaf, 1)
    await mos.add_child("t1", top, ChildKind.ASSET, leaf, 1)
    assert await mos.parent_ids("t1", [leaf], [ChildKind.DEVICE]) == [mid]
    assert await mos.parent_ids("t1", [leaf], [ChildKind.DEVICE, ChildKind.ASSET]) == sorted([mid, top])
    assert await mos.parent_ids("t1", [leaf, mid], [ChildKind.DEVICE]) == sorted([mid, top])
    assert await mos.parent_ids("t2", [leaf], [ChildKind.DEVICE]) == []
    assert await mos.parent_ids("t1", [top], list(ChildKind)) == []


def request(
    rid: str, tenant: str = "t1", status: RequestStatus = RequestStatus.WAITING_FOR_CONNECTION
) -> DeviceRequest:
    return DeviceRequest(rid, tenant, status, "admin", 100, 100)


async def test_device_requests(storage: SqlStorage) -> None:
    store = storage.device_requests
    await store.create(request("serial-1"))
    await store.create(request("serial-2"))
    with pytest.raises(Conflict):
        await store.create(request("serial-1", tenant="t2"))  # ids are unique across tenants
    assert await store.get("t1", "serial-1") == request("serial-1")
    assert await store.get("t2", "serial-1") is None
    assert await store.lookup("serial-1") == request("serial-1")
    assert await store.lookup("nope") is None
    page = await store.find("t1", PageRequest(1, 1, True))
    assert [r.id for r in page.items] == ["serial-1"] and page.total_elements == 2
    assert (await store.find("t2", ALL)).items == []

    W, P, A = RequestStatus.WAITING_FOR_CONNECTION, RequestStatus.PENDING_ACCEPTANCE, RequestStatus.ACCEPTED
    assert await store.advance("serial-1", P, A, 200) is None  # not in the expected status
    assert await store.claim("serial-1") is None  # not accepted: nothing to claim
    pending = await store.advance("serial-1", W, P, 200)
    assert pending is not None and pending.status is P and pending.last_updated == 200
    accepted = await store.advance("serial-1", P, A, 300)
    assert accepted is not None and accepted.status is A
    assert await store.claim("serial-1") == accepted
    assert await store.claim("serial-1") is None
    assert await store.lookup("serial-1") is None

    assert await store.delete("t2", "serial-2") is False
    assert await store.delete("t1", "serial-2") is True
    assert await store.delete("t1", "serial-2") is False


async def test_concurrent_claims_have_one_winner(storage: SqlStorage) -> None:
    store = storage.device_requests
    await store.create(request("contested", status=RequestStatus.ACCEPTED))
    claims = await asyncio.gather(*(store.claim("contested") for _ in range(10)))
    assert [c.id for c in claims if c is not None] == ["contested"]
    # Once claimed, the id may be requested again.
    await store.create(request("contested"))
    assert await store.lookup("contested") == request("contested")
