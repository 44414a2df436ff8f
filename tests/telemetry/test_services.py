"""Telemetry services over both storage backends: processing modes, domain events, access, series cap."""

from __future__ import annotations

import pytest
from tests.telemetry.conftest import Telemetry

from tether.core.clock import parse_iso
from tether.core.errors import Forbidden, InvalidInput, NotFound
from tether.core.events import DomainEvent, EventBus
from tether.core.paging import PageRequest
from tether.core.processing import ProcessingMode
from tether.inventory.models import NewManagedObject
from tether.telemetry.measurements import MeasurementService
from tether.telemetry.models import (
    AlarmChange,
    AlarmCriteria,
    AlarmSeverity,
    AlarmStatus,
    EventChange,
    EventCriteria,
    MeasurementCriteria,
    NewAlarm,
    NewEvent,
    NewMeasurement,
    SeriesName,
    SeriesQuery,
)
from tether.tenants.models import Principal, Role

pytestmark = pytest.mark.anyio
ADMIN = Principal("t1", "admin", frozenset({Role.ADMIN}))
DEVICE = Principal("t1", "device_1", frozenset({Role.DEVICE}))
OTHER_ADMIN = Principal("t2", "admin", frozenset({Role.ADMIN}))
BOOTSTRAP = Principal("management", "devicebootstrap", frozenset({Role.BOOTSTRAP}))
ALL = PageRequest(page_size=2000, with_total=True)
TIME = "2024-05-01T10:00:00.000Z"


async def source(t: Telemetry, owner: str = "admin", tenant: str = "t1") -> int:
    draft = NewManagedObject(owner=owner, name=f"{owner}'s", type="c8y_Test", fragments={"c8y_IsDevice": {}})
    return (await t.storage.managed_objects.create(tenant, draft, 1)).id


def measurement(source_id: int, value: float = 1.0, time: str = TIME) -> NewMeasurement:
    fragments = {"c8y_Temperature": {"T": {"value": value, "unit": "C"}}}
    return NewMeasurement(source_id, "c8y_Temperature", parse_iso(time), fragments)


def alarm(source_id: int, time: str = TIME) -> NewAlarm:
    return NewAlarm(
        source_id, "c8y_Overheat", "hot", AlarmSeverity.MAJOR, AlarmStatus.ACTIVE, parse_iso(time), {}
    )


def event(source_id: int) -> NewEvent:
    return NewEvent(source_id, "e", "t", parse_iso(TIME), {})


async def test_persistent_and_cep_store_and_announce(telemetry: Telemetry) -> None:
    s = await source(telemetry)
    for mode in (ProcessingMode.PERSISTENT, ProcessingMode.CEP):
        telemetry.published.clear()
        [created] = await telemetry.measurements.create(ADMIN, [measurement(s)], mode)
        assert created.id is not None
        assert await telemetry.measurements.get(ADMIN, created.id) == created
        [announced] = telemetry.published
        assert (announced.tenant_id, announced.resource, announced.action) == ("t1", "measurements", "CREATE")
        assert (announced.id, announced.source_id, announced.payload) == (created.id, s, created)


async def test_transient_announces_without_storing(telemetry: Telemetry) -> None:
    s = await source(telemetry)
    created = await telemetry.measurements.create(
        ADMIN, [measurement(s, 1), measurement(s, 2)], ProcessingMode.TRANSIENT
    )
    assert [m.id for m in created] == [None, None]
    assert [e.id for e in telemetry.published] == [None, None]
    assert [e.payload for e in telemetry.published] == created
    assert (await telemetry.measurements.find(ADMIN, MeasurementCriteria(), ALL)).items == []
    event_ = await telemetry.events.create(ADMIN, event(s), ProcessingMode.TRANSIENT)
    raised = await telemetry.alarms.create(ADMIN, alarm(s), ProcessingMode.TRANSIENT)
    assert event_.id is None and raised.id is None and raised.count == 1 and raised.source_name == "admin's"
    assert [(e.resource, e.id) for e in telemetry.published[2:]] == [("events", None), ("alarms", None)]
    assert (await telemetry.events.find(ADMIN, EventCriteria(), ALL)).items == []
    assert await telemetry.alarms.count(ADMIN, AlarmCriteria()) == 0


async def test_quiescent_stores_without_announcing(telemetry: Telemetry) -> None:
    s = await source(telemetry)
    quiet = ProcessingMode.QUIESCENT
    [created] = await telemetry.measurements.create(ADMIN, [measurement(s)], quiet)
    event_ = await telemetry.events.create(ADMIN, event(s), quiet)
    raised = await telemetry.alarms.create(ADMIN, alarm(s), quiet)
    await telemetry.events.update(ADMIN, event_.id or 0, EventChange(text="changed"), quiet)
    await telemetry.measurements.delete(ADMIN, created.id or 0, quiet)
    await telemetry.alarms.update_matching(ADMIN, AlarmCriteria(source_id=s), AlarmStatus.CLEARED, quiet)
    assert telemetry.published == []
    assert (await telemetry.events.get(ADMIN, event_.id or 0)).text == "changed"
    assert (await telemetry.alarms.get(ADMIN, raised.id or 0)).status is AlarmStatus.CLEARED


async def test_every_change_is_announced(telemetry: Telemetry) -> None:
    s = await source(telemetry)
    event_ = await telemetry.events.create(ADMIN, event(s))
    await telemetry.events.update(ADMIN, event_.id or 0, EventChange(text="t2"))
    await telemetry.events.delete(ADMIN, event_.id or 0)
    first = await telemetry.alarms.create(ADMIN, alarm(s))
    again = await telemetry.alarms.create(ADMIN, alarm(s))
    await telemetry.alarms.update(ADMIN, first.id or 0, AlarmChange(severity=AlarmSeverity.MINOR))
    assert await telemetry.alarms.delete_matching(ADMIN, AlarmCriteria(source_id=s)) == 1
    await telemetry.measurements.create(ADMIN, [measurement(s)])
    assert await telemetry.measurements.delete_matching(ADMIN, MeasurementCriteria(source_id=s)) == 1
    assert [(e.resource, e.action) for e in telemetry.published] == [
        ("events", "CREATE"),
        ("events", "UPDATE"),
        ("events", "DELETE"),
        ("alarms", "CREATE"),
        ("alarms", "UPDATE"),  # the de-duplicated raise changed the open alarm
        ("alarms", "UPDATE"),
        ("alarms", "DELETE"),
        ("measurements", "CREATE"),
        ("measurements", "DELETE"),
    ]
    assert again.id == first.id and again.count == 2
    assert all(e.source_id == s and e.tenant_id == "t1" for e in telemetry.published)


async def test_access_rules(telemetry: Telemetry) -> None:
    own, foreign = await source(telemetry, owner="device_1"), await source(telemetry, owner="admin")
    other_tenant = await source(telemetry, tenant="t2")
    with pytest.raises(Forbidden):
        await telemetry.measurements.create(BOOTSTRAP, [measurement(own)])
    with pytest.raises(Forbidden):
        await telemetry.alarms.count(BOOTSTRAP, AlarmCriteria())
    with pytest.raises(NotFound):
        await telemetry.measurements.create(DEVICE, [measurement(own), measurement(foreign)])
    with pytest.raises(NotFound):
        await telemetry.measurements.create(ADMIN, [measurement(other_tenant)])
    assert (await telemetry.measurements.find(ADMIN, MeasurementCriteria(), ALL)).items == []  # all or none
    [mine] = await telemetry.measurements.create(DEVICE, [measurement(own)])
    [admins] = await telemetry.measurements.create(ADMIN, [measurement(foreign)])
    assert await telemetry.measurements.get(DEVICE, mine.id or 0) == mine
    with pytest.raises(NotFound):
        await telemetry.measurements.get(DEVICE, admins.id or 0)
    with pytest.raises(NotFound):
        await telemetry.measurements.get(OTHER_ADMIN, admins.id or 0)
    with pytest.raises(NotFound):
        await telemetry.measurements.delete(DEVICE, admins.id or 0)
    listed = await telemetry.measurements.find(DEVICE, MeasurementCriteria(), ALL)
    assert [m.id for m in listed.items] == [mine.id]
    assert await telemetry.measurements.delete_matching(DEVICE, MeasurementCriteria()) == 1
    assert await telemetry.measurements.get(ADMIN, admins.id or 0) == admins
    with pytest.raises(NotFound):
        await telemetry.measurements.series(DEVICE, SeriesQuery(foreign, 0, 10**13))


async def test_a_known_source_deleted_gets_the_answer_of_an_unknown_one(telemetry: Telemetry) -> None:
    # An administrator's sources are remembered (no read per POST); once one is deleted, the insert's
    # foreign key refuses it and the answer is the one a POST about a missing source always had.
    kept, gone = await source(telemetry), await source(telemetry)
    await telemetry.measurements.create(ADMIN, [measurement(kept), measurement(gone)])
    await telemetry.inventory.delete(ADMIN, gone)
    with pytest.raises(NotFound) as refused:
        await telemetry.measurements.create(ADMIN, [measurement(kept), measurement(gone, 2.0)])
    with pytest.raises(NotFound) as never_known:
        await MeasurementService(telemetry.storage.measurements, telemetry.inventory, telemetry.bus).create(
            ADMIN, [measurement(gone, 3.0)]
        )
    assert (refused.value.message, refused.value.resource) == (never_known.value.message, "measurement")
    stored = await telemetry.measurements.find(ADMIN, MeasurementCriteria(source_id=kept), ALL)
    assert len(stored.items) == 1  # all or none
    with pytest.raises(NotFound):  # another tenant's administrator: never known there
        await telemetry.measurements.create(OTHER_ADMIN, [measurement(kept)])
    assert len(await telemetry.measurements.create(ADMIN, [measurement(kept, 4.0)])) == 1


async def test_bulk_alarm_update_needs_a_filter(telemetry: Telemetry) -> None:
    s = await source(telemetry)
    await telemetry.alarms.create(ADMIN, alarm(s))
    with pytest.raises(InvalidInput, match="At least one query parameter"):
        await telemetry.alarms.update_matching(ADMIN, AlarmCriteria(), AlarmStatus.CLEARED)
    assert await telemetry.alarms.count(ADMIN, AlarmCriteria(resolved=False)) == 1
    assert await telemetry.alarms.update_matching(ADMIN, AlarmCriteria(source_id=s), AlarmStatus.CLEARED) == 1
    assert await telemetry.alarms.count(ADMIN, AlarmCriteria(resolved=False)) == 0


async def test_series_is_capped_by_the_service_limit(telemetry: Telemetry) -> None:
    s = await source(telemetry)
    times = [f"2024-05-01T10:00:0{i}.000Z" for i in range(5)]
    await telemetry.measurements.create(ADMIN, [measurement(s, i, t) for i, t in enumerate(times)])
    query = SeriesQuery(
        s, parse_iso(times[0]), parse_iso(times[-1]) + 1, (SeriesName("c8y_Temperature", "T"),)
    )
    capped = await telemetry.small_series_limit(3).series(ADMIN, query)
    assert capped.truncated is True
    assert [(slots[0].min, slots[0].max) for _, slots in capped.values if slots[0]] == [
        (0, 0),
        (1, 1),
        (2, 2),
    ]
    exact = await telemetry.small_series_limit(5).series(ADMIN, query)
    assert exact.truncated is False and len(exact.values) == 5
    full = await telemetry.measurements.series(ADMIN, query)
    assert full.truncated is False and [spec.unit for spec in full.specs] == ["C"]
    with pytest.raises(InvalidInput):
        await telemetry.measurements.series(ADMIN, SeriesQuery(s, 10, 5))


async def test_bulk_ingest_announces_only_to_listening_tenants(telemetry: Telemetry) -> None:
    mine, theirs = await source(telemetry), await source(telemetry, tenant="t2")
    other = Principal("t2", "admin", frozenset({Role.ADMIN}))
    grants = [
        await telemetry.measurements.grant(ADMIN, mine),
        await telemetry.measurements.grant(other, theirs),
    ]
    rows = [
        (grant, "c8y_T", 1_700_000_000_000 + i, {"c8y_T": {"T": {"value": i}}})
        for i, grant in enumerate(grants)
    ]
    # The fixture's recorder listens to everything: both tenants' rows are announced with their ids.
    ids = await telemetry.measurements.create_many(rows)
    assert [(e.tenant_id, e.id, e.source_id) for e in telemetry.published] == [
        ("t1", ids[0], mine),
        ("t2", ids[1], theirs),
    ]
    # A subscriber of other resources, or one that wants only t2 now: t1's rows are not even built.
    bus = EventBus()
    service = MeasurementService(telemetry.storage.measurements, telemetry.inventory, bus)
    seen: list[DomainEvent] = []
    bus.subscribe(seen.append, resources={"operations"})
    bus.subscribe(seen.append, resources={"measurements"}, wants=lambda tenant: tenant == "t2")
    assert bus.listens("t2", "measurements") and not bus.listens("t1", "measurements")
    assert bus.listens("t1", "operations")
    await service.create_many(rows)
    assert [(e.tenant_id, e.resource) for e in seen] == [("t2", "measurements")]
    # Transient rows are announced without ids, quiescent ones stored but not announced.
    seen.clear()
    assert await service.create_many(rows, ProcessingMode.TRANSIENT) == [None, None]
    assert [e.id for e in seen] == [None]
    seen.clear()
    quiet = await service.create_many(rows, ProcessingMode.QUIESCENT)
    assert seen == [] and all(isinstance(i, int) for i in quiet)


async def test_drafts_are_checked_by_the_services_whoever_built_them(telemetry: Telemetry) -> None:
    """The values inside fragments are the domain's rule (core/values.py): a draft built by any adapter
    is checked, and nothing of a refused batch is stored."""
    s = await source(telemetry)
    nan = {"c8y_T": {"T": {"value": float("nan")}}}
    with pytest.raises(InvalidInput, match="not numbers in JSON"):
        await telemetry.measurements.create(ADMIN, [measurement(s), NewMeasurement(s, "t", 0, nan)])
    assert (await telemetry.measurements.find(ADMIN, MeasurementCriteria(), ALL)).items == []
    with pytest.raises(InvalidInput):
        await telemetry.events.create(ADMIN, NewEvent(s, "e", "t", 0, {"c8y_X": "a\x00b"}))
    with pytest.raises(InvalidInput):
        await telemetry.alarms.create(
            ADMIN, NewAlarm(s, "a", "t", AlarmSeverity.MAJOR, AlarmStatus.ACTIVE, 0, {"c8y_X": nan})
        )
    with pytest.raises(InvalidInput, match="At least one measurement"):
        await telemetry.measurements.create(ADMIN, [])
