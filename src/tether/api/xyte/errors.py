"""The /v1 family's errors: Xyte's `{"error": <code>, "message": <text>}` bodies, its map from domain errors
to HTTP statuses, and the exception handlers of its app."""

from __future__ import annotations

import logging

import orjson
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from tether.api.http import UnsupportedMediaType, retry_after
from tether.core import errors
from tether.core.errors import PayloadTooLarge

log = logging.getLogger("tether.api.xyte")

#: Domain error -> HTTP status (the body's code follows from the status, CODES).
STATUS: errors.ErrorMap[int] = errors.ErrorMap(
    {
        errors.BadRequest: 400,
        errors.Unauthorized: 401,
        errors.Forbidden: 403,
        errors.NotFound: 404,
        errors.Conflict: 409,
        PayloadTooLarge: 413,
        UnsupportedMediaType: 415,
        errors.InvalidInput: 422,
        errors.TooManyRequests: 429,
        errors.ServiceUnavailable: 503,
        errors.DomainError: 400,
    }
)
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
    503: "service_unavailable",
}


def xyte_error(status: int, message: str, *, basic: bool = False) -> Response:
    body = {"error": CODES.get(status, "error"), "message": message}
    # Only the operator's calls use HTTP Basic; a device sends its bare access key.
    headers = {"WWW-Authenticate": 'Basic realm="Tether"'} if status == 401 and basic else None
    return Response(orjson.dumps(body), status_code=status, media_type="application/json", headers=headers)


async def domain_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, errors.DomainError)
    status = STATUS(exc)
    log.info("%s %s -> %d %s", request.method, request.url.path, status, exc.message)
    return retry_after(xyte_error(status, exc.message, basic=exc.resource == "security"), exc)


async def http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    return xyte_error(exc.status_code, f"{request.method} {request.url.path}: {exc.detail}")


async def server_error(request: Request, exc: Exception) -> Response:
    log.exception("%s %s failed", request.method, request.url.path)
    return xyte_error(500, "The server could not process the request")
