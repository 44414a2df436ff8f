"""What the /v1 routers share: responses, the device's access-key authentication and the public addresses
handed to registered devices (errors: `errors.py`)."""

from __future__ import annotations

from urllib.parse import urlsplit

import orjson
from starlette.requests import Request
from starlette.responses import Response

from tether.api.context import ctx
from tether.core.errors import Unauthorized
from tether.registration.xyte_models import XyteDevice


async def authenticate_device(request: Request) -> XyteDevice:
    """The device named by the path's {id} whose access key is the bare `Authorization` header
    (dev.xyte.io "device-authentication"); Unauthorized for anything else, unknown ids included."""
    access_key = request.headers.get("authorization", "").strip()
    device_id = request.path_params["id"]
    device = None if not access_key else await ctx(request).xyte.authenticate(device_id, access_key)
    if device is None or not ctx(request).tenants.is_active(device.tenant_id):
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
