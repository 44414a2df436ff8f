"""`tether serve` with one extra route for the REST benchmarks' ceiling: GET /bench/ceiling.

The route goes through everything a real request does (uvicorn and httptools, NormalizePath, the metrics
middleware, CatchAll, RejectNul, Starlette's router, Basic authentication with its verified-credential cache,
the global-role check, an orjson response in the negotiated media type) and then answers a constant small
document without touching storage. Its req/s is what the framework and our per-request plumbing can do on this
machine with the same clients: bench/inventory_rest.py and bench/measurements_rest.py print their figures as a
ratio to it. Nothing in the product has this route; the benchmarks run the server through this module:

    python bench/ceiling_server.py serve --data-dir ... --http 127.0.0.1:PORT
"""

from __future__ import annotations

import sys
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

import tether.bootstrap
from tether.api.auth import authenticate
from tether.api.http import base_url, json_response

CEILING_PATH = "/bench/ceiling"


async def ceiling(request: Request) -> Response:
    who = await authenticate(request)
    body = {"id": "1", "self": f"{base_url(request)}{CEILING_PATH}", "owner": who.username, "type": "bench"}
    return json_response(request, body, "managedObject")


def _with_ceiling(create_app: Any) -> Any:
    def create(context: Any) -> Any:
        app = create_app(context)
        root = app.app  # NormalizePath(Starlette): the Cumulocity family app
        root.router.routes.insert(0, Route(CEILING_PATH, ceiling, methods=["GET"]))
        return app

    return create


tether.bootstrap.create_app = _with_ceiling(tether.bootstrap.create_app)  # type: ignore[attr-defined]

if __name__ == "__main__":
    from tether.cli import main

    sys.exit(main())
