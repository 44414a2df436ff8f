"""One storage suite, run against SQLite and PostgreSQL (the `storage` fixture is parametrized)."""

from __future__ import annotations

import asyncio

import pytest

from tether.core.errors import Conflict, NotFound
from tether.core.paging import PageRequest
from tether.identity.models import ExternalId
from tether.inventory.models import ChildKind, InventoryCriteria, NewManagedObject
from tether.inventory.query import parse_query
from tether.storage.sql.storage import SqlStorage
from tether.tenants.models import Role, Tenant, TenantStatus, User

pytestmark = pytest.mark.anyio
ALL = PageRequest(page_size=2000, with_total=True)


def draft(
    name: str, type_: str | None = "c8y_Test", owner: str = "admin", **fragments: object
) -> NewManagedObject:
    return NewManagedObject(owner=owner, name=name, type=type_, fragments=dict(fragments))


async def names(storage: SqlStorage, q: str, tenant: str = "t1") -> list[str]:
    page = await storage.managed_objects.find(tenant, InventoryCriteria(query=parse_query(q)), ALL)
    return [mo.name or "" for mo in page.items]


async def test_tenants_and_users(storage: SqlStorage) -> None:
    assert (await storage.tenants.get("t1")) == Tenant("t1", "t1", 0)
    assert await storage.tenants.get("nope") is None
    with pytest.raises(Conflict):
        await storage.tenants.create(Tenant("t1", "x", 1))
    user = User("t1", "alice", "hash", frozenset({Role.ADMIN, Role.DEVICE}), 5, "a@example.com")
    await storage.users.create(user)
    assert await storage.users.get("t1", "alice") == user
    assert await storage.users.get("t2", "alice") is None
    with pytest.raises(Conflict):
        await storage.users.create(user)
    # Deleting is per tenant; a deleted user may be created again (a retired device registered anew).
    assert not await storage.users.delete("t2", "alice")
    assert await storage.users.delete("t1", "alice")
    assert await storage.users.get("t1", "alice") is None
    assert not await storage.users.delete("t1", "alice")
    await storage.users.create(user)
    assert await storage.users.get("t1", "alice") == user


async def test_create_get_and_tenant_scope(storage: SqlStorage) -> None:
    mos = storage.managed_objects
    created = await mos.create("t1", draft("d1", c8y_IsDevice={}, c8y_Hardware={"model": "pi"}), 1000)
    assert created.id > 0
    loaded = await mos.get("t1", created.id)
    assert loaded == created
    assert loaded is not None and loaded.fragments == {"c8y_IsDevice": {}, "c8y_Hardware": {"model": "pi"}}
    assert await mos.get("t2", created.id) is None
    assert await mos.update("t2", created.id, {"name": "stolen"}, {}, 2000) is None
    assert await mos.delete("t2", [created.id]) == 0
    assert (await mos.find("t2", InventoryCriteria(), ALL)).items == []
    assert (await mos.get("t1", created.id)) == created


async def test_update_merges_and_null_removes(storage: SqlStorage) -> None:
    mos = storage.managed_objects
    mo = await mos.create("t1", draft("d", a={"x": 1}, b=[1, 2], c="keep"), 1000)
    updated = await mos.update("t1", mo.id, {"name": "renamed"}, {"a": {"y": 2}, "b": None, "d": True}, 2000)
    assert updated is not None
    assert updated.name == "renamed"
    assert updated.fragments == {"a": {"y": 2}, "c": "keep", "d": True}
    assert updated.last_updated == 2000 and updated.creation_time == 1000
    assert await mos.get("t1", mo.id) == updated


async def test_delete_cascades_references_and_external_ids(storage: SqlStorage) -> None:
    mos, xids = storage.managed_objects, storage.external_ids
    parent = await mos.create("t1", draft("parent"), 1)
    child = await mos.create("t1", draft("child"), 1)
    await mos.add_child("t1", parent.id, ChildKind.DEVICE, child.id, 2)
    await mos.add_child("t1", parent.id, ChildKind.DEVICE, child.id, 3)  # idempotent
    await xids.create("t1", ExternalId("c8y_Serial", "child-1", child.id))
    assert await mos.child_ids("t1", [parent.id], [ChildKind.DEVICE]) == [child.id]
    relations = await mos.relations("t1", [parent.id, child.id])
    assert [r.id for r in relations[parent.id].children[ChildKind.DEVICE]] == [child.id]
    assert [r.name for r in relations[child.id].parents[ChildKind.DEVICE]] == ["parent"]
    assert await mos.delete("t1", [child.id]) == 1
    assert await xids.get("t1", "c8y_Serial", "child-1") is None
    assert await mos.child_ids("t1", [parent.id], list(ChildKind)) == []
    assert await mos.get("t1", parent.id) is not None


async def test_children_paging_and_removal(storage: SqlStorage) -> None:
    mos = storage.managed_objects
    parent = await mos.create("t1", draft("p"), 1)
    kids = [await mos.create("t1", draft(f"k{i}"), 1) for i in range(3)]
    for i, kid in enumerate(kids):
        await mos.add_child("t1", parent.id, ChildKind.ASSET, kid.id, 10 + i)
    page = await mos.children("t1", parent.id, ChildKind.ASSET, PageRequest(1, 2, True))
    assert [m.name for m in page.items] == ["k0", "k1"] and page.total_elements == 3 and page.total_pages == 2
    page2 = await mos.children("t1", parent.id, ChildKind.ASSET, PageRequest(2, 2))
    assert [m.name for m in page2.items] == ["k2"]
    assert (await mos.children("t1", parent.id, ChildKind.DEVICE, ALL)).items == []
    assert await mos.remove_child("t1", parent.id, ChildKind.ASSET, kids[0].id, 20) is True
    assert await mos.remove_child("t1", parent.id, ChildKind.ASSET, kids[0].id, 20) is False
    assert await mos.remove_child("t2", parent.id, ChildKind.ASSET, kids[1].id, 20) is False


async def test_external_ids(storage: SqlStorage) -> None:
    mos, xids = storage.managed_objects, storage.external_ids
    mo = await mos.create("t1", draft("d"), 1)
    await xids.create("t1", ExternalId("c8y_Serial", "s/1", mo.id))
    await xids.create("t1", ExternalId("c8y_MAC", "00:11", mo.id))
    with pytest.raises(Conflict):
        await xids.create("t1", ExternalId("c8y_Serial", "s/1", mo.id))
    with pytest.raises(NotFound):  # another tenant's object cannot be named
        await xids.create("t2", ExternalId("c8y_Serial", "s/2", mo.id))
    assert await xids.get("t1", "c8y_Serial", "s/1") == ExternalId("c8y_Serial", "s/1", mo.id)
    assert await xids.get("t2", "c8y_Serial", "s/1") is None
    page = await xids.list_for("t1", mo.id, ALL)
    assert [(x.type, x.value) for x in page.items] == [("c8y_MAC", "00:11"), ("c8y_Serial", "s/1")]
    assert page.total_elements == 2
    assert await xids.delete("t2", "c8y_Serial", "s/1") is False
    assert await xids.delete("t1", "c8y_Serial", "s/1") is True
    assert await xids.get("t1", "c8y_Serial", "s/1") is None


async def test_find_criteria(storage: SqlStorage) -> None:
    mos = storage.managed_objects
    gw = await mos.create("t1", draft("Gateway One", "c8y_Linux", c8y_IsDevice={}, note="Basement"), 1)
    sensor = await mos.create("t1", draft("sensor", "c8y_Sensor", owner="device_s1", c8y_IsDevice={}), 2)
    await mos.create("t1", draft("group", "c8y_DeviceGroup", c8y_IsDeviceGroup={}), 3)
    await mos.create("t2", draft("other tenant", "c8y_Linux", c8y_IsDevice={}), 4)
    await mos.add_child("t1", gw.id, ChildKind.DEVICE, sensor.id, 5)

    async def find(**kw: object) -> list[str]:
        page = await mos.find("t1", InventoryCriteria(**kw), ALL)  # type: ignore[arg-type]
        return sorted(m.name or "" for m in page.items)

    assert await find(type="c8y_Linux") == ["Gateway One"]
    assert await find(fragment_type="c8y_IsDevice") == ["Gateway One", "sensor"]
    assert await find(owner="device_s1") == ["sensor"]
    assert await find(text="basement") == ["Gateway One"]
    assert await find(text="gateway") == ["Gateway One"]
    assert await find(ids=(gw.id, sensor.id)) == ["Gateway One", "sensor"]
    assert await find(child_device_id=sensor.id) == ["Gateway One"]
    assert await find(only_roots=True) == ["Gateway One", "group"]
    page = await mos.find("t1", InventoryCriteria(), PageRequest(1, 2, True), owner_scope="device_s1")
    assert [m.name for m in page.items] == ["sensor"] and page.total_elements == 1


async def test_query_language(storage: SqlStorage) -> None:
    mos = storage.managed_objects
    a = await mos.create(
        "t1",
        draft("alpha", "c8y_Linux", c8y_IsDevice={}, hw={"model": "Pi 4", "rev": 3}, active=True, tags=["x"]),
        1_700_000_000_000,
    )
    await mos.create(
        "t1",
        draft("beta", "c8y_Linux", c8y_IsDevice={}, hw={"model": "Pi Zero", "rev": 1}, active=False),
        1_700_000_100_000,
    )
    await mos.create("t1", draft("gamma", "c8y_Other", hw={"model": "ESP32", "rev": "7"}), 1_700_000_200_000)
    await mos.create("t1", draft("O'Brien", None), 1_700_000_300_000)
    group = await mos.create("t1", draft("grp", "c8y_DeviceGroup"), 1)
    await mos.add_child("t1", group.id, ChildKind.ASSET, a.id, 2)

    assert await names(storage, "$filter=(has(c8y_IsDevice)) $orderby=name") == ["alpha", "beta"]
    assert await names(storage, "$filter=(has(c8y_IsDevice) and type eq c8y_Linux)+$orderby=name desc") == [
        "beta",
        "alpha",
    ]
    assert await names(storage, "hw.model eq 'Pi*' $orderby=name") == ["alpha", "beta"]
    assert await names(storage, "hw.model eq 'pi z*'") == ["beta"]
    assert await names(storage, "hw.rev gt 1 $orderby=hw.rev") == ["alpha"]  # numbers compare with numbers
    assert await names(storage, "hw.rev ge 1 and hw.rev lt 3 $orderby=name") == ["beta"]
    assert await names(storage, "hw.rev eq 7") == ["gamma"]
    assert await names(storage, "active eq true") == ["alpha"]
    assert await names(storage, "active eq false") == ["beta"]
    assert await names(storage, "not(has(hw)) $orderby=name") == ["O'Brien", "grp"]
    assert await names(storage, "name eq 'O''Brien'") == ["O'Brien"]
    assert await names(storage, "name eq 'alpha' or name eq 'gamma' $orderby=name") == ["alpha", "gamma"]
    assert await names(storage, "type ne 'c8y_Linux' and has(hw)") == ["gamma"]
    assert await names(storage, f"bygroupid({group.id})") == ["alpha"]
    assert await names(storage, "creationTime.date gt '2023-11-14T22:14:00Z' $orderby=creationTime desc") == [
        "O'Brien",
        "gamma",
        "beta",
    ]
    assert await names(storage, "name eq '*a' $orderby=name") == ["alpha", "beta", "gamma"]
    assert await names(storage, "name eq 'a_pha'") == []  # `_` is literal, not a LIKE wildcard
    assert await names(storage, "$orderby=name desc", tenant="t2") == []


async def test_paging_and_totals(storage: SqlStorage) -> None:
    mos = storage.managed_objects
    for i in range(7):
        await mos.create("t1", draft(f"n{i}"), i)
    first = await mos.find("t1", InventoryCriteria(), PageRequest(1, 3, True))
    assert [m.name for m in first.items] == ["n0", "n1", "n2"]
    assert first.total_elements == 7 and first.total_pages == 3
    last = await mos.find("t1", InventoryCriteria(), PageRequest(3, 3))
    assert [m.name for m in last.items] == ["n6"] and last.total_elements is None
    assert (await mos.find("t1", InventoryCriteria(), PageRequest(4, 3))).items == []


async def test_reopen_keeps_data(storage: SqlStorage) -> None:
    """Migrations are idempotent: closing and opening again keeps what was stored."""
    mo = await storage.managed_objects.create("t1", draft("durable"), 1)
    await storage.close()
    await storage.open()
    assert (await storage.managed_objects.get("t1", mo.id)) == mo


async def test_concurrent_writers_fail_alone_and_stay_durable(storage: SqlStorage) -> None:
    """Writers that share a commit (SQLite group commit) succeed or fail independently."""
    mos, xids = storage.managed_objects, storage.external_ids
    target = await mos.create("t1", draft("target"), 1)
    created = await asyncio.gather(*(mos.create("t1", draft(f"c{i}"), i) for i in range(40)))
    claims = await asyncio.gather(
        *(xids.create("t1", ExternalId("c8y_Serial", "contested", target.id)) for _ in range(10)),
        return_exceptions=True,
    )
    assert sum(1 for c in claims if c is None) == 1
    assert all(isinstance(c, Conflict) for c in claims if c is not None)
    await storage.close()
    await storage.open()
    for mo in created:
        assert await mos.get("t1", mo.id) == mo
    assert await xids.get("t1", "c8y_Serial", "contested") == ExternalId("c8y_Serial", "contested", target.id)


async def test_the_polled_reads_password_changes_and_inactive_tenants(storage: SqlStorage) -> None:
    # Read outside SQLAlchemy (storage/sql/small_reads.py): the same answers as the statements they replace.
    for name in ("alice", "bob", "carol"):
        await storage.users.create(User("t1", name, "hash", frozenset({Role.ADMIN}), 0))
    assert await storage.users.password_changes(0) == []
    assert await storage.tenants.inactive() == set()
    assert await storage.users.set_password("t1", "bob", "new", 1_000)
    assert await storage.users.set_password("t1", "carol", "new", 2_000)
    assert not await storage.users.set_password("t2", "dave", "new", 5)
    assert sorted(await storage.users.password_changes(0)) == [("t1", "bob", 1_000), ("t1", "carol", 2_000)]
    assert await storage.users.password_changes(1_000) == [("t1", "carol", 2_000)]
    assert await storage.users.password_changes(2_000) == []
    assert await storage.users.set_password("t1", "alice", "new", 3_000)
    assert await storage.users.password_changes(2_000) == [("t1", "alice", 3_000)]
    assert await storage.tenants.update(Tenant("t2", "t2", 0, status=TenantStatus.SUSPENDED))
    assert await storage.tenants.inactive() == {"t2"}
