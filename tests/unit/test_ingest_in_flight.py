"""The ingest batcher with more than one write in flight (PostgreSQL, adapters/smartrest/ingest.py): a second
write starts only once `max_rows // max_in_flight` rows wait, never more than `max_in_flight` run at once,
and each message is acknowledged by the commit of its own write, whichever finishes first."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any, cast

import pytest

from tether.adapters.smartrest.ingest import IngestBatcher
from tether.core.processing import ProcessingMode
from tether.telemetry.measurements import IngestRow, MeasurementService, SourceGrant

pytestmark = pytest.mark.anyio


class HeldWrites:
    """MeasurementService.ingest whose writes each wait until the test lets them commit."""

    def __init__(self) -> None:
        self.writes: list[list[IngestRow]] = []
        self.gates: list[asyncio.Event] = []
        self.running = 0
        self.most_running = 0

    async def ingest(self, rows: Sequence[IngestRow], mode: ProcessingMode) -> None:
        gate = asyncio.Event()
        self.writes.append(list(rows))
        self.gates.append(gate)
        self.running += 1
        self.most_running = max(self.most_running, self.running)
        try:
            await gate.wait()
        finally:
            self.running -= 1


def rows(count: int, start: int = 0) -> list[IngestRow]:
    grant = SourceGrant("t1", 1, object())
    return [(grant, "c8y_T", start + i, {"c8y_T": {"T": {"value": i}}}) for i in range(count)]


async def turns(count: int = 3) -> None:
    for _ in range(count):
        await asyncio.sleep(0)


async def test_a_second_write_waits_for_enough_rows_and_acknowledges_on_its_own_commit() -> None:
    store = HeldWrites()
    batcher = IngestBatcher(cast(MeasurementService, cast(Any, store)), max_rows=10, max_in_flight=2)
    first = batcher.add(rows(3))
    await turns()
    assert [len(w) for w in store.writes] == [3]  # nothing in flight: written at once

    small = batcher.add(rows(4, 10))
    await turns()
    assert [len(w) for w in store.writes] == [3]  # 4 < 10 // 2 rows wait: no second write yet

    more = batcher.add(rows(2, 20))
    await turns()
    assert [len(w) for w in store.writes] == [3, 6]  # 6 >= 5: a second write while the first runs

    extra = batcher.add(rows(9, 30))
    await turns()
    assert len(store.writes) == 2 and store.running == 2  # never more than two at once

    store.gates[1].set()  # the second commits first: its messages are acknowledged, the first's are not
    await turns()
    assert small.done() and more.done() and not first.done()
    assert [len(w) for w in store.writes] == [3, 6, 9]  # the freed place takes the 9 waiting rows

    store.gates[0].set()
    store.gates[2].set()
    await batcher.drain()
    assert first.done() and extra.done()
    assert [f.result() for f in (first, small, more, extra)] == [None] * 4
    assert store.most_running == 2
    assert batcher.rows_written == 18 and batcher.writes == 3


async def test_one_in_flight_keeps_one_write_at_a_time() -> None:
    store = HeldWrites()
    batcher = IngestBatcher(cast(MeasurementService, cast(Any, store)), max_rows=10)
    futures = [batcher.add(rows(1, i)) for i in range(3)]
    await turns()
    futures += [batcher.add(rows(6, 100)), batcher.add(rows(6, 200))]
    await turns()
    assert [len(w) for w in store.writes] == [3] and store.running == 1
    store.gates[0].set()
    await turns()
    assert [len(w) for w in store.writes] == [3, 6]
    store.gates[1].set()
    await turns()
    store.gates[2].set()
    await batcher.drain()
    assert [len(w) for w in store.writes] == [3, 6, 6] and store.most_running == 1
    assert all(f.done() and f.result() is None for f in futures)
