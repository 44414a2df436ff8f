"""The Xyte wire format, shared by the HTTPS routes (api/xyte) and the MQTT adapter (adapters/xyte).

Telemetry (Send Telemetry; dev.xyte.io "send-telemetry")::

    {"status": "online" | "offline" | "error", "timestamp": "2021-08-04T07:45:44.122Z",
     "telemetries": {"fan_speed": 100.1, "connection": "4g", "usbc": true}, "message": "..."}

becomes ONE measurement of the device (type ``xyte_Telemetry``, time = ``timestamp``, else now):

* every numeric telemetry (booleans as 1 and 0) is a series of the fragment ``xyte_Telemetry``:
  ``{"xyte_Telemetry": {"fan_speed": {"value": 100.1}, "usbc": {"value": 1}}}``, so
  ``/measurement/measurements/series?series=xyte_Telemetry.fan_speed`` charts it;
* everything else (``status``, ``message``, string, null, array or object telemetries) is kept as given in
  the fragment ``xyte_State``: ``{"xyte_State": {"status": "online", "connection": "4g"}}``.

Commands are operations. An operation is shown to a Xyte device as (Get Command)::

    {"id": "<operation id>", "device_id": "<xyte id>", "status": "pending" | "in_progress",
     "name": ..., "parameters": {...}}

``name`` and ``parameters`` come from the fragment ``xyte_Command`` (``{"name": "reboot", "parameters":
{...}}``) when the operation has one; otherwise ``name`` is the operation's first fragment other than
``description`` (e.g. ``c8y_Restart``) and ``parameters`` its value (an object, else ``{"value": v}``).

Statuses map once, here (docs/architecture.md section 1): pending -> PENDING, in_progress -> EXECUTING,
done -> SUCCESSFUL, error (MQTT) or failed (HTTPS docs) -> FAILED.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from tether.core.clock import now_ms, parse_iso
from tether.core.errors import BadRequest, InvalidInput
from tether.core.ids import parse_id
from tether.core.values import clean
from tether.operations.models import Operation, OperationStatus
from tether.registration.xyte_models import XyteDevice
from tether.telemetry.models import NewMeasurement

R = "xyte"
MEASUREMENT_TYPE = "xyte_Telemetry"
SERIES_FRAGMENT = "xyte_Telemetry"
STATE_FRAGMENT = "xyte_State"
COMMAND_FRAGMENT = "xyte_Command"
DEVICE_STATUSES = frozenset({"online", "offline", "error"})
MAX_MESSAGE_LENGTH = 4096

_TO_DOMAIN = {
    "pending": OperationStatus.PENDING,
    "in_progress": OperationStatus.EXECUTING,
    "done": OperationStatus.SUCCESSFUL,
    "error": OperationStatus.FAILED,
    "failed": OperationStatus.FAILED,
}
_TO_XYTE = {
    OperationStatus.PENDING: "pending",
    OperationStatus.EXECUTING: "in_progress",
    OperationStatus.SUCCESSFUL: "done",
    OperationStatus.FAILED: "error",
}


def measurement(device: XyteDevice, payload: Any) -> NewMeasurement:
    """The measurement of the device for one Send Telemetry payload; InvalidInput when the payload is not
    of that shape."""
    if not isinstance(payload, Mapping):
        raise InvalidInput("Telemetry must be a JSON object", resource=R)
    status = payload.get("status")
    if status is not None and status not in DEVICE_STATUSES:
        raise InvalidInput(f"'status' must be one of {', '.join(sorted(DEVICE_STATUSES))}", resource=R)
    telemetries = payload.get("telemetries", {})
    if telemetries is None:
        telemetries = {}
    if not isinstance(telemetries, Mapping):
        raise InvalidInput("'telemetries' must be a JSON object of key/value pairs", resource=R)
    message = payload.get("message")
    if message is not None and (not isinstance(message, str) or len(message) > MAX_MESSAGE_LENGTH):
        raise InvalidInput(
            f"'message' must be a string of at most {MAX_MESSAGE_LENGTH} characters", resource=R
        )
    # Numbers, NUL characters and nesting the stores accept (core/values.py), before anything walks it.
    telemetries = clean(telemetries, where="telemetries", resource=R)
    if message is not None and "\x00" in message:
        raise InvalidInput("Telemetry must not contain NUL characters", resource=R)
    series: dict[str, Any] = {}
    state: dict[str, Any] = {}
    for key, value in telemetries.items():
        if not key:
            raise InvalidInput("Telemetry keys must not be empty", resource=R)
        if isinstance(value, bool):
            series[key] = {"value": 1 if value else 0}
        elif isinstance(value, int | float):
            series[key] = {"value": value}
        else:
            state[key] = value
    if status is not None:
        state["status"] = status
    if message is not None:
        state["message"] = message
    timestamp = payload.get("timestamp")
    if timestamp is not None:
        if not isinstance(timestamp, str):
            raise InvalidInput("'timestamp' must be an ISO-8601 date-time string", resource=R)
        try:
            time = parse_iso(timestamp, field="timestamp", resource=R)
        except BadRequest as exc:
            raise InvalidInput(exc.message, resource=R) from None
    else:
        time = now_ms()
    fragments: dict[str, Any] = {}
    if series:
        fragments[SERIES_FRAGMENT] = series
    if state:
        fragments[STATE_FRAGMENT] = state
    return NewMeasurement(source_id=device.mo_id, type=MEASUREMENT_TYPE, time=time, fragments=fragments)


def command(device: XyteDevice, op: Operation) -> dict[str, Any]:
    """An operation as a Xyte command (Get Command response, MQTT v1/device/<id>/command payload)."""
    name: str = ""
    parameters: Any = {}
    explicit = op.fragments.get(COMMAND_FRAGMENT)
    if isinstance(explicit, Mapping) and isinstance(explicit.get("name"), str):
        name = explicit["name"]
        parameters = explicit.get("parameters") or {}
    else:
        for key, value in op.fragments.items():
            if key != "description":
                name, parameters = key, value
                break
    if not isinstance(parameters, Mapping):
        parameters = {"value": parameters}
    return {
        "id": str(op.id),
        "device_id": device.id,
        "status": _TO_XYTE[op.status],
        "name": name,
        "parameters": dict(parameters),
    }


@dataclass(frozen=True, slots=True)
class CommandUpdate:
    op_id: int
    status: OperationStatus
    message: str | None


def command_update(payload: Any) -> CommandUpdate:
    """Update Command: `{"id": ..., "status": "in_progress" | "done" | "error" | "failed", "message"}`."""
    if not isinstance(payload, Mapping):
        raise InvalidInput("A command update must be a JSON object", resource=R)
    raw_id = payload.get("id")
    command_id = parse_id(raw_id)
    if command_id is None:
        raise InvalidInput(f"'id' must be the id of a command, got {raw_id!r}", resource=R)
    raw_status = payload.get("status")
    status = _TO_DOMAIN.get(raw_status) if isinstance(raw_status, str) else None
    if status is None or status is OperationStatus.PENDING:
        raise InvalidInput("'status' must be one of in_progress, done, error, failed", resource=R)
    message = payload.get("message")
    if message is not None and (not isinstance(message, str) or "\x00" in message):
        raise InvalidInput("'message' must be a string", resource=R)
    if message is not None and len(message) > MAX_MESSAGE_LENGTH:
        raise InvalidInput(f"'message' is longer than {MAX_MESSAGE_LENGTH} characters", resource=R)
    return CommandUpdate(command_id, status, message)


def xyte_status(status: OperationStatus) -> str:
    return _TO_XYTE[status]
