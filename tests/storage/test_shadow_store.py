"""The shadow store's batch of compare-and-sets on SQLite and PostgreSQL: inserts and updates of many things
in one call, each write winning or losing alone (a stale version, a row inserted twice, a deleted object),
batches larger than one statement, tenants apart."""

from __future__ import annotations

import pytest

from tether.fleets.shadow import Shadow
from tether.fleets.store import ShadowWrite
from tether.inventory.models import NewManagedObject
from tether.storage.sql.storage import SqlStorage

pytestmark = pytest.mark.anyio


def state(version: int, **reported: object) -> Shadow:
    metadata = {"reported": {k: {"timestamp": 5} for k in reported}}
    return Shadow({"reported": dict(reported)}, metadata, version, 5, True)


async def things(storage: SqlStorage, count: int, tenant: str = "t1") -> list[int]:
    draft = NewManagedObject("admin", "thing", None, {"c8y_IsDevice": {}})
    return [(await storage.managed_objects.create(tenant, draft, 1)).id for _ in range(count)]


async def test_many_writes_each_win_or_lose_alone(storage: SqlStorage) -> None:
    store = storage.shadows
    ids = await things(storage, 4)
    other = (await things(storage, 1, "t2"))[0]
    first = [ShadowWrite("t1", i, state(1, n=i), None) for i in ids[:3]]
    first.append(ShadowWrite("t1", other, state(1), None))  # another tenant's object: not this tenant's row
    assert await store.put_many(first) == ["stored", "stored", "stored", "gone"]
    assert await store.get("t1", ids[0]) == state(1, n=ids[0])
    gone = ids[3]
    await storage.managed_objects.delete("t1", [gone])
    second = [
        ShadowWrite("t1", ids[0], state(2, n="a"), 1),  # right version
        ShadowWrite("t1", ids[1], state(3, n="b"), 2),  # stale: the row is at 1
        ShadowWrite("t1", ids[2], state(1, n="c"), None),  # inserted again: exists
        ShadowWrite("t1", gone, state(1), None),  # the object was deleted
    ]
    assert await store.put_many(second) == ["stored", "conflict", "conflict", "gone"]
    assert await store.get("t1", ids[0]) == state(2, n="a")
    assert await store.get("t1", ids[1]) == state(1, n=ids[1])
    assert await store.get("t1", gone) is None and await store.get("t2", other) is None
    await storage.managed_objects.delete("t1", [ids[0]])  # the row goes with its object
    assert await store.get("t1", ids[0]) is None


async def test_batches_larger_than_one_statement(storage: SqlStorage) -> None:
    store = storage.shadows
    ids = await things(storage, 1100)
    assert set(await store.put_many([ShadowWrite("t1", i, state(1, v=i), None) for i in ids])) == {"stored"}
    updates = [ShadowWrite("t1", i, state(2, v=-i, deep={"a": [1, {"b": None}]}), 1) for i in ids]
    updates[-1] = ShadowWrite("t1", ids[-1], state(3), 7)
    outcomes = await store.put_many(updates)
    assert outcomes[:-1] == ["stored"] * (len(ids) - 1) and outcomes[-1] == "conflict"
    assert await store.get("t1", ids[500]) == state(2, v=-ids[500], deep={"a": [1, {"b": None}]})
    assert (await store.get("t1", ids[-1])) == state(1, v=ids[-1])
