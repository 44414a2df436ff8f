"""An audit record and what is asked of the trail."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

#: Cumulocity's audit record types (the spec's `type` enum) that Tether writes.
TYPES = frozenset(
    {"Alarm", "Group", "Inventory", "Operation", "Option", "Tenant", "User", "UserAuthentication", "SYSTEM"}
)
SEVERITIES = ("CRITICAL", "MAJOR", "MINOR", "WARNING", "INFORMATION")


@dataclass(frozen=True, slots=True)
class NewAuditRecord:
    """A record to write: `source` is the id of what it is about (a managed object, a user name, a tenant
    id, an option's category/key), `changes` Cumulocity's list of {attribute, type, previousValue,
    newValue}, `fragments` custom properties (POST /audit/auditRecords)."""

    tenant_id: str
    type: str
    activity: str
    text: str
    user: str | None = None
    source: str | None = None
    severity: str = "INFORMATION"
    application: str | None = None
    time: int | None = None  # ms; None: when it is written
    changes: tuple[dict[str, Any], ...] = ()
    fragments: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class AuditRecord:
    id: int
    tenant_id: str
    type: str
    time: int
    creation_time: int
    activity: str
    text: str
    severity: str
    user: str | None
    application: str | None
    source: str | None
    changes: tuple[dict[str, Any], ...]
    fragments: dict[str, Any]


@dataclass(frozen=True, slots=True)
class AuditCriteria:
    """Filters of GET /audit/auditRecords; `revert`: newest first."""

    source: str | None = None
    type: str | None = None
    user: str | None = None
    application: str | None = None
    date_from: int | None = None
    date_to: int | None = None
    revert: bool = False
