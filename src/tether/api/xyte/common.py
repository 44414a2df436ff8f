"""What the /v1 routers share: Xyte-shaped errors and responses, the device's access-key authentication and
the public addresses handed to registered devices."""

from __future__ import annotations

import logging
from urllib.parse import urlsplit

import orjson
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from tether.api.context import ctx
from tether.api.errors import STATUS
from tether.api.http import retry_after
from tether.core.errors import DomainError, Unauthorized
from tether.registration.xyte_models import XyteDevice

log = logging.getLogger("tether.api.xyte")

CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "unprocessable_entity",
    429: "too_many_requests",
    500: "internal_server_error",
}


def xyte_error(status: int, message: str, *, basic: bool = False) -> Response:
    body = {"error": CODES.get(status, "error"), "message": message}
    # Only the operator's calls use HTTP Basic; a device sends its bare access key.
    headers = {"WWW-Authenticate": 'Basic realm="Tether"'} if status == 401 and basic else None
    return Response(orjson.dumps(body), status_code=status, media_type="application/json", headers=headers)


async def domain_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, DomainError)
    status = next((code for cls, code in STATUS.items() if isinstance(exc, cls)), 400)
    log.info("%s %s -> %d %s", request.method, request.url.path, status, exc.message)
    return retry_after(xyte_error(status, exc.message, basic=exc.resource == "security"), exc)


async def http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    return xyte_error(exc.status_code, f"{request.method} {request.url.path}: {exc.detail}")


async def client_gone(request: Request, exc: Exception) -> Response:
    log.debug("%s %s: client disconnected", request.method, request.url.path)
    return Response(status_code=400)


async def server_error(request: Request, exc: Exception) -> Response:
    log.exception("%s %s failed", request.method, request.url.path)
    return xyte_error(500, "The server could not process the request")


async def authenticate_device(request: Request) -> XyteDevice:
    """The device named by the path's {id} whose access key is the bare `Authorization` header
    (dev.xyte.io "device-authentication"); Unauthorized for anything else, unknown ids included."""
    access_key = request.headers.get("authorization", "").strip()
    device_id = request.path_params["id"]
    device = None if not access_key else await ctx(request).xyte.authenticate(device_id, access_key)
    if device is None:
        raise Unauthorized("Invalid device id or access key", resource="xyte")
    return device


def public_urls(request: Request) -> dict[str, str | None]:
    """hub_url, hub_url_static_cert and mqtt_hub_url of a registration response: the configured public
    addresses, else the host the caller used (Host header) with the bound listeners' schemes and ports,
    the TLS ones (https, mqtts) whenever they are bound."""
    context = ctx(request)
    settings = context.settings
    addresses = context.readiness.addresses
    host = request.url.hostname or "localhost"
    host = f"[{host}]" if ":" in host else host
    hub = settings.public_http_url
    if not hub:
        https = addresses.get("https")
        if request.url.scheme == "https" or https is None:
            hub = f"{request.url.scheme}://{request.url.netloc}"
        else:
            hub = f"https://{host}:{urlsplit(https).port}"
    mqtt = settings.public_mqtt_url
    if not mqtt:
        bound = addresses.get("mqtt-tls") or addresses.get("mqtt")
        if bound is not None:
            parts = urlsplit(bound)
            mqtt = f"{parts.scheme}://{host}:{parts.port}"
    return {"hub_url": hub.rstrip("/"), "hub_url_static_cert": hub.rstrip("/"), "mqtt_hub_url": mqtt}


def respond(body: object, status: int = 200) -> Response:
    return Response(orjson.dumps(body), status_code=status, media_type="application/json")
