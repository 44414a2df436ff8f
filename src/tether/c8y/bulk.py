"""Cumulocity's `bulkOperation` document in (a new one, a PUT) and out, with its progress."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from tether.core.clock import parse_iso, to_iso
from tether.core.errors import InvalidInput
from tether.core.ids import parse_id
from tether.operations.bulk import BulkChange, BulkView, Json, NewBulkOperation

R = "devicecontrol"


def _id(document: Mapping[str, Any], key: str) -> int | None:
    raw = document.get(key)
    if raw is None:
        return None
    value = parse_id(raw)
    if value is None:
        raise InvalidInput(f"'{key}' must be an id, got {raw!r}", resource=R)
    return value


def _date(document: Mapping[str, Any]) -> int | None:
    raw = document.get("startDate")
    if raw is None:
        return None
    if not isinstance(raw, str):
        raise InvalidInput("'startDate' must be a date-time string", resource=R)
    try:
        return parse_iso(raw, field="startDate", resource=R)
    except OverflowError:
        raise InvalidInput(f"'startDate' out of range: {raw!r}", resource=R) from None


def _ramp(document: Mapping[str, Any]) -> float | None:
    raw = document.get("creationRamp")
    if raw is None:
        return None
    if isinstance(raw, bool) or not isinstance(raw, int | float) or not math.isfinite(raw) or raw < 0:
        raise InvalidInput("'creationRamp' must be a number of seconds, 0 or more", resource=R)
    if raw > 86_400:
        raise InvalidInput("'creationRamp' must be at most 86400 seconds", resource=R)
    return float(raw)


def _prototype(document: Mapping[str, Any]) -> Json | None:
    raw = document.get("operationPrototype")
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise InvalidInput("'operationPrototype' must be an object", resource=R)
    # What the server sets on every operation is not the prototype's to say.
    return {k: v for k, v in raw.items() if k not in ("id", "self", "deviceId", "status", "creationTime")}


def new_bulk_operation(document: Mapping[str, Any], now: int) -> NewBulkOperation:
    """groupId or failedParentId, startDate (default now), creationRamp (default 0), operationPrototype."""
    start = _date(document)
    return NewBulkOperation(
        group_id=_id(document, "groupId"),
        failed_parent_id=_id(document, "failedParentId"),
        start_date=now if start is None else start,
        creation_ramp=_ramp(document) or 0.0,
        prototype=_prototype(document) or {},
    )


def bulk_change(document: Mapping[str, Any]) -> BulkChange:
    return BulkChange(
        start_date=_date(document), creation_ramp=_ramp(document), prototype=_prototype(document)
    )


def bulk_operation(base: str, view: BulkView) -> Json:
    b, p = view.bulk, view.progress
    body: Json = {
        "self": f"{base}/devicecontrol/bulkoperations/{b.id}",
        "id": str(b.id),
        "startDate": to_iso(b.start_date),
        "creationRamp": b.creation_ramp,
        "operationPrototype": b.prototype,
        "status": b.status.value,
        "generalStatus": view.general_status.value,
        "progress": {
            "pending": p.pending,
            "failed": p.failed,
            "executing": p.executing,
            "successful": p.successful,
            "all": p.all,
        },
    }
    if b.group_id is not None:
        body["groupId"] = str(b.group_id)
    if b.failed_parent_id is not None:
        body["failedParentId"] = str(b.failed_parent_id)
    return body
