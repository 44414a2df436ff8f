"""uvicorn's httptools protocol, with the writes of one event-loop turn sent as one.

uvicorn writes a response's status line and headers, then its body: two sends, and on a connection where the
client waits for the whole answer, two wake-ups of the client and two passes through the TCP stack. The
transport given to the protocol here holds what is written until the turn ends (or until the connection is
closed), then sends it at once: the head and body of an answer built in one go leave in one send. A
streaming answer's later chunks still leave at the end of the turn that wrote them.
Per answer this saved ~20% of the server CPU of the REST ceiling (GET /bench/ceiling) and 5-10% of a paged
measurement GET (bench/README.md, REST throughput).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

#: Held bytes beyond which a write goes out at once (uvicorn's write buffer high-water mark is 64 KiB).
HOLD_BYTES = 65536


class TurnWrites(asyncio.Transport):
    """A transport that sends what one loop turn wrote in one write of the transport it wraps."""

    __slots__ = ("_held", "_inner", "_loop", "_size")

    def __init__(self, inner: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__()
        self._inner = inner
        self._held: list[bytes | bytearray | memoryview] = []
        self._size = 0
        self._loop = loop

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if not self._held:
            self._loop.call_soon(self.flush)
        self._held.append(data)
        self._size += len(data)
        if self._size > HOLD_BYTES:  # a stream written without a pause: the inner transport's back-pressure
            self.flush()

    def writelines(self, list_of_data: Iterable[bytes | bytearray | memoryview]) -> None:
        for data in list_of_data:
            self.write(data)

    def flush(self) -> None:
        held, self._held, self._size = self._held, [], 0
        if held and not self._inner.is_closing():
            self._inner.write(held[0] if len(held) == 1 else b"".join(held))

    def close(self) -> None:
        self.flush()
        self._inner.close()

    def write_eof(self) -> None:
        self.flush()
        self._inner.write_eof()

    def abort(self) -> None:
        self._held, self._size = [], 0
        self._inner.abort()

    def get_write_buffer_size(self) -> int:
        return self._inner.get_write_buffer_size() + self._size

    def can_write_eof(self) -> bool:
        return self._inner.can_write_eof()

    def is_closing(self) -> bool:
        return self._inner.is_closing()

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return self._inner.get_extra_info(name, default)

    def set_protocol(self, protocol: asyncio.BaseProtocol) -> None:
        self._inner.set_protocol(protocol)

    def get_protocol(self) -> asyncio.BaseProtocol:
        return self._inner.get_protocol()

    def is_reading(self) -> bool:
        return self._inner.is_reading()

    def pause_reading(self) -> None:
        self._inner.pause_reading()

    def resume_reading(self) -> None:
        self._inner.resume_reading()

    def set_write_buffer_limits(self, high: int | None = None, low: int | None = None) -> None:
        self._inner.set_write_buffer_limits(high, low)

    def get_write_buffer_limits(self) -> tuple[int, int]:
        return self._inner.get_write_buffer_limits()


class TurnWritesProtocol(HttpToolsProtocol):
    """`uvicorn.Config(http=...)`: httptools, writing through TurnWrites."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)  # addresses and flow control on the real transport
        self.transport = TurnWrites(transport, self.loop)
