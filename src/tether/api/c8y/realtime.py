"""Real-time notifications (Bayeux): long-polling POST and WebSocket on the Cumulocity endpoints.

The hub is `app.state.realtime` (set in create_app); everything protocol-related lives in tether.realtime.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

import orjson
from starlette.requests import HTTPConnection, Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from tether.api.auth import authenticate, parse_basic
from tether.api.context import ctx
from tether.api.errors import error_response
from tether.api.http import base_url
from tether.api.permissions import listener, realtime_scopes
from tether.core.errors import BadRequest, PayloadTooLarge
from tether.realtime import (
    Conversation,
    Endpoint,
    Hub,
    MalformedBatch,
    Message,
    PendingConnect,
    ReadRights,
    decode,
    ext_token,
)
from tether.services import Services
from tether.tenants.models import Principal
from tether.tenants.tokens import TokenRefused

log = logging.getLogger("tether.api.realtime")
R = "realtime"

PATHS: dict[str, Endpoint] = {
    "/notification/realtime": Endpoint.REALTIME,
    "/cep/realtime": Endpoint.REALTIME,  # legacy name of the same service
    "/devicecontrol/notifications": Endpoint.OPERATIONS,
    "/notification/operations": Endpoint.OPERATIONS,
}


def _hub(conn: HTTPConnection) -> Hub:
    return ctx(conn).realtime


def _rights(context: Services) -> ReadRights:
    """The REST read rules the subscriptions are checked against."""
    return ReadRights(context.inventory, context.operations)


async def _listener(context: Services, who: Principal | None) -> Principal | None:
    """The principal a listener is filtered as (api/permissions.py listener), a person with inventory roles
    limited to the objects they reach in every scope the notifications deliver."""
    who = listener(who)
    scopes = realtime_scopes(who)
    if who is not None and scopes is not None:
        who = await context.inventory.scoped(who, scopes, False)
    return who


def _token_authenticator(context: Services) -> Callable[[str], Awaitable[Principal | None]]:
    """The handshake ext token is base64("tenant/user:password"), as in HTTP Basic."""

    async def authenticate_token(token: str) -> Principal | None:
        credentials = parse_basic(f"Basic {token}", context.settings.tenant)
        return (
            None
            if credentials is None
            else await _listener(context, await context.tenants.authenticate(*credentials))
        )

    return authenticate_token


# -- long-polling --------------------------------------------------------------------------------


async def _body(request: Request) -> bytes:
    limit = ctx(request).settings.max_body_size
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise PayloadTooLarge(f"Request body exceeds the limit of {limit} bytes", resource=R)
    return bytes(body)


async def _until_disconnect(
    request: Request, work: Coroutine[Any, Any, list[Message]]
) -> list[Message] | None:
    """Run the batch, but give up (leaving buffered messages for the next connect) if the client leaves."""

    async def disconnected() -> None:
        try:
            while (await request.receive())["type"] != "http.disconnect":
                pass
        except Exception:  # a server that cannot tell (or already failed): treat as gone
            log.debug("receive failed while holding %s", request.url.path, exc_info=True)

    task = asyncio.ensure_future(work)
    watcher = asyncio.ensure_future(disconnected())
    try:
        await asyncio.wait({task, watcher}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        watcher.cancel()
        if not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
    return None if task.cancelled() else task.result()


def _long_polling(endpoint: Endpoint) -> Callable[[Request], Awaitable[Response]]:
    async def handle(request: Request) -> Response:
        hub = _hub(request)
        body = await _body(request)
        try:
            messages = decode(body)
        except MalformedBatch as exc:
            raise BadRequest(str(exc), resource=R) from None
        principal: Principal | None = None
        if request.headers.get("authorization") or not any(ext_token(m) for m in messages):
            principal = await _listener(
                ctx(request), await authenticate(request)
            )  # 401 unless valid Basic (or an ext token)
        context = ctx(request)
        conversation = Conversation(
            hub, endpoint, base_url(request), principal, _token_authenticator(context), _rights(context)
        )
        replies = await _until_disconnect(request, conversation.process(messages))
        if replies is None:
            return Response(status_code=204)  # nobody is listening any more
        return Response(orjson.dumps(replies), media_type="application/json")

    return handle


# -- WebSocket -----------------------------------------------------------------------------------


def _http_base_url(websocket: WebSocket) -> str:
    url = websocket.base_url
    return str(url.replace(scheme="https" if url.scheme == "wss" else "http")).rstrip("/")


async def _upgrade_principal(websocket: WebSocket) -> tuple[bool, Principal | None]:
    """(accepted, principal): Basic or a bearer token of POST /api/v5/login (as on long-polling) on the
    upgrade request if present; else the handshake ext decides."""
    header = websocket.headers.get("authorization")
    if not header:
        return True, None
    context = ctx(websocket)
    scheme, _, token = header.partition(" ")
    if scheme.lower() == "bearer":
        try:
            return True, listener(await context.tokens.verify(token.strip()))
        except TokenRefused:
            return False, None
    credentials = parse_basic(header, context.settings.tenant)
    principal = (
        None
        if credentials is None
        else await _listener(context, await context.tenants.authenticate(*credentials))
    )
    return principal is not None, principal


class _Socket:
    """One WebSocket: frames in, replies out; held connects answered from their own tasks."""

    def __init__(self, websocket: WebSocket, conversation: Conversation) -> None:
        self.websocket = websocket
        self.conversation = conversation
        self._lock = asyncio.Lock()
        self._connects: set[asyncio.Task[None]] = set()

    async def send(self, messages: list[Message]) -> None:
        async with self._lock:
            await self.websocket.send_text(orjson.dumps(messages).decode())

    async def run(self) -> None:
        try:
            while True:
                frame = await self.websocket.receive()
                if frame["type"] == "websocket.disconnect":
                    return
                payload = frame.get("text") if frame.get("text") is not None else frame.get("bytes")
                await self.frame(payload or b"")
        except WebSocketDisconnect:
            return
        finally:
            for task in self._connects:
                task.cancel()

    async def frame(self, payload: bytes | str) -> None:
        try:
            messages = decode(payload)
        except MalformedBatch as exc:
            await self.send([{"successful": False, "error": f"400::{exc}"}])
            return
        replies: list[Message] = []
        for message in messages:
            step = await self.conversation.step(message)
            if isinstance(step, PendingConnect):
                task = asyncio.create_task(self._hold(step))
                self._connects.add(task)
                task.add_done_callback(self._connects.discard)
            else:
                replies.extend(step)
        if replies:
            await self.send(replies)

    async def _hold(self, pending: PendingConnect) -> None:
        replies = await self.conversation.complete(pending)
        try:
            await self.send(replies)
        except (WebSocketDisconnect, RuntimeError, OSError):
            # The socket went away after the messages were taken: keep them for the client's next connect.
            pending.session.requeue(m for m in replies if not str(m.get("channel", "")).startswith("/meta/"))


def _websocket(endpoint: Endpoint) -> Callable[[WebSocket], Awaitable[None]]:
    async def handle(websocket: WebSocket) -> None:
        hub = _hub(websocket)
        accepted, principal = await _upgrade_principal(websocket)
        if not accepted:
            if "websocket.http.response" in websocket.scope.get("extensions", {}):
                denial = error_response(401, "security", "Unauthorized", "Invalid credentials!")
                await websocket.send_denial_response(denial)
            else:
                await websocket.close(code=1008)
            return
        await websocket.accept()
        conversation = Conversation(
            hub,
            endpoint,
            _http_base_url(websocket),
            principal,
            _token_authenticator(ctx(websocket)),
            _rights(ctx(websocket)),
        )
        await _Socket(websocket, conversation).run()

    return handle


routes: list[BaseRoute] = [
    route
    for path, endpoint in PATHS.items()
    for route in (
        Route(path, _long_polling(endpoint), methods=["POST"]),
        WebSocketRoute(path, _websocket(endpoint)),
    )
]
