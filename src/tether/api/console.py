"""The operator's web console: static files shipped in the package (`tether/console/`, package data), served
at `/` and under `/ui/`. The console is a client of the public APIs only (REST, /api/v5, real-time); this
module serves bytes and never reads a service.

Every file is read once, with its gzip form and an ETag; any `/ui/<path>` that names no file answers the
application's page (`index.html`), whose script routes by the URL. Every answer carries the security headers:
a Content-Security-Policy of `'self'` only (no inline script or style, nothing from another origin), no
framing, no MIME sniffing, no referrer.
"""

from __future__ import annotations

import gzip
import hashlib
import mimetypes
from dataclasses import dataclass
from importlib import resources
from importlib.resources.abc import Traversable

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

PREFIX = "/ui"
INDEX = "index.html"

HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
}
_TYPES = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8", ".svg": "image/svg+xml"}


@dataclass(frozen=True, slots=True)
class Asset:
    body: bytes
    gzipped: bytes
    etag: str
    media_type: str


def _walk(folder: Traversable, prefix: str = "") -> dict[str, Traversable]:
    found: dict[str, Traversable] = {}
    for entry in folder.iterdir():
        name = prefix + entry.name
        if entry.is_dir():
            found.update(_walk(entry, name + "/"))
        elif not entry.name.startswith("."):
            found[name] = entry
    return found


def load_assets() -> dict[str, Asset]:
    """Every file of the console, by its path below `tether/console/`."""
    assets = {}
    for name, entry in _walk(resources.files("tether") / "console").items():
        body = entry.read_bytes()
        suffix = name[name.rfind(".") :] if "." in name else ""
        media = _TYPES.get(suffix) or mimetypes.guess_type(name)[0] or "application/octet-stream"
        if media.startswith("text/html"):
            media = "text/html; charset=utf-8"
        etag = '"' + hashlib.sha256(body).hexdigest()[:20] + '"'
        assets[name] = Asset(body, gzip.compress(body, 9, mtime=0), etag, media)
    return assets


class Console:
    def __init__(self) -> None:
        self.assets = load_assets()

    async def page(self, request: Request) -> Response:
        """`/` and `/ui/...`: a file of the console, else the application page."""
        path = request.url.path
        name = path.removeprefix(PREFIX + "/") if path.startswith(PREFIX + "/") else INDEX
        asset = self.assets.get(name) or self.assets[INDEX]
        headers = {**HEADERS, "ETag": asset.etag, "Cache-Control": "no-cache", "Vary": "Accept-Encoding"}
        if request.headers.get("if-none-match") == asset.etag:
            return Response(status_code=304, headers=headers)
        body = asset.body
        if "gzip" in request.headers.get("accept-encoding", ""):
            body = asset.gzipped
            headers["Content-Encoding"] = "gzip"
        if request.method == "HEAD":
            headers["Content-Length"] = str(len(body))
            return Response(status_code=200, headers=headers, media_type=asset.media_type)
        return Response(body, headers=headers, media_type=asset.media_type)


def routes() -> list[BaseRoute]:
    console = Console()
    return [
        Route("/", console.page, methods=["GET", "HEAD"]),
        Route(PREFIX, console.page, methods=["GET", "HEAD"]),
        Route(PREFIX + "/{path:path}", console.page, methods=["GET", "HEAD"]),
    ]
