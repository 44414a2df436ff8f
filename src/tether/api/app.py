"""The ASGI application: the Cumulocity API at the root with its error map (`errors.py`), /api/v5 and /v1
mounted as apps of their own with theirs, trailing slashes tolerated; the web console's files at `/` and
`/ui/` (`console.py`)."""

from __future__ import annotations

from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp

from tether.api import console, errors
from tether.api import emqx as emqx_api
from tether.api import fleets as fleets_api
from tether.api import xyte as xyte_api
from tether.api.c8y import (
    alarms,
    audit,
    binaries,
    bulk_operations,
    events,
    identity,
    inventory,
    inventory_roles,
    measurements,
    operations,
    platform,
    presence,
    realtime,
    registration,
    retention,
    tenants,
    trusted_certificates,
    users,
)
from tether.api.context import ctx
from tether.api.edge import NormalizePath
from tether.api.family import family_app
from tether.cluster.invalidation import Settled
from tether.monitoring import HttpMetrics
from tether.services import Services


async def health(request: Request) -> Response:
    readiness = ctx(request).readiness
    if readiness.ready:
        return JSONResponse({"status": "UP", "listeners": readiness.addresses})
    return JSONResponse({"status": "STARTING", "pending": readiness.pending}, status_code=503)


def create_app(context: Services) -> ASGIApp:
    routes = [
        Route("/health", health, methods=["GET"]),
        *binaries.routes,
        *presence.routes,  # before the inventory's {id}/{kind}
        *inventory.routes,
        *identity.routes,
        *platform.routes,
        *inventory_roles.routes,  # before the users' /user/{tenant}/... routes
        *users.routes,
        *operations.routes,
        *bulk_operations.routes,
        *registration.routes,
        *realtime.routes,
        *measurements.routes,
        *events.routes,
        *alarms.routes,
        *trusted_certificates.routes,
        *console.routes(),
        *tenants.routes,
        *audit.routes,
        *retention.routes,
        *emqx_api.mount(context),
        xyte_api.mount(context),
        fleets_api.mount(context),
    ]
    # the mounted apps check their own paths (/api/v5 owns its bare prefix too, emqx.mount)
    mounted = (emqx_api.PREFIX, xyte_api.PREFIX + "/", fleets_api.PREFIX + "/")
    # Requests by route and status (monitoring/http.py): outside CatchAll, so its 500s count too.
    metrics = Middleware(HttpMetrics, counts=context.monitoring.http)
    app: ASGIApp = NormalizePath(family_app(routes, errors, context, mounted=mounted, outer=[metrics]))
    if context.cluster is not None:
        app = Settled(app)  # answers wait until the other nodes dropped what the request changed
    return app
