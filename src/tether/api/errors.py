"""The Cumulocity family's errors (the root app): its map from domain errors to HTTP statuses and its error
body `{"error": "<resource>/<kind>", "message", "info"}`, the message in Cumulocity's words (c8y/errors.py).
/api/v5 (`api/emqx/errors.py`) and /v1 (`api/xyte/errors.py`) are apps of their own with their own maps
and bodies."""

from __future__ import annotations

import logging

import orjson
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from tether.api.http import UnsupportedMediaType, retry_after
from tether.c8y import errors as wording
from tether.core import errors
from tether.core.errors import PayloadTooLarge

log = logging.getLogger("tether.api")

#: Domain error -> HTTP status.
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
INFO = "https://cumulocity.com/guides/reference/rest-implementation/#error_reporting"
PHRASES = {404: "Not Found", 405: "Method Not Allowed", 400: "Bad Request", 401: "Unauthorized"}


def error_response(status: int, resource: str, kind: str, message: str) -> Response:
    body = {"error": f"{resource}/{kind}", "message": message, "info": INFO}
    headers = {"WWW-Authenticate": 'Basic realm="Tether"'} if status == 401 else None
    return Response(
        orjson.dumps(body),
        status_code=status,
        media_type="application/vnd.com.nsn.cumulocity.error+json;charset=UTF-8;ver=0.9",
        headers=headers,
    )


async def domain_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, errors.DomainError)
    status = STATUS(exc)
    text = wording.message(exc)
    log.info("%s %s -> %d %s", request.method, request.url.path, status, text)
    return retry_after(error_response(status, exc.resource, exc.kind, text), exc)


async def http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    phrase = PHRASES.get(exc.status_code, "Error")
    return error_response(
        exc.status_code, "general", phrase, f"{request.method} {request.url.path}: {phrase}"
    )


async def server_error(request: Request, exc: Exception) -> Response:
    log.exception("%s %s failed", request.method, request.url.path)
    return error_response(500, "general", "Internal Server Error", "The server could not process the request")
