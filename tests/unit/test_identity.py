"""IdentityService over fake stores: an external id names exactly one object the caller may see."""

from __future__ import annotations

import pytest
from tests.unit.conftest import ADMIN, OTHER_ADMIN, World, device_user

from tether.core.errors import Conflict, InvalidInput, NotFound
from tether.core.paging import PageRequest

pytestmark = pytest.mark.anyio


async def test_register_resolve_list_delete(world: World) -> None:
    mo = await world.add_object(name="sensor")
    xid = await world.identity.register(ADMIN, mo.id, "c8y_Serial", "SN-1")
    await world.identity.register(ADMIN, mo.id, "c8y_IMEI", "4711")
    assert await world.identity.resolve(ADMIN, "c8y_Serial", "SN-1") == xid

    page = await world.identity.list_for(ADMIN, mo.id, PageRequest(page_size=1, with_total=True))
    assert [(x.type, x.value) for x in page.items] == [("c8y_IMEI", "4711")]  # ordered by type, value
    assert (page.total_elements, page.total_pages) == (2, 2)

    await world.identity.delete(ADMIN, "c8y_Serial", "SN-1")
    with pytest.raises(NotFound):
        await world.identity.resolve(ADMIN, "c8y_Serial", "SN-1")


async def test_an_external_id_is_taken_once_per_tenant(world: World) -> None:
    first = await world.add_object()
    second = await world.add_object()
    await world.identity.register(ADMIN, first.id, "c8y_Serial", "SN-1")
    with pytest.raises(Conflict):
        await world.identity.register(ADMIN, second.id, "c8y_Serial", "SN-1")
    other = await world.add_object(tenant_id="t2")
    await world.identity.register(OTHER_ADMIN, other.id, "c8y_Serial", "SN-1")
    assert (await world.identity.resolve(OTHER_ADMIN, "c8y_Serial", "SN-1")).mo_id == other.id
    assert (await world.identity.resolve(ADMIN, "c8y_Serial", "SN-1")).mo_id == first.id


async def test_objects_of_other_tenants_and_owners_stay_invisible(world: World) -> None:
    mine = await world.add_object(owner="device_a")
    theirs = await world.add_object(owner="device_b")
    await world.identity.register(ADMIN, theirs.id, "c8y_Serial", "B")
    a = device_user("device_a")
    await world.identity.register(a, mine.id, "c8y_Serial", "A")
    with pytest.raises(NotFound):  # not "forbidden": another's id looks like no id at all
        await world.identity.resolve(a, "c8y_Serial", "B")
    with pytest.raises(NotFound):
        await world.identity.register(a, theirs.id, "c8y_Serial", "B2")
    with pytest.raises(NotFound):
        await world.identity.register(OTHER_ADMIN, mine.id, "c8y_Serial", "X")
    with pytest.raises(NotFound):
        await world.identity.delete(a, "c8y_Serial", "B")
    assert await world.xids.get("t1", "c8y_Serial", "B") is not None


async def test_external_ids_go_with_their_object(world: World) -> None:
    mo = await world.add_object()
    await world.identity.register(ADMIN, mo.id, "c8y_Serial", "SN-9")
    await world.mos.delete("t1", [mo.id])
    with pytest.raises(NotFound):
        await world.identity.resolve(ADMIN, "c8y_Serial", "SN-9")


@pytest.mark.parametrize(("type_", "value"), [("", "x"), ("c8y_Serial", ""), ("c8y_Serial", "x" * 1025)])
async def test_bad_external_ids_are_refused(world: World, type_: str, value: str) -> None:
    mo = await world.add_object()
    with pytest.raises(InvalidInput):
        await world.identity.register(ADMIN, mo.id, type_, value)
    assert world.xids.ids == {}
