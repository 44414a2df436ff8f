"""Migration 0016 on a database of the previous release: every existing tenant gets the default groups
(admins, readers, devices), its administrators join `admins` and its device users `devices`, users stay
enabled and can be listed by the users API's store queries. Both backends."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text
from tests.support import backends, fresh_database, stop_migrations_at

from tether.bootstrap import open_storage
from tether.core.paging import PageRequest
from tether.tenants.models import UserCriteria
from tether.tenants.permissions import ADMIN_ROLES

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize("backend", backends())
async def test_existing_tenants_get_the_default_groups(
    backend: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = await fresh_database(backend, tmp_path)
    stop_migrations_at(monkeypatch, "0015")
    store = open_storage(url)
    await store.open()
    try:
        async with store.database.write() as conn:
            for tenant in ("t1", "t2"):
                await conn.execute(
                    text("INSERT INTO tenants (id, domain, creation_time) VALUES (:t, :t, 0)"), {"t": tenant}
                )
            for tenant, name, roles in (
                ("t1", "admin", "admin"),
                ("t1", "device_A", "device"),
                ("t1", "person", ""),
                ("t2", "admin", "admin"),
            ):
                await conn.execute(
                    text(
                        "INSERT INTO users (tenant_id, username, password_hash, roles, creation_time) "
                        "VALUES (:t, :n, 'h', :r, 0)"
                    ),
                    {"t": tenant, "n": name, "r": roles},
                )
    finally:
        await store.close()
    monkeypatch.undo()

    store = open_storage(url)
    await store.open()  # applies 0016 and anything later
    try:
        for tenant in ("t1", "t2"):
            groups = {g.name: g for g in (await store.groups.find(tenant, PageRequest(page_size=100))).items}
            assert set(groups) >= {"admins", "readers", "devices"}
            assert groups["admins"].roles == ADMIN_ROLES
            assert all(r.endswith("_READ") for r in groups["readers"].roles)
            admins = await store.groups.members(tenant, groups["admins"].id, PageRequest())
            assert [u.username for u in admins.items] == ["admin"]
        t1 = {g.name: g for g in (await store.groups.find("t1", PageRequest())).items}
        devices = await store.groups.members("t1", t1["devices"].id, PageRequest())
        assert [u.username for u in devices.items] == ["device_A"]
        person = await store.users.get("t1", "person")
        assert person is not None and person.enabled and person.global_roles == frozenset()
        assert await store.groups.of_user("t1", "person") == []
        people = await store.users.find("t1", UserCriteria(), PageRequest(with_total=True))
        assert [u.username for u in people.items] == ["admin", "person"] and people.total_elements == 2
        only = await store.users.find("t1", UserCriteria(only_devices=True), PageRequest())
        assert [u.username for u in only.items] == ["device_A"]
        # A group id of one tenant is nobody's in another.
        assert await store.groups.get("t2", t1["admins"].id) is None
    finally:
        await store.close()
