"""The ingest batcher: measurements of many messages (of many connections) stored with one write.

A message's measurements are added with the future that holds its acknowledgement. Whatever arrives in one
event-loop turn, and whatever arrives while a write is in flight, goes into the next write: under load one
`MeasurementService.create_many` call (one INSERT, one commit) stores thousands of messages, and every
message's future is resolved by the commit that made it durable (bench/README.md, smartrest_ingest.py). A
write holds at most `max_rows` rows. SQLite: one write is in flight at a time, so that other writers (an
operation created over REST) find at most one such write ahead of them in the database's queue (a 500-row
write is a few milliseconds in the driver's thread; more in flight added operation latency, not throughput:
bench/smartrest_ingest.py). PostgreSQL (`max_in_flight` > 1, writes on connections of their own): while a
write is in flight another starts once `max_rows // max_in_flight` rows wait, so that the event loop parses
the next batch while PostgreSQL stores the last instead of waiting for it (bench/README.md, Issue 20).
Acknowledgements stay in each connection's order (broker/qos.py); rows of writes in flight together may
get their ids in either write's order.

A batch refused because one of its sources was deleted meanwhile is split by source and written again,
so the other devices' data is stored; the messages of the deleted source fail alone.

One bad message never fails another's (docs/security.md, Poison input): rows are checked before they are added
(telemetry.measurements.ingest_row), and a write that fails all the same is retried row by row, so that
only the bad row's message fails (`on_rejected`, or the message's own `rejected` answer: SmartREST 45 on
s/e, JSON via MQTT its error topic; MQTT 5 0x99, MQTT 3.1.1 acknowledged). A failure of the store itself (not
a refused row: the database is unreachable) is not split further: those messages fail unacknowledged,
so that their senders send them again.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any

from tether.c8y import errors as wording
from tether.core.errors import DomainError, NotFound
from tether.core.processing import ProcessingMode
from tether.mqtt.reason_codes import ReasonCode
from tether.telemetry.measurements import IngestRow, MeasurementService

__all__ = ["IngestBatcher"]

log = logging.getLogger("tether.smartrest")

#: on_gone(owner, text): a message's source no longer exists; reports it to the message's owner (its
#: connection) and returns the acknowledgement's result.
OnGone = Callable[[Any, str], "ReasonCode | None"]
#: rejected(text): a row of the message was refused by the store; answers its sender, returns the result.
Rejected = Callable[[str], "ReasonCode | None"]


class _Item:
    __slots__ = ("entries", "future", "mode", "owner", "rejected")

    def __init__(
        self,
        entries: Sequence[IngestRow],
        mode: ProcessingMode,
        future: asyncio.Future[ReasonCode | None],
        owner: Any,
        rejected: Rejected | None,
    ) -> None:
        self.entries = entries
        self.mode = mode
        self.future = future
        self.owner = owner
        self.rejected = rejected


class IngestBatcher:
    def __init__(
        self,
        measurements: MeasurementService,
        *,
        on_gone: OnGone | None = None,
        on_rejected: OnGone | None = None,
        max_rows: int = 500,
        max_in_flight: int = 1,
        loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        self._measurements = measurements
        self._on_gone = on_gone
        self._on_rejected = on_rejected
        self._max_rows = max_rows
        self._max_in_flight = max_in_flight
        self._loop = loop
        self._pending: deque[_Item] = deque()
        self._pending_rows = 0
        self._scheduled = False
        self._in_flight = 0
        self._tasks: set[asyncio.Task[None]] = set()
        #: Counters for monitoring and the benchmark.
        self.rows_written = 0
        self.writes = 0

    def add(
        self,
        entries: Sequence[IngestRow],
        mode: ProcessingMode = ProcessingMode.PERSISTENT,
        owner: Any = None,
        rejected: Rejected | None = None,
    ) -> asyncio.Future[ReasonCode | None]:
        """Queue one message's measurements (checked rows: telemetry.measurements.ingest_row); the future
        resolves (None) once they are durably stored. `owner` (the connection) is what on_gone and
        on_rejected hear about; `rejected`, when given, answers a refused row instead of on_rejected."""
        loop = self._loop
        if loop is None:
            loop = self._loop = asyncio.get_running_loop()
        future: asyncio.Future[ReasonCode | None] = loop.create_future()
        if not entries:
            future.set_result(None)
            return future
        self._pending.append(_Item(entries, mode, future, owner, rejected))
        self._pending_rows += len(entries)
        if not self._scheduled and self._may_start():
            # At the end of this loop turn: the other messages read in this turn join the write.
            self._scheduled = True
            loop.call_soon(self._flush)
        return future

    def _flush(self) -> None:
        self._scheduled = False
        while self._pending and self._may_start():
            batch = self._take()
            self._in_flight += 1
            task = asyncio.ensure_future(self._write(batch))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    def _may_start(self) -> bool:
        """Whether a write may start now: none is in flight, or fewer than allowed and enough rows wait
        (while one is in flight the next waits for it or for `max_rows // max_in_flight` rows)."""
        in_flight = self._in_flight
        return not in_flight or (
            in_flight < self._max_in_flight and self._pending_rows >= self._max_rows // self._max_in_flight
        )

    def _take(self) -> list[_Item]:
        """Whole messages, up to max_rows rows (at least one message)."""
        pending = self._pending
        batch = [pending.popleft()]
        rows = len(batch[0].entries)
        while pending and rows + len(pending[0].entries) <= self._max_rows:
            item = pending.popleft()
            rows += len(item.entries)
            batch.append(item)
        self._pending_rows -= rows
        return batch

    async def _write(self, batch: list[_Item]) -> None:
        try:
            by_mode: dict[ProcessingMode, list[_Item]] = {}
            for item in batch:
                by_mode.setdefault(item.mode, []).append(item)
            for mode, items in by_mode.items():
                await self._store(items, mode)
        finally:
            self._in_flight -= 1
            if self._pending and not self._scheduled:
                self._flush()

    async def _store(self, items: list[_Item], mode: ProcessingMode) -> None:
        entries = [entry for item in items for entry in item.entries]
        try:
            await self._measurements.ingest(entries, mode)
        except NotFound:
            if len({row[0].source_id for row in entries}) > 1:
                await self._store_by_source(items, mode)
                return
            for item in items:
                self._gone(item, "The device no longer exists")
            return
        except Exception as exc:
            if isinstance(exc, DomainError) or len(entries) > 1:
                log.warning(
                    "a write of %d measurements failed (%s); storing them one by one", len(entries), exc
                )
                await self._store_rows(items, mode)
                return
            self._fail(items, exc)
            return
        self.writes += 1
        self.rows_written += len(entries)
        for item in items:
            if not item.future.done():
                item.future.set_result(None)

    async def _store_rows(self, items: list[_Item], mode: ProcessingMode) -> None:
        """Each row alone, so that only a bad row fails: its message is answered as rejected, the others'
        rows are stored and acknowledged. A failure that is not about the row's content (the store is
        down) ends the retries: that message and the rest fail unacknowledged, to be sent again."""
        store = self._measurements.ingest
        for index, item in enumerate(items):
            problem: str | None = None
            gone = False
            for row in item.entries:
                try:
                    await store([row], mode)
                except NotFound:
                    gone = True
                except DomainError as exc:
                    problem = wording.message(exc)
                except Exception as exc:
                    log.error("storing measurements failed: %s", exc)
                    self._fail(items[index:], exc)
                    return
                else:
                    self.writes += 1
                    self.rows_written += 1
            if gone:
                self._gone(item, "The device no longer exists")
            elif problem is not None:
                self._reject(item, problem)
            elif not item.future.done():
                item.future.set_result(None)

    def _fail(self, items: list[_Item], exc: BaseException) -> None:
        log.error("storing measurements of %d messages failed: %s", len(items), exc)
        for item in items:
            if not item.future.done():
                item.future.set_exception(exc)

    def _reject(self, item: _Item, text: str) -> None:
        if item.future.done():
            return
        log.info("measurement of %s refused by the store: %s", item.owner, text)
        if item.rejected is not None:
            result = item.rejected(text)
        elif self._on_rejected is not None:
            result = self._on_rejected(item.owner, text)
        else:
            result = ReasonCode.PAYLOAD_FORMAT_INVALID
        item.future.set_result(result)

    async def _store_by_source(self, items: list[_Item], mode: ProcessingMode) -> None:
        groups: dict[Any, list[_Item]] = {}
        for item in items:
            key = frozenset(row[0].source_id for row in item.entries)
            groups.setdefault(key, []).append(item)
        if len(groups) == 1:  # one message's own sources: it cannot be split further
            for item in items:
                self._gone(item, "The device no longer exists")
            return
        for group in groups.values():
            await self._store(group, mode)

    def _gone(self, item: _Item, text: str) -> None:
        if item.future.done():
            return
        on_gone = self._on_gone
        result = on_gone(item.owner, text) if on_gone is not None else ReasonCode.UNSPECIFIED_ERROR
        item.future.set_result(result)

    async def drain(self) -> None:
        """Wait until everything queued so far is written (for shutdown and tests)."""
        while self._pending or self._tasks:
            if self._pending and not self._scheduled:
                self._flush()
            if self._tasks:
                await asyncio.gather(*list(self._tasks), return_exceptions=True)
            else:
                await asyncio.sleep(0)
