"""ASGI middleware at the edge of each app: path normalization, NUL in the URL, unexpected exceptions."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tether.core.errors import InvalidInput
from tether.core.text import NUL

Handler = Callable[[Request, Exception], Awaitable[Response]]


class NormalizePath:
    """`/alarm/alarms/` is `/alarm/alarms` (c8y-api posts alarms with the slash) and `/alarm/alarms//5` is
    `/alarm/alarms/5` (its Alarm.update() joins '/alarm/alarms/' and '/5')."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            path = scope["path"]
            normal = "/" + "/".join(part for part in path.split("/") if part)
            if normal != path:
                scope = dict(scope, path=normal)
        await self.app(scope, receive, send)


class RejectNul:
    """A NUL character (`%00`) anywhere in the path or query string is a 422 in the app's error body:
    every path segment and query parameter ends up as a stored or looked-up text, and PostgreSQL text
    cannot hold NUL (request bodies are checked where they are parsed, api/http.py). `skip`: the prefixes
    of mounted apps that check their own requests."""

    def __init__(self, app: ASGIApp, handler: Handler, skip: tuple[str, ...] = ()) -> None:
        self.app = app
        self.handler = handler
        self.skip = skip

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and not scope["path"].startswith(self.skip):
            query = scope.get("query_string", b"").lower()
            where = "path" if NUL in scope["path"] else "query" if b"%00" in query or b"\0" in query else None
            if where is not None:
                message = f"The {where} must not contain the NUL character (%00)"
                # the API named by the first segment, as the routers name theirs (/measurement/...)
                api = scope["path"].split("/")[1]
                exc = InvalidInput(message, resource=api if api.isascii() and api.isalpha() else "general")
                response = await self.handler(Request(scope, receive), exc)
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


class CatchAll:
    """An unexpected exception answers 500 in the app's error body like any other error, logged once by
    `handler`, and the keep-alive connection stays open. (Starlette's ServerErrorMiddleware would send the
    500 and re-raise; uvicorn then logs the traceback again and closes the connection.) Only an exception
    after the response has started still goes up: closing the connection is the only way to end it."""

    def __init__(self, app: ASGIApp, handler: Handler) -> None:
        self.app = app
        self.handler = handler

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, tracking)
        except Exception as exc:
            if started:
                raise
            response = await self.handler(Request(scope, receive), exc)
            await response(scope, receive, send)
