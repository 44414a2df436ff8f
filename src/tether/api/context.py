"""What every router may use: the platform's services, attached to the app as `app.state.ctx`."""

from __future__ import annotations

from starlette.requests import HTTPConnection

from tether.services import Services


def ctx(request: HTTPConnection) -> Services:
    services: Services = request.app.state.ctx
    return services
