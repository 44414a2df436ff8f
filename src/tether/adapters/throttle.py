"""Brute-force throttling of logins, per client address and per user name.

After `max_failures` failed logins within `window` seconds, a key (an address or a user name) is blocked:
further logins for it are refused at once, without checking a password, for `base_block` seconds, doubling
with every further block up to `max_block`. A key's history is forgotten once it has been quiet for long
enough. A success clears only the keys it was made with: a device that logs in from one address does not
unblock an attacker guessing its password from another, nor lift the lock on its own name that a guesser
caused (the name's lock still ends by itself).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

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
        window: float = 60.0,
        base_block: float = 5.0,
        max_block: float = 900.0,
        max_entries: int = 100_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.max_failures = max_failures
        self.window = window
        self.base_block = base_block
        self.max_block = max_block
        self.max_entries = max_entries
        self._clock = clock
        self._entries: dict[str, _Entry] = {}

    def blocked(self, *keys: str | None) -> bool:
        """Whether any of the keys is blocked now (a cheap check, before any password work)."""
        entries = self._entries
        if not entries:
            return False
        now = self._clock()
        for key in keys:
            if key is None:
                continue
            entry = entries.get(key)
            if entry is not None and entry.blocked_until > now:
                return True
        return False

    def failed(self, *keys: str | None) -> None:
        now = self._clock()
        entries = self._entries
        if len(entries) >= self.max_entries:
            self._prune(now)
        for key in keys:
            if key is None:
                continue
            entry = entries.get(key)
            if entry is None:
                entry = entries[key] = _Entry(window_start=now)
            elif now - entry.window_start > self.window:
                if now - max(entry.window_start, entry.blocked_until) > self.max_block:
                    entry.level = 0  # quiet for long: start over
                entry.failures = 0
                entry.window_start = now
            entry.failures += 1
            if entry.failures >= self.max_failures:
                entry.blocked_until = now + min(self.base_block * 2**entry.level, self.max_block)
                entry.level += 1
                entry.failures = 0
                entry.window_start = now

    def succeeded(self, address: str | None) -> None:
        """A login from this address succeeded: its failures are forgiven (not those of other keys)."""
        if address is not None:
            entry = self._entries.get(address)
            if entry is not None and entry.blocked_until <= self._clock():
                del self._entries[address]

    def _prune(self, now: float) -> None:
        horizon = self.window + self.max_block
        stale = [
            k for k, e in self._entries.items() if e.blocked_until <= now and now - e.window_start > horizon
        ]
        for key in stale:
            del self._entries[key]
        if len(self._entries) >= self.max_entries:  # under attack from very many keys: keep the blocked
            for key in [k for k, e in self._entries.items() if e.blocked_until <= now]:
                del self._entries[key]
