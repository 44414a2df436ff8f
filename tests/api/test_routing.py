"""api/routing.py: the router that tries routes by first segment picks what Starlette's own Router picks."""

from __future__ import annotations

import itertools
import re
from collections.abc import Awaitable, Callable

import httpx
import pytest
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import BaseRoute, Host, Mount, Route, Router, WebSocketRoute
from starlette.types import ASGIApp

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
from tether.api.routing import SegmentRouter, first_segment

pytestmark = pytest.mark.anyio

MODULES = (
    binaries, presence, inventory, identity, platform, inventory_roles, users, operations, bulk_operations,
    registration, realtime, measurements, events, alarms, trusted_certificates, tenants, audit, retention,
)  # fmt: skip


def named(label: str) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        return PlainTextResponse(label)

    return endpoint


def routes() -> list[BaseRoute]:
    """The root family's routes as create_app orders them (same paths and methods, endpoints that answer
    with their index), and one of each kind the index treats apart."""
    out: list[BaseRoute] = [Route("/health", named("health"), methods=["GET"])]
    for module in MODULES:
        for route in module.routes:
            if isinstance(route, Route):
                out.append(Route(route.path, named(str(len(out))), methods=route.methods))
            else:  # the realtime websocket: a path all the same
                assert isinstance(route, WebSocketRoute)
                out.append(Route(route.path, named(str(len(out))), methods=["GET"]))
    sub = Router([Route("/clients", named("mounted"), methods=["GET"])])
    out += [
        Mount("/api/v5", app=sub),
        Route("/{tenant}/special", named("param-first"), methods=["GET"]),
        Host("example.org", app=Router([Route("/inventory/managedObjects", named("host"))])),
        Route("/inventory/{anything:path}", named("late catch-all"), methods=["PUT"]),
    ]
    return out


def sample_paths(table: list[BaseRoute]) -> list[str]:
    paths = {"/", "/nowhere", "/x/special", "/api/v5/clients", "/api/v5", "/inventory", "/inventory/"}
    for route in table:
        if isinstance(route, Route):
            paths.add(re.sub(r"\{[^}]*\}", "12", route.path))
            paths.add(re.sub(r"\{[^}]*\}", "12", route.path) + "/extra")
    return sorted(paths)


async def answer(app: ASGIApp, method: str, path: str, host: str) -> tuple[int, str]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url=f"http://{host}") as client:
        response = await client.request(method, path)
    return response.status_code, response.text


def test_first_segment() -> None:
    assert first_segment(Route("/measurement/measurements/{id}", named("x"))) == "measurement"
    assert first_segment(Route("/{tenant}/x", named("x"))) is None
    assert first_segment(Mount("/api/v5", app=Router([]))) == "api"
    assert first_segment(Mount("", app=Router([]))) is None
    assert first_segment(Host("h", app=Router([]))) is None


async def test_every_route_resolves_as_starlette_resolves_it() -> None:
    table = routes()
    plain, indexed = Router(table, redirect_slashes=False), SegmentRouter(table, redirect_slashes=False)
    methods = ("GET", "POST", "PUT", "DELETE")
    checked = 0
    for path, method, host in itertools.product(sample_paths(table), methods, ("test", "example.org")):
        expected = await answer(plain, method, path, host)
        assert await answer(indexed, method, path, host) == expected, (method, path, host)
        checked += 1
    assert checked > 1000


async def test_routes_added_later_are_found() -> None:
    table = routes()
    indexed = SegmentRouter(table, redirect_slashes=False)
    assert await answer(indexed, "GET", "/bench/ceiling", "test") == (404, "Not Found")
    indexed.routes.insert(0, Route("/bench/ceiling", named("ceiling"), methods=["GET"]))
    assert await answer(indexed, "GET", "/bench/ceiling", "test") == (200, "ceiling")
    assert await answer(indexed, "GET", "/health", "test") == (200, "health")
