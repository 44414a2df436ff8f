"""Migration 0020 on a database of the previous release: each tenant's default groups gain the retention
roles (so the admins group still makes administrators), every tenant gets Cumulocity's default inventory
roles, retention rules start empty and work. Both backends."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text
from tests.support import backends, fresh_database, stop_migrations_at

from tether.bootstrap import open_storage
from tether.core.paging import PageRequest
from tether.retention.models import DataType, RuleDraft
from tether.tenants.inventory_roles import DEFAULT_ROLES
from tether.tenants.permissions import ADMIN_ROLES

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize("backend", backends())
async def test_groups_gain_the_retention_roles_and_tenants_the_default_inventory_roles(
    backend: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = await fresh_database(backend, tmp_path)
    stop_migrations_at(monkeypatch, "0019")
    store = open_storage(url)
    await store.open()
    old_admin = ",".join(sorted(r for r in ADMIN_ROLES if "RETENTION" not in r))
    try:
        async with store.database.write() as conn:
            for tenant in ("t1", "t2"):
                await conn.execute(
                    text("INSERT INTO tenants (id, domain, creation_time) VALUES (:t, :t, 0)"), {"t": tenant}
                )
                await conn.execute(
                    text("INSERT INTO user_groups (tenant_id, name, roles) VALUES (:t, 'admins', :r)"),
                    {"t": tenant, "r": old_admin},
                )
    finally:
        await store.close()
    monkeypatch.undo()

    store = open_storage(url)
    await store.open()  # applies 0020
    try:
        for tenant in ("t1", "t2"):
            admins = await store.groups.by_name(tenant, "admins")
            assert admins is not None and admins.roles == ADMIN_ROLES
            roles = await store.inventory_roles.find(tenant, PageRequest())
            assert {r.name for r in roles.items} == set(DEFAULT_ROLES)
            assert await store.retention.all(tenant) == []
        rule = await store.retention.create("t2", RuleDraft(DataType.EVENT, 3))
        assert await store.retention.all("t2") == [rule] and await store.retention.all("t1") == []
    finally:
        await store.close()
