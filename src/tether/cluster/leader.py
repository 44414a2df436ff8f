"""One leader among the live nodes, for what must run once in the whole cluster (docs/cluster.md, "What runs
once (the leader)").

The leader is the node that holds the PostgreSQL session advisory lock ``tether.leader`` on a connection of
its own (``Database.try_hold``). The server releases the lock when that session ends, so a leader that dies
(kill -9, a lost machine) or loses its database connection frees it at once; every other node tries to
take it every ``retry`` seconds. The leader checks its connection as often, and steps down when it no
longer answers (another node may then take the lock: for at most one ``retry`` two nodes may both believe
they lead, which is why the duties also keep their own compare-and-set where a double run would show).

Duties (:class:`Duty`) are started when this node becomes the leader and stopped when it stops being it;
``node_down`` tells the leader's duties about a node that left or fell silent (its open connections, its
command timers). The leader advertises ``leader`` in its heartbeats (GET /api/v5/nodes).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Protocol

from .membership import NodeInfo
from .node import ClusterNode

__all__ = ["Duty", "Leadership"]

log = logging.getLogger("tether.cluster")

LOCK = "tether.leader"
#: Advertised in the heartbeats of the leader (NodeInfo.info).
ADVERTISED = "leader"

Step = Callable[[], Awaitable[None] | None]


class HeldLock(Protocol):
    async def check(self) -> bool: ...
    async def release(self) -> None: ...


class Locks(Protocol):
    """The shared database's session locks (storage.sql.database.Database.try_hold)."""

    async def try_hold(self, name: str) -> HeldLock | None: ...


async def _run(step: Step | None) -> None:
    if step is None:
        return
    result = step()
    if result is not None:
        await result


@dataclass
class Duty:
    """What runs on the leader only: `start` when this node becomes it, `stop` when it no longer is,
    `node_down(name)` (optional) when another node left or died while this one leads."""

    name: str
    start: Step
    stop: Step
    node_down: Callable[[str], Awaitable[None]] | None = field(default=None)


class Leadership:
    def __init__(self, node: ClusterNode, database: Locks, retry: float = 1.0) -> None:
        self.node = node
        self.database = database
        self.retry = retry
        self.duties: list[Duty] = []
        self.is_leader = False
        self.changes = 0  # times this node became the leader
        self._held: HeldLock | None = None
        self._task: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    def add(self, duty: Duty) -> None:
        """A duty more (started at once if this node leads)."""
        self.duties.append(duty)
        if self.is_leader:
            self._spawn(self._start(duty))

    def remove(self, duty: Duty) -> None:
        """Forget a duty (stopped if this node leads)."""
        if duty in self.duties:
            self.duties.remove(duty)
            if self.is_leader:
                self._spawn(self._stop(duty))

    async def start(self) -> None:
        self.node.membership.on_down.append(self._node_down)
        self._task = asyncio.create_task(self._loop(), name="cluster-leader")

    async def close(self) -> None:
        with contextlib.suppress(ValueError):
            self.node.membership.on_down.remove(self._node_down)
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self._step_down()

    async def _loop(self) -> None:
        while True:
            try:
                if self._held is None:
                    held = await self.database.try_hold(LOCK)
                    if held is not None:
                        self._held = held
                        await self._lead()
                elif not await self._held.check():
                    log.warning("cluster: %s lost its database session: no longer the leader", self.node.name)
                    await self._step_down()
            except Exception:  # the database is away: try again
                log.exception("cluster: leader election failed (tried again in %s s)", self.retry)
            await asyncio.sleep(self.retry)

    async def _lead(self) -> None:
        self.is_leader = True
        self.changes += 1
        log.warning("cluster: %s is the leader", self.node.name)
        self.node.advertise(**{ADVERTISED: "true"})
        for duty in list(self.duties):
            await self._start(duty)

    async def _start(self, duty: Duty) -> None:
        try:
            await _run(duty.start)
        except Exception:
            log.exception("cluster: the leader's duty %s did not start", duty.name)

    async def _stop(self, duty: Duty) -> None:
        try:
            await _run(duty.stop)
        except Exception:
            log.exception("cluster: the leader's duty %s did not stop", duty.name)

    def _spawn(self, work: Awaitable[None]) -> None:
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _step_down(self) -> None:
        held, self._held = self._held, None
        if self.is_leader:
            self.is_leader = False
            self.node.advertise(**{ADVERTISED: ""})
            for duty in reversed(self.duties):
                await self._stop(duty)
        if held is not None:
            await held.release()

    def _node_down(self, node: NodeInfo, clean: bool) -> None:
        if not self.is_leader:
            return
        for duty in self.duties:
            if duty.node_down is not None:
                self._spawn(self._tell(duty, node.name))

    async def _tell(self, duty: Duty, name: str) -> None:
        assert duty.node_down is not None
        try:
            await duty.node_down(name)
        except Exception:
            log.exception("cluster: the leader's duty %s failed for node %s", duty.name, name)
