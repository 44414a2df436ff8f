"""Starlette's Router, trying only the routes that can match the request path's first segment.

Starlette tries every route in order until one matches; each try costs about a microsecond (the route path
taken from the scope, a regex, the method), and /measurement/measurements came after 90 routes: ~0.1 ms of a
paged GET before its handler ran (bench/README.md, REST throughput). A route whose path begins with a
literal segment (`/measurement/...`, a Mount at `/api/v5`) only matches paths beginning with that segment;
the others (a parameter first, a Host) may match anything. Each segment gets its own routes and the others,
in their original order, so the first full match and the first partial one (405) are Starlette's.
"""

from __future__ import annotations

from typing import Any

from starlette._utils import get_route_path  # what Route.matches matches against
from starlette.routing import BaseRoute, Match, Mount, Route, Router, WebSocketRoute
from starlette.types import Receive, Scope, Send


def first_segment(route: BaseRoute) -> str | None:
    """The literal first segment every path the route matches begins with, None when there is none."""
    if isinstance(route, Route | WebSocketRoute | Mount) and route.path.startswith("/"):
        segment = route.path.split("/", 2)[1]
        if "{" not in segment:
            return segment
    return None  # a parameter first, a Mount at the root, a Host, anything else


class SegmentRouter(Router):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._built: tuple[int, int] | None = None
        self._by_segment: dict[str, list[BaseRoute]] = {}
        self._anywhere: list[BaseRoute] = []

    def _candidates(self, path: str) -> list[BaseRoute]:
        # Rebuilt when the list changes (routes may be added after construction, before serving).
        if self._built != (id(self.routes), len(self.routes)):
            segments = [first_segment(route) for route in self.routes]
            self._anywhere = [r for r, s in zip(self.routes, segments, strict=True) if s is None]
            self._by_segment = {
                segment: [r for r, s in zip(self.routes, segments, strict=True) if s in (segment, None)]
                for segment in {s for s in segments if s is not None}
            }
            self._built = (id(self.routes), len(self.routes))
        parts = path.split("/", 2)
        return self._by_segment.get(parts[1], self._anywhere) if len(parts) > 1 else self.routes

    async def app(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket") or self.redirect_slashes:
            await super().app(scope, receive, send)  # lifespan; slash redirects try every route
            return
        scope.setdefault("router", self)
        partial: BaseRoute | None = None
        partial_scope: Scope = {}
        for route in self._candidates(get_route_path(scope)):
            match, child_scope = route.matches(scope)
            if match is Match.FULL:
                scope["route"] = route
                scope.update(child_scope)
                await route.handle(scope, receive, send)
                return
            if match is Match.PARTIAL and partial is None:
                partial, partial_scope = route, child_scope
        if partial is not None:
            scope["route"] = partial
            scope.update(partial_scope)
            await partial.handle(scope, receive, send)
            return
        await self.default(scope, receive, send)
