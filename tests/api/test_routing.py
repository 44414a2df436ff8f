"""api/routing.py: the indexed router picks the route starlette's full scan picks, for every path."""

from __future__ import annotations

import asyncio
import itertools
import re

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import BaseRoute, Match, Mount, Route, Router

from tether.api.c8y import alarms, events, inventory, measurements, operations, presence, users
from tether.api.routing import IndexedRouter


async def _ok(request: Request) -> Response:
    return PlainTextResponse("ok")


SYNTHETIC: list[BaseRoute] = [
    Route("/health", _ok, methods=["GET"]),
    Route("/{tenant}/devices", _ok, methods=["GET"]),  # a parameter first: tried for every path
    Mount("/api/v5", app=PlainTextResponse("mounted")),
    Route("/api/v5", _ok),
    Route("/measurement/{what}", _ok, methods=["PUT"]),
    Route("/x{y}/z", _ok),
]
ROUTES = [
    *SYNTHETIC[:2],
    *presence.routes,
    *inventory.routes,
    *users.routes,
    *operations.routes,
    *measurements.routes,
    *events.routes,
    *alarms.routes,
    *SYNTHETIC[2:],
]


def _paths() -> list[str]:
    """Every route's path with its parameters filled in several ways, and neighbours of it."""
    out = {"/", "", "/nothing", "/api", "/api/v5/anything/below", "/measurement", "//measurement"}
    for route in ROUTES:
        path = getattr(route, "path", "")
        for fill in ("1", "series", "abc"):
            concrete = re.sub(r"\{[^}]*\}", fill, path)
            out |= {concrete, concrete + "/", concrete + "/extra", concrete.upper()}
    return sorted(out)


def _scan(routes: list[BaseRoute] | tuple[BaseRoute, ...], scope: dict[str, object]) -> BaseRoute | None:
    """What starlette's Router.app picks: the first full match, else the first partial one."""
    partial = None
    for route in routes:
        match, _ = route.matches(scope)
        if match is Match.FULL:
            return route
        if match is Match.PARTIAL and partial is None:
            partial = route
    return partial


def test_the_candidates_give_the_full_scans_route() -> None:
    router = IndexedRouter(list(ROUTES), redirect_slashes=False)
    checked = 0
    for path, method in itertools.product(_paths(), ("GET", "POST", "PUT", "DELETE")):
        scope: dict[str, object] = {"type": "http", "path": path, "root_path": "", "method": method}
        candidates = list(router._candidates(path))
        assert _scan(candidates, scope) is _scan(ROUTES, scope), (method, path)
        checked += 1
    assert checked > 1000


def test_routes_added_later_are_found() -> None:
    router = IndexedRouter([Route("/a/b", _ok)], redirect_slashes=False)
    assert [r.path for r in router._candidates("/a/b")] == ["/a/b"]  # type: ignore[attr-defined]
    router.routes.insert(0, Route("/bench/ceiling", _ok))
    assert [r.path for r in router._candidates("/bench/ceiling")] == ["/bench/ceiling"]  # type: ignore[attr-defined]


def test_answers_match_starlettes_router() -> None:
    requests = [
        ("GET", "/health"),
        ("POST", "/health"),  # 405
        ("GET", "/t1/devices"),
        ("GET", "/api/v5/x"),
        ("GET", "/api/v5"),
        ("PUT", "/measurement/m"),
        ("GET", "/measurement/m"),  # 405
        ("GET", "/nowhere"),  # 404
        ("GET", "/xq/z"),
    ]

    async def answers(router_class: type[Router]) -> list[tuple[int, str, str | None]]:
        app = Starlette()
        app.router = router_class(list(SYNTHETIC), redirect_slashes=False)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://test") as client:
            out = []
            for method, path in requests:
                response = await client.request(method, path)
                out.append((response.status_code, response.text, response.headers.get("allow")))
            return out

    assert asyncio.run(answers(IndexedRouter)) == asyncio.run(answers(Router))
