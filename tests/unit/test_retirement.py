"""DeviceRetirement over fake stores: deleting a device with its device user, and when the user is kept."""

from __future__ import annotations

import pytest
from tests.unit.conftest import ADMIN, World, device_user

from tether.core.errors import Forbidden, NotFound
from tether.tenants.models import Role

pytestmark = pytest.mark.anyio


async def _registered(world: World, name: str) -> None:
    await world.tenants.create_user("t1", name, "secret", {Role.DEVICE}, generated=True)


async def test_with_device_user_deletes_the_user_and_revokes_its_logins(world: World) -> None:
    await _registered(world, "device_a")
    assert await world.tenants.authenticate("t1", "device_a", "secret") is not None
    device = await world.add_object("device_a", "a", {"c8y_IsDevice": {}})

    user = await world.retirement.delete(ADMIN, device.id, with_device_user=True)
    assert user is not None and user.username == "device_a"
    assert await world.tenants.get_user("t1", "device_a") is None
    assert await world.tenants.authenticate("t1", "device_a", "secret") is None
    assert await world.mos.get("t1", device.id) is None
    assert ("DELETE", None) in world.announced_as("users")
    assert world.announced_as("managedobjects") == [("DELETE", device.id)]


async def test_without_device_user_only_the_object_goes(world: World) -> None:
    await _registered(world, "device_a")
    device = await world.add_object("device_a")
    assert await world.retirement.delete(ADMIN, device.id) is None
    assert await world.mos.get("t1", device.id) is None
    assert await world.tenants.get_user("t1", "device_a") is not None


async def test_a_child_device_of_the_users_own_device_keeps_the_user(world: World) -> None:
    await _registered(world, "device_gw")
    gateway = await world.add_object("device_gw", "gateway")
    child = await world.add_object("device_gw", "child", parent=gateway)
    assert await world.retirement.delete(ADMIN, child.id, with_device_user=True) is None
    assert await world.tenants.get_user("t1", "device_gw") is not None
    assert await world.mos.get("t1", gateway.id) is not None and await world.mos.get("t1", child.id) is None


async def test_admins_and_missing_users_are_not_deleted(world: World) -> None:
    await world.tenants.create_user("t1", "operator", "pw", {Role.ADMIN, Role.DEVICE})
    created_by_admin = await world.add_object("operator")
    orphan = await world.add_object("device_gone")
    assert await world.retirement.delete(ADMIN, created_by_admin.id, with_device_user=True) is None
    assert await world.tenants.get_user("t1", "operator") is not None
    assert await world.retirement.delete(ADMIN, orphan.id, with_device_user=True) is None
    assert world.mos.objects == {}


async def test_deleting_the_user_takes_an_admin_and_an_existing_object(world: World) -> None:
    await _registered(world, "device_a")
    device = await world.add_object("device_a")
    with pytest.raises(Forbidden):
        await world.retirement.delete(device_user("device_a"), device.id, with_device_user=True)
    with pytest.raises(NotFound):
        await world.retirement.delete(ADMIN, 999, with_device_user=True)
    assert await world.tenants.get_user("t1", "device_a") is not None


async def test_cascade_takes_the_child_devices(world: World) -> None:
    await _registered(world, "device_gw")
    gateway = await world.add_object("device_gw", "gateway")
    child = await world.add_object("device_gw", "child", parent=gateway)
    user = await world.retirement.delete(ADMIN, gateway.id, cascade=True, with_device_user=True)
    assert user is not None
    assert world.mos.objects == {}
    assert sorted(world.announced_as("managedobjects")) == [("DELETE", gateway.id), ("DELETE", child.id)]
