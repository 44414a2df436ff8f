"""Starlette's router, trying only the routes that can match the path's first segment.

starlette's Router tries every route in order, a regular expression each, until one matches: a POST to
/measurement/measurements went past ~90 routes first, ~12% of its server CPU (bench/README.md, REST
throughput). This router tries, in the same order, only the routes whose path starts with the request
path's first segment as a literal, plus those whose first segment is not a plain literal (a parameter, a
host, a route of another kind), which it tries for every path. A route of the first kind cannot match a
path with another first segment, so the first full match and the first partial match (405) are those of
the full scan: the same answer.
"""

from __future__ import annotations

from collections.abc import Sequence

from starlette._utils import get_route_path
from starlette.routing import BaseRoute, Match, Mount, Route, Router, WebSocketRoute
from starlette.types import Receive, Scope, Send


def _first_segment(route: BaseRoute) -> str | None:
    """The literal first segment every path `route` matches starts with, or None when there is none."""
    if not isinstance(route, Route | WebSocketRoute | Mount):
        return None
    path = route.path
    if not path.startswith("/"):
        return None
    segment = path[1:].partition("/")[0]
    return segment if segment and "{" not in segment and "}" not in segment else None


class IndexedRouter(Router):
    _indexed: list[BaseRoute] | None = None
    _count = 0
    _index: dict[str, list[BaseRoute]]
    _anywhere: list[BaseRoute]

    def _candidates(self, route_path: str) -> Sequence[BaseRoute]:
        routes = self.routes
        if routes is not self._indexed or len(routes) != self._count:  # routes added since (a benchmark's)
            self._build(routes)
        return self._index.get(route_path[1:].partition("/")[0], self._anywhere)

    def _build(self, routes: list[BaseRoute]) -> None:
        index: dict[str, list[BaseRoute]] = {}
        anywhere: list[BaseRoute] = []
        for route in routes:
            segment = _first_segment(route)
            if segment is None:
                anywhere.append(route)
                for bucket in index.values():
                    bucket.append(route)
            else:
                index.setdefault(segment, list(anywhere)).append(route)
        self._index, self._anywhere = index, anywhere
        self._indexed, self._count = routes, len(routes)

    async def app(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or self.redirect_slashes:
            await super().app(scope, receive, send)
            return
        if "router" not in scope:
            scope["router"] = self
        partial = partial_scope = None
        for route in self._candidates(get_route_path(scope)):
            match, child_scope = route.matches(scope)
            if match is Match.FULL:
                scope["route"] = route
                scope.update(child_scope)
                await route.handle(scope, receive, send)
                return
            if match is Match.PARTIAL and partial is None:
                partial, partial_scope = route, child_scope
        if partial is not None and partial_scope is not None:
            scope["route"] = partial
            scope.update(partial_scope)
            await partial.handle(scope, receive, send)
            return
        await self.default(scope, receive, send)
