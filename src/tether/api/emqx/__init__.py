"""The EMQX-compatible management API under /api/v5 (docs/protocols.md section 8): built-in
database users and authorization rules, and API keys.

It is a Starlette app of its own, mounted at /api/v5, so that every error of this API family (also 404 and
405 of unknown paths and methods) has EMQX's shape `{"code": <CODE>, "message": <text>}` (`errors.py`).
"""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.routing import BaseRoute, Mount, Route

from tether.api.emqx import (
    api_keys,
    authn_users,
    authz_rules,
    banned,
    client_history,
    clients,
    connectors,
    errors,
    login,
    monitoring,
    nodes,
    publish,
    rules,
    subscriptions,
)
from tether.api.family import family_app
from tether.services import Services

PREFIX = "/api/v5"


def create_emqx_app(context: Services) -> Starlette:
    routes = [
        *authn_users.routes,
        *authz_rules.routes,
        *api_keys.routes,
        *clients.routes,
        *client_history.routes,
        *subscriptions.routes,
        *publish.routes,
        *banned.routes,
        *monitoring.routes,
        *nodes.routes,
        *login.routes,
        *rules.routes,
        *connectors.routes,
    ]
    return family_app(routes, errors, context)


def mount(context: Services) -> list[BaseRoute]:
    """The routes to add to the main app: everything under /api/v5, and /api/v5 itself (a Mount matches only
    below its prefix), whose 404 is EMQX's too."""
    app = create_emqx_app(context)
    return [Mount(PREFIX, app=app), Route(PREFIX, app)]


__all__ = ["PREFIX", "create_emqx_app", "mount"]
