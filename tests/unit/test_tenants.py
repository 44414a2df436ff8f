"""TenantService over fake stores: first-start provisioning, authentication, password changes, deletion."""

from __future__ import annotations

import dataclasses

import pytest
from tests.unit.conftest import World

from tether.core.errors import Conflict
from tether.tenants.models import Principal, Role, TenantStatus
from tether.tenants.service import BOOTSTRAP_TENANT, BOOTSTRAP_USER, TenantService

pytestmark = pytest.mark.anyio


async def test_provision_creates_tenants_and_users_once_and_shows_generated_passwords(world: World) -> None:
    first = await world.tenants.provision("t1", "admin", None, "boot-secret")
    assert first.admin_password is not None and first.bootstrap_password is None
    assert set(world.tenant_store.tenants) == {"t1", BOOTSTRAP_TENANT}
    admin = await world.tenants.get_user("t1", "admin")
    bootstrap = await world.tenants.get_user(BOOTSTRAP_TENANT, BOOTSTRAP_USER)
    assert admin is not None and admin.roles == {Role.ADMIN}
    assert bootstrap is not None and bootstrap.roles == {Role.BOOTSTRAP}
    assert await world.tenants.authenticate("t1", "admin", first.admin_password) is not None

    again = await world.tenants.provision("t1", "admin", "another", "boot-secret")
    assert again.admin_password is None and again.bootstrap_password is None
    assert again.admin_password_ignored and not again.bootstrap_password_ignored
    assert len(world.user_store.users) == 2
    # the stored password is the first one: a given password never overwrites an existing user's
    assert await world.tenants.authenticate("t1", "admin", "another") is None


async def test_authenticate_tells_nothing_about_which_part_was_wrong(world: World) -> None:
    await world.tenants.create_tenant("t1")
    await world.tenants.create_user("t1", "alice", "s3cret", {Role.ADMIN})
    principal = await world.tenants.authenticate("t1", "alice", "s3cret")
    assert principal is not None
    assert (principal.tenant_id, principal.username, principal.is_admin) == ("t1", "alice", True)
    assert await world.tenants.authenticate("t1", "alice", "wrong") is None
    assert await world.tenants.authenticate("t1", "bob", "s3cret") is None
    assert await world.tenants.authenticate("t2", "alice", "s3cret") is None  # tenants do not share users


async def test_generated_device_secrets_verify_with_the_fast_hash(world: World) -> None:
    user = await world.tenants.create_user(
        "t1", "device_1", "generated-secret", {Role.DEVICE}, generated=True
    )
    assert not user.password_hash.startswith("$argon2")
    principal = await world.tenants.authenticate("t1", "device_1", "generated-secret")
    assert principal is not None and principal.is_device and not principal.is_admin


async def test_duplicate_user_is_a_conflict_and_duplicate_tenant_is_not(world: World) -> None:
    await world.tenants.create_tenant("t1")
    await world.tenants.create_tenant("t1", domain="other")  # provisioning twice is harmless
    assert world.tenant_store.tenants["t1"].domain == "t1"
    await world.tenants.create_user("t1", "alice", "pw", {Role.ADMIN})
    with pytest.raises(Conflict):
        await world.tenants.create_user("t1", "alice", "pw2", {Role.DEVICE})
    await world.tenants.create_user("t2", "alice", "pw", {Role.ADMIN})  # same name, other tenant


async def test_password_change_takes_effect_at_once_despite_the_cache(world: World) -> None:
    await world.tenants.create_user("t1", "alice", "old", {Role.ADMIN})
    assert await world.tenants.authenticate("t1", "alice", "old") is not None
    assert world.tenants.cached("t1", "alice", "old") is not None
    assert await world.user_store.last_password_change() == 0

    assert await world.tenants.set_password("t1", "alice", "new")
    assert world.tenants.cached("t1", "alice", "old") is None
    assert await world.tenants.authenticate("t1", "alice", "old") is None
    assert await world.tenants.authenticate("t1", "alice", "new") is not None
    changed = await world.user_store.last_password_change()
    assert changed > 0
    assert await world.user_store.password_changes(0) == [("t1", "alice", changed)]
    assert not await world.tenants.set_password("t1", "nobody", "x")


async def test_deleting_a_user_revokes_it_and_announces_it(world: World) -> None:
    user = await world.tenants.create_user("t1", "device_7", "secret", {Role.DEVICE}, generated=True)
    assert await world.tenants.authenticate("t1", "device_7", "secret") is not None

    deleted = await world.tenants.delete_user("t1", "device_7")
    assert deleted == user
    assert await world.tenants.get_user("t1", "device_7") is None
    assert world.tenants.cached("t1", "device_7", "secret") is None
    # a login that read the user before the deletion is refused afterwards
    assert await world.tenants.verify(user, "secret") is None
    assert world.announced_as("users") == [("DELETE", None)]
    assert world.announced[-1].payload == Principal("t1", "device_7", frozenset({Role.DEVICE}))
    assert await world.tenants.delete_user("t1", "device_7") is None


async def test_a_tenant_suspended_by_another_server_is_refused_after_the_status_poll(world: World) -> None:
    """Two servers over one store: the second learns the suspension by refresh_status (its one-second
    poll), refuses the tenant's logins, cached ones included, and announces it (sessions end)."""
    await world.tenants.create_tenant("t9")
    await world.tenants.create_user("t9", "alice", "s3cret", {Role.ADMIN})
    other = TenantService(world.tenant_store, world.user_store, world.events)
    await other.refresh_status()
    assert await other.authenticate("t9", "alice", "s3cret") is not None  # now cached there

    tenant = await world.tenant_store.get("t9")
    assert tenant is not None
    await world.tenant_store.update(dataclasses.replace(tenant, status=TenantStatus.SUSPENDED))
    world.announced.clear()
    await other.refresh_status()
    assert not other.is_active("t9") and other.is_active("t1")
    assert other.cached("t9", "alice", "s3cret") is None
    assert await other.authenticate("t9", "alice", "s3cret") is None
    assert [(e.resource, e.action, e.tenant_id) for e in world.announced] == [("tenants", "UPDATE", "t9")]

    await world.tenant_store.update(dataclasses.replace(tenant, status=TenantStatus.ACTIVE))
    await other.refresh_status()
    assert await other.authenticate("t9", "alice", "s3cret") is not None


def test_verified_cache_keeps_an_answer_between_half_and_all_of_its_seconds() -> None:
    from tether.tenants.verified import VerifiedCache

    now = [1000.0]
    cache = VerifiedCache(60.0, 8, clock=lambda: now[0])
    alice, bob = Principal("t1", "alice"), Principal("t2", "bob")
    cache.put(b"a", alice)
    now[0] += 29.0
    cache.put(b"b", bob)
    assert cache.get(b"a") is alice and cache.get(b"b") is bob
    now[0] += 2.0  # 31 s: a new generation; both are still known
    assert cache.get(b"a") is alice and cache.get(b"b") is bob
    now[0] += 29.5  # 60.5 s: the generation `a` and `b` were put in has ended: both are gone
    assert cache.get(b"a") is None and cache.get(b"b") is None
    cache.put(b"a", alice)
    cache.put(b"b", bob)
    cache.forget(lambda p: p.tenant_id == "t2")
    assert cache.get(b"a") is alice and cache.get(b"b") is None
    for i in range(20):  # bounded: never more than `size` entries
        cache.put(bytes([i]), bob)
        assert len(cache) <= 8
    assert cache.get(bytes([19])) is bob
