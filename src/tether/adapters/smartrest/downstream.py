"""Operations -> s/ds lines with the static templates (docs/protocols.md section 5; Cumulocity's
mqtt-static-templates "Subscribe templates"): `<id>,<device or child external id>,<parameters>`.

An operation whose fragments have no static template returns None: the adapter sends it as JSON on
devicecontrol/notifications instead (JSON via MQTT).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tether.adapters.smartrest.csv import encode_row
from tether.operations.models import Operation

__all__ = ["static_line"]

Row = list[object]


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _get(fragment: Any, *keys: str) -> list[str]:
    data = fragment if isinstance(fragment, dict) else {}
    return [_text(data.get(key)) for key in keys]


def _items(value: Any) -> list[dict[str, Any]]:
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


def _restart(op: Operation, value: Any) -> Row:
    return ["510"]


def _command(op: Operation, value: Any) -> Row:
    return ["511", *_get(value, "text")]


def _configuration(op: Operation, value: Any) -> Row:
    return ["513", *_get(value, "config")]


def _firmware(op: Operation, value: Any) -> Row:
    data = value if isinstance(value, dict) else {}
    if data.get("dependency") or data.get("isPatch"):
        return ["525", *_get(data, "name", "version", "url", "dependency")]
    return ["515", *_get(data, "name", "version", "url")]


def _software_list(op: Operation, value: Any) -> Row:
    row: Row = ["516"]
    for item in _items(value):
        row += _get(item, "name", "version", "url")
    return row


def _measurement_request(op: Operation, value: Any) -> Row:
    return ["517", *_get(value, "requestName")]


def _relay(op: Operation, value: Any) -> Row:
    return ["518", *_get(value, "relayState")]


def _relay_array(op: Operation, value: Any) -> Row:
    return ["519", *(_text(v) for v in value)] if isinstance(value, list) else ["519"]


def _upload_config(op: Operation, value: Any) -> Row:
    if isinstance(value, dict) and value.get("type"):
        return ["526", _text(value["type"])]
    return ["520"]


def _download_config(op: Operation, value: Any) -> Row:
    if isinstance(value, dict) and value.get("type"):
        return ["524", *_get(value, "url", "type")]
    return ["521", *_get(value, "url")]


def _logfile(op: Operation, value: Any) -> Row:
    return ["522", *_get(value, "logFile", "dateFrom", "dateTo", "searchText", "maximumLines")]


def _communication_mode(op: Operation, value: Any) -> Row:
    return ["523", *_get(value, "mode")]


def _device_profile(op: Operation, value: Any) -> Row:
    data = value if isinstance(value, dict) else {}
    row: Row = ["527"]
    firmware = data.get("firmware")
    if isinstance(firmware, dict):
        row += ["$FW", *_get(firmware, "name", "version", "url", "isPatch", "dependency")]
    software = _items(data.get("software"))
    if software:
        row.append("$SW")
        for item in software:
            row += _get(item, "name", "version", "url", "action")
    configuration = _items(data.get("configuration"))
    if configuration:
        row.append("$CONF")
        for item in configuration:
            row += _get(item, "url", "type")
    return row


def _software_update(op: Operation, value: Any) -> Row:
    items = _items(value)
    if any(item.get("softwareType") for item in items):
        row: Row = ["529"]
        for item in items:
            row += _get(item, "name", "version", "softwareType", "url", "action")
        return row
    row = ["528"]
    for item in items:
        row += _get(item, "name", "version", "url", "action")
    return row


def _remote_access(op: Operation, value: Any) -> Row:
    return ["530", *_get(value, "hostname", "port", "connectionKey")]


# Fragment -> template, in the order they are tried (an operation names one of them).
STATIC_OPERATIONS: dict[str, Callable[[Operation, Any], Row]] = {
    "c8y_Restart": _restart,
    "c8y_Command": _command,
    "c8y_Configuration": _configuration,
    "c8y_Firmware": _firmware,
    "c8y_SoftwareList": _software_list,
    "c8y_MeasurementRequestOperation": _measurement_request,
    "c8y_Relay": _relay,
    "c8y_RelayArray": _relay_array,
    "c8y_UploadConfigFile": _upload_config,
    "c8y_DownloadConfigFile": _download_config,
    "c8y_LogfileRequest": _logfile,
    "c8y_CommunicationMode": _communication_mode,
    "c8y_DeviceProfile": _device_profile,
    "c8y_SoftwareUpdate": _software_update,
    "c8y_RemoteAccessConnect": _remote_access,
}


def static_line(op: Operation, xid: str) -> str | None:
    """The s/ds line of an operation for the device named `xid`, or None without a static template."""
    for fragment, render in STATIC_OPERATIONS.items():
        if fragment in op.fragments:
            template, *params = render(op, op.fragments[fragment])
            return encode_row([template, xid, *params])
    return None
