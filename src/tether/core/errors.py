"""Domain errors; each protocol family maps them to its own terms (HTTP status and body, SmartREST code,
MQTT reason code) with an :class:`ErrorMap`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Generic, TypeVar

V = TypeVar("V")


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


class ServiceUnavailable(DomainError):
    """A part of the platform the request needs is not running (yet), e.g. the broker (HTTP 503)."""

    kind = "Service Unavailable"


class TooManyRequests(DomainError):
    """The caller must wait `retry_after` seconds (HTTP 429 with Retry-After), e.g. after failed logins."""

    kind = "Too Many Requests"

    def __init__(self, message: str, *, retry_after: int, resource: str = "general") -> None:
        super().__init__(message, resource=resource)
        self.retry_after = retry_after


class ErrorMap(Generic[V]):
    """A protocol family's answer to each domain error, declared as one table. An error gets the entry of its
    own class or of its nearest base class (a subclass such as `InvalidTransition` answers as `InvalidInput`);
    the table's `DomainError` entry is the family's answer to everything else, so every table has one."""

    def __init__(self, table: Mapping[type[DomainError], V]) -> None:
        if DomainError not in table:
            raise ValueError("an error map needs a DomainError entry, its fallback")
        self.table: Mapping[type[DomainError], V] = dict(table)

    def __call__(self, exc: DomainError) -> V:
        return lookup(self.table, exc)


def lookup(table: Mapping[type[DomainError], V], exc: DomainError) -> V:
    """The entry of `exc`'s class or of its nearest base class in `table` (the method resolution order)."""
    for cls in type(exc).__mro__:
        if cls in table:
            return table[cls]
    raise KeyError(type(exc).__name__)
