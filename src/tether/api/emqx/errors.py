"""The /api/v5 family's errors: EMQX's `{"code", "message"}` bodies, its map from domain errors to (status,
code) (apps/emqx/include/http_api.hrl), and the exception handlers of its app."""

from __future__ import annotations

import logging

import orjson
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from tether.adapters.clients import ClientNotFound, InvalidSubscription, SubscribeRefused
from tether.api.http import UnsupportedMediaType, retry_after
from tether.core import errors
from tether.core.errors import PayloadTooLarge

log = logging.getLogger("tether.api")

R = "emqx"


class EmqxError(errors.DomainError):
    """An error with EMQX's own status and code (e.g. 401 API_KEY_NOT_ALLOW), which it answers as itself."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message, resource=R)
        self.status = status
        self.code = code


#: Domain error -> (status, EMQX code).
CODES: errors.ErrorMap[tuple[int, str]] = errors.ErrorMap(
    {
        errors.Unauthorized: (401, "BAD_USERNAME_OR_PWD"),
        ClientNotFound: (404, "CLIENTID_NOT_FOUND"),
        SubscribeRefused: (403, "FORBIDDEN"),
        InvalidSubscription: (400, "INVALID_PARAMETER"),
        errors.Forbidden: (403, "UNAUTHORIZED_ROLE"),
        errors.NotFound: (404, "NOT_FOUND"),
        errors.Conflict: (409, "ALREADY_EXISTS"),
        PayloadTooLarge: (413, "PAYLOAD_TOO_LARGE"),
        UnsupportedMediaType: (415, "UNSUPPORTED_MEDIA_TYPE"),
        errors.BadRequest: (400, "BAD_REQUEST"),
        errors.InvalidInput: (400, "BAD_REQUEST"),
        errors.TooManyRequests: (429, "TOO_MANY_REQUESTS"),
        errors.ServiceUnavailable: (503, "SERVICE_UNAVAILABLE"),
        errors.DomainError: (400, "BAD_REQUEST"),
    }
)
_HTTP_CODES = {404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED", 400: "BAD_REQUEST", 401: "BAD_USERNAME_OR_PWD"}


def error_body(status: int, code: str, message: str) -> Response:
    headers = {"WWW-Authenticate": 'Basic Realm="tether"'} if status == 401 else None
    body = orjson.dumps({"code": code, "message": message})
    return Response(body, status_code=status, media_type="application/json", headers=headers)


async def domain_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, errors.DomainError)
    status, code = (exc.status, exc.code) if isinstance(exc, EmqxError) else CODES(exc)
    log.info("%s %s -> %d %s", request.method, request.url.path, status, exc.message)
    return retry_after(error_body(status, code, exc.message), exc)


async def http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    code = _HTTP_CODES.get(exc.status_code, "BAD_REQUEST")
    message = f"{request.method} {request.url.path}: {code.replace('_', ' ').lower()}"
    return error_body(exc.status_code, code, message)


async def server_error(request: Request, exc: Exception) -> Response:
    log.exception("%s %s failed", request.method, request.url.path)
    return error_body(500, "INTERNAL_ERROR", "The server could not process the request")
