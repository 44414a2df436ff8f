"""The EMQX-compatible management API under /api/v5 (reference emqx-fleets-xyte.md section 1): built-in
database users and authorization rules, and API keys.

It is a Starlette app of its own, mounted at /api/v5, so that every error of this API family (also 404 and
405 of unknown paths and methods) has EMQX's shape `{"code": <CODE>, "message": <text>}` (`errors.py`).
"""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import ClientDisconnect
from starlette.routing import Mount

from tether.api.edge import CatchAll, RejectNul
from tether.api.emqx import api_keys, authn_users, authz_rules, errors
from tether.core.errors import DomainError
from tether.services import Services

PREFIX = "/api/v5"


def create_emqx_app(context: Services) -> Starlette:
    app = Starlette(
        routes=[*authn_users.routes, *authz_rules.routes, *api_keys.routes],
        middleware=[
            Middleware(CatchAll, handler=errors.server_error),
            Middleware(RejectNul, handler=errors.domain_error),
        ],
        exception_handlers={
            DomainError: errors.domain_error,
            HTTPException: errors.http_error,
            ClientDisconnect: errors.client_gone,
        },
    )
    app.router.redirect_slashes = False
    app.state.ctx = context
    return app


def mount(context: Services) -> Mount:
    """The route to add to the main app."""
    return Mount(PREFIX, app=create_emqx_app(context))


__all__ = ["PREFIX", "create_emqx_app", "mount"]
