"""The ASGI application: the Cumulocity API at the root with its error map (`errors.py`), /api/v5 and /v1
mounted as apps of their own with theirs, trailing slashes tolerated."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp

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
    presence,
    realtime,
    registration,
    trusted_certificates,
)
from tether.api.context import ctx
from tether.api.edge import CatchAll, NormalizePath, RejectNul
from tether.core.errors import DomainError
from tether.services import Services


async def health(request: Request) -> Response:
    readiness = ctx(request).readiness
    if readiness.ready:
        return JSONResponse({"status": "UP", "listeners": readiness.addresses})
    return JSONResponse({"status": "STARTING", "pending": readiness.pending}, status_code=503)


def create_app(context: Services) -> ASGIApp:
    routes = [
        Route("/health", health, methods=["GET"]),
        *presence.routes,  # before the inventory's {id}/{kind}
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
        *emqx_api.mount(context),
        xyte_api.mount(context),
    ]
    app = Starlette(
        routes=routes,
        middleware=[
            Middleware(CatchAll, handler=errors.server_error),
            # the mounted apps check their own paths (/api/v5 owns its bare prefix too, emqx.mount)
            Middleware(RejectNul, handler=errors.domain_error, skip=(emqx_api.PREFIX, xyte_api.PREFIX + "/")),
        ],
        exception_handlers={
            DomainError: errors.domain_error,
            HTTPException: errors.http_error,
            ClientDisconnect: errors.client_gone,
        },
    )
    app.router.redirect_slashes = False
    app.state.ctx = context
    return NormalizePath(app)
