"""The shadow service: reads, updates and deletes a thing's shadow (the pure rules: :mod:`.shadow`),
durably before it answers, one change at a time per thing.

Changes are told to watchers (the MQTT adapter publishes `update/accepted`, `update/documents` and
`update/delta` from them, whichever API made the change) after the write has committed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Literal

from tether.core.errors import ServiceUnavailable
from tether.fleets import shadow
from tether.fleets.models import Json, Thing
from tether.fleets.shadow import Shadow, Updated, UpdateRequest, VersionConflict
from tether.fleets.store import ShadowStore

log = logging.getLogger(__name__)
#: Who changed it: a device over MQTT, an operator over /api/v1, a device over the ThingDatas HTTPS API.
Origin = Literal["mqtt", "http", "thing-datas"]
#: Attempts of a compare-and-set that other writers (other processes) keep winning.
_ATTEMPTS = 10
_KNOWN_LIMIT = 100_000


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


class ShadowService:
    def __init__(self, store: ShadowStore) -> None:
        self._store = store
        # One change at a time per thing in this process (the store's compare-and-set covers the others);
        # an entry lives while someone holds or awaits it.
        self._locks: dict[tuple[str, int], tuple[asyncio.Lock, list[int]]] = {}
        self._watchers: list[Watcher] = []
        # The last shadow this process stored or read per thing: an update needs no read first.
        self._known: dict[tuple[str, int], tuple[Shadow, bool]] = {}

    def watch(self, watcher: Watcher) -> Callable[[], None]:
        self._watchers.append(watcher)
        return lambda: self._watchers.remove(watcher) if watcher in self._watchers else None

    def _tell(self, change: ShadowChange) -> None:
        for watcher in list(self._watchers):
            try:
                watcher(change)
            except Exception:
                log.exception("shadow watcher %r failed", watcher)

    @contextlib.asynccontextmanager
    async def _exclusive(self, thing: Thing) -> AsyncIterator[None]:
        key = (thing.tenant_id, thing.mo_id)
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

    async def _stored(self, thing: Thing, *, fresh: bool = True) -> tuple[Shadow, bool]:
        """The stored shadow and whether a row exists. `fresh` False: the last one this process wrote or
        read, if it knows one (a hint: the store's compare-and-set refuses a stale one)."""
        key = (thing.tenant_id, thing.mo_id)
        if not fresh:
            known = self._known.get(key)
            if known is not None:
                return known
        found = await self._store.get(thing.tenant_id, thing.mo_id)
        value = (Shadow(), False) if found is None else (found, True)
        self._remember(key, value)
        return value

    def _remember(self, key: tuple[str, int], value: tuple[Shadow, bool]) -> None:
        if len(self._known) >= _KNOWN_LIMIT and key not in self._known:
            self._known.clear()
        self._known[key] = value

    async def get(self, thing: Thing, token: str | None = None) -> Json:
        """The `get/accepted` document; NoShadow (404) when there is none."""
        current, _ = await self._stored(thing)
        return shadow.document(current, thing.name, token)

    async def update(self, thing: Thing, request: UpdateRequest, origin: Origin) -> Updated:
        """Apply a checked request; ShadowRejected / VersionConflict as the rules say."""
        async with self._exclusive(thing):
            fresh = False
            for _ in range(_ATTEMPTS):
                current, exists = await self._stored(thing, fresh=fresh)
                try:
                    updated = shadow.apply_update(current, request, now_s())
                except VersionConflict:
                    if fresh:
                        raise
                    fresh = True  # judged on what this process knew: ask the store
                    continue
                expected = current.version if exists else None
                if await self._store.put(thing.tenant_id, thing.mo_id, updated.current, expected):
                    self._remember((thing.tenant_id, thing.mo_id), (updated.current, True))
                    break
                fresh = True  # another writer got there first
            else:
                raise ServiceUnavailable("The shadow is being changed too often", resource="fleets")
        self._tell(ShadowChange(thing, origin, request, updated))
        return updated

    async def delete(self, thing: Thing, version: int | None, token: str | None, origin: Origin) -> Json:
        """Delete the shadow (its version is kept for the next one); the `delete/accepted` answer."""
        async with self._exclusive(thing):
            for _ in range(_ATTEMPTS):
                current, _ = await self._stored(thing)
                gone = shadow.deleted(current, thing.name, version, now_s())
                if await self._store.put(thing.tenant_id, thing.mo_id, gone, current.version):
                    self._remember((thing.tenant_id, thing.mo_id), (gone, True))
                    break
            else:
                raise ServiceUnavailable("The shadow is being changed too often", resource="fleets")
        answer: Json = {"version": gone.version, "timestamp": gone.timestamp}
        if token is not None:
            answer["clientToken"] = token
        self._tell(ShadowChange(thing, origin, None, None, answer))
        return answer
