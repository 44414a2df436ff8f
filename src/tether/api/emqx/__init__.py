"""The EMQX-compatible management API under /api/v5 (docs/protocols.md section 8): built-in
database users and authorization rules, and API keys.

It is a Starlette app of its own, mounted at /api/v5, so that every error of this API family (also 404 and
405 of unknown paths and methods) has EMQX's shape `{"code": <CODE>, "message": <text>}` (`errors.py`).
"""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import ClientDisconnect
from starlette.routing import BaseRoute, Mount, Route

from tether.api.edge import CatchAll, RejectNul
from tether.api.emqx import api_keys, authn_users, authz_rules, client_history, errors
from tether.core.errors import DomainError
from tether.services import Services

PREFIX = "/api/v5"


def create_emqx_app(context: Services) -> Starlette:
    app = Starlette(
        routes=[*authn_users.routes, *authz_rules.routes, *api_keys.routes, *client_history.routes],
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


def mount(context: Services) -> list[BaseRoute]:
    """The routes to add to the main app: everything under /api/v5, and /api/v5 itself (a Mount matches only
    below its prefix), whose 404 is EMQX's too."""
    app = create_emqx_app(context)
    return [Mount(PREFIX, app=app), Route(PREFIX, app)]


__all__ = ["PREFIX", "create_emqx_app", "mount"]
