"""Giving memory back to the operating system after bursts of connections (glibc's allocator).

Python frees a closed connection's objects at once, but glibc keeps freed heap memory for reuse: after a
burst of connections (or of unfinished CONNECTs, each with a buffer of up to `max_connect_size`) the resident
size stays at its peak. Two measures, both no-ops where the C library is not glibc:

* :func:`tune_malloc` fixes glibc's mmap threshold at 128 KiB. By default it grows to the size of the largest
  buffer freed so far (up to 32 MiB), after which buffers of packets up to 1 MiB come from the heap, where
  they fragment it, instead of being mapped and unmapped on their own.
* :class:`Trimmer` calls ``malloc_trim(0)`` a few seconds after many connections ended (at most once per
  delay): it returns the free pages inside the heap, not only its top.
"""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import logging
import sys
from typing import Any

__all__ = ["Trimmer", "malloc_trim", "tune_malloc"]

log = logging.getLogger("tether.broker")

_M_MMAP_THRESHOLD = -3  # glibc malloc.h
_MMAP_THRESHOLD = 128 * 1024  # glibc's initial (and documented default) value
#: Connections ended after which memory is trimmed, and the delay (seconds) before that.
TRIM_AFTER = 500
TRIM_DELAY = 5.0


def _glibc() -> Any:
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.gnu_get_libc_version  # noqa: B018 - present in glibc only (not musl)
        libc.malloc_trim  # noqa: B018
    except (OSError, AttributeError):
        return None
    return libc


_LIBC = _glibc()


def tune_malloc() -> None:
    """Fix glibc's mmap threshold (see the module's docstring)."""
    if _LIBC is not None:
        _LIBC.mallopt(_M_MMAP_THRESHOLD, _MMAP_THRESHOLD)


def malloc_trim() -> bool:
    """Return free heap memory to the system; whether there was any to return (False without glibc)."""
    return _LIBC is not None and bool(_LIBC.malloc_trim(0))


class Trimmer:
    """Trims memory :data:`TRIM_DELAY` seconds after :data:`TRIM_AFTER` connections ended."""

    __slots__ = ("_ended", "_loop", "_timer")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._ended = 0
        self._timer: asyncio.TimerHandle | None = None

    def connection_ended(self) -> None:
        self._ended += 1
        if self._ended >= TRIM_AFTER and self._timer is None and _LIBC is not None:
            self._timer = self._loop.call_later(TRIM_DELAY, self._trim)

    def _trim(self) -> None:
        self._timer = None
        self._ended = 0
        malloc_trim()

    def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
