"""One API family as its own Starlette app: its routes, and its error body for every failure (a domain error,
an unknown path or method, a NUL in the URL, an unexpected exception).

The Cumulocity REST API is the root app; /api/v5 (EMQX) and /v1 (Xyte) are mounted inside it, each built here
with its own `errors` module, so no handler chooses a body by looking at the URL.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Protocol

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.routing import BaseRoute

from tether.api.edge import CatchAll, RejectNul
from tether.api.routing import IndexedRouter
from tether.core.errors import DomainError
from tether.services import Services

log = logging.getLogger("tether.api")


class FamilyErrors(Protocol):
    """What a family's errors module provides (api/errors.py, api/emqx/errors.py, api/xyte/errors.py)."""

    async def domain_error(self, request: Request, exc: Exception) -> Response: ...
    async def http_error(self, request: Request, exc: Exception) -> Response: ...
    async def server_error(self, request: Request, exc: Exception) -> Response: ...


async def client_gone(request: Request, exc: Exception) -> Response:
    """The client left while its body was being read: nobody is there to answer, nothing to log."""
    log.debug("%s %s: client disconnected", request.method, request.url.path)
    return Response(status_code=400)


def family_app(
    routes: Sequence[BaseRoute],
    errors: FamilyErrors,
    context: Services,
    *,
    mounted: tuple[str, ...] = (),
    outer: Sequence[Middleware] = (),
) -> Starlette:
    """`mounted`: the prefixes of the families mounted inside this one, which check their own URLs;
    `outer`: middleware that sees every request and answer before the family's own (e.g. metrics)."""
    app = Starlette(
        routes=list(routes),
        middleware=[
            *outer,
            Middleware(CatchAll, handler=errors.server_error),
            Middleware(RejectNul, handler=errors.domain_error, skip=mounted),
        ],
        exception_handlers={
            DomainError: errors.domain_error,
            HTTPException: errors.http_error,
            ClientDisconnect: client_gone,
        },
    )
    # The same routes, tried by the path's first segment (api/routing.py); no redirect of a trailing slash.
    app.router = IndexedRouter(list(routes), redirect_slashes=False)
    app.state.ctx = context
    return app
