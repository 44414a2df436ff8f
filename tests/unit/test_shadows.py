"""ShadowService over the fake store: versions, compare-and-set against other writers, one change at a time
per thing, watchers told after the write."""

from __future__ import annotations

import asyncio

import pytest
from tests.fakes.fleets import FakeShadowStore

from tether.core.errors import ServiceUnavailable
from tether.fleets import shadow
from tether.fleets.models import Thing
from tether.fleets.shadow import NoShadow, Shadow, VersionConflict
from tether.fleets.shadows import ShadowChange, ShadowService

pytestmark = pytest.mark.anyio
THING = Thing(id="u-1", tenant_id="t1", mo_id=7, name="pump", client_id="pump", owner="device_pump")


def _report(**values: object) -> shadow.UpdateRequest:
    return shadow.parse_update({"state": {"reported": values}})


async def test_updates_get_delete_and_watchers() -> None:
    store = FakeShadowStore()
    service = ShadowService(store)
    told: list[ShadowChange] = []
    service.watch(told.append)
    with pytest.raises(NoShadow):
        await service.get(THING)
    first = await service.update(THING, _report(a=1), "mqtt")
    assert first.current.version == 1 and store.rows[("t1", 7)] == first.current
    second = await service.update(THING, shadow.parse_update({"state": {"desired": {"a": 2}}}), "http")
    assert second.delta is not None and second.delta["state"] == {"a": 2}
    assert [c.origin for c in told] == ["mqtt", "http"] and told[1].updated is second
    document = await service.get(THING, "tok")
    assert document["state"]["delta"] == {"a": 2} and document["clientToken"] == "tok"
    with pytest.raises(VersionConflict):
        await service.delete(THING, 1, None, "mqtt")
    answer = await service.delete(THING, 2, "d", "http")
    assert answer == {"version": 2, "timestamp": answer["timestamp"], "clientToken": "d"}
    assert told[-1].deleted == answer
    with pytest.raises(NoShadow):
        await service.get(THING)
    # The next shadow's version follows the deleted one.
    assert (await service.update(THING, _report(b=1), "mqtt")).current.version == 3


async def test_another_writer_wins_the_race() -> None:
    store = FakeShadowStore()
    service = ShadowService(store)
    await service.update(THING, _report(a=1), "mqtt")
    # Another process stores version 2 between this read and this write: the update is merged again.
    store.interfere[("t1", 7)] = Shadow({"reported": {"a": 1, "z": 9}}, {}, 2, 0, True)
    updated = await service.update(THING, _report(b=2), "mqtt")
    assert updated.current.version == 3
    assert updated.current.state == {"reported": {"a": 1, "z": 9, "b": 2}}
    # A request naming its version is refused after such a race (the version it named is gone).
    store.interfere[("t1", 7)] = Shadow({"reported": {}}, {}, 4, 0, True)
    with pytest.raises(VersionConflict):
        await service.update(THING, shadow.parse_update({"state": {"reported": {}}, "version": 3}), "mqtt")


async def test_a_store_that_never_agrees_is_unavailable() -> None:
    class Stubborn(FakeShadowStore):
        async def put(self, tenant_id: str, mo_id: int, shadow: Shadow, expected_version: int | None) -> bool:
            return False

    with pytest.raises(ServiceUnavailable):
        await ShadowService(Stubborn()).update(THING, _report(a=1), "mqtt")


async def test_concurrent_updates_of_one_thing_are_serial() -> None:
    store = FakeShadowStore()
    service = ShadowService(store)
    results = await asyncio.gather(
        *(service.update(THING, _report(**{f"k{i}": i}), "mqtt") for i in range(20))
    )
    assert sorted(r.current.version for r in results) == list(range(1, 21))
    assert store.rows[("t1", 7)].state["reported"] == {f"k{i}": i for i in range(20)}
    assert service._locks == {}


async def test_what_this_process_knows_is_only_a_hint() -> None:
    """An update starts from the last shadow this process stored (no read); another process's write makes
    the compare-and-set fail or the version look wrong, and the store is asked."""
    store = FakeShadowStore()
    service = ShadowService(store)
    await service.update(THING, _report(a=1), "mqtt")
    reads = []
    original_get = store.get

    async def counting_get(tenant_id: str, mo_id: int) -> Shadow | None:
        reads.append(mo_id)
        return await original_get(tenant_id, mo_id)

    store.get = counting_get  # type: ignore[method-assign]
    await service.update(THING, _report(a=2), "mqtt")
    assert reads == []  # served from what it knew
    # Another process moves the shadow to version 5; a request naming 5 is accepted after one read.
    store.rows[("t1", 7)] = Shadow({"reported": {"a": 9}}, {}, 5, 0, True)
    named = await service.update(
        THING, shadow.parse_update({"state": {"reported": {"b": 1}}, "version": 5}), "mqtt"
    )
    assert named.current.version == 6 and named.current.state == {"reported": {"a": 9, "b": 1}}
    assert reads == [7]
