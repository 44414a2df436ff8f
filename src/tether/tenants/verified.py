"""Credentials verified lately: keyed digest -> principal, kept for a while so that a login (HTTP Basic on
every request, a storm of MQTT reconnects) does not hash the password again.

Two generations of a plain dict instead of an expiry per entry: an answer is kept for between half of
`seconds` and `seconds` (from its generation's start until the end of the next one), and an entry costs its
digest and a dict slot, with no (expiry, principal) tuple nor expiry float (one per device connection)."""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Iterator

from tether.tenants.models import Principal

__all__ = ["VerifiedCache"]


class VerifiedCache:
    def __init__(self, seconds: float, size: int, clock: Callable[[], float] = time.monotonic) -> None:
        self._half = seconds / 2
        self.size = size
        self._clock = clock
        self._current: dict[bytes, Principal] = {}
        self._previous: dict[bytes, Principal] = {}
        self._since = clock()

    def _rotate(self) -> None:
        age = self._clock() - self._since
        if age >= 2 * self._half:
            self._current, self._previous = {}, {}
            self._since = self._clock()
        elif age >= self._half:
            self._current, self._previous = {}, self._current
            self._since += self._half

    def get(self, digest: bytes) -> Principal | None:
        self._rotate()
        hit = self._current.get(digest)
        return hit if hit is not None else self._previous.get(digest)

    def put(self, digest: bytes, principal: Principal) -> None:
        self._rotate()
        current = self._current
        if len(current) + len(self._previous) >= self.size:
            self._previous = {}
            if len(current) >= self.size:  # still full: forget the oldest quarter
                for key in list(itertools.islice(current, self.size // 4)):
                    del current[key]
        self._previous.pop(digest, None)
        current[digest] = principal

    def forget(self, drop: Callable[[Principal], bool]) -> None:
        """Forget the entries whose principal `drop` selects."""
        for generation in (self._current, self._previous):
            for key in [k for k, p in generation.items() if drop(p)]:
                del generation[key]

    def __iter__(self) -> Iterator[Principal]:
        return itertools.chain(self._current.values(), self._previous.values())

    def __len__(self) -> int:
        return len(self._current) + len(self._previous)
