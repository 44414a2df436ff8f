"""What a client connection needs from its byte stream, and write batching per event-loop turn.

Each connection collects what it sends during one event-loop turn; the :class:`WriteBatcher` flushes every
connection that has output once per turn. Small packets are gathered in one buffer and written with one
``write`` (one system call for many packets: uvloop's ``writelines`` with thousands of small buffers is two
orders of magnitude slower under backpressure); large payloads are passed on by reference, not copied.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Any, Protocol

__all__ = ["Flushable", "Transport", "WriteBatcher"]


class Transport(Protocol):
    """The subset of :class:`asyncio.Transport` the broker uses (TCP, TLS and the WebSocket adapter)."""

    def write(self, data: bytes | bytearray | memoryview, /) -> None: ...

    def writelines(self, list_of_data: Iterable[bytes | bytearray | memoryview], /) -> None: ...

    def close(self) -> None: ...

    def can_write_eof(self) -> bool: ...

    def write_eof(self) -> None: ...

    def abort(self) -> None: ...

    def is_closing(self) -> bool: ...

    def pause_reading(self) -> None: ...

    def resume_reading(self) -> None: ...

    def get_extra_info(self, name: str, default: Any = None, /) -> Any: ...


class Flushable(Protocol):
    def flush(self) -> None: ...


class WriteBatcher:
    """Flushes the connections that queued output, once per event-loop turn."""

    __slots__ = ("_loop", "_pending", "_scheduled")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._pending: list[Flushable] = []
        self._scheduled = False

    def schedule(self, connection: Flushable) -> None:
        self._pending.append(connection)
        if not self._scheduled:
            self._scheduled = True
            self._loop.call_soon(self._flush)

    def _flush(self) -> None:
        self._scheduled = False
        pending = self._pending
        self._pending = []
        for connection in pending:
            connection.flush()
