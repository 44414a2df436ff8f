"""http_writes.py: what one loop turn writes leaves in one write; nothing is held past the turn or a close."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
import uvicorn

from tether.http_writes import HOLD_BYTES, TurnWrites, TurnWritesProtocol

pytestmark = pytest.mark.anyio


class Recording(asyncio.Transport):
    def __init__(self) -> None:
        super().__init__()
        self.writes: list[bytes] = []
        self.closed = self.aborted = self.eof = False

    def write(self, data: Any) -> None:
        self.writes.append(bytes(data))

    def close(self) -> None:
        self.closed = True

    def abort(self) -> None:
        self.aborted = True

    def write_eof(self) -> None:
        self.eof = True

    def is_closing(self) -> bool:
        return self.closed or self.aborted

    def get_write_buffer_size(self) -> int:
        return 7


async def turn() -> None:
    await asyncio.sleep(0)


async def test_one_turns_writes_leave_together() -> None:
    inner = Recording()
    held = TurnWrites(inner, asyncio.get_running_loop())
    held.write(b"HTTP/1.1 200 OK\r\n\r\n")
    held.writelines([b"body", memoryview(b"!")])
    assert inner.writes == [] and held.get_write_buffer_size() == 7 + 19 + 5
    await turn()
    assert inner.writes == [b"HTTP/1.1 200 OK\r\n\r\nbody!"] and held.get_write_buffer_size() == 7
    held.write(b"next")
    await turn()
    assert inner.writes[1:] == [b"next"]


async def test_close_and_eof_send_what_is_held_abort_drops_it() -> None:
    inner = Recording()
    held = TurnWrites(inner, asyncio.get_running_loop())
    held.write(b"last words")
    held.write_eof()
    assert inner.writes == [b"last words"] and inner.eof
    held.write(b"bye")
    held.close()
    assert inner.writes[1:] == [b"bye"] and inner.closed
    await turn()  # the turn's flush finds nothing left, and writes nothing to a closed transport
    assert len(inner.writes) == 2
    inner = Recording()
    held = TurnWrites(inner, asyncio.get_running_loop())
    held.write(b"never")
    held.abort()
    await turn()
    assert inner.writes == [] and inner.aborted


async def test_a_long_stream_goes_out_as_it_grows() -> None:
    inner = Recording()
    held = TurnWrites(inner, asyncio.get_running_loop())
    chunk = b"x" * (HOLD_BYTES // 4)
    for _ in range(9):
        held.write(chunk)
    assert [len(w) for w in inner.writes] == [5 * len(chunk)]  # the inner transport's back-pressure applies
    await turn()
    assert [len(w) for w in inner.writes] == [5 * len(chunk), 4 * len(chunk)]


async def test_a_served_answer_is_complete() -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        body = b"y" * 100_000 if scope["path"] == "/big" else b"small"
        await send(
            {"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]}
        )
        await send({"type": "http.response.body", "body": body[:10], "more_body": True})
        await asyncio.sleep(0.01)  # the head and first chunk leave before this
        await send({"type": "http.response.body", "body": body[10:]})

    config = uvicorn.Config(
        app, host="127.0.0.1", port=0, http=TurnWritesProtocol, lifespan="off", log_config=None
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:  # noqa: ASYNC110 - uvicorn exposes readiness only as a flag
        await asyncio.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", trust_env=False) as client:
            for _ in range(3):  # keep-alive: one connection, answers one after the other
                assert (await client.get("/small")).text == "small"
                big = await client.get("/big")
                assert big.status_code == 200 and big.content == b"y" * 100_000
    finally:
        server.should_exit = True
        await task
