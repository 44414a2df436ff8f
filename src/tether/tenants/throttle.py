"""Brute-force throttling of logins (MQTT and HTTP), without letting a stranger lock a device out.

Two counters, each over a window of `window` seconds:

* per (address, user name): after `max_failures` failed logins, that address may not try that name for
  `base_block` seconds, doubling with every further block up to `max_block`;
* per user name, from any address: after `user_max_failures` (far higher) failures the name is under attack.
  Its lock refuses only addresses that have themselves failed for that name recently, so a distributed guesser
  gets about one guess per address while the real device, logging in from an address that never failed, is
  never refused.

A correct login from another address or for another user name is never refused. A refused client is told to
come back later (MQTT 0x9F Connection rate exceeded, HTTP 429 with Retry-After), never "bad password". A key's
history is forgotten once it has been quiet for long enough; a success clears its own pair only.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

__all__ = ["Throttle"]


@dataclass(slots=True)
class _Entry:
    failures: int = 0
    window_start: float = 0.0
    blocked_until: float = 0.0
    level: int = 0  # blocks so far: the next one lasts base_block * 2**level


class Throttle:
    def __init__(
        self,
        *,
        max_failures: int = 10,
        user_max_failures: int = 100,
        window: float = 60.0,
        base_block: float = 5.0,
        max_block: float = 900.0,
        max_entries: int = 100_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.max_failures = max_failures
        self.user_max_failures = user_max_failures
        self.window = window
        self.base_block = base_block
        self.max_block = max_block
        self.max_entries = max_entries
        self._clock = clock
        self._pairs: dict[tuple[str, str], _Entry] = {}
        self._users: dict[str, _Entry] = {}

    def retry_after(self, address: str | None, user: str) -> int | None:
        """Whole seconds until `address` may try `user` again, or None if it may now (a cheap check, made
        before any password work)."""
        if not self._pairs:
            return None
        pair = self._pairs.get((address or "", user))
        if pair is None:
            return None  # this address never failed for this name: never refused
        now = self._clock()
        until = pair.blocked_until
        named = self._users.get(user)
        if named is not None and named.blocked_until > until:
            until = named.blocked_until
        return math.ceil(until - now) if until > now else None

    def failed(self, address: str | None, user: str) -> None:
        now = self._clock()
        if len(self._pairs) + len(self._users) >= self.max_entries:
            self._prune(now)
        self._count(self._pairs, (address or "", user), self.max_failures, now)
        self._count(self._users, user, self.user_max_failures, now)

    def succeeded(self, address: str | None, user: str) -> None:
        """A login of `user` from `address` succeeded: that pair's failures are forgiven (not the name's lock,
        which others caused and which ends by itself)."""
        key = (address or "", user)
        entry = self._pairs.get(key)
        if entry is not None and entry.blocked_until <= self._clock():
            del self._pairs[key]

    def _count(self, entries: dict[Any, _Entry], key: Any, limit: int, now: float) -> None:
        entry = entries.get(key)
        if entry is None:
            entry = entries[key] = _Entry(window_start=now)
        elif now - entry.window_start > self.window:
            if now - max(entry.window_start, entry.blocked_until) > self.max_block:
                entry.level = 0  # quiet for long: start over
            entry.failures = 0
            entry.window_start = now
        entry.failures += 1
        if entry.failures >= limit:
            entry.blocked_until = now + min(self.base_block * 2**entry.level, self.max_block)
            entry.level += 1
            entry.failures = 0
            entry.window_start = now

    def _prune(self, now: float) -> None:
        horizon = self.window + self.max_block
        tables: tuple[dict[Any, _Entry], ...] = (self._pairs, self._users)
        for entries in tables:
            stale = [
                k for k, e in entries.items() if e.blocked_until <= now and now - e.window_start > horizon
            ]
            for key in stale:
                del entries[key]
        if len(self._pairs) + len(self._users) >= self.max_entries:
            # Under attack from very many keys: keep only the blocked ones.
            for entries in tables:
                for key in [k for k, e in entries.items() if e.blocked_until <= now]:
                    del entries[key]
