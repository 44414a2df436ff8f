"""The shadow service: reads, updates and deletes a thing's shadow (the pure rules: :mod:`.shadow`),
durably before it answers, in order per thing.

Updates are written in batches (group commit, as device measurements are): an update is merged at once
into what this process knows of the thing's shadow (its head: the stored shadow and the updates queued
before it) and queued; one write at a time stores the newest head of every queued thing with one store call
(`put_many`: a compare-and-set per thing, one transaction). Only once it has committed are the watchers
told (the MQTT adapter publishes `update/accepted`, `update/documents` and `update/delta`) and each
update's future resolved, in the order they came. Updates that arrive while a write is in flight are merged
on top of it and go into the next write, so a device with several updates in flight waits for no round trip
per update, and a thousand things' updates cost one statement per kind.

What this process knows is write-through (it writes every change itself) but only a hint towards other
writers (another process on the same database): the store's compare-and-set refuses a write from a stale
head; the shadow is then read again and the queued updates merged anew (a request naming a version is
judged again on what was read). A request that names a version other than the head's is rejected in its
turn: after the updates queued before it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Literal

from tether.core.errors import NotFound, ServiceUnavailable
from tether.core.events import Action, DomainEvent, EventBus
from tether.fleets import shadow
from tether.fleets.models import Json, Thing
from tether.fleets.shadow import Shadow, Updated, UpdateRequest, VersionConflict
from tether.fleets.store import ShadowStore, ShadowWrite

log = logging.getLogger(__name__)
#: Who changed it: a device over MQTT, an operator over /api/v1, a device over the ThingDatas HTTPS API.
Origin = Literal["mqtt", "http", "thing-datas"]
Key = tuple[str, int]  # tenant, the thing's managed object
#: Attempts of a compare-and-set that other writers (other processes) keep winning.
_ATTEMPTS = 10
_KNOWN_LIMIT = 100_000
#: The EventBus resource of shadow changes (published only while a subscriber wants the tenant's).
RESOURCE = "shadows"
#: Things per write (one row each, however many updates it carries).
MAX_BATCH = 1024


@dataclass(frozen=True, slots=True)
class ShadowChange:
    thing: Thing
    origin: Origin
    request: UpdateRequest | None  # None: a delete
    updated: Updated | None  # the update's outcome
    deleted: Json | None = None  # the delete's accepted answer


Watcher = Callable[[ShadowChange], None]


def now_s() -> int:
    return int(time.time())


class _Update:
    """A queued update: merged (`updated`) or refused (`error`) in its turn, answered once written."""

    __slots__ = ("error", "future", "origin", "request", "thing", "updated")

    def __init__(self, thing: Thing, request: UpdateRequest, origin: Origin, future: asyncio.Future[Updated]):
        self.thing = thing
        self.request = request
        self.origin = origin
        self.future = future
        self.updated: Updated | None = None
        self.error: Exception | None = None

    def merge(self, head: Shadow) -> Shadow:
        try:
            self.updated = shadow.apply_update(head, self.request, now_s())
        except VersionConflict as exc:
            self.updated, self.error = None, exc
            return head
        self.error = None
        return self.updated.current


class _Entry:
    """What this process knows of one thing's shadow."""

    __slots__ = ("attempts", "exists", "head", "in_flight", "queued", "settling", "stale", "stored")

    def __init__(self, stored: Shadow | None) -> None:
        self.stored = stored or Shadow()  # as committed (or last read)
        self.exists = stored is not None  # the store has its row
        self.head = self.stored  # stored + the updates in flight and queued
        self.in_flight: list[_Update] = []  # in the write under way
        self.queued: list[_Update] = []  # for the next write
        self.settling: list[_Update] = []  # written, being answered
        self.stale = False  # a write failed: read it again before the next one
        self.attempts = 0

    @property
    def idle(self) -> bool:
        return not self.queued and not self.in_flight and not self.settling

    def last(self) -> asyncio.Future[Updated] | None:
        pending = self.queued or self.in_flight or self.settling
        return pending[-1].future if pending else None


class ShadowService:
    def __init__(self, store: ShadowStore, events: EventBus | None = None, *, max_batch: int = MAX_BATCH):
        self._store = store
        self._events = events
        self._max_batch = max_batch
        # Taken by whatever must wait (a read of the store, a delete): an update of a thing whose key is
        # here queues behind it. An entry lives while someone holds or awaits it.
        self._locks: dict[Key, tuple[asyncio.Lock, list[int]]] = {}
        self._watchers: list[Watcher] = []
        self._known: dict[Key, _Entry] = {}
        self._dirty: dict[Key, _Entry] = {}  # things with queued updates, oldest first
        self._writing = False
        self._scheduled = False
        self._tasks: set[asyncio.Task[None]] = set()
        if events is not None:
            events.subscribe(self._on_object, resources={"managedobjects"}, cluster=True)

    def watch(self, watcher: Watcher) -> Callable[[], None]:
        self._watchers.append(watcher)
        return lambda: self._watchers.remove(watcher) if watcher in self._watchers else None

    def _tell(self, change: ShadowChange) -> None:
        events = self._events
        thing = change.thing
        if events is not None and events.listens(thing.tenant_id, RESOURCE):
            # Whatever changed it (MQTT, /api/v1, ThingDatas), for the rule engine's `shadow_updated`.
            action: Action = "DELETE" if change.request is None else "UPDATE"
            events.publish(DomainEvent(thing.tenant_id, RESOURCE, action, None, thing.mo_id, change))
        for watcher in list(self._watchers):
            try:
                watcher(change)
            except Exception:
                log.exception("shadow watcher %r failed", watcher)

    @contextlib.asynccontextmanager
    async def _exclusive(self, key: Key) -> AsyncIterator[None]:
        entry = self._locks.get(key)
        if entry is None:
            entry = self._locks[key] = (asyncio.Lock(), [0])
        entry[1][0] += 1
        try:
            async with entry[0]:
                yield
        finally:
            entry[1][0] -= 1
            if not entry[1][0]:
                del self._locks[key]

    async def _settled(self, key: Key) -> None:
        """Until the updates queued so far for this thing are answered (whatever the outcome)."""
        entry = self._known.get(key)
        last = entry.last() if entry is not None else None
        if last is not None:
            await asyncio.wait([last])

    async def _read(self, key: Key) -> Shadow | None:
        """The stored shadow, remembered unless updates were queued meanwhile."""
        found = await self._store.get(*key)
        entry = self._known.get(key)
        if entry is None or (entry.idle and not entry.stale):
            self._remember(key, _Entry(found))
        return found

    def _remember(self, key: Key, entry: _Entry) -> None:
        known = self._known
        if len(known) >= _KNOWN_LIMIT and key not in known:
            for other in [k for k, e in known.items() if e.idle]:
                del known[other]
        known[key] = entry

    def _on_object(self, event: DomainEvent) -> None:
        """A thing's managed object deleted: its shadow row went with it (queued updates find it gone)."""
        if event.action == "DELETE" and event.id is not None:
            key = (event.tenant_id, event.id)
            entry = self._known.get(key)
            if entry is not None and entry.idle:
                del self._known[key]

    # -- reads and deletes -----------------------------------------------------------------------------

    async def get(self, thing: Thing, token: str | None = None) -> Json:
        """The `get/accepted` document; NoShadow (404) when there is none. Answered after the thing's
        updates queued before it."""
        key = (thing.tenant_id, thing.mo_id)
        await self._settled(key)
        found = await self._read(key)
        return shadow.document(found or Shadow(), thing.name, token)

    async def delete(self, thing: Thing, version: int | None, token: str | None, origin: Origin) -> Json:
        """Delete the shadow (its version is kept for the next one); the `delete/accepted` answer."""
        key = (thing.tenant_id, thing.mo_id)
        async with self._exclusive(key):  # updates that come meanwhile queue behind it
            await self._settled(key)
            for _ in range(_ATTEMPTS):
                current = await self._read(key) or Shadow()
                gone = shadow.deleted(current, thing.name, version, now_s())
                if await self._store.put(thing.tenant_id, thing.mo_id, gone, current.version):
                    entry = _Entry(gone)
                    self._remember(key, entry)
                    break
            else:
                raise ServiceUnavailable("The shadow is being changed too often", resource="fleets")
        answer: Json = {"version": gone.version, "timestamp": gone.timestamp}
        if token is not None:
            answer["clientToken"] = token
        self._tell(ShadowChange(thing, origin, None, None, answer))
        return answer

    # -- updates ---------------------------------------------------------------------------------------

    async def update(self, thing: Thing, request: UpdateRequest, origin: Origin) -> Updated:
        """Apply a checked request; ShadowRejected / VersionConflict as the rules say."""
        return await (await self.submit(thing, request, origin))

    async def submit(self, thing: Thing, request: UpdateRequest, origin: Origin) -> asyncio.Future[Updated]:
        """Queue a checked request behind the thing's earlier ones (their order is the order of the calls,
        when the thing is known); the future resolves once it is durably stored and the watchers told, or
        fails (VersionConflict, NotFound when the thing is gone). VersionConflict is raised at once when
        nothing is queued before it."""
        queued = self.submit_now(thing, request, origin)
        if queued is not None:
            return queued
        key = (thing.tenant_id, thing.mo_id)
        async with self._exclusive(key):
            entry = self._known.get(key)
            if entry is None or entry.idle:  # judged on what the store holds
                await self._read(key)
                entry = self._known[key]
            queued = self._queue(key, entry, thing, request, origin, fresh=True)
            assert queued is not None
            return queued

    def submit_now(
        self, thing: Thing, request: UpdateRequest, origin: Origin
    ) -> asyncio.Future[Updated] | None:
        """submit() without I/O, when this process knows the thing's shadow; None: call submit()."""
        key = (thing.tenant_id, thing.mo_id)
        entry = self._known.get(key)
        if entry is None or key in self._locks:
            return None
        return self._queue(key, entry, thing, request, origin, fresh=False)

    def _queue(
        self, key: Key, entry: _Entry, thing: Thing, request: UpdateRequest, origin: Origin, *, fresh: bool
    ) -> asyncio.Future[Updated] | None:
        """None: a version conflict on what this process knew, with nothing queued (ask the store)."""
        item = _Update(thing, request, origin, asyncio.get_running_loop().create_future())
        head = item.merge(entry.head)
        if item.error is not None and entry.idle:
            if not fresh:
                return None
            raise item.error
        entry.head = head
        entry.queued.append(item)
        self._dirty[key] = entry
        self._schedule()
        return item.future

    def _schedule(self) -> None:
        if not self._scheduled and not self._writing:
            # At the end of this loop turn: the other updates read in this turn join the write.
            self._scheduled = True
            asyncio.get_running_loop().call_soon(self._start)

    def _start(self) -> None:
        self._scheduled = False
        if self._writing or not self._dirty:
            return
        batch: list[tuple[Key, _Entry]] = []
        for key in list(self._dirty)[: self._max_batch]:
            batch.append((key, self._dirty.pop(key)))
        self._writing = True
        task = asyncio.get_running_loop().create_task(self._write(batch))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _write(self, batch: list[tuple[Key, _Entry]]) -> None:
        written: list[_Entry] = []
        try:
            written = await self._write_batch(batch)
        except Exception:  # a bug: keep serving
            log.exception("shadow write failed")
        finally:
            self._writing = False
            if self._dirty:
                self._start()
        if written:
            # Answering is the event loop's work, the next write the database's: let the next write queue
            # its statements first (its task's first step) and answer these while the database works.
            await asyncio.sleep(0)
            for entry in written:
                self._settle(entry)

    async def _write_batch(self, batch: list[tuple[Key, _Entry]]) -> list[_Entry]:
        """The entries whose updates were written (in `settling`, to be answered)."""
        writes: list[ShadowWrite] = []
        written: list[tuple[Key, _Entry, Shadow]] = []
        for key, entry in batch:
            if entry.stale:
                try:
                    await self._refresh(key, entry)
                except Exception as exc:
                    self._fail_all(key, entry, exc)
                    continue
            entry.in_flight, entry.queued = entry.queued, []
            if all(item.updated is None for item in entry.in_flight):
                entry.settling += entry.in_flight  # only refusals: nothing to write
                entry.in_flight = []
                self._settle(entry)
                continue
            expected = entry.stored.version if entry.exists else None
            writes.append(ShadowWrite(key[0], key[1], entry.head, expected))
            written.append((key, entry, entry.head))
        if not writes:
            return []
        try:
            outcomes = await self._store.put_many(writes)
        except Exception as exc:
            # Not stored (the database is down): not answered. What was queued meanwhile was merged on
            # top of these: read again before it is written.
            log.error("storing %d shadow changes failed: %s", len(writes), exc)
            for key, entry, _ in written:
                self._fail_in_flight(key, entry, exc)
            return []
        stored: list[_Entry] = []
        for (key, entry, head), outcome in zip(written, outcomes, strict=True):
            if outcome == "stored":
                entry.stored, entry.exists, entry.attempts = head, True, 0
                entry.settling += entry.in_flight
                entry.in_flight = []
                stored.append(entry)
            elif outcome == "gone":
                self._fail_all(key, entry, NotFound("Thing not found", resource="fleets"))
            else:  # another writer got there first: read it again and merge these anew
                entry.attempts += 1
                if entry.attempts >= _ATTEMPTS:
                    unavailable = ServiceUnavailable(
                        "The shadow is being changed too often", resource="fleets"
                    )
                    self._fail_all(key, entry, unavailable)
                    continue
                entry.queued = entry.in_flight + entry.queued
                entry.in_flight = []
                entry.stale = True
                self._dirty[key] = entry
        return stored

    async def _refresh(self, key: Key, entry: _Entry) -> None:
        """Read the stored shadow again and merge the queued updates on it, in order."""
        found = await self._store.get(*key)
        entry.stored, entry.exists, entry.stale = found or Shadow(), found is not None, False
        head = entry.stored
        for item in entry.queued:
            head = item.merge(head)
        entry.head = head

    def _settle(self, entry: _Entry) -> None:
        """The written updates answered in order: watchers first (the accepted answers), then futures."""
        items, entry.settling = entry.settling, []
        for item in items:
            future = item.future
            if item.error is not None:
                if not future.done():
                    future.set_exception(item.error)
                continue
            updated = item.updated
            assert updated is not None
            self._tell(ShadowChange(item.thing, item.origin, item.request, updated))
            if not future.done():
                future.set_result(updated)

    def _fail_all(self, key: Key, entry: _Entry, exc: Exception) -> None:
        """Fail every pending update of the thing and forget what this process knew of it."""
        items = entry.in_flight + entry.queued
        entry.in_flight, entry.queued = [], []
        for item in items:
            if not item.future.done():
                item.future.set_exception(exc)
        self._dirty.pop(key, None)
        if self._known.get(key) is entry:
            del self._known[key]

    def _fail_in_flight(self, key: Key, entry: _Entry, exc: Exception) -> None:
        """Fail the updates of a write that did not commit; those queued since were merged on top of them:
        they are merged again on a fresh read before they are written."""
        items, entry.in_flight = entry.in_flight, []
        for item in items:
            if not item.future.done():
                item.future.set_exception(exc)
        entry.stale = True
        if not entry.queued and self._known.get(key) is entry:
            del self._known[key]

    async def drain(self) -> None:
        """Until every update queued so far is answered (shutdown, tests)."""
        while self._dirty or self._tasks or self._scheduled:
            if self._tasks:
                await asyncio.gather(*list(self._tasks), return_exceptions=True)
            else:
                await asyncio.sleep(0)
