"""Ids are never reused (README, Storage), on SQLite and PostgreSQL: for every entity whose numeric id leaves
the server, delete the newest, restart the store, create another: its id is higher than every id issued.
And an existing SQLite database, upgraded by migration 0008, goes on from above its largest id."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest
from sqlalchemy import text
from tests.support import backends, fresh_database, stop_migrations_at

from tether.bootstrap import open_storage
from tether.core.paging import PageRequest
from tether.inventory.models import InventoryCriteria, NewManagedObject
from tether.operations.models import NewOperation, OperationCriteria
from tether.storage.sql.storage import SqlStorage
from tether.telemetry.models import (
    AlarmCriteria,
    AlarmSeverity,
    AlarmStatus,
    NewAlarm,
    NewEvent,
    NewMeasurement,
)
from tether.tenants.models import Tenant

pytestmark = pytest.mark.anyio
T = "t1"


@pytest.fixture(params=backends())
async def url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    database_url = await fresh_database(request.param, tmp_path)
    store = open_storage(database_url)
    await store.open()
    await store.tenants.create(Tenant(id=T, domain=T, creation_time=0))
    await store.close()
    yield database_url


async def _restarted(url: str, work: Callable[[SqlStorage], Awaitable[int]]) -> int:
    store = open_storage(url)
    await store.open()
    try:
        return await work(store)
    finally:
        await store.close()


async def _device(store: SqlStorage, name: str = "d") -> int:
    mo = await store.managed_objects.create(
        T, NewManagedObject(owner="admin", name=name, type="x", fragments={}), 1
    )
    return mo.id


# Each entity: create one (returns its id) and delete that id, against a store of the database.
Create = Callable[[SqlStorage, int], Awaitable[int]]
Delete = Callable[[SqlStorage, int], Awaitable[None]]


async def _create_mo(store: SqlStorage, n: int) -> int:
    return await _device(store, f"d{n}")


async def _delete_mo(store: SqlStorage, mo_id: int) -> None:
    assert await store.managed_objects.delete(T, [mo_id]) == 1


async def _create_measurement(store: SqlStorage, n: int) -> int:
    source = await _device(store)
    [m] = await store.measurements.create(T, [NewMeasurement(source, "t", n, {"f": {"s": {"value": n}}})], 2)
    assert m.id is not None
    return m.id


async def _create_measurement_bulk(store: SqlStorage, n: int) -> int:
    """The adapters' ingest path (storage/sql/measurement_bulk.py): ids read back from the driver."""
    source = await _device(store)
    ids = await store.measurements.create_many([(T, source, "t", n, {"f": {"s": {"value": n}}})] * 3, 2)
    assert ids == sorted(ids) and len(set(ids)) == 3
    for measurement_id in ids:  # the ids handed back are the rows' own
        stored = await store.measurements.get(T, measurement_id)
        assert stored is not None and stored.source_id == source
    return ids[0]


async def _delete_measurement_batch(store: SqlStorage, first_id: int) -> None:
    for measurement_id in range(first_id, first_id + 3):
        assert await store.measurements.delete(T, measurement_id)


async def _delete_measurement(store: SqlStorage, measurement_id: int) -> None:
    assert await store.measurements.delete(T, measurement_id)


async def _create_event(store: SqlStorage, n: int) -> int:
    source = await _device(store)
    event = await store.events.create(T, NewEvent(source, "t", "text", n, {}), 2)
    assert event.id is not None
    return event.id


async def _delete_event(store: SqlStorage, event_id: int) -> None:
    assert await store.events.delete(T, event_id)


async def _create_alarm(store: SqlStorage, n: int) -> int:
    source = await _device(store)
    draft = NewAlarm(source, f"type{n}", "text", AlarmSeverity.MAJOR, AlarmStatus.ACTIVE, n, {})
    alarm, created = await store.alarms.raise_alarm(T, draft, 2)
    assert created and alarm.id is not None
    return alarm.id


async def _delete_alarm(store: SqlStorage, alarm_id: int) -> None:
    alarm = await store.alarms.get(T, alarm_id)
    assert alarm is not None
    deleted = await store.alarms.delete_matching(T, AlarmCriteria(source_id=alarm.source_id))
    assert [a.id for a in deleted] == [alarm_id]


async def _create_operation(store: SqlStorage, n: int) -> int:
    device = await _device(store)
    op = await store.operations.create(T, NewOperation(device, device, {"c8y_Restart": {}}), n)
    return op.id


async def _delete_operation(store: SqlStorage, op_id: int) -> None:
    op = await store.operations.get(T, op_id)
    assert op is not None
    deleted = await store.operations.delete(T, OperationCriteria(device_id=op.device_id))
    assert [o.id for o in deleted] == [op_id]


async def _create_templates(store: SqlStorage, n: int) -> int:
    return await store.smartrest_templates.create(T, f"xid{n}", "admin", {}, n)


async def _delete_templates(store: SqlStorage, collection_id: int) -> None:
    # Collections go with their tenant; no API deletes one alone.
    async with store.database.write() as conn:
        await conn.execute(text("DELETE FROM smartrest_templates WHERE id = :id"), {"id": collection_id})


ENTITIES: dict[str, tuple[Create, Delete]] = {
    "managed_object": (_create_mo, _delete_mo),
    "measurement": (_create_measurement, _delete_measurement),
    "measurement_bulk": (_create_measurement_bulk, _delete_measurement_batch),
    "event": (_create_event, _delete_event),
    "alarm": (_create_alarm, _delete_alarm),
    "operation": (_create_operation, _delete_operation),
    "smartrest_templates": (_create_templates, _delete_templates),
}


@pytest.mark.parametrize("entity", list(ENTITIES))
async def test_deleted_newest_id_is_not_reused_after_restart(url: str, entity: str) -> None:
    create, delete = ENTITIES[entity]

    async def setup(store: SqlStorage) -> int:
        await create(store, 1)
        newest = await create(store, 2)
        await delete(store, newest)
        return newest

    newest = await _restarted(url, setup)

    async def again(store: SqlStorage) -> int:
        return await create(store, 3)

    assert await _restarted(url, again) > newest


async def test_deleted_device_id_is_not_reused_without_restart(url: str) -> None:
    """While the server runs (a device deleted while connected): delete object N, create another: not N."""

    async def work(store: SqlStorage) -> int:
        first = await _device(store)
        newest = await _device(store)
        await _delete_mo(store, newest)
        again = await _device(store)
        assert again > newest > first
        return again

    await _restarted(url, work)


# -- migration 0008 on an existing SQLite database --------------------------------------------------

TABLES = ("managed_objects", "measurements", "events", "alarms", "operations", "smartrest_templates")
TABLE_OF = {
    "managed_object": "managed_objects",
    "measurement": "measurements",
    "event": "events",
    "alarm": "alarms",
    "operation": "operations",
    "smartrest_templates": "smartrest_templates",
}


def _rows(path: Path, sql: str) -> list[tuple[object, ...]]:
    conn = sqlite3.connect(path)
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


def _max_id(path: Path, table: str) -> int:
    value = _rows(path, f"SELECT max(id) FROM {table}")[0][0]
    assert isinstance(value, int)
    return value


async def test_migration_0008_keeps_data_and_never_reuses_ids(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "tether.db"
    database_url = f"sqlite:///{path}"
    stop_migrations_at(monkeypatch, "0007")
    store = open_storage(database_url)
    await store.open()
    try:
        assert _rows(path, "SELECT version_num FROM alembic_version") == [("0007",)]
        assert "AUTOINCREMENT" not in str(_rows(path, "SELECT sql FROM sqlite_master"))
        # The tenants table of 0007 (the store of today writes columns of later migrations).
        async with store.database.write() as conn:
            await conn.execute(
                text("INSERT INTO tenants (id, domain, creation_time) VALUES (:t, :t, 0)"), {"t": T}
            )
        for create, _ in ENTITIES.values():
            for n in range(4):
                await create(store, n)
        # Deleted before the upgrade: a device in the middle (with its data) and the newest of each kind.
        await _delete_mo(store, _max_id(path, "managed_objects") - 3)
        for name, (_, delete) in ENTITIES.items():
            if name in TABLE_OF:
                await delete(store, _max_id(path, TABLE_OF[name]))
        counts = {
            table: _rows(path, f"SELECT count(*) FROM {table}")[0][0] for table in (*TABLES, "external_ids")
        }
    finally:
        await store.close()
    indexes = set(_rows(path, "SELECT name, tbl_name, sql FROM sqlite_master WHERE type = 'index'"))
    issued = {table: _max_id(path, table) for table in TABLES}  # the largest ids the database still shows
    monkeypatch.undo()

    async def upgraded(store: SqlStorage) -> int:
        # Every row survived the table rebuilds: dropping managed_objects cascaded nothing.
        for table, count in counts.items():
            assert _rows(path, f"SELECT count(*) FROM {table}")[0][0] == count, table
        assert _rows(path, "PRAGMA foreign_key_check") == []
        # The newest of each kind deleted now: the next one gets a higher id than any issued.
        for name, (create, delete) in ENTITIES.items():
            if name not in TABLE_OF:
                continue
            table = TABLE_OF[name]
            newest = _max_id(path, table)
            await delete(store, newest)
            created = await create(store, 9)
            assert created > newest and created > issued[table], name
        return 0

    await _restarted(database_url, upgraded)
    assert _rows(path, "SELECT version_num FROM alembic_version")[0][0] >= "0008"  # 0008 and any later one
    for table in TABLES:
        sql = _rows(path, f"SELECT sql FROM sqlite_master WHERE type = 'table' AND name = '{table}'")[0][0]
        assert "AUTOINCREMENT" in str(sql), table
    # The rebuilt tables have the indexes they had, the partial unique index of open alarms included.
    # (later migrations may add indexes of their own: only the rebuilt tables' are compared)
    after = set(_rows(path, "SELECT name, tbl_name, sql FROM sqlite_master WHERE type = 'index'"))
    later = {"ix_alarm_tenant_updated", "ix_op_tenant_updated", "ix_op_bulk"}  # migrations 0020 and 0021
    rebuilt = {i for i in after if i[1] in TABLES and i[0] not in later}
    assert rebuilt == {i for i in indexes if i[1] in TABLES}
    # Opened again: nothing is rebuilt, the sequences stay where they are.
    sequences = _rows(path, "SELECT name, seq FROM sqlite_sequence ORDER BY name")
    await _restarted(database_url, _count_devices)
    assert _rows(path, "SELECT name, seq FROM sqlite_sequence ORDER BY name") == sequences


async def _count_devices(store: SqlStorage) -> int:
    return (
        await store.managed_objects.find(T, InventoryCriteria(), PageRequest(with_total=True))
    ).total_elements or 0
