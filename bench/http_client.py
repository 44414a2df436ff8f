"""A minimal HTTP/1.1 keep-alive client for the REST benchmarks: one connection, one request at a time.

httpx costs about 1 ms of client CPU per request (measured: the ceiling phase of inventory_rest.py ran at
~1,000 req/s with the client at 96% of a core and the server at 18%), so on a 2-core machine it, not the
server, sets the figure. This client writes the request bytes itself and reads the status line, the headers
and a Content-Length body (or a chunked one) on an asyncio Protocol: a few microseconds per request. It speaks
only what the benchmarks need and raises httpx's transport errors so the load loops treat both clients alike.
"""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import orjson


class RawResponse:
    __slots__ = ("content", "headers", "status_code")

    def __init__(self, status_code: int, headers: dict[str, str], content: bytes) -> None:
        self.status_code = status_code
        self.headers = headers
        self.content = content

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", "replace")

    def json(self) -> Any:
        return orjson.loads(self.content)


class _Protocol(asyncio.Protocol):
    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.waiter: asyncio.Future[RawResponse] | None = None
        self.closed = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # uvloop's is not an asyncio.Transport

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_exception(httpx.RemoteProtocolError(f"connection lost: {exc}"))

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        if self.waiter is None or self.waiter.done():
            return
        try:
            response = _parse(self.buffer)
        except httpx.RemoteProtocolError as exc:
            self.waiter.set_exception(exc)
            return
        if response is not None:
            self.waiter.set_result(response)


def _parse(buffer: bytearray) -> RawResponse | None:
    """A whole response taken off the front of `buffer`, or None when more bytes are needed."""
    end = buffer.find(b"\r\n\r\n")
    if end < 0:
        return None
    head = bytes(buffer[:end]).decode("latin-1").split("\r\n")
    parts = head[0].split(" ", 2)
    if len(parts) < 2 or not parts[1].isdigit():
        raise httpx.RemoteProtocolError(f"bad status line {head[0]!r}")
    headers: dict[str, str] = {}
    for line in head[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    start = end + 4
    if "content-length" in headers:
        stop = start + int(headers["content-length"])
        if len(buffer) < stop:
            return None
        content = bytes(buffer[start:stop])
    elif headers.get("transfer-encoding", "").lower() == "chunked":
        chunks: list[bytes] = []
        position = start
        while True:
            line_end = buffer.find(b"\r\n", position)
            if line_end < 0:
                return None
            size = int(bytes(buffer[position:line_end]).split(b";")[0], 16)
            chunk_start = line_end + 2
            if len(buffer) < chunk_start + size + 2:
                return None
            if size == 0:
                stop = chunk_start + 2  # no trailers from our server
                break
            chunks.append(bytes(buffer[chunk_start : chunk_start + size]))
            position = chunk_start + size + 2
        content = b"".join(chunks)
    else:
        raise httpx.RemoteProtocolError("a response without Content-Length or chunked encoding")
    del buffer[:stop]
    return RawResponse(int(parts[1]), headers, content)


class RawClient:
    """The part of httpx.AsyncClient the benchmarks use (`get`, `post`, `request`, async with), on one
    keep-alive connection, reconnecting when the server closes it."""

    def __init__(self, base_url: str, headers: dict[str, str], timeout: float) -> None:
        host_port = base_url.split("://", 1)[1].rstrip("/")
        self._host, _, port = host_port.rpartition(":")
        self._port = int(port)
        self._timeout = timeout
        self._head = "".join(f"{k}: {v}\r\n" for k, v in {"Host": host_port, **headers}.items())
        self._protocol: _Protocol | None = None

    async def __aenter__(self) -> RawClient:
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        if self._protocol is not None and self._protocol.transport is not None:
            self._protocol.transport.close()
        self._protocol = None

    async def _connection(self) -> _Protocol:
        protocol = self._protocol
        if protocol is None or protocol.closed:
            loop = asyncio.get_running_loop()
            try:
                _, protocol = await loop.create_connection(_Protocol, self._host, self._port)
            except OSError as exc:
                raise httpx.ConnectError(str(exc)) from exc
            self._protocol = protocol
        return protocol

    async def get(self, path: str, *, params: dict[str, str] | None = None) -> RawResponse:
        if params:
            path += "?" + httpx.QueryParams(params).__str__()
        return await self.request("GET", path)

    async def post(
        self,
        path: str,
        *,
        content: bytes | None = None,
        json: Any = None,
        headers: dict[str, str] | None = None,
    ) -> RawResponse:
        if json is not None:
            content = orjson.dumps(json)
            headers = {"Content-Type": "application/json", **(headers or {})}
        return await self.request("POST", path, content or b"", headers)

    async def request(
        self, method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None
    ) -> RawResponse:
        protocol = await self._connection()
        extra = "".join(f"{k}: {v}\r\n" for k, v in (headers or {}).items())
        length = f"Content-Length: {len(body)}\r\n" if body or method in ("POST", "PUT") else ""
        message = f"{method} {path} HTTP/1.1\r\n{self._head}{extra}{length}\r\n".encode() + body
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[RawResponse] = loop.create_future()
        protocol.waiter = waiter
        assert protocol.transport is not None
        protocol.transport.write(message)
        timer = loop.call_later(self._timeout, _expire, waiter)
        try:
            response = await waiter
        except httpx.HTTPError:
            await self.aclose()
            raise
        finally:
            timer.cancel()
            protocol.waiter = None
        if response.headers.get("connection", "").lower() == "close":
            await self.aclose()
        return response


def _expire(waiter: asyncio.Future[RawResponse]) -> None:
    if not waiter.done():
        waiter.set_exception(httpx.ReadTimeout("no response within the timeout"))
