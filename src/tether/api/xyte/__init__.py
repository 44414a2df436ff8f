"""The Xyte-style HTTP API under /v1 (docs/protocols.md section 9): device models for
operators, device registration, and the device calls authenticated with `Authorization: <access_key>`.

It is a Starlette app of its own, mounted at /v1, so that every error of this API family (also 404 and 405
of unknown paths and methods) has the Xyte shape `{"error": <code>, "message": <text>}` (`errors.py`).
"""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.routing import Mount

from tether.api.family import family_app
from tether.api.xyte import devices, errors, models
from tether.services import Services

PREFIX = "/v1"


def create_xyte_app(context: Services) -> Starlette:
    return family_app([*models.routes, *devices.routes], errors, context)


def mount(context: Services) -> Mount:
    """The route to add to the main app."""
    return Mount(PREFIX, app=create_xyte_app(context))


__all__ = ["PREFIX", "create_xyte_app", "mount"]
