"""Migration 0018 on a database of the previous release: existing tenants are ACTIVE and listed, options
and audit records start empty and work; a purged tenant keeps its id (DELETED) and loses its rows. Both
backends."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text
from tests.support import backends, fresh_database, stop_migrations_at

from tether.audit.models import AuditCriteria, NewAuditRecord
from tether.bootstrap import open_storage
from tether.core.errors import Conflict
from tether.core.paging import PageRequest
from tether.tenants.models import Tenant, TenantStatus
from tether.tenants.options import StoredOption

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize("backend", backends())
async def test_existing_tenants_are_active_and_purged_ones_keep_their_id(
    backend: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = await fresh_database(backend, tmp_path)
    stop_migrations_at(monkeypatch, "0016")
    store = open_storage(url)
    await store.open()
    try:
        async with store.database.write() as conn:
            for tenant in ("t1", "t2"):
                await conn.execute(
                    text("INSERT INTO tenants (id, domain, creation_time) VALUES (:t, :t, 0)"), {"t": tenant}
                )
    finally:
        await store.close()
    monkeypatch.undo()

    store = open_storage(url)
    await store.open()  # applies 0018
    try:
        t2 = await store.tenants.get("t2")
        assert t2 is not None and t2.status is TenantStatus.ACTIVE and t2.company is None
        listed = await store.tenants.find(PageRequest(with_total=True))
        assert [t.id for t in listed.items] == ["t1", "t2"] and listed.total_elements == 2
        assert await store.tenants.inactive() == set()

        await store.options.put(StoredOption("t2", "c", "k", "v"))
        await store.audit.insert([NewAuditRecord("t2", "SYSTEM", "a", "t")], 5)
        await store.audit.insert([NewAuditRecord("t1", "SYSTEM", "a", "t")], 5)
        await store.tenants.purge("t2")
        gone = await store.tenants.get("t2")
        assert gone is not None and gone.status is TenantStatus.DELETED
        assert await store.tenants.inactive() == {"t2"}
        assert [t.id for t in (await store.tenants.find(PageRequest())).items] == ["t1"]
        assert await store.options.get("t2", "c", "k") is None
        assert (await store.audit.find("t2", AuditCriteria(), PageRequest())).items == []
        assert len((await store.audit.find("t1", AuditCriteria(), PageRequest())).items) == 1
        with pytest.raises(Conflict):
            await store.tenants.create(Tenant("t2", "again", 1))
    finally:
        await store.close()
