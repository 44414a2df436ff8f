"""One asyncio lock per key, held only while someone holds or waits for it (no lock kept per idle key)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)


class KeyedLocks(Generic[K]):
    """`async with locks.hold(key):` runs one holder of `key` at a time, the others queue in order."""

    def __init__(self) -> None:
        self._entries: dict[K, tuple[asyncio.Lock, list[int]]] = {}  # the lock and how many hold or wait

    def __contains__(self, key: K) -> bool:
        """Whether `key` is held or waited for now."""
        return key in self._entries

    @contextlib.asynccontextmanager
    async def hold(self, key: K) -> AsyncIterator[None]:
        entry = self._entries.get(key)
        if entry is None:
            entry = self._entries[key] = (asyncio.Lock(), [0])
        entry[1][0] += 1
        try:
            async with entry[0]:
                yield
        finally:
            entry[1][0] -= 1
            if not entry[1][0]:
                del self._entries[key]
