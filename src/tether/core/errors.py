"""Domain errors; each protocol family maps them to its own terms (HTTP status and body, SmartREST code,
MQTT reason code) with an :class:`ErrorMap`."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Generic, TypeVar

V = TypeVar("V")


@dataclass(frozen=True)
class Missing:
    """What a request named that does not exist, or that the caller may not see (which looks the same).

    A protocol family words it in its own terms (e.g. c8y/errors.py); `str()` is the neutral wording."""

    #: The kind of thing: "managed object", "external id", "operation", "event", "alarm", "measurement",
    #: "device request".
    what: str
    #: What the request named it by: its id; for an external id its type and value.
    key: tuple[str, ...]
    #: What the request needed it as, when that matters: "source" (of telemetry), "device" (of a new
    #: operation), a child kind such as "childDevices" (of `parent`), "accepted" (a device request).
    role: str = ""
    #: The id of the object whose child it should be (with a child-kind `role`).
    parent: str = ""

    @classmethod
    def of(cls, what: str, *key: object, role: str = "", parent: object = "") -> Missing:
        return cls(what, tuple(str(part) for part in key), role, str(parent))

    def __str__(self) -> str:
        named = f"{self.what} '{'/'.join(self.key)}'"
        if self.parent:
            return f"{named} is not a {self.role} reference of managed object '{self.parent}'"
        if self.role == "accepted":
            return f"{named} has not been accepted yet"
        if self.role:
            return f"{self.role} {named} not found"
        return f"{named} not found"


class DomainError(Exception):
    """Base of every error a service raises on purpose; `resource` names the API area (e.g. "inventory").

    `missing`, when set, says in structured form what the request named that is not there; `message` is
    then its neutral wording unless given."""

    kind = "Error"

    def __init__(
        self, message: str = "", *, resource: str = "general", missing: Missing | None = None
    ) -> None:
        if not message and missing is not None:
            message = str(missing)
        super().__init__(message)
        self.message = message
        self.resource = resource
        self.missing = missing


class InvalidInput(DomainError):
    """The request is well-formed but its content is not acceptable (HTTP 422)."""

    kind = "Unprocessable Entity"


class BadRequest(DomainError):
    """The request cannot be parsed or a parameter has the wrong syntax (HTTP 400)."""

    kind = "Bad Request"


class NotFound(DomainError):
    """The request names something that does not exist (or is not visible to the caller); services set
    `missing` so that each family can say what in its own words."""

    kind = "Not Found"


class PayloadTooLarge(DomainError):
    """The request body exceeds a configured size (HTTP 413)."""

    kind = "Payload Too Large"


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
