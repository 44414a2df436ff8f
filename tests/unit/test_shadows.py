"""ShadowService over the fake store: versions, compare-and-set against other writers, one change at a time
per thing, watchers told after the write."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Sequence

import pytest
from tests.fakes.fleets import FakeShadowStore

from tether.core.errors import NotFound, ServiceUnavailable
from tether.fleets import shadow
from tether.fleets.models import Thing
from tether.fleets.shadow import NoShadow, Shadow, VersionConflict
from tether.fleets.shadows import ShadowChange, ShadowService
from tether.fleets.store import Outcome, ShadowWrite

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


THINGS = [
    Thing(id=f"u-{k}", tenant_id="t1", mo_id=100 + k, name=f"t{k}", client_id=f"t{k}", owner="o")
    for k in range(10)
]


async def test_updates_of_many_things_share_one_write_and_are_answered_in_order() -> None:
    """Updates queued together are written with one store call (one row per thing, however many updates it
    carries); each thing's watchers hear its changes in version order, after the write."""
    store = FakeShadowStore()
    service = ShadowService(store)
    told: list[ShadowChange] = []
    service.watch(told.append)
    for thing in THINGS:  # known things: no read before their first update
        await service.update(thing, _report(k=0), "mqtt")
    store.batches.clear()
    futures = [await service.submit(t, _report(k=i), "mqtt") for i in range(1, 6) for t in THINGS]
    assert not told[len(THINGS) :] and not any(f.done() for f in futures)  # nothing answered before the write
    results = await asyncio.gather(*futures)
    assert store.batches == [len(THINGS)]  # one write of ten rows for fifty updates
    for thing in THINGS:
        versions = [c.updated.current.version for c in told if c.thing == thing and c.updated]
        assert versions == [1, 2, 3, 4, 5, 6]
        assert store.rows[("t1", thing.mo_id)].version == 6
    assert [r.current.state["reported"]["k"] for r in results[: len(THINGS)]] == [1] * len(THINGS)


async def test_a_version_named_is_judged_on_the_updates_queued_before_it() -> None:
    """A request naming a version sees the updates queued before it (not yet written); a conflict is
    answered in its turn, after them."""
    store = FakeShadowStore()
    service = ShadowService(store)
    await service.update(THING, _report(a=0), "mqtt")  # version 1
    order: list[str] = []
    first = await service.submit(THING, _report(a=1), "mqtt")  # will be version 2
    named = await service.submit(
        THING, shadow.parse_update({"state": {"reported": {"a": 2}}, "version": 2}), "mqtt"
    )
    stale = await service.submit(
        THING, shadow.parse_update({"state": {"reported": {"a": 3}}, "version": 1}), "mqtt"
    )
    for name, future in (("first", first), ("named", named), ("stale", stale)):
        future.add_done_callback(functools.partial(lambda name, _: order.append(name), name))
    assert (await first).current.version == 2 and (await named).current.version == 3
    with pytest.raises(VersionConflict):
        await stale
    await asyncio.sleep(0)  # the done callbacks, scheduled in the order the futures resolved
    assert order == ["first", "named", "stale"]
    assert store.rows[("t1", 7)].state == {"reported": {"a": 2}}
    # With nothing queued, a conflict is raised at once (judged on what the store holds).
    with pytest.raises(VersionConflict):
        await service.submit(THING, shadow.parse_update({"state": {"reported": {}}, "version": 1}), "mqtt")


async def test_a_lost_compare_and_set_merges_the_queued_updates_anew() -> None:
    store = FakeShadowStore()
    service = ShadowService(store)
    await service.update(THING, _report(a=1), "mqtt")
    store.interfere[("t1", 7)] = Shadow({"reported": {"a": 1, "z": 9}}, {}, 5, 0, True)
    futures = [await service.submit(THING, _report(**{f"k{i}": i}), "mqtt") for i in range(3)]
    results = await asyncio.gather(*futures)
    assert [r.current.version for r in results] == [6, 7, 8]
    assert store.rows[("t1", 7)].state["reported"] == {"a": 1, "z": 9, "k0": 0, "k1": 1, "k2": 2}


async def test_a_failed_write_is_not_answered_and_later_updates_start_from_the_store() -> None:
    class Failing(FakeShadowStore):
        fail = False

        async def put_many(self, writes: Sequence[ShadowWrite]) -> list[Outcome]:
            if self.fail:
                self.fail = False
                raise OSError("disk gone")
            return await super().put_many(writes)

    store = Failing()
    service = ShadowService(store)
    await service.update(THING, _report(a=1), "mqtt")
    store.fail = True
    lost = await service.submit(THING, _report(b=1), "mqtt")
    with pytest.raises(OSError):
        await lost
    kept = await service.update(THING, _report(c=1), "mqtt")
    assert kept.current.version == 2 and kept.current.state == {"reported": {"a": 1, "c": 1}}
    assert store.rows[("t1", 7)] == kept.current


async def test_updates_of_a_thing_whose_object_is_gone_fail_not_found() -> None:
    store = FakeShadowStore()
    service = ShadowService(store)
    await service.update(THING, _report(a=1), "mqtt")
    store.gone.add(("t1", 7))
    with pytest.raises(NotFound):
        await service.update(THING, _report(a=2), "mqtt")


async def test_get_and_delete_come_after_the_updates_queued_before_them() -> None:
    store = FakeShadowStore()
    service = ShadowService(store)
    await service.update(THING, _report(a=1), "mqtt")
    queued = [await service.submit(THING, _report(a=i), "mqtt") for i in range(2, 5)]
    document = await service.get(THING)
    assert document["version"] == 4 and all(f.done() for f in queued)
    after = await service.submit(THING, _report(a=5), "mqtt")
    answer = await service.delete(THING, 5, None, "http")
    assert after.done() and answer["version"] == 5
    assert (await service.update(THING, _report(b=1), "mqtt")).current.version == 6
