"""HTTP requests by route and status: a pure ASGI middleware on the root app (api/app.py).

It costs one closure, two clock readings and one dict update per request. The route is the matched
template (`/inventory/managedObjects/{id}`, `/api/v5/clients/{clientid}`), so the label set stays as small
as the routing table; requests that matched no route share `<unmatched>`.
"""

from __future__ import annotations

from time import perf_counter

from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["UNMATCHED", "HttpCounts", "HttpMetrics"]

UNMATCHED = "<unmatched>"


class HttpCounts:
    """(method, route, status) -> [requests, seconds spent]."""

    def __init__(self) -> None:
        self.requests: dict[tuple[str, str, int], list[float]] = {}
        #: tenant -> [authenticated requests, of them by devices] since the process started
        #: (/tenant/statistics/summary requestCount and deviceRequestCount).
        self.tenants: dict[str, list[int]] = {}

    def add_tenant(self, tenant_id: str, device: bool) -> None:
        entry = self.tenants.get(tenant_id)
        if entry is None:
            entry = self.tenants[tenant_id] = [0, 0]
        entry[0] += 1
        if device:
            entry[1] += 1

    def add(self, method: str, route: str, status: int, seconds: float) -> None:
        key = (method, route, status)
        entry = self.requests.get(key)
        if entry is None:
            self.requests[key] = [1, seconds]
        else:
            entry[0] += 1
            entry[1] += seconds


def route_of(scope: Scope) -> str:
    """The template of the route that answered: the routers record it in the scope (`scope["route"]`);
    mounted apps add their prefix (`root_path`)."""
    route = scope.get("route")
    if isinstance(route, Route):
        prefix: str = scope.get("root_path", "")
        return prefix + route.path
    return UNMATCHED


class HttpMetrics:
    def __init__(self, app: ASGIApp, counts: HttpCounts) -> None:
        self.app = app
        self.counts = counts

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = perf_counter()
        status = 500

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            self.counts.add(scope["method"], route_of(scope), status, perf_counter() - started)
            # The caller, once authenticated (api/auth.py keeps its principal in the scope).
            who = scope.get("tether.principal")
            tenant_id = getattr(who, "tenant_id", None)
            if isinstance(tenant_id, str):
                self.counts.add_tenant(tenant_id, bool(getattr(who, "is_device", False)))
