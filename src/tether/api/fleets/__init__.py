"""The EMQX Fleets operator API under /api/v1 (docs/protocols.md section 10): things, thing types, thing
groups, shadows, commands and jobs, with EMQX's paging `{data, meta}` and error body. Admin Basic
credentials, an API key or a bearer token of /api/v5/login, as on /api/v5.

A Starlette app of its own, mounted at /api/v1, so every error under the prefix has the Fleets body.
"""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.routing import BaseRoute, Mount

from tether.api.family import family_app
from tether.api.fleets import catalog, commands, errors, jobs, thing_datas, things
from tether.services import Services

PREFIX = "/api/v1"


def create_fleets_app(context: Services) -> Starlette:
    routes = [*things.routes, *catalog.routes, *commands.routes, *jobs.routes, *thing_datas.routes]
    return family_app(routes, errors, context)


def mount(context: Services) -> BaseRoute:
    return Mount(PREFIX, app=create_fleets_app(context))


__all__ = ["PREFIX", "create_fleets_app", "mount"]
