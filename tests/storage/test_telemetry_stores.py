"""Measurement, event and alarm stores, run against SQLite and PostgreSQL (the `storage` fixture)."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from tests.support import fresh_database

from tether.bootstrap import open_storage
from tether.core.errors import Conflict, NotFound
from tether.core.paging import PageRequest
from tether.inventory.models import NewManagedObject
from tether.storage.sql.sqlite_measurements import few_rows
from tether.storage.sql.sqlite_measurements import page as direct_page
from tether.storage.sql.storage import SqlStorage
from tether.storage.sqlite import READ_NOW_ROWS, SqliteDialect
from tether.telemetry.models import (
    AlarmChange,
    AlarmCriteria,
    AlarmSeverity,
    AlarmStatus,
    EventCriteria,
    MeasurementCriteria,
    NewAlarm,
    NewEvent,
    NewMeasurement,
    SeriesName,
    SeriesQuery,
)
from tether.tenants.models import Tenant

pytestmark = pytest.mark.anyio
ALL = PageRequest(page_size=2000, with_total=True)


async def device(storage: SqlStorage, name: str, tenant: str = "t1", owner: str = "admin") -> int:
    draft = NewManagedObject(owner=owner, name=name, type="c8y_Test", fragments={"c8y_IsDevice": {}})
    return (await storage.managed_objects.create(tenant, draft, 1)).id


def temperature(source: int, time: int, value: float, type_: str = "c8y_Temperature") -> NewMeasurement:
    return NewMeasurement(source, type_, time, {"c8y_Temperature": {"T": {"value": value, "unit": "C"}}})


def alarm(source: int, type_: str = "c8y_Overheat", time: int = 1000, **kw: object) -> NewAlarm:
    values: dict[str, object] = {
        "text": "too hot",
        "severity": AlarmSeverity.MAJOR,
        "status": AlarmStatus.ACTIVE,
        "fragments": {},
    }
    values.update(kw)
    return NewAlarm(source_id=source, type=type_, time=time, **values)  # type: ignore[arg-type]


# -- measurements ---------------------------------------------------------------------------------


async def test_measurements_are_created_in_one_batch_in_order(storage: SqlStorage) -> None:
    store = storage.measurements
    source = await device(storage, "d")
    drafts = [temperature(source, 1000 + i, 20.0 + i) for i in range(2500)]  # more than one INSERT chunk
    created = await store.create("t1", drafts, 5)
    assert len(created) == 2500
    ids = [m.id for m in created]
    assert all(i is not None for i in ids) and ids == sorted(ids) and len(set(ids)) == 2500
    assert [m.time for m in created] == [d.time for d in drafts]
    for m in (created[0], created[1234], created[-1]):
        assert m.id is not None
        assert await store.get("t1", m.id) == m
    assert created[7].fragments == {"c8y_Temperature": {"T": {"value": 27.0, "unit": "C"}}}
    assert created[7].creation_time == 5 and created[7].tenant_id == "t1"
    # a source deleted meanwhile: the foreign key refuses the whole batch, as NotFound (both drivers' errors)
    with pytest.raises(NotFound, match="no longer exists"):
        await store.create("t1", [temperature(source, 1, 1.0), temperature(source + 10_000, 2, 2.0)], 5)
    assert (await store.find("t1", MeasurementCriteria(source_id=source), ALL)).total_elements == 2500


@pytest.mark.parametrize("rows", [1, 15, 16, 17, 100, 128, 129, 1000, 2049])
async def test_every_batch_size_stores_each_row_once_with_its_id(storage: SqlStorage, rows: int) -> None:
    # SQLite inserts with statements of a few sizes, padded with NULL rows: none of them is stored, and the
    # ids handed back are those of the rows, in order
    store = storage.measurements
    source = await device(storage, "d")
    created = await store.create("t1", [temperature(source, 10 * i, float(i)) for i in range(rows)], 5)
    criteria = MeasurementCriteria(source_id=source)
    stored = [m for page in (1, 2) for m in (await store.find("t1", criteria, PageRequest(page, 2000))).items]
    assert [(m.id, m.time, m.fragments) for m in stored] == [(m.id, m.time, m.fragments) for m in created]
    assert [m.time for m in created] == [10 * i for i in range(rows)]


async def test_measurement_filters_order_and_paging(storage: SqlStorage) -> None:
    store = storage.measurements
    a, b = await device(storage, "a"), await device(storage, "b")
    await store.create(
        "t1",
        [
            temperature(a, 3000, 3),
            temperature(a, 1000, 1),
            NewMeasurement(a, "c8y_Battery", 2000, {"c8y_Battery": {"level": {"value": 80, "unit": "%"}}}),
            temperature(b, 1500, 9),
        ],
        1,
    )

    async def times(newest_first: bool = False, **kw: object) -> list[int]:
        criteria = MeasurementCriteria(newest_first=newest_first, **kw)  # type: ignore[arg-type]
        return [m.time for m in (await store.find("t1", criteria, ALL)).items]

    assert await times() == [1000, 1500, 2000, 3000]
    assert await times(newest_first=True) == [3000, 2000, 1500, 1000]
    assert await times(source_id=a) == [1000, 2000, 3000]
    assert await times(type="c8y_Battery") == [2000]
    assert await times(value_fragment_type="c8y_Temperature") == [1000, 1500, 3000]
    assert await times(value_fragment_type="c8y_Battery", value_fragment_series="level") == [2000]
    assert await times(value_fragment_type="c8y_Battery", value_fragment_series="T") == []
    assert await times(date_from=1500, date_to=3000) == [1500, 2000]  # from inclusive, to exclusive
    assert (await store.find("t2", MeasurementCriteria(), ALL)).items == []
    page = await store.find("t1", MeasurementCriteria(), PageRequest(2, 3, True))
    assert [m.time for m in page.items] == [3000] and page.total_elements == 4 and page.total_pages == 2


async def test_measurement_pages_without_total_match_the_general_query(storage: SqlStorage) -> None:
    # Pages without a total take the one-trip reads (sqlite_measurements.py: the page as one JSON text built
    # by SQLite; postgres_direct.py), pages with one SQLAlchemy's query: the same rows in the same order,
    # time ties by id, text and numbers of the fragments as stored.
    store = storage.measurements
    a, b = await device(storage, "a"), await device(storage, "b")
    odd = {
        "c8y_Odd": {"s": 'quote " backslash \\ tab \t ü €', "big": 2**62, "f": 1e-7, "n": None, "l": [1, {}]}
    }
    drafts = [temperature(a if i % 3 else b, 1000 + (i % 7) * 10, i / 3) for i in range(60)]
    drafts += [NewMeasurement(a, 'c8y_"Quoted" ü', 1030, odd), NewMeasurement(b, "c8y_Empty", 1000, {})]
    await store.create("t1", drafts, 1)
    criteria = [
        MeasurementCriteria(),
        MeasurementCriteria(newest_first=True),
        MeasurementCriteria(source_id=a),
        MeasurementCriteria(source_id=b, newest_first=True),
        MeasurementCriteria(source_id=a, type='c8y_"Quoted" ü'),
        MeasurementCriteria(date_from=1010, date_to=1040),
        MeasurementCriteria(source_id=a, date_from=1030, newest_first=True),
        MeasurementCriteria(source_id=a, type="nothing"),
    ]
    for c in criteria:
        for page in (1, 2, 9):
            plain = await store.find("t1", c, PageRequest(page, 7))
            general = await store.find("t1", c, PageRequest(page, 7, with_total=True))
            assert plain.items == general.items, (c, page)
            assert plain.total_elements is None and general.total_elements is not None
    quoted = await store.find("t1", MeasurementCriteria(type='c8y_"Quoted" ü'), PageRequest(1, 5))
    assert [m.fragments for m in quoted.items] == [odd] and quoted.items[0].tenant_id == "t1"
    whole = await store.find("t1", MeasurementCriteria(), PageRequest(1, 100))
    assert len(whole.items) == 62 and [m.time for m in whole.items] == sorted(m.time for m in whole.items)


async def test_measurement_owner_scope_and_tenant_scope(storage: SqlStorage) -> None:
    store = storage.measurements
    mine = await device(storage, "mine", owner="device_1")
    theirs = await device(storage, "theirs", owner="admin")
    other_tenant = await device(storage, "t2 device", tenant="t2", owner="device_1")
    await store.create("t1", [temperature(mine, 1, 1), temperature(theirs, 2, 2)], 1)
    await store.create("t2", [temperature(other_tenant, 3, 3)], 1)
    scoped = await store.find("t1", MeasurementCriteria(), ALL, owner_scope="device_1")
    assert [m.source_id for m in scoped.items] == [mine] and scoped.total_elements == 1
    deleted = await store.delete_matching("t1", MeasurementCriteria(), owner_scope="device_1")
    assert [m.source_id for m in deleted] == [mine]
    assert [m.source_id for m in (await store.find("t1", MeasurementCriteria(), ALL)).items] == [theirs]
    assert [m.source_id for m in (await store.find("t2", MeasurementCriteria(), ALL)).items] == [other_tenant]


async def test_measurement_delete(storage: SqlStorage) -> None:
    store = storage.measurements
    source = await device(storage, "d")
    first, second, third = await store.create(
        "t1", [temperature(source, 1, 1), temperature(source, 2, 2), temperature(source, 3, 3, "x")], 1
    )
    assert first.id is not None and second.id is not None
    assert await store.delete("t2", first.id) is False
    assert await store.delete("t1", first.id) is True
    assert await store.delete("t1", first.id) is False
    assert await store.get("t1", first.id) is None
    deleted = await store.delete_matching("t1", MeasurementCriteria(type="x"))
    assert deleted == [third]
    assert [m.id for m in (await store.find("t1", MeasurementCriteria(), ALL)).items] == [second.id]


async def test_series_rows(storage: SqlStorage) -> None:
    store = storage.measurements
    source, other = await device(storage, "s"), await device(storage, "o")
    battery = NewMeasurement(source, "c8y_Battery", 2500, {"c8y_Battery": {"level": {"value": 80}}})
    await store.create("t1", [temperature(source, t, t) for t in (1000, 2000, 3000, 4000)] + [battery], 1)
    await store.create("t1", [temperature(other, 2000, 5)], 1)
    query = SeriesQuery(source, 1000, 4000, (SeriesName("c8y_Temperature", "T"),))
    assert [m.time for m in await store.series("t1", query, 100)] == [1000, 2000, 3000]
    assert [m.time for m in await store.series("t1", query, 2)] == [1000, 2000]
    every = SeriesQuery(source, 0, 10_000, newest_first=True)
    assert [m.time for m in await store.series("t1", every, 100)] == [4000, 3000, 2500, 2000, 1000]
    battery_only = SeriesQuery(source, 0, 10_000, (SeriesName("c8y_Battery", "level"),))
    assert [m.type for m in await store.series("t1", battery_only, 100)] == ["c8y_Battery"]
    assert await store.series("t2", every, 100) == []


# -- events ---------------------------------------------------------------------------------------


async def test_events_crud_and_merge(storage: SqlStorage) -> None:
    store = storage.events
    source = await device(storage, "d")
    position = {"lat": 51.2, "lng": 6.7}
    created = await store.create(
        "t1", NewEvent(source, "c8y_LocationUpdate", "moved", 1000, {"c8y_Position": position, "k": 1}), 7
    )
    assert created.id is not None and created.creation_time == created.last_updated == 7
    assert await store.get("t1", created.id) == created
    assert await store.get("t2", created.id) is None
    assert await store.update("t2", created.id, "stolen", {}, 8) is None
    updated = await store.update("t1", created.id, "moved again", {"k": None, "extra": [1]}, 9)
    assert updated is not None
    assert updated.text == "moved again" and updated.last_updated == 9 and updated.creation_time == 7
    assert updated.fragments == {"c8y_Position": position, "extra": [1]}
    assert updated.time == 1000 and updated.type == "c8y_LocationUpdate"
    kept = await store.update("t1", created.id, None, {}, 10)
    assert kept is not None and kept.text == "moved again"
    assert await store.get("t1", created.id) == kept
    assert await store.delete("t2", created.id) is False
    assert await store.delete("t1", created.id) is True
    assert await store.get("t1", created.id) is None


async def test_event_filters(storage: SqlStorage) -> None:
    store = storage.events
    a, b = await device(storage, "a", owner="device_a"), await device(storage, "b")
    await store.create("t1", NewEvent(a, "login", "x", 1000, {"c8y_Position": {"lat": 1}}), 10)
    await store.create("t1", NewEvent(a, "logout", "y", 3000, {"status": "gone"}), 20)
    await store.create("t1", NewEvent(b, "login", "z", 2000, {"status": "here"}), 30)

    async def texts(owner_scope: str | None = None, **kw: object) -> list[str]:
        criteria = EventCriteria(**kw)  # type: ignore[arg-type]
        page = await store.find("t1", criteria, ALL, owner_scope=owner_scope)
        return [e.text for e in page.items]

    assert await texts() == ["y", "z", "x"]  # newest first by default
    assert await texts(newest_first=False) == ["x", "z", "y"]
    assert await texts(source_id=a) == ["y", "x"]
    assert await texts(type="login") == ["z", "x"]
    assert await texts(fragment_type="c8y_Position") == ["x"]
    assert await texts(fragment_type="c8y_Position.lat") == ["x"]
    assert await texts(fragment_type="status", fragment_value="here") == ["z"]
    assert await texts(date_from=1000, date_to=3000) == ["z", "x"]
    assert await texts(created_from=20) == ["y", "z"]
    assert await texts(created_to=20) == ["x"]
    assert await texts(owner_scope="device_a") == ["y", "x"]
    assert (await store.find("t2", EventCriteria(), ALL)).items == []
    deleted = await store.delete_matching("t1", EventCriteria(type="login"))
    assert sorted(e.text for e in deleted) == ["x", "z"]
    assert await texts() == ["y"]


# -- alarms ---------------------------------------------------------------------------------------


async def test_alarm_deduplication(storage: SqlStorage) -> None:
    store = storage.alarms
    source = await device(storage, "pump")
    first, created = await store.raise_alarm("t1", alarm(source, time=1000, fragments={"a": 1}), 5)
    assert created and first.id is not None and first.count == 1
    assert first.status is AlarmStatus.ACTIVE and first.first_occurrence_time == 1000
    assert first.source_name == "pump"
    again, created = await store.raise_alarm(
        "t1", alarm(source, time=2000, text="hotter", fragments={"b": 2}, severity=AlarmSeverity.MINOR), 6
    )
    assert not created and again.id == first.id and again.count == 2
    assert again.time == 2000 and again.first_occurrence_time == 1000 and again.text == "hotter"
    assert again.fragments == {"a": 1, "b": 2} and again.severity is AlarmSeverity.MAJOR
    assert again.last_updated == 6 and again.creation_time == 5
    # Another type, or another tenant's view, is a separate alarm.
    other, created = await store.raise_alarm("t1", alarm(source, type_="c8y_Leak"), 7)
    assert created and other.id != first.id
    # Acknowledged alarms are still open: de-duplicated.
    acked = await store.update("t1", first.id, AlarmChange(status=AlarmStatus.ACKNOWLEDGED), 8)
    assert acked is not None and acked.status is AlarmStatus.ACKNOWLEDGED
    third, created = await store.raise_alarm("t1", alarm(source, time=3000), 9)
    assert not created and third.id == first.id and third.count == 3
    assert third.status is AlarmStatus.ACKNOWLEDGED
    # Cleared alarms are not: a new raise opens a new alarm.
    await store.update("t1", first.id, AlarmChange(status=AlarmStatus.CLEARED), 10)
    fresh, created = await store.raise_alarm("t1", alarm(source, time=4000), 11)
    assert created and fresh.id != first.id and fresh.count == 1
    # Raising a CLEARED alarm never de-duplicates either.
    c1, created1 = await store.raise_alarm("t1", alarm(source, status=AlarmStatus.CLEARED), 12)
    c2, created2 = await store.raise_alarm("t1", alarm(source, status=AlarmStatus.CLEARED), 13)
    assert created1 and created2 and c1.id != c2.id


@pytest.mark.parametrize("raises", [50])
async def test_concurrent_raises_make_one_alarm(storage: SqlStorage, raises: int) -> None:
    store = storage.alarms
    source = await device(storage, "busy")
    results = await asyncio.gather(
        *(store.raise_alarm("t1", alarm(source, time=1000 + i), 100 + i) for i in range(raises))
    )
    assert sum(1 for _, created in results if created) == 1
    assert len({a.id for a, _ in results}) == 1
    open_alarms = await store.find("t1", AlarmCriteria(source_id=source, resolved=False), ALL)
    assert len(open_alarms.items) == 1
    assert open_alarms.items[0].count == raises
    assert sorted(a.count for a, _ in results) == list(range(1, raises + 1))


async def test_reopening_a_cleared_alarm_conflicts_with_an_open_one(storage: SqlStorage) -> None:
    store = storage.alarms
    source = await device(storage, "d")
    old, _ = await store.raise_alarm("t1", alarm(source), 1)
    assert old.id is not None
    await store.update("t1", old.id, AlarmChange(status=AlarmStatus.CLEARED), 2)
    await store.raise_alarm("t1", alarm(source), 3)
    with pytest.raises(Conflict):
        await store.update("t1", old.id, AlarmChange(status=AlarmStatus.ACTIVE), 4)
    unchanged = await store.get("t1", old.id)
    assert unchanged is not None and unchanged.status is AlarmStatus.CLEARED and unchanged.last_updated == 2
    with pytest.raises(Conflict):
        await store.update_matching("t1", AlarmCriteria(source_id=source), AlarmStatus.ACTIVE, 5)
    assert await store.count("t1", AlarmCriteria(source_id=source, resolved=True)) == 1


async def test_alarm_update_fields(storage: SqlStorage) -> None:
    store = storage.alarms
    source = await device(storage, "d")
    raised, _ = await store.raise_alarm("t1", alarm(source, fragments={"keep": 1, "drop": 2}), 1)
    assert raised.id is not None
    change = AlarmChange(severity=AlarmSeverity.CRITICAL, text="worse", fragments={"drop": None, "new": "x"})
    updated = await store.update("t1", raised.id, change, 2)
    assert updated is not None
    assert updated.severity is AlarmSeverity.CRITICAL and updated.text == "worse"
    assert updated.status is AlarmStatus.ACTIVE and updated.count == 1
    assert updated.fragments == {"keep": 1, "new": "x"} and updated.last_updated == 2
    assert await store.update("t2", raised.id, change, 3) is None
    assert await store.get("t1", raised.id) == updated


async def test_alarm_filters_count_bulk_update_and_delete(storage: SqlStorage) -> None:
    store = storage.alarms
    a, b = await device(storage, "a", owner="device_a"), await device(storage, "b")
    major, _ = await store.raise_alarm("t1", alarm(a, "t_major", 1000, fragments={"c8y_Extra": {}}), 10)
    await store.raise_alarm("t1", alarm(a, "t_minor", 2000, severity=AlarmSeverity.MINOR), 20)
    await store.raise_alarm("t1", alarm(b, "t_major", 3000, status=AlarmStatus.ACKNOWLEDGED), 30)
    await store.raise_alarm("t1", alarm(b, "t_old", 500, status=AlarmStatus.CLEARED), 40)
    await store.raise_alarm("t2", alarm(await device(storage, "x", tenant="t2"), "t_major"), 50)

    async def types(owner_scope: str | None = None, **kw: object) -> list[str]:
        criteria = AlarmCriteria(**kw)  # type: ignore[arg-type]
        found = (await store.find("t1", criteria, ALL, owner_scope=owner_scope)).items
        assert await store.count("t1", criteria, owner_scope=owner_scope) == len(found)
        return [x.type for x in found]

    assert await types() == ["t_major", "t_minor", "t_major", "t_old"]  # newest first
    assert await types(newest_first=False) == ["t_old", "t_major", "t_minor", "t_major"]
    assert await types(source_id=a) == ["t_minor", "t_major"]
    assert await types(types=("t_minor", "t_old")) == ["t_minor", "t_old"]
    assert await types(statuses=(AlarmStatus.ACKNOWLEDGED, AlarmStatus.CLEARED)) == ["t_major", "t_old"]
    assert await types(severities=(AlarmSeverity.MINOR,)) == ["t_minor"]
    assert await types(resolved=True) == ["t_old"]
    assert await types(resolved=False) == ["t_major", "t_minor", "t_major"]
    assert await types(fragment_type="c8y_Extra") == ["t_major"]
    assert await types(date_from=1000, date_to=3000) == ["t_minor", "t_major"]
    assert await types(created_from=20, created_to=40) == ["t_major", "t_minor"]
    assert await types(owner_scope="device_a") == ["t_minor", "t_major"]

    cleared = await store.update_matching(
        "t1", AlarmCriteria(source_id=a), AlarmStatus.CLEARED, 60, owner_scope="device_a"
    )
    assert sorted(x.type for x in cleared) == ["t_major", "t_minor"]
    assert all(x.status is AlarmStatus.CLEARED and x.last_updated == 60 for x in cleared)
    assert cleared[0].source_name == "a"
    again = await store.update_matching("t1", AlarmCriteria(source_id=a), AlarmStatus.CLEARED, 61)
    assert again == []  # nothing changed: already cleared
    refreshed = await store.get("t1", major.id or 0)
    assert refreshed is not None and refreshed.status is AlarmStatus.CLEARED
    deleted = await store.delete_matching("t1", AlarmCriteria(resolved=True))
    assert sorted(x.type for x in deleted) == ["t_major", "t_minor", "t_old"]
    assert await types() == ["t_major"]
    assert await store.count("t2", AlarmCriteria()) == 1


# -- the source's data goes with it --------------------------------------------------------------


async def test_deleting_a_managed_object_deletes_its_telemetry(storage: SqlStorage) -> None:
    doomed, kept = await device(storage, "doomed"), await device(storage, "kept")
    for source in (doomed, kept):
        await storage.measurements.create("t1", [temperature(source, 1, 1)], 1)
        await storage.events.create("t1", NewEvent(source, "e", "t", 1, {}), 1)
        await storage.alarms.raise_alarm("t1", alarm(source), 1)
    assert await storage.managed_objects.delete("t1", [doomed]) == 1
    measurements = await storage.measurements.find("t1", MeasurementCriteria(), ALL)
    events = await storage.events.find("t1", EventCriteria(), ALL)
    alarms = await storage.alarms.find("t1", AlarmCriteria(), ALL)
    assert [m.source_id for m in measurements.items] == [kept]
    assert [e.source_id for e in events.items] == [kept]
    assert [a.source_id for a in alarms.items] == [kept]


@pytest.fixture
async def sqlite_storage(tmp_path: Path) -> AsyncIterator[SqlStorage]:
    """SQLite only: what the event loop's own connection reads (PostgreSQL reads through asyncpg)."""
    store = open_storage(await fresh_database("sqlite", tmp_path))
    await store.open()
    await store.tenants.create(Tenant(id="t1", domain="t1", creation_time=0))
    yield store
    await store.close()


async def test_a_shallow_page_of_one_source_is_read_on_the_loop_unless_sqlite_is_busy(
    sqlite_storage: SqlStorage, tmp_path: Path
) -> None:
    storage = sqlite_storage
    dialect = storage.database.dialect
    assert isinstance(dialect, SqliteDialect)
    store = storage.measurements
    source = await device(storage, "d")
    await store.create("t1", [temperature(source, 1000 + i, i) for i in range(30)], 1)
    shallow = MeasurementCriteria(source_id=source)
    assert few_rows(shallow, 100, 0) and not few_rows(shallow, 100, READ_NOW_ROWS)
    assert not few_rows(MeasurementCriteria(), 100, 0)  # the tenant's index: rows of other sources between
    assert not few_rows(MeasurementCriteria(source_id=source, type="c8y_Rare"), 100, 0)  # rows passed over
    read = direct_page("t1", shallow, 10, 5)
    assert [m.time for m in dialect.read_now(read) or []] == list(range(1005, 1015))
    assert [m.time for m in (await store.find("t1", shallow, PageRequest(2, 10))).items] == list(
        range(1010, 1020)
    )
    # SQLite busy (here: a lock another process holds): read_now gives up at once instead of waiting on the
    # loop (busy_timeout 0), and the caller queues the read to a reader's thread; other errors are errors.
    holder = sqlite3.connect(tmp_path / "tether.db", isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")

    def lock(db: sqlite3.Connection) -> list[int]:
        db.execute("BEGIN IMMEDIATE")
        return [1]

    assert dialect.read_now(lambda db: db.execute("PRAGMA busy_timeout").fetchall()) == [(0,)]
    assert dialect.read_now(lock) is None
    holder.execute("ROLLBACK")
    holder.close()
    with pytest.raises(sqlite3.OperationalError, match="no such table"):
        dialect.read_now(lambda db: db.execute("SELECT * FROM nowhere").fetchall())
    assert [m.time for m in dialect.read_now(read) or []] == list(range(1005, 1015))
