"""Write-behind persistence of sessions and retained messages through a :class:`BrokerStore`.

The broker tells :class:`Persistence` what changed through the events of
:class:`~tether.broker.ports.StateSink` (a persistent session went offline, got a QoS 1/2 message in its
window or queue, a subscription, an acknowledgement from its client; a retained topic changed; a session
ended), and :meth:`Persistence.checkpoint` saves those in one batch, reading the live sessions and retained
messages from the :class:`SessionRegistry` and the :class:`RetainedStore`: every ``persist_interval``
seconds, at once when someone waits for durability (:meth:`Persistence.commit_soon`), and at shutdown (then
every persistent session). The PUBACK/PUBREC of a message that went into a persistent session or the
retained store, and the SUBACK/UNSUBACK of a persistent session, wait for such a commit; every
acknowledgement waiting meanwhile shares the next one (group commit). What clients acknowledge is saved
write-behind (until then a restart may send such a message again). At start, :meth:`Persistence.restore`
loads the stored state and returns it as live objects (:class:`Restored`) for the broker to install.

A checkpoint saves only what changed since the last one: for each session it remembers which deliveries the
store holds (by their ``seq``) and which header and subscriptions, so that one message queued for a session
with a long queue costs one new delivery row, not a rewrite of the queue.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, replace

from .message import Message
from .retained import RetainedStore
from .session_diff import SavedSession, restore_session, session_change
from .session_records import RecordDecoder, RecordEncoder
from .sessions import Session, SessionRegistry
from .settings import NEVER_EXPIRES
from .storage import (
    BrokerStore,
    MessageRecord,
    SessionChange,
)
from .will import PendingWill

__all__ = ["Persistence", "Restored"]

log = logging.getLogger("tether.broker")


@dataclass(frozen=True, slots=True)
class Restored:
    """The stored state as live objects, for the broker to install (see :meth:`Persistence.restore`)."""

    #: Retained messages (expired ones left out).
    retained: list[Message]
    #: Sessions, offline, with the seconds until they end (``None``: never); a delayed will is pending.
    sessions: list[tuple[Session, float | None]]
    #: Wills of sessions that ended while the broker was down, to publish now.
    wills: list[Message]


class Persistence:
    """Tracks changes and saves them to the store; loads the stored state at start.

    Implements :class:`~tether.broker.ports.Durability`: the broker reports changes through its events and
    acknowledgements wait on :meth:`commit_soon`. ``sessions`` and ``retained`` are the live state a
    checkpoint reads.
    """

    def __init__(
        self,
        store: BrokerStore,
        interval: float,
        loop: asyncio.AbstractEventLoop,
        sessions: SessionRegistry,
        retained: RetainedStore,
    ) -> None:
        if interval <= 0:
            raise ValueError("persist_interval must be greater than 0")
        self.store = store
        self.loop = loop
        self.sessions = sessions
        self.retained = retained
        self.interval = interval
        self._sessions: set[str] = set()
        self._ended: set[str] = set()
        self._retained: set[str] = set()
        self._saved: dict[str, SavedSession] = {}
        self._task: asyncio.Task[None] | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._stopping = False
        self._wake = asyncio.Event()
        self._waiters: list[asyncio.Future[None]] = []
        self._extra: set[asyncio.Task[None]] = set()
        self._lock = asyncio.Lock()

    # ------------------------------------------------------------------------------- change tracking

    def session_changed(self, session: Session) -> None:
        """Something in ``session`` changed: the next checkpoint saves it, if it is persistent."""
        if session.expiry_interval:
            self._sessions.add(session.client_id)

    # The StateSink events of a session: each is saved alike, the checkpoint diffing the session against what
    # the store holds.
    session_offline = session_changed
    subscriptions_changed = session_changed
    delivery_queued = session_changed
    delivery_acked = session_changed

    def will_publisher(
        self, session: Session, publish: Callable[[Message], None]
    ) -> Callable[[Message], None]:
        """`publish` for the delayed will of `session`, which also has the session saved without it: a
        restart (or a cluster node adopting the session) must not publish it again."""

        def published(message: Message) -> None:
            publish(message)
            self.session_changed(session)

        return published

    def session_ended(self, client_id: str) -> None:
        self._sessions.discard(client_id)
        self._saved.pop(client_id, None)
        self._ended.add(client_id)

    def retained_changed(self, topic: str) -> None:
        self._retained.add(topic)

    @property
    def pending(self) -> bool:
        """Changes wait for the next checkpoint (e.g. the message just routed went into a persistent
        session's window or queue, or changed a retained topic): only then does an acknowledgement need
        :meth:`commit_soon`."""
        return bool(self._sessions or self._ended or self._retained)

    # ------------------------------------------------------------------------------- saving

    def start(self) -> None:
        self._stopping = False
        self._task = self.loop.create_task(self._run())
        self._timer = self.loop.call_later(self.interval, self._tick)

    def _tick(self) -> None:
        # The periodic checkpoint wakes the task only when there is something to save: a task step that
        # finds nothing costs the loop ~0.1-0.3 ms under load (cold caches), a message arriving meanwhile
        # waits for it (bench/README.md, "the 10k/s tail"); this callback is a few microseconds.
        if self.pending:
            self._wake.set()
        self._timer = self.loop.call_later(self.interval, self._tick)

    def commit_soon(self) -> asyncio.Future[None]:
        """A future resolved once a checkpoint that starts after this call has committed.

        The checkpoint starts at once, or as soon as the one running ends; every request made meanwhile
        shares it. If saving fails the future gets the exception.
        """
        future: asyncio.Future[None] = self.loop.create_future()
        self._waiters.append(future)
        if self._task is not None and not self._stopping:
            self._wake.set()
        else:  # not started, or stopped: no periodic loop to wake
            task = self.loop.create_task(self._checkpoint_logged())
            self._extra.add(task)
            task.add_done_callback(self._extra.discard)
        return future

    async def _run(self) -> None:
        wake = self._wake
        while not self._stopping:
            if not self._waiters:
                wake.clear()
                await wake.wait()  # commit_soon, the timer with changes pending, or stop
                if self._stopping:
                    break
            await self._checkpoint_logged()

    async def _checkpoint_logged(self) -> None:
        try:
            await self.checkpoint()
        except Exception:
            log.exception("saving the MQTT broker state failed; retrying")

    async def stop(self) -> None:
        """Stop the periodic checkpoints (letting a running one finish) and save every persistent session.

        A failure is logged, not raised: the server still closes its listeners and its database.
        """
        self._stopping = True
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        task, self._task = self._task, None
        if task is not None:
            self._wake.set()
            await task
        try:
            await self.checkpoint(everything=True)
        except Exception:
            log.exception(
                "saving the MQTT broker state at shutdown failed: changes since the last save are lost"
            )

    async def checkpoint(self, everything: bool = False) -> None:
        """Save what changed (``everything``: every persistent session) in one batch.

        Resolves the :meth:`commit_soon` futures requested before it started.
        """
        async with self._lock:
            waiters, self._waiters = self._waiters, []
            try:
                await self._save(everything)
            except Exception as exc:
                for waiter in waiters:
                    if not waiter.done():
                        waiter.set_exception(exc)
                raise
            except BaseException:
                self._waiters[:0] = waiters  # cancelled: the next checkpoint answers them
                raise
            for waiter in waiters:
                if not waiter.done():
                    waiter.set_result(None)

    async def _save(self, everything: bool) -> None:
        # Everything up to the store call runs without yielding: the batch is a snapshot.
        registry = self.sessions
        names = [s.client_id for s in registry] if everything else list(self._sessions)
        ended, retained_topics = list(self._ended), list(self._retained)
        self._sessions.clear()
        self._ended.clear()
        self._retained.clear()
        encoder = RecordEncoder(self.loop)
        changes: list[SessionChange] = []
        for client_id in names:
            session = registry.get(client_id)
            if session is None:
                continue
            if not session.expiry_interval:
                # No longer persistent (resumed with Session Expiry Interval 0): forget the stored copy.
                if self._saved.pop(client_id, None) is not None:
                    ended.append(client_id)
                continue
            change = self._change(session, encoder)
            if change is not None:
                changes.append(change)
        retained: list[MessageRecord] = []
        deleted_retained: list[str] = []
        for topic in retained_topics:
            message = self.retained.get(topic)
            if message is None:
                deleted_retained.append(topic)
            else:
                retained.append(encoder.message(message))
        if not (changes or ended or retained or deleted_retained):
            return
        try:
            await self.store.save(changes, ended, retained, deleted_retained)
        except BaseException:
            # Keep the changes for the next attempt; what the store holds of these sessions is unknown now,
            # so they are stored anew.
            for change in changes:
                self._sessions.add(change.client_id)
                self._saved.pop(change.client_id, None)
            self._ended.update(ended)
            self._retained.update(retained_topics)
            raise

    def _change(self, session: Session, encoder: RecordEncoder) -> SessionChange | None:
        """What to save of ``session``; updates what we remember the store holds."""
        saved = self._saved.get(session.client_id)
        if saved is None or saved.session is not session:
            saved = self._saved[session.client_id] = SavedSession(session)
        return session_change(saved, encoder)

    # ------------------------------------------------------------------------------- moving

    @contextlib.asynccontextmanager
    async def paused(self) -> AsyncIterator[None]:
        """No checkpoint runs meanwhile: a session leaving for another node is taken out of the registry and
        saved by :meth:`hand_over` before a commit can tell a publisher that a message queued for it is
        saved."""
        async with self._lock:
            yield

    async def hand_over(
        self, session: Session, give: Callable[[SessionChange | None], Awaitable[bool]]
    ) -> bool:
        """Inside :meth:`paused`: save ``session`` (out of the registry) one last time through ``give``,
        which stores the change and gives the session away in one transaction (a cluster node handing it to
        another), and forget it. Its delayed will goes with it: it is stopped here
        (:meth:`PendingWill.suspend`) before anything is awaited, so that it fires on one node only. Returns
        what ``give`` returned; if ``give`` fails the session is marked to be stored anew and the exception
        raised."""
        client_id = session.client_id
        self._sessions.discard(client_id)
        change = self._change(session, RecordEncoder(self.loop)) if session.expiry_interval else None
        self._saved.pop(client_id, None)
        if session.pending_will is not None:
            session.pending_will.suspend()
        try:
            return await give(change)
        except BaseException:
            self._sessions.add(client_id)
            raise

    def forget(self, client_id: str) -> None:
        """Stop saving the session of ``client_id`` without deleting what the store holds (another node holds
        it now)."""
        self._sessions.discard(client_id)
        self._saved.pop(client_id, None)

    # ------------------------------------------------------------------------------- restoring

    async def restore(
        self,
        max_queued: int,
        publish_will: Callable[[Message], None],
        client_ids: Sequence[str] | None = None,
        ended_at: float | None = None,
    ) -> Restored:
        """Load the saved state for the broker to install: retained messages, sessions (offline, their expiry
        running; ``max_queued`` bounds their queues, a delayed will is published by ``publish_will``) and the
        wills of sessions that ended while the broker was down. Remembers what the store holds of each.
        With ``client_ids``, only those sessions (one another node gave to this one); with ``ended_at``, a
        session saved while its client was connected counts as disconnected then (its node died)."""
        state = await self.store.load(client_ids)
        loop = self.loop
        decoder = RecordDecoder(loop)
        now = time.time()
        retained: list[Message] = []
        for record in state.retained:
            message = decoder.message(record)
            if message.expired(loop.time()):
                self._retained.add(record.topic)  # deleted at the next checkpoint
            else:
                retained.append(message)
        sessions: list[tuple[Session, float | None]] = []
        wills: list[Message] = []
        for srec in state.sessions:
            stored_at = srec.disconnected_at
            if srec.online and ended_at is not None and ended_at > stored_at:
                srec = replace(srec, disconnected_at=ended_at)
                self._sessions.add(srec.client_id)  # saved anew, offline from ended_at
            remaining = srec.disconnected_at + srec.expiry_interval - now
            if srec.expiry_interval != NEVER_EXPIRES and remaining <= 0:
                self._ended.add(srec.client_id)
                if srec.will is not None:
                    wills.append(decoder.message(srec.will))  # the session ended while we were down
                continue
            session, saved = restore_session(srec, max_queued, decoder)
            if srec.will is not None:
                delay = max(0.0, (srec.will_at or now) - now)
                will = decoder.message(srec.will)
                publish = self.will_publisher(session, publish_will)
                session.pending_will = PendingWill(loop, will, delay, publish)
            saved.header = (
                srec.expiry_interval,
                stored_at,
                srec.awaiting_rel,
                session.pending_will,
                srec.online,
            )
            saved.remember_outbox()
            self._saved[srec.client_id] = saved
            sessions.append((session, None if srec.expiry_interval == NEVER_EXPIRES else remaining))
        return Restored(retained, sessions, wills)
