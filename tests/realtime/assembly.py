"""A small app with only the real-time routes over a real platform (services, storage, EventBus).

It needs none of the wiring in bootstrap.py / create_app, so these tests run before and after it exists.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import dataclasses
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from tests.realtime.helpers import render_thing
from tests.support import ADMIN_PASSWORD, BOOTSTRAP_PASSWORD

from tether.api import errors
from tether.api.c8y import realtime
from tether.bootstrap import Platform, build_platform
from tether.c8y import render
from tether.config import Settings
from tether.core.errors import DomainError
from tether.realtime import Hub
from tether.services import Services
from tether.tenants.models import Principal, Role

ADMIN_AUTH = ("t1/admin", ADMIN_PASSWORD)
BOOTSTRAP_AUTH = ("management/devicebootstrap", BOOTSTRAP_PASSWORD)
T1_ADMIN = Principal("t1", "admin", frozenset({Role.ADMIN}))


def token(login: str, password: str) -> dict[str, Any]:
    """The handshake ext that authenticates a WebSocket (or a POST without Authorization)."""
    encoded = base64.b64encode(f"{login}:{password}".encode()).decode()
    return {"com.cumulocity.authn": {"token": encoded}}


def _context(app: Any) -> Services:
    while not hasattr(app, "state"):  # create_app wraps the Starlette app in middleware
        app = app.app
    context: Services = app.state.ctx
    return context


@dataclass
class Assembled:
    platform: Platform
    hub: Hub
    app: Starlette


def realtime_app() -> Starlette:
    app = Starlette(
        routes=realtime.routes,
        exception_handlers={DomainError: errors.domain_error, HTTPException: errors.http_error},
    )
    app.router.redirect_slashes = False
    return app


async def assemble(tmp_path: Path, app: Starlette | None = None, **hub_options: Any) -> Assembled:
    settings = Settings(
        data_dir=tmp_path,
        database_url=f"sqlite:///{tmp_path / 'tether.db'}",
        admin_password=ADMIN_PASSWORD,
        bootstrap_password=BOOTSTRAP_PASSWORD,
        max_body_size=64 * 1024,
    )
    platform = await build_platform(settings, listeners=[])
    hub = Hub(
        platform.services.events,
        {"managedobjects": render.managed_object, "operations": render_thing},
        **{"timeout": 30.0, **hub_options},
    )
    app = app or realtime_app()
    app.state.ctx = dataclasses.replace(_context(platform.app), realtime=hub)
    return Assembled(platform, hub, app)


@contextlib.asynccontextmanager
async def serving(app: Starlette) -> AsyncIterator[str]:
    """Serve `app` with uvicorn on an ephemeral loopback port in the running loop; yields its http:// URL."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    sock.setblocking(False)
    config = uvicorn.Config(
        app, lifespan="off", log_config=None, access_log=False, timeout_graceful_shutdown=1
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        while not server.started and not task.done():  # noqa: ASYNC110 (uvicorn exposes readiness as a flag)
            await asyncio.sleep(0.01)
        host, port = sock.getsockname()[:2]
        yield f"http://{host}:{port}"
    finally:
        server.should_exit = True
        await task
        sock.close()
