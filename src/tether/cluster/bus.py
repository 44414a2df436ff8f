"""The NATS connection every cluster part shares (nats-py).

Subjects are under ``tether.``; a part names its own (``tether.node.*`` for membership, ...). Handlers are
coroutines; nats-py runs the handlers of one subscription one after another, in the order the messages
arrived, so what one node posts on one subject reaches another in order. :meth:`ClusterBus.post` is for
the synchronous paths (the broker's routing): it keeps the order of the calls and never blocks the caller.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Awaitable, Callable

import nats
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.errors import Error as NatsError
from nats.errors import NoServersError

__all__ = ["ClusterBus", "ClusterUnavailable", "Msg", "undo_all"]

log = logging.getLogger("tether.cluster")

Handler = Callable[[Msg], Awaitable[None]]

#: Seconds a starting node tries to reach NATS before it gives up (a compose file may start NATS last).
CONNECT_WAIT = 5.0


class ClusterUnavailable(Exception):
    """NATS cannot be reached at start (one line for the operator)."""


class ClusterBus:
    """One NATS connection: reconnects for ever once it was up; what is posted meanwhile waits in nats-py's
    pending buffer (see ``pending_size``)."""

    def __init__(self, url: str, node: str) -> None:
        self.url = url
        self.node = node
        self._nc: Client | None = None
        self._outbox: deque[tuple[str, bytes]] = deque()
        self._wakeup = asyncio.Event()
        self._drained = asyncio.Event()
        self._writer: asyncio.Task[None] | None = None
        self._closing = False
        #: Called (synchronously) when the connection is lost and when it is back.
        self.on_disconnected: list[Callable[[], None]] = []
        self.on_reconnected: list[Callable[[], None]] = []

    @property
    def connected(self) -> bool:
        return self._nc is not None and self._nc.is_connected

    async def connect(self) -> None:
        async def disconnected() -> None:
            if self._closing:
                return
            log.warning("cluster: lost the connection to NATS %s", self.url)
            for callback in self.on_disconnected:
                callback()

        async def reconnected() -> None:
            log.warning("cluster: connected to NATS again")
            for callback in self.on_reconnected:
                callback()

        async def error(exc: Exception) -> None:
            log.debug("cluster: NATS error: %s", exc)

        try:
            self._nc = await asyncio.wait_for(
                nats.connect(
                    self.url,
                    name=self.node,
                    allow_reconnect=True,
                    max_reconnect_attempts=-1,
                    reconnect_time_wait=0.5,
                    connect_timeout=2,
                    ping_interval=5,
                    max_outstanding_pings=3,
                    disconnected_cb=disconnected,
                    reconnected_cb=reconnected,
                    error_cb=error,
                    pending_size=64 * 1024 * 1024,
                ),
                CONNECT_WAIT,
            )
        except (NoServersError, OSError, TimeoutError, NatsError) as exc:
            raise ClusterUnavailable(f"cannot reach NATS at {self.url}: {exc or type(exc).__name__}") from exc
        self._writer = asyncio.create_task(self._write(), name="cluster-bus-writer")

    @property
    def client(self) -> Client:
        if self._nc is None:
            raise RuntimeError("the cluster bus is not connected")
        return self._nc

    async def publish(self, subject: str, data: bytes) -> None:
        await self.client.publish(subject, data)

    def post(self, subject: str, data: bytes) -> None:
        """Publish without waiting, in the order of the calls (from synchronous code)."""
        self._outbox.append((subject, data))
        self._wakeup.set()

    async def _write(self) -> None:
        outbox = self._outbox
        while True:
            await self._wakeup.wait()
            self._wakeup.clear()
            while outbox:
                subject, data = outbox.popleft()
                try:
                    await self.client.publish(subject, data)
                except NatsError as exc:  # closed while stopping, or the buffer is full
                    log.warning("cluster: dropped a message on %s: %s", subject, exc)
            self._drained.set()

    async def subscribe(
        self, subject: str, handler: Handler, queue: str = ""
    ) -> Callable[[], Awaitable[None]]:
        """Call `handler` for every message on `subject` (with `queue`, one member of the queue group gets
        each); returns the coroutine function that unsubscribes."""

        async def guarded(msg: Msg) -> None:
            try:
                await handler(msg)
            except Exception:  # one bad message must not stop the subscription
                log.exception("cluster: handler of %s failed", msg.subject)

        subscription = await self.client.subscribe(subject, queue=queue, cb=guarded)
        return subscription.unsubscribe

    async def request(self, subject: str, data: bytes, wait: float = 2.0) -> bytes:
        """One answer to `data` from a subscriber of `subject` within `wait` seconds
        (nats.errors.TimeoutError or NoRespondersError otherwise)."""
        reply = await self.client.request(subject, data, timeout=wait)
        return reply.data

    async def flush(self) -> None:
        """Until what was posted and published is on its way to NATS."""
        if self._outbox:
            self._drained.clear()
            self._wakeup.set()
            await self._drained.wait()
        await self.client.flush()

    async def close(self) -> None:
        if self._nc is None:
            return
        self._closing = True
        with contextlib.suppress(TimeoutError, NatsError):
            await asyncio.wait_for(self.flush(), 2)
        if self._writer is not None:
            self._writer.cancel()
        nc, self._nc = self._nc, None
        await nc.close()


async def undo_all(undo: list[Callable[[], object]], part: str) -> None:
    """Run what a cluster part registered to detach itself (NATS unsubscriptions, listeners), last first,
    and forget it; a failure (the connection may be closing) does not stop the rest."""
    for step in reversed(undo):
        try:
            result = step()
            if asyncio.iscoroutine(result):
                await result
        except Exception:
            log.debug("cluster %s: detaching failed", part, exc_info=True)
    undo.clear()
