"""Audit records as Cumulocity's /audit API reads and shows them."""

from __future__ import annotations

from typing import Any

from tether.audit.models import SEVERITIES, TYPES, AuditRecord, NewAuditRecord
from tether.c8y.render import mo_url
from tether.core.clock import parse_iso, to_iso
from tether.core.errors import InvalidInput
from tether.core.values import clean_fields

Json = dict[str, Any]
R = "audit"
#: Fields the server owns or reads itself; everything else of a POST is a custom fragment.
_OWN = {
    "id", "self", "type", "time", "creationTime", "activity", "text", "severity", "user", "application",
    "source", "changes",
}  # fmt: skip


def record_url(base: str, record_id: int) -> str:
    return f"{base}/audit/auditRecords/{record_id}"


def record(base: str, r: AuditRecord) -> Json:
    body: Json = {
        **r.fragments,
        "id": str(r.id),
        "self": record_url(base, r.id),
        "type": r.type,
        "time": to_iso(r.time),
        "creationTime": to_iso(r.creation_time),
        "activity": r.activity,
        "text": r.text,
        "severity": r.severity,
    }
    if r.user is not None:
        body["user"] = r.user
    if r.application is not None:
        body["application"] = r.application
    if r.source is not None:
        source: Json = {"id": r.source}
        if r.source.isdigit():  # a managed object
            source["self"] = mo_url(base, int(r.source))
        body["source"] = source
    if r.changes:
        body["changes"] = list(r.changes)
    return body


def _text(document: Json, key: str, required: bool) -> str | None:
    value = document.get(key)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value or len(value) > 10_000:
        raise InvalidInput(f"'{key}' must be a non-empty text", resource=R)
    return value


def new_record(tenant_id: str, document: Json) -> NewAuditRecord:
    """A POSTed record: type, time, activity, text and source are required (the spec's auditRecord)."""
    kind = _text(document, "type", True)
    if kind not in TYPES and kind not in (
        "Application", "BulkOperation", "CepModule", "Connector", "Event", "InventoryRole", "Report",
        "SingleSignOn", "SmartRule", "TenantAuthConfig", "TrustedCertificates",
    ):  # fmt: skip
        raise InvalidInput(f"Unknown audit record type {kind!r}", resource=R)
    time_text = _text(document, "time", True)
    assert time_text is not None and kind is not None
    source = document.get("source")
    if not isinstance(source, dict) or not isinstance(source.get("id"), str | int) or not str(source["id"]):
        raise InvalidInput('\'source\' must be {"id": "<id>"}', resource=R)
    severity = document.get("severity", "INFORMATION")
    if not isinstance(severity, str) or severity.upper() not in SEVERITIES:
        raise InvalidInput(f"'severity' is one of {', '.join(SEVERITIES)}", resource=R)
    changes = document.get("changes", [])
    if not isinstance(changes, list) or not all(isinstance(c, dict) for c in changes):
        raise InvalidInput("'changes' must be a list of objects", resource=R)
    fragments = clean_fields({k: v for k, v in document.items() if k not in _OWN}, resource=R)
    return NewAuditRecord(
        tenant_id,
        kind,
        _text(document, "activity", True) or "",
        _text(document, "text", True) or "",
        user=_text(document, "user", False),
        source=str(source["id"]),
        severity=severity.upper(),
        time=parse_iso(time_text, resource=R),
        changes=tuple(clean_fields({"c": changes}, resource=R)["c"]),
        fragments=fragments,
    )
