"""Cumulocity JSON documents in: managed objects, measurements, events, alarms and operations as the typed
drafts and changes the domain services take. One reading for every Cumulocity family: REST, SmartREST
(custom templates and static ones that carry documents) and JSON via MQTT.

Fields the server owns may be sent (clients echo whole documents back) and are ignored; fields of the wrong
type are InvalidInput. The values inside fragments (numbers, NUL characters, nesting) are checked by the
services, once for every adapter (core/values.py)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from tether.c8y import fields
from tether.core.errors import InvalidInput
from tether.core.ids import MAX_ID, parse_id
from tether.core.text import MAX_KEY_LENGTH, checked
from tether.inventory.models import Column, ManagedObjectChange, NewManagedObject
from tether.operations.models import Json, OperationStatus, OperationUpdate
from tether.telemetry.models import (
    MAX_TYPE_LENGTH,
    AlarmChange,
    AlarmSeverity,
    AlarmStatus,
    EventChange,
    NewAlarm,
    NewEvent,
    NewMeasurement,
)

# -- managed objects ------------------------------------------------------------------------------

#: Fields of a managed object the server owns.
MO_READ_ONLY = frozenset(
    {
        "id",
        "self",
        "owner",
        "creationTime",
        "lastUpdated",
        "childDevices",
        "childAssets",
        "childAdditions",
        "assetParents",
        "deviceParents",
        "additionParents",
    }
)
_MO = "inventory"


def _split(document: Mapping[str, Any]) -> tuple[dict[Column, str | None], Json]:
    """The indexed top-level fields (name, type) and the free-form fragments."""
    columns: dict[Column, str | None] = {}
    fragments: Json = {}
    for key, value in document.items():
        if key in MO_READ_ONLY:
            continue
        if key == "name":
            columns["name"] = _column(value, "name", None)  # a text column
        elif key == "type":
            columns["type"] = _column(value, "type", MAX_KEY_LENGTH)
        else:
            fragments[key] = value
    return columns, fragments


def _column(value: Any, key: Column, max_length: int | None) -> str | None:
    if value is not None and not isinstance(value, str):
        raise InvalidInput(f"'{key}' must be a string", resource=_MO)
    return value if value is None else checked(value, key, resource=_MO, max_length=max_length)


def managed_object(document: Mapping[str, Any]) -> NewManagedObject:
    """A new managed object; a null fragment is left out. `owner` is kept when it is a non-empty string:
    whether it counts is the inventory's rule (administrators only)."""
    columns, fragments = _split(document)
    owner = document.get("owner")
    return NewManagedObject(
        owner=owner if isinstance(owner, str) and owner else None,
        name=columns.get("name"),
        type=columns.get("type"),
        fragments={k: v for k, v in fragments.items() if v is not None},
    )


def managed_object_change(document: Mapping[str, Any]) -> ManagedObjectChange:
    """PUT merges: given fragments replace whole fragments, a fragment set to null is removed."""
    columns, fragments = _split(document)
    return ManagedObjectChange(columns, fragments)


# -- measurements ---------------------------------------------------------------------------------

#: Fields of a measurement the server owns or reads itself; never fragments.
MEASUREMENT_RESERVED = frozenset({"id", "self", "source", "type", "time", "creationTime"})
_MEASUREMENT = "measurement"
_ID_DIGITS = len(str(MAX_ID))


def measurement(document: Mapping[str, Any]) -> NewMeasurement:
    r = _MEASUREMENT
    return NewMeasurement(
        source_id=fields.source_id(document, resource=r),
        type=fields.type_name(document, resource=r, max_length=MAX_TYPE_LENGTH),
        time=fields.time(document, resource=r),
        fragments=fields.fragments(document, MEASUREMENT_RESERVED),
    )


#: Reserved fields a measurement seldom carries (a document echoed back); source, type and time it must.
_ECHOED = frozenset({"id", "self", "creationTime"})


def measurements(document_list: Sequence[object]) -> list[NewMeasurement]:
    """The documents of a POST (one, or a measurementCollection's `measurements`), in order. One pass per
    document: a document of the usual shape (a string id, a short type, a time as the server renders it)
    is read inline; anything else goes through :func:`measurement`, which gives the same result or the
    same error (a collection of 100 spent a tenth of its CPU here, bench/README.md). The documents are
    not changed."""
    drafts = []
    canonical_time = fields.canonical_time
    for index, document in enumerate(document_list):
        if type(document) is not dict:
            if not isinstance(document, Mapping):
                raise InvalidInput(f"Measurement {index} must be a JSON object", resource=_MEASUREMENT)
            drafts.append(measurement(document))
            continue
        source, type_, time = document.get("source"), document.get("type"), document.get("time")
        raw = source.get("id") if type(source) is dict else None
        at = canonical_time(time) if type(time) is str else None
        if (
            at is None
            or type(raw) is not str
            or not 0 < len(raw) <= _ID_DIGITS
            or not raw.isdigit()
            or not raw.isascii()
            or type(type_) is not str
            or not 0 < len(type_) <= MAX_TYPE_LENGTH
            or "\x00" in type_
            or not type_.strip()
        ):
            drafts.append(measurement(document))
            continue
        source_id = int(raw)
        if source_id > MAX_ID:
            drafts.append(measurement(document))  # its error
            continue
        # A copy without the three fields it has (C speed); the rare other reserved or null fields after.
        fragments = document.copy()
        del fragments["source"], fragments["type"], fragments["time"]
        if not _ECHOED.isdisjoint(fragments) or None in fragments.values():
            fragments = {k: v for k, v in fragments.items() if k not in _ECHOED and v is not None}
        drafts.append(NewMeasurement(source_id, type_, at, fragments))
    return drafts


# -- events ---------------------------------------------------------------------------------------

#: Fields of an event the server owns or reads itself; never fragments. An update ignores source, type
#: and time (clients echo whole documents back), as it ignores the server-owned fields.
EVENT_RESERVED = frozenset({"id", "self", "source", "type", "text", "time", "creationTime", "lastUpdated"})
_EVENT = "event"


def event(document: Mapping[str, Any]) -> NewEvent:
    r = _EVENT
    return NewEvent(
        source_id=fields.source_id(document, resource=r),
        type=fields.type_name(document, resource=r, max_length=MAX_TYPE_LENGTH),
        text=fields.required_string(document, "text", resource=r),
        time=fields.time(document, resource=r),
        fragments=fields.fragments(document, EVENT_RESERVED),
    )


def event_change(document: Mapping[str, Any]) -> EventChange:
    """Text and custom fragments change; a fragment set to null is removed."""
    text = document.get("text")
    return EventChange(
        text=None if text is None else fields.string(text, "text", resource=_EVENT),
        fragments=fields.fragments(document, EVENT_RESERVED, keep_null=True),
    )


# -- alarms ---------------------------------------------------------------------------------------

#: Fields of an alarm the server owns or reads itself; never fragments. An update ignores source, type
#: and time, as it ignores the server-owned fields.
ALARM_RESERVED = frozenset(
    {
        "id",
        "self",
        "source",
        "type",
        "text",
        "time",
        "status",
        "severity",
        "count",
        "creationTime",
        "lastUpdated",
        "firstOccurrenceTime",
        "history",
    }
)
_ALARM = "alarm"


def alarm(document: Mapping[str, Any]) -> NewAlarm:
    r = _ALARM
    status = document.get("status")
    return NewAlarm(
        source_id=fields.source_id(document, resource=r),
        type=fields.type_name(document, resource=r, max_length=MAX_TYPE_LENGTH),
        text=fields.required_string(document, "text", resource=r),
        severity=fields.enum_value(document.get("severity"), AlarmSeverity, "severity", resource=r),
        status=AlarmStatus.ACTIVE
        if status is None
        else fields.enum_value(status, AlarmStatus, "status", resource=r),
        time=fields.time(document, resource=r),
        fragments=fields.fragments(document, ALARM_RESERVED),
    )


def alarm_change(document: Mapping[str, Any]) -> AlarmChange:
    r = _ALARM
    status, severity, text = document.get("status"), document.get("severity"), document.get("text")
    return AlarmChange(
        status=None if status is None else fields.enum_value(status, AlarmStatus, "status", resource=r),
        severity=None
        if severity is None
        else fields.enum_value(severity, AlarmSeverity, "severity", resource=r),
        text=None if text is None else fields.string(text, "text", resource=r),
        fragments=fields.fragments(document, ALARM_RESERVED, keep_null=True),
    )


def alarm_status(document: Mapping[str, Any]) -> AlarmStatus:
    """The body of a bulk update (PUT /alarm/alarms?...): the status, the one field it changes."""
    if document.get("status") is None:
        raise InvalidInput("'status' is mandatory; only the status of alarms can be updated", resource=_ALARM)
    return fields.enum_value(document["status"], AlarmStatus, "status", resource=_ALARM)


# -- operations -----------------------------------------------------------------------------------

#: Fields of an operation the server owns: a client may send them but they are not fragments.
OPERATION_READ_ONLY = frozenset(
    {
        "id",
        "self",
        "deviceId",
        "deviceName",
        "deviceExternalIDs",
        "agentId",
        "creationTime",
        "lastUpdated",
        "bulkOperationId",
        "status",
        "failureReason",
    }
)
_OPERATION = "devicecontrol"
_STATUSES = ", ".join(s.value for s in OperationStatus)


def operation_status(raw: object, *, where: str = "status") -> OperationStatus:
    """An operation status by its name; `where` names the field or parameter in the error."""
    if isinstance(raw, str):
        try:
            return OperationStatus(raw)
        except ValueError:
            pass
    raise InvalidInput(f"Invalid {where} {raw!r}; expected one of {_STATUSES}", resource=_OPERATION)


def operation_fragments(document: Mapping[str, Any]) -> Json:
    result = {k: v for k, v in document.items() if k not in OPERATION_READ_ONLY}
    description = result.get("description")
    if description is not None and not isinstance(description, str):
        raise InvalidInput("'description' must be a string", resource=_OPERATION)
    return result


def operation_device_id(document: Mapping[str, Any]) -> int:
    """The device a new operation is for (`deviceId`)."""
    raw = document.get("deviceId")
    if raw is None or raw == "":
        raise InvalidInput(
            "'deviceId' is required: the id of the device to run the operation", resource=_OPERATION
        )
    device_id = parse_id(raw)
    if device_id is None:
        raise InvalidInput(f"Cannot create operation: no managed object for id '{raw}'!", resource=_OPERATION)
    return device_id


def operation_update(document: Mapping[str, Any]) -> OperationUpdate:
    raw_status = document.get("status")
    status = None if raw_status is None else operation_status(raw_status)
    reason = document.get("failureReason")
    if reason is not None and not isinstance(reason, str):
        raise InvalidInput("'failureReason' must be a string", resource=_OPERATION)
    return OperationUpdate(status, reason, operation_fragments(document))
