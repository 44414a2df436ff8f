"""The ASGI application: routes of every API family, one error map, trailing slashes tolerated."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from tether.api import emqx as emqx_api
from tether.api import errors
from tether.api import xyte as xyte_api
from tether.api.c8y import (
    alarms,
    events,
    identity,
    inventory,
    measurements,
    operations,
    platform,
    realtime,
    registration,
    trusted_certificates,
)
from tether.api.context import ApiContext, ctx
from tether.core.errors import DomainError
from tether.realtime import Hub


async def health(request: Request) -> Response:
    readiness = ctx(request).readiness
    if readiness.ready:
        return JSONResponse({"status": "UP", "listeners": readiness.addresses})
    return JSONResponse({"status": "STARTING", "pending": readiness.pending}, status_code=503)


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


def create_app(context: ApiContext, hub: Hub | None = None) -> ASGIApp:
    routes = [
        Route("/health", health, methods=["GET"]),
        *inventory.routes,
        *identity.routes,
        *platform.routes,
        *operations.routes,
        *registration.routes,
        *realtime.routes,
        *measurements.routes,
        *events.routes,
        *alarms.routes,
        *trusted_certificates.routes,
        *emqx_api.routes,
        xyte_api.mount(context),
    ]
    app = Starlette(
        routes=routes,
        exception_handlers={
            DomainError: errors.domain_error,
            HTTPException: errors.http_error,
            ClientDisconnect: errors.client_gone,
            Exception: errors.server_error,
        },
    )
    app.router.redirect_slashes = False
    app.state.ctx = context
    app.state.realtime = hub
    return NormalizePath(app)
