"""A connector at run time (its client, its status with the reason in words) and an action's runner: a
bounded buffer of outputs (bytes counted as EMQX's `max_buffer_bytes`), one task that sends them in batches
and in order, retries while the server is unavailable (backoff 0.2 s doubling to 5 s), and counts what
happened in EMQX's action metric names. A sink that is down holds only its own buffer: the rule engine
offers an output and returns at once. State changes are logged once, not each output."""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from collections import deque
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from tether.rules.connector_service import LoadedAction
from tether.rules.connectors import Connector, duration_ms, size_bytes

from .base import SinkClient, SinkUnavailable, reason_of
from .queue import Item, OutputQueue

__all__ = ["ActionMetrics", "ActionRunner", "ConnectorRuntime"]

log = logging.getLogger(__name__)

CONNECTED, CONNECTING, DISCONNECTED = "connected", "connecting", "disconnected"
_MAX_BACKOFF = 5.0
#: The most workers (batches in flight) an action runs, whatever its `worker_pool_size`.
MAX_WORKERS = 64


@dataclass(slots=True)
class ActionMetrics:
    """An action's counters (GET /actions/{id}/metrics), in memory like the rules'."""

    matched: int = 0
    success: int = 0
    failed: int = 0
    dropped_queue_full: int = 0
    dropped_expired: int = 0
    dropped_stopped: int = 0
    retried: int = 0

    def reset(self) -> None:
        for f in fields(self):
            setattr(self, f.name, 0)

    def render(self, queuing: int, inflight: int) -> dict[str, Any]:
        dropped = self.dropped_queue_full + self.dropped_expired + self.dropped_stopped
        return {
            "matched": self.matched,
            "success": self.success,
            "failed": self.failed,
            "dropped": dropped,
            "dropped.queue_full": self.dropped_queue_full,
            "dropped.expired": self.dropped_expired,
            "dropped.resource_stopped": self.dropped_stopped,
            "queuing": queuing,
            "inflight": inflight,
            "retried": self.retried,
            "received": 0,
        }


class ConnectorRuntime:
    """A connector's client and status; the status is what its last use or health check found."""

    def __init__(self, connector: Connector, client: SinkClient) -> None:
        self.connector = connector
        self.client = client
        self.status = CONNECTING if connector.enable else DISCONNECTED
        self.reason = "" if connector.enable else "the connector is disabled"
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self.connector.enable:
            self._task = asyncio.get_running_loop().create_task(
                self._health(), name=f"sink-{self.connector.id}"
            )

    async def _health(self) -> None:
        opts = self.connector.config.get("resource_opts", {})
        interval = duration_ms(opts.get("health_check_interval", "15s"), "", "") or 15_000
        while True:
            await self.check()
            await asyncio.sleep(interval / 1000 if self.status == CONNECTED else min(interval / 1000, 5.0))

    async def check(self) -> None:
        try:
            await asyncio.wait_for(self.client.check(), 20)
        except SinkUnavailable as exc:
            self.report(exc.reason)
        except Exception as exc:  # the client failed in a way it did not foresee: still a down server
            self.report(reason_of(exc))
        else:
            self.report(None)

    def report(self, problem: str | None) -> None:
        """What a use found: None, the server worked; else why it did not. Logged when the state changes."""
        tenant, name = self.connector.tenant_id, self.connector.id
        if problem is None:
            if self.status != CONNECTED:
                log.info("sink %s of tenant %s: connected", name, tenant)
            self.status, self.reason = CONNECTED, ""
        else:
            if self.status != DISCONNECTED or self.reason != problem:
                log.warning("sink %s of tenant %s: disconnected: %s", name, tenant, problem)
            self.status, self.reason = DISCONNECTED, problem

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            self._task = None
        try:
            await asyncio.wait_for(self.client.close(), 10)
        except Exception as exc:  # closing a client of a server that is gone
            log.debug("closing sink %s: %s", self.connector.id, exc)


class _Worker:
    """One of an action's workers: the outputs handed to it (keys that hash to it), sent a batch at a time."""

    __slots__ = ("inflight", "items", "task", "wake")

    def __init__(self) -> None:
        self.items: deque[tuple[int, Item]] = deque()  # (order of arrival, item)
        self.inflight = 0
        self.wake = asyncio.Event()
        self.task: asyncio.Task[None] | None = None


class ActionRunner:
    """EMQX's buffer workers: one buffer (bounded, spilled as configured) and `worker_pool_size` workers with
    a batch in flight each. The outputs of one key (the publisher's clientid) always go to the same worker,
    which sends them in order and retries its batch while the server is unavailable: order is kept per
    client, and the batches of different clients are sent at once (one transaction, one round trip each)."""

    def __init__(
        self,
        loaded: LoadedAction,
        connector: ConnectorRuntime | None,
        metrics: ActionMetrics,
        pending: OutputQueue | None = None,
        spill_dir: Path | None = None,
    ) -> None:
        self.loaded = loaded
        self.connector = connector
        self.metrics = metrics
        action = loaded.action
        opts = action.resource_opts
        self.batch_size: int = opts["batch_size"]
        self.max_bytes = size_bytes(opts["max_buffer_bytes"], "max_buffer_bytes", "actions")
        segment = size_bytes(opts.get("buffer_seg_bytes", "10MB"), "buffer_seg_bytes", "actions")
        spill = None
        if opts.get("buffer_mode") == "volatile_offload" and spill_dir is not None:
            spill = spill_dir / action.tenant_id / f"{action.type}_{action.name}.buf"
        ttl = duration_ms(opts["request_ttl"], "request_ttl", "actions")
        self.ttl = None if ttl is None else ttl / 1000
        if pending is None:
            pending = OutputQueue(self.max_bytes, spill, segment)
        else:
            pending.configure(self.max_bytes, spill, segment)
        self.buffer = pending
        count = min(MAX_WORKERS, max(1, int(opts.get("worker_pool_size", 1))))
        self.workers = [_Worker() for _ in range(count)]
        self.held = 0  # bytes of the outputs handed to workers and not done yet
        self._arrival = 0
        self._full = False
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._last_error = ""

    @property
    def running(self) -> bool:
        c = self.connector
        return self.loaded.action.enable and c is not None and c.connector.enable

    @property
    def inflight(self) -> int:
        """Outputs being sent now."""
        return sum(w.inflight for w in self.workers)

    @property
    def queuing(self) -> int:
        """Outputs waiting (in the buffer, memory or spilled, or at a worker), not being sent."""
        return len(self.buffer) + sum(len(w.items) - w.inflight for w in self.workers)

    def start(self) -> None:
        if self.connector is None:  # nothing to send to: offer() drops (the service refuses this case)
            return
        loop = asyncio.get_running_loop()
        name = f"action-{self.loaded.action.id}"
        self._task = loop.create_task(self._dispatch(), name=name)
        for i, worker in enumerate(self.workers):
            worker.task = loop.create_task(self._work(worker), name=f"{name}-{i}")
        if self.buffer:
            self._wake.set()

    def stop(self) -> OutputQueue:
        """Stop sending; the outputs still waiting (for the runner that replaces this one), in order: those
        the workers held (a batch being sent is sent again) back in front of the buffer."""
        if self._task is not None:
            self._task.cancel()
            self._task = None
        held: list[tuple[int, Item]] = []
        for worker in self.workers:
            if worker.task is not None:
                worker.task.cancel()
                worker.task = None
            held.extend(worker.items)
            worker.items.clear()
            worker.inflight = 0
        held.sort(key=lambda pair: pair[0])
        self.buffer.unshift([item for _, item in held])
        self.held = 0
        return self.buffer

    def offer(self, output: dict[str, Any], key: object = None) -> bool:
        """Put an output in the buffer; False when it is dropped (action stopped, buffer full). `key`: whose
        order to keep (the publisher's clientid); outputs without one are all sent by one worker."""
        metrics = self.metrics
        metrics.matched += 1
        if not self.running:
            metrics.dropped_stopped += 1
            return False
        if type(key) is not str:  # (a clientid is text; anything else, unhashable maybe, goes to one worker)
            key = None
        if not self.buffer.put(output, key, self.held):
            metrics.dropped_queue_full += 1
            if not self._full:
                self._full = True
                log.warning(
                    "action %s of tenant %s: buffer full (%d bytes): outputs are dropped",
                    self.loaded.action.id,
                    self.loaded.action.tenant_id,
                    self.max_bytes,
                )
            return False
        if not self._wake.is_set():
            self._wake.set()
        return True

    # ------------------------------------------------------------------------------------------ dispatch

    async def _dispatch(self) -> None:
        """Hand the buffer's outputs, in order, to the workers of their keys, each up to two batches ahead; a
        worker that is full (its server slow or down) holds the ones behind (their order is the buffer's)."""
        buffer, wake = self.buffer, self._wake
        while True:
            if not buffer.memory and len(buffer):
                await buffer.refill()
                continue
            self._expire()
            if not self._hand_out():
                wake.clear()
                await wake.wait()

    def _hand_out(self) -> bool:
        """Whether an output was handed out."""
        buffer, workers = self.buffer, self.workers
        count, limit = len(workers), 2 * self.batch_size
        memory = buffer.memory
        moved = False
        while memory:
            key = memory[0][3]
            worker = workers[hash(key) % count] if count > 1 else workers[0]
            if len(worker.items) >= limit:
                break
            item = buffer.popleft()
            self._arrival += 1
            worker.items.append((self._arrival, item))
            self.held += item[2]
            if not worker.wake.is_set():
                worker.wake.set()
            moved = True
        return moved or (not memory and bool(len(buffer)))

    def _expire(self) -> None:
        if self.ttl is None:
            return
        self.metrics.dropped_expired += self.buffer.expire(time.monotonic() - self.ttl)

    # ------------------------------------------------------------------------------------------ send

    async def _work(self, worker: _Worker) -> None:
        backoff = 0.0
        items, wake, metrics = worker.items, worker.wake, self.metrics
        connector = self.connector
        assert connector is not None
        while True:
            if not items:
                wake.clear()
                await wake.wait()
                continue
            if self.ttl is not None:
                self._expire_worker(worker, time.monotonic() - self.ttl)
                if not items:
                    continue
            batch = [pair[1][1] for pair in itertools.islice(items, self.batch_size)]
            worker.inflight = len(batch)
            try:
                outcomes = await connector.client.send(self.loaded.template, batch)
            except SinkUnavailable as exc:
                worker.inflight = 0
                self._count(worker, exc.done)
                connector.report(exc.reason)
                metrics.retried += len(batch) - len(exc.done)
                backoff = min(_MAX_BACKOFF, backoff * 2 or 0.2)
                await asyncio.sleep(backoff)
                continue
            except Exception as exc:  # a client bug: fail the batch rather than retry it forever
                log.exception(
                    "action %s of tenant %s failed", self.loaded.action.id, self.loaded.action.tenant_id
                )
                outcomes = [reason_of(exc)] * len(batch)
            finally:
                worker.inflight = 0
            backoff = 0.0
            connector.report(None)
            self._count(worker, outcomes)

    def _expire_worker(self, worker: _Worker, limit: float) -> None:
        items = worker.items
        expired = 0
        while items and items[0][1][0] < limit:
            self._release(items.popleft()[1][2])
            expired += 1
        self.metrics.dropped_expired += expired

    def _release(self, size: int) -> None:
        self.held -= size
        if self._full and self.buffer.bytes + self.held < self.max_bytes // 2:
            self._full = False
            log.info(
                "action %s of tenant %s: buffer below half, accepting outputs again",
                self.loaded.action.id,
                self.loaded.action.tenant_id,
            )
        if not self._wake.is_set():  # room at this worker: the dispatcher may hand out more
            self._wake.set()

    def _count(self, worker: _Worker, outcomes: list[str | None]) -> None:
        items = worker.items
        size = 0
        for _ in range(len(outcomes)):
            size += items.popleft()[1][2]
        if outcomes:
            self._release(size)
        for outcome in outcomes:
            if outcome is None:
                self.metrics.success += 1
            else:
                self.metrics.failed += 1
                if outcome != self._last_error:  # the same refusal again is counted, not logged again
                    self._last_error = outcome
                    log.warning(
                        "action %s of tenant %s: an output was refused: %s",
                        self.loaded.action.id,
                        self.loaded.action.tenant_id,
                        outcome,
                    )
