"""Domain errors; each adapter maps them to its protocol's terms (HTTP status, SmartREST code, reason)."""

from __future__ import annotations


class DomainError(Exception):
    """Base of every error a service raises on purpose; `resource` names the API area (e.g. "inventory")."""

    kind = "Error"

    def __init__(self, message: str, *, resource: str = "general") -> None:
        super().__init__(message)
        self.message = message
        self.resource = resource


class InvalidInput(DomainError):
    """The request is well-formed but its content is not acceptable (HTTP 422)."""

    kind = "Unprocessable Entity"


class BadRequest(DomainError):
    """The request cannot be parsed or a parameter has the wrong syntax (HTTP 400)."""

    kind = "Bad Request"


class NotFound(DomainError):
    kind = "Not Found"


class Conflict(DomainError):
    kind = "Conflict"


class Unauthorized(DomainError):
    kind = "Unauthorized"


class Forbidden(DomainError):
    kind = "Forbidden"


class TooManyRequests(DomainError):
    """The caller must wait `retry_after` seconds (HTTP 429 with Retry-After), e.g. after failed logins."""

    kind = "Too Many Requests"

    def __init__(self, message: str, *, retry_after: int, resource: str = "general") -> None:
        super().__init__(message, resource=resource)
        self.retry_after = retry_after
