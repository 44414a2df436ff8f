"""A measurement's source: an insert naming a managed object that does not exist (or no longer does) is
refused whole, and deleting a managed object deletes its measurements. SQLite keeps the foreign key for it;
PostgreSQL has two statement-level triggers instead (migration 0025), so the races between an ingest write
and a deletion are tested there with two connections."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest
from sqlalchemy import text
from tests.support import backends, fresh_database, stop_migrations_at

from tether.bootstrap import open_storage
from tether.core.errors import NotFound
from tether.core.paging import PageRequest
from tether.inventory.models import NewManagedObject
from tether.storage.sql.storage import SqlStorage
from tether.telemetry.models import MeasurementCriteria, MeasurementRow, NewMeasurement
from tether.tenants.models import Tenant

pytestmark = pytest.mark.anyio
ALL = PageRequest(page_size=2000, with_total=True)
POSTGRES_ONLY = [p for p in backends() if p != "sqlite"]


@pytest.fixture
async def opened(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[tuple[SqlStorage, str]]:
    url = await fresh_database(request.param, tmp_path)
    store = open_storage(url)
    await store.open()
    for tenant in ("t1", "t2"):
        await store.tenants.create(Tenant(id=tenant, domain=tenant, creation_time=0))
    yield store, url
    await store.close()


async def device(storage: SqlStorage, name: str, tenant: str = "t1") -> int:
    draft = NewManagedObject(owner="admin", name=name, type="c8y_Test", fragments={"c8y_IsDevice": {}})
    return (await storage.managed_objects.create(tenant, draft, 1)).id


def rows(tenant: str, source: int, count: int, start: int = 0) -> list[MeasurementRow]:
    return [
        (tenant, source, "c8y_Temperature", start + i, {"c8y_Temperature": {"T": {"value": float(i)}}})
        for i in range(count)
    ]


async def stored(storage: SqlStorage, tenant: str, source: int) -> int:
    found = await storage.measurements.find(tenant, MeasurementCriteria(source_id=source), ALL)
    return found.total_elements or 0


async def every_row(storage: SqlStorage) -> list[tuple[str, int]]:
    async with storage.database.read() as conn:
        result = await conn.execute(text("SELECT tenant_id, source_id FROM measurements ORDER BY id"))
        return [(str(t), int(s)) for t, s in result.all()]


@pytest.mark.parametrize("opened", backends(), indirect=True)
async def test_deleting_a_device_deletes_its_measurements_and_only_those(
    opened: tuple[SqlStorage, str],
) -> None:
    storage, _ = opened
    a, b, c = await device(storage, "a"), await device(storage, "b"), await device(storage, "c", "t2")
    await storage.measurements.insert_many(rows("t1", a, 300) + rows("t1", b, 200), 5)  # one write
    await storage.measurements.insert_many(rows("t2", c, 100), 5)
    await storage.measurements.create(
        "t1", [NewMeasurement(a, "c8y_Battery", 9, {"x": {"y": {"value": 1}}})], 5
    )

    assert await storage.managed_objects.delete("t1", [a]) == 1
    assert await stored(storage, "t1", a) == 0
    assert await stored(storage, "t1", b) == 200 and await stored(storage, "t2", c) == 100
    assert sorted(set(await every_row(storage))) == [("t1", b), ("t2", c)]

    # deleting several at once (one statement) takes all of theirs
    d = await device(storage, "d")
    await storage.measurements.insert_many(rows("t1", d, 50), 5)
    assert await storage.managed_objects.delete("t1", [b, d]) == 2
    assert await every_row(storage) == [("t2", c)] * 100


@pytest.mark.parametrize("opened", backends(), indirect=True)
async def test_a_write_naming_a_deleted_or_unknown_source_is_refused_whole(
    opened: tuple[SqlStorage, str],
) -> None:
    storage, _ = opened
    a, gone = await device(storage, "a"), await device(storage, "gone")
    await storage.managed_objects.delete("t1", [gone])
    for write in (storage.measurements.insert_many, storage.measurements.create_many):
        with pytest.raises(NotFound, match="no longer exists"):
            await write(rows("t1", a, 10) + rows("t1", gone, 1), 5)
        with pytest.raises(NotFound, match="no longer exists"):
            await write(rows("t1", a + gone + 1000, 1), 5)
    with pytest.raises(NotFound, match="no longer exists"):
        await storage.measurements.create("t1", [NewMeasurement(gone, "x", 1, {})], 5)
    assert await every_row(storage) == []
    await storage.measurements.insert_many(rows("t1", a, 10), 5)
    assert await stored(storage, "t1", a) == 10


@pytest.mark.parametrize("opened", POSTGRES_ONLY, indirect=True)
async def test_postgresql_refuses_a_source_of_another_tenant(opened: tuple[SqlStorage, str]) -> None:
    # The trigger checks (tenant, source) pairs, so that the deletion's cascade by (tenant, source) misses
    # nothing. (SQLite's key looks at the id only; the services never write such a row.)
    storage, _ = opened
    mine, theirs = await device(storage, "mine"), await device(storage, "theirs", "t2")
    with pytest.raises(NotFound, match="no longer exists"):
        await storage.measurements.insert_many(rows("t1", mine, 5) + rows("t1", theirs, 1), 5)
    assert await every_row(storage) == []


async def _until_one_waits_for_a_lock(url: str) -> None:
    """Until a backend of this database waits for a lock (pg_stat_activity says so; asked on a connection of
    its own: within a transaction that view does not change)."""
    query = (
        "SELECT count(*) FROM pg_stat_activity "
        "WHERE datname = current_database() AND wait_event_type = 'Lock'"
    )
    conn = await _connect(url)
    try:
        while not await conn.fetchval(query):  # noqa: ASYNC110 - PostgreSQL has no event to wait on
            await asyncio.sleep(0.01)
    finally:
        await conn.close()


async def _connect(url: str) -> asyncpg.Connection:
    return await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))


@pytest.mark.parametrize("opened", POSTGRES_ONLY, indirect=True)
async def test_a_deletion_waits_for_a_write_in_flight_and_then_deletes_its_rows(
    opened: tuple[SqlStorage, str],
) -> None:
    storage, url = opened
    a, b = await device(storage, "a"), await device(storage, "b")
    writer, deleter = await _connect(url), await _connect(url)
    try:
        # The ingest write, held open before its commit: its trigger has locked a and b.
        transaction = writer.transaction()
        await transaction.start()
        await writer.copy_records_to_table(
            "measurements",
            records=[
                ("t1", s, "c8y_T", i, 5, '{"c8y_T": {"T": {"value": 1}}}') for s in (a, b) for i in range(3)
            ],
            columns=("tenant_id", "source_id", "type", "time", "creation_time", "fragments"),
        )
        deletion = asyncio.ensure_future(deleter.execute("DELETE FROM managed_objects WHERE id = $1", a))
        await _until_one_waits_for_a_lock(url)
        await transaction.commit()
        assert await deletion == "DELETE 1"
    finally:
        await writer.close()
        await deleter.close()
    assert await every_row(storage) == [("t1", b)] * 3


@pytest.mark.parametrize("opened", POSTGRES_ONLY, indirect=True)
async def test_a_write_waiting_for_a_deletion_fails_whole_once_it_commits(
    opened: tuple[SqlStorage, str],
) -> None:
    storage, url = opened
    a, b = await device(storage, "a"), await device(storage, "b")
    deleter = await _connect(url)
    try:
        transaction = deleter.transaction()
        await transaction.start()
        await deleter.execute("DELETE FROM managed_objects WHERE id = $1", a)
        # The service's write path (the pool's connection), blocked by the deletion's lock on a.
        write = asyncio.ensure_future(
            storage.measurements.insert_many(rows("t1", b, 3) + rows("t1", a, 3), 5)
        )
        await _until_one_waits_for_a_lock(url)
        await transaction.commit()
        with pytest.raises(NotFound, match="no longer exists"):
            await write
    finally:
        await deleter.close()
    assert await every_row(storage) == []
    await storage.measurements.insert_many(rows("t1", b, 3), 5)  # b alone is stored
    assert await every_row(storage) == [("t1", b)] * 3


@pytest.mark.parametrize("backend", backends())
async def test_migration_0025_keeps_the_rows_and_the_deletion_semantics(
    backend: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = await fresh_database(backend, tmp_path)
    stop_migrations_at(monkeypatch, "0024")
    storage = open_storage(url)
    await storage.open()
    try:
        await storage.tenants.create(Tenant(id="t1", domain="t1", creation_time=0))
        a, b = await device(storage, "a"), await device(storage, "b")
        await storage.measurements.insert_many(rows("t1", a, 20) + rows("t1", b, 30), 5)
    finally:
        await storage.close()
    monkeypatch.undo()

    storage = open_storage(url)
    await storage.open()  # applies 0025
    try:
        if backend != "sqlite":
            async with storage.database.read() as conn:
                keys = await conn.scalar(
                    text(
                        "SELECT count(*) FROM pg_constraint "
                        "WHERE conrelid = 'measurements'::regclass AND contype = 'f'"
                    )
                )
            assert keys == 0
        assert await stored(storage, "t1", a) == 20 and await stored(storage, "t1", b) == 30
        await storage.managed_objects.delete("t1", [a])
        assert await every_row(storage) == [("t1", b)] * 30
        with pytest.raises(NotFound):
            await storage.measurements.insert_many(rows("t1", a, 1), 5)
    finally:
        await storage.close()
