"""The /api/v1 (EMQX Fleets) family's errors: the EMQX body `{"code", "message"}`, EMQX's codes, and the
shadow's own answers (a version conflict is 409 CONFLICT, a missing shadow 404 NOT_FOUND)."""

from __future__ import annotations

import logging

from starlette.requests import Request
from starlette.responses import Response

from tether.api.emqx import errors as emqx
from tether.api.emqx.errors import EmqxError, error_body, http_error, server_error
from tether.api.http import retry_after
from tether.core import errors
from tether.fleets.shadow import NoShadow, ShadowRejected, VersionConflict

__all__ = ["CODES", "domain_error", "http_error", "server_error"]

log = logging.getLogger("tether.api")

#: Domain error -> (status, code): EMQX's table and the shadow's errors.
CODES: errors.ErrorMap[tuple[int, str]] = errors.ErrorMap(
    {
        **emqx.CODES.table,
        ShadowRejected: (400, "BAD_REQUEST"),
        VersionConflict: (409, "CONFLICT"),
        NoShadow: (404, "NOT_FOUND"),
        errors.InvalidInput: (400, "INVALID_PARAMETER"),
    }
)


async def domain_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, errors.DomainError)
    status, code = (exc.status, exc.code) if isinstance(exc, EmqxError) else CODES(exc)
    log.info("%s %s -> %d %s", request.method, request.url.path, status, exc.message)
    return retry_after(error_body(status, code, exc.message), exc)
