"""Upstream static templates (s/us, t/us, q/us, c/us and their child topics) -> domain calls.

The table follows Cumulocity's mqtt-static-templates (docs/protocols.md section 4): field positions
count from 1 after the template id, optional fields may be empty or dropped and get the defaults given
there. Measurement templates (2xx) do not call a service: they add to the message's ingest batch, which
the adapter stores with one write for many messages (bench/README.md, smartrest_ingest.py).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from tether.adapters.smartrest.context import DeviceRef, Fields, RowContext
from tether.adapters.smartrest.devices import Devices
from tether.adapters.smartrest.errors import Code, SmartRestError, invalid
from tether.c8y import documents
from tether.core.clock import to_iso
from tether.core.ids import parse_id
from tether.core.paging import PageRequest
from tether.inventory.models import ChildKind, ManagedObjectChange
from tether.operations.models import Operation, OperationCriteria, OperationStatus
from tether.telemetry.models import AlarmChange, AlarmCriteria, AlarmStatus, EventCriteria

__all__ = ["MEASUREMENT_TEMPLATES", "STATIC", "Template"]

Handler = Callable[[RowContext, Fields], Awaitable[None]]
Measure = Callable[[RowContext, Fields], None]


@dataclass(frozen=True, slots=True)
class Template:
    """`run` for service calls; `measure` (synchronous) for measurement templates. `needs_device`: the
    adapter resolves (or creates) the row's device first; only 100 does without."""

    run: Handler | None = None
    measure: Measure | None = None
    needs_device: bool = True


# -- inventory (1xx) ------------------------------------------------------------------------------


async def _update(ctx: RowContext, document: dict[str, Any], device: DeviceRef | None = None) -> None:
    target = device or ctx.device
    await ctx.services.inventory.update(ctx.who, target.mo_id, documents.managed_object_change(document))


def _present(**values: Any) -> dict[str, Any]:
    return {key: value for key, value in values.items() if value is not None}


async def t100(ctx: RowContext, f: Fields) -> None:
    if ctx.target is not None or not await ctx.host.create_root(f.opt(1), f.opt(2)):
        # thin-edge.io relies on this exact line (docs/protocols.md section 4).
        raise SmartRestError(Code.CREATION_ERROR, "Device already existing", "100")


async def t101(ctx: RowContext, f: Fields) -> None:
    xid = f.req(1, "unique child ID")
    marker = (f.opt(4) or "true").lower() != "false"
    await ctx.host.create_child(ctx.device, xid, Devices.child_document(xid, f.opt(2), f.opt(3), marker))


async def t102(ctx: RowContext, f: Fields) -> None:
    """A service of the device: a child addition of type c8y_Service, created once, its status kept."""
    xid = f.req(1, "service external id")
    service_type, name, status = (
        f.req(2, "service type"),
        f.req(3, "service name"),
        f.req(4, "service status"),
    )
    document = {"type": "c8y_Service", "name": name, "serviceType": service_type, "status": status}
    mo_id, created = await ctx.host.create_child(ctx.device, xid, document, ChildKind.ADDITION)
    if not created:
        await ctx.services.inventory.update(ctx.who, mo_id, ManagedObjectChange(fragments={"status": status}))


async def t104(ctx: RowContext, f: Fields) -> None:
    await _update(ctx, {"status": f.req(1, "service status")})


async def t105(ctx: RowContext, f: Fields) -> None:
    ctx.reply_row(["106", *await ctx.host.child_xids(ctx.device)])


async def t107(ctx: RowContext, f: Fields) -> None:
    names = f.rest(1)
    if not names:
        raise invalid("At least one fragment name is required", "107")
    await _update(ctx, dict.fromkeys(names))


async def t110(ctx: RowContext, f: Fields) -> None:
    hardware = _present(serialNumber=f.opt(1), model=f.opt(2), revision=f.opt(3))
    await _update(ctx, {"c8y_Hardware": hardware})


async def t111(ctx: RowContext, f: Fields) -> None:
    names = ("imei", "iccid", "imsi", "mcc", "mnc", "lac", "cellId")
    mobile = {name: f.opt(i) for i, name in enumerate(names, 1) if f.opt(i) is not None}
    await _update(ctx, {"c8y_Mobile": mobile})


def _position(f: Fields) -> dict[str, Any]:
    return _present(
        lat=f.number(1, "latitude"),
        lng=f.number(2, "longitude"),
        alt=f.number(3, "altitude"),
        accuracy=f.number(4, "accuracy"),
    )


async def t112(ctx: RowContext, f: Fields) -> None:
    await _update(ctx, {"c8y_Position": _position(f)})


async def t113(ctx: RowContext, f: Fields) -> None:
    await _update(ctx, {"c8y_Configuration": {"config": f.opt(1, "")}})


async def t114(ctx: RowContext, f: Fields) -> None:
    await _update(ctx, {"c8y_SupportedOperations": [op for op in f.rest(1) if op]})


async def t115(ctx: RowContext, f: Fields) -> None:
    await _update(ctx, {"c8y_Firmware": _present(name=f.opt(1), version=f.opt(2), url=f.opt(3))})


def _groups(values: list[str], size: int) -> list[list[str]]:
    padded = values + [""] * (-len(values) % size)
    return [padded[i : i + size] for i in range(0, len(padded), size)]


async def t116(ctx: RowContext, f: Fields) -> None:
    software = [
        {"name": name, "version": version, "url": url} for name, version, url in _groups(f.rest(1), 3) if name
    ]
    await _update(ctx, {"c8y_SoftwareList": software})


async def t117(ctx: RowContext, f: Fields) -> None:
    """Only set when absent: an interval set by an operator is not overwritten."""
    minutes = f.number(1, "required interval")
    if minutes is None:
        return
    if not isinstance(minutes, int):
        raise invalid("'required interval' must be an integer number of minutes", "117")
    device = await ctx.services.inventory.get(ctx.who, ctx.device.mo_id)
    if "c8y_RequiredAvailability" not in device.fragments:
        await _update(ctx, {"c8y_RequiredAvailability": {"responseInterval": minutes}})


async def t118(ctx: RowContext, f: Fields) -> None:
    await _update(ctx, {"c8y_SupportedLogs": [log for log in f.rest(1) if log]})


async def t119(ctx: RowContext, f: Fields) -> None:
    await _update(ctx, {"c8y_SupportedConfigurations": [c for c in f.rest(1) if c]})


async def t121(ctx: RowContext, f: Fields) -> None:
    executed = f.req(1, "profile executed").lower() == "true"
    profile_id = f.opt(2)
    profile: dict[str, Any] = {"profileExecuted": executed}
    if profile_id is None:
        # Default: the profile of the oldest EXECUTING device profile operation.
        op = await _oldest(ctx, "c8y_DeviceProfile", OperationStatus.EXECUTING)
        if op is not None:
            profile_id = op.fragments.get("profileId")
            if isinstance(op.fragments.get("profileName"), str):
                profile["profileName"] = op.fragments["profileName"]
    if profile_id is not None:
        profile["profileId"] = str(profile_id)
    await _update(ctx, {"c8y_Profile": profile})


async def t122(ctx: RowContext, f: Fields) -> None:
    agent = {
        "name": f.req(1, "agent name"),
        "version": f.req(2, "agent version"),
        "url": f.opt(3, ""),
        "maintainer": f.req(4, "agent maintainer"),
    }
    await _update(ctx, {"c8y_Agent": agent})


async def t123(ctx: RowContext, f: Fields) -> None:
    ctx.reply_row(["124", str(ctx.device.mo_id)])


async def t125(ctx: RowContext, f: Fields) -> None:
    """Heartbeat: the device is available now (c8y_Availability)."""
    await _update(ctx, {"c8y_Availability": {"status": "AVAILABLE", "lastMessage": to_iso(ctx.now)}})


def _advanced(f: Fields, position: int = 1) -> list[dict[str, str]]:
    items = []
    for name, version, type_, url in _groups(f.rest(position), 4):
        if not name or not version:
            raise invalid("Each software item needs a name and a version", f.template)
        items.append({"name": name, "version": version, "softwareType": type_, "url": url})
    return items


async def _software(ctx: RowContext) -> list[dict[str, Any]]:
    device = await ctx.services.inventory.get(ctx.who, ctx.device.mo_id)
    current = device.fragments.get("c8y_SoftwareList")
    return [item for item in current if isinstance(item, dict)] if isinstance(current, list) else []


async def t140(ctx: RowContext, f: Fields) -> None:
    await _update(ctx, {"c8y_SoftwareList": _advanced(f)})


async def t141(ctx: RowContext, f: Fields) -> None:
    added = _advanced(f)
    names = {(item["name"], item["version"]) for item in added}
    kept = [item for item in await _software(ctx) if (item.get("name"), item.get("version")) not in names]
    await _update(ctx, {"c8y_SoftwareList": kept + added})


async def t142(ctx: RowContext, f: Fields) -> None:
    pairs = _groups(f.rest(1), 2)
    if not pairs:
        raise invalid("At least one software name and version is required", "142")
    removed = {(name, version) for name, version in pairs}
    kept = [item for item in await _software(ctx) if (item.get("name"), item.get("version")) not in removed]
    await _update(ctx, {"c8y_SoftwareList": kept})


async def t143(ctx: RowContext, f: Fields) -> None:
    types = [t for t in f.rest(1) if t]
    await _update(ctx, {"c8y_SupportedSoftwareTypes": types or None})  # an empty list removes it


# -- measurements (2xx): synchronous, into the ingest batch -----------------------------------------


def _series(value: int | float, unit: str | None) -> dict[str, Any]:
    return {"value": value} if unit is None else {"value": value, "unit": unit}


def m200(ctx: RowContext, f: Fields) -> None:
    fragment, series = f.req(1, "fragment"), f.req(2, "series")
    value = f.req_number(3, "value")
    ctx.measure(fragment, f.time(5, ctx.now), {fragment: {series: _series(value, f.opt(4))}})


def m201(ctx: RowContext, f: Fields) -> None:
    type_ = f.req(1, "type")
    time = f.time(2, ctx.now)
    groups = _groups(f.rest(3), 4)
    if not groups:
        raise invalid("At least one fragment, series and value are required", "201")
    fragments: dict[str, Any] = {}
    for fragment, series, value, unit in groups:
        if not fragment or not series or not value:
            raise invalid("Each group needs a fragment, a series and a value", "201")
        number = Fields("201", [value]).req_number(1, "value")
        fragments.setdefault(fragment, {})[series] = _series(number, unit or None)
    ctx.measure(type_, time, fragments)


def m210(ctx: RowContext, f: Fields) -> None:
    rssi, ber = f.number(1, "rssi"), f.number(2, "ber")
    if rssi is None and ber is None:
        raise invalid("'rssi' or 'ber' is required", "210")
    signal: dict[str, Any] = {}
    if rssi is not None:
        signal["rssi"] = _series(rssi, "dBm")
    if ber is not None:
        signal["ber"] = _series(ber, "%")
    ctx.measure("c8y_SignalStrength", f.time(3, ctx.now), {"c8y_SignalStrength": signal})


def m211(ctx: RowContext, f: Fields) -> None:
    value = f.req_number(1, "temperature")
    fragments = {"c8y_TemperatureMeasurement": {"T": _series(value, "C")}}
    ctx.measure("c8y_TemperatureMeasurement", f.time(2, ctx.now), fragments)


def m212(ctx: RowContext, f: Fields) -> None:
    value = f.req_number(1, "battery")
    ctx.measure("c8y_Battery", f.time(2, ctx.now), {"c8y_Battery": {"level": _series(value, "%")}})


# -- alarms (3xx) -----------------------------------------------------------------------------------


def _raise(severity: str) -> Handler:
    async def raise_alarm(ctx: RowContext, f: Fields) -> None:
        type_ = f.req(1, "type")
        document = {
            "source": ctx.source,
            "type": type_,
            "text": f.opt(2) or f"Alarm of type {type_} raised",
            "severity": severity,
            "time": to_iso(f.time(3, ctx.now)),
        }
        await ctx.services.alarms.create(ctx.who, documents.alarm(document), ctx.mode)

    return raise_alarm


async def _open_alarm(ctx: RowContext, type_: str) -> int | None:
    """The ACTIVE alarm of this type on the device, else the ACKNOWLEDGED one (template 306,
    docs/protocols.md section 4)."""
    for status in (AlarmStatus.ACTIVE, AlarmStatus.ACKNOWLEDGED):
        criteria = AlarmCriteria(source_id=ctx.device.mo_id, types=(type_,), statuses=(status,))
        page = await ctx.services.alarms.find(ctx.who, criteria, PageRequest(page_size=1))
        if page.items and page.items[0].id is not None:
            return page.items[0].id
    return None


async def t305(ctx: RowContext, f: Fields) -> None:
    type_, severity = f.req(1, "type"), f.req(2, "severity").upper()
    alarm_id = await _open_alarm(ctx, type_)
    if alarm_id is not None:
        change = documents.alarm_change({"severity": severity})
        await ctx.services.alarms.update(ctx.who, alarm_id, change, ctx.mode)


async def t306(ctx: RowContext, f: Fields) -> None:
    alarm_id = await _open_alarm(ctx, f.req(1, "type"))
    if alarm_id is not None:
        change = AlarmChange(status=AlarmStatus.CLEARED)
        await ctx.services.alarms.update(ctx.who, alarm_id, change, ctx.mode)


async def t307(ctx: RowContext, f: Fields) -> None:
    type_, names = f.req(1, "type"), f.rest(2)
    if not names:
        raise invalid("At least one fragment name is required", "307")
    alarm_id = await _open_alarm(ctx, type_)
    if alarm_id is not None:
        change = documents.alarm_change(dict.fromkeys(names))
        await ctx.services.alarms.update(ctx.who, alarm_id, change, ctx.mode)


# -- events (4xx) -----------------------------------------------------------------------------------


async def t400(ctx: RowContext, f: Fields) -> None:
    document = {
        "source": ctx.source,
        "type": f.req(1, "type"),
        "text": f.req(2, "text"),
        "time": to_iso(f.time(3, ctx.now)),
    }
    await ctx.services.device_events.create(ctx.who, documents.event(document), ctx.mode)


async def t401(ctx: RowContext, f: Fields) -> None:
    position = _position(f)
    document = {
        "source": ctx.source,
        "type": "c8y_LocationUpdate",
        "text": "Location updated",
        "time": to_iso(f.time(5, ctx.now)),
        "c8y_Position": position,
    }
    await ctx.services.device_events.create(ctx.who, documents.event(document), ctx.mode)


async def t402(ctx: RowContext, f: Fields) -> None:
    await t401(ctx, f)
    await _update(ctx, {"c8y_Position": _position(f)})


async def t407(ctx: RowContext, f: Fields) -> None:
    type_, names = f.req(1, "type"), f.rest(2)
    if not names:
        return
    criteria = EventCriteria(source_id=ctx.device.mo_id, type=type_)
    page = await ctx.services.device_events.find(ctx.who, criteria, PageRequest(page_size=1))
    if page.items and page.items[0].id is not None:
        change = documents.event_change(dict.fromkeys(names))
        await ctx.services.device_events.update(ctx.who, page.items[0].id, change, ctx.mode)


# -- operations (5xx) -------------------------------------------------------------------------------


async def _oldest(ctx: RowContext, fragment: str | None, status: OperationStatus) -> Operation | None:
    criteria = OperationCriteria(device_id=ctx.device.mo_id, status=status, fragment_type=fragment)
    page = await ctx.services.operations.find(ctx.who, criteria, PageRequest(page_size=1))
    return page.items[0] if page.items else None


async def _by_id(ctx: RowContext, f: Fields) -> Operation:
    raw = f.req(1, "operationId")
    op_id = parse_id(raw)
    if op_id is None:
        raise invalid(f"'operationId' must be an operation id (got {raw!r})", f.template)
    op = await ctx.services.operations.get(ctx.who, op_id)
    if not ctx.host.owns_operation(op.device_id, op.agent_id):
        raise invalid(f"Operation {raw} is not an operation of this device", f.template)
    return op


async def _finish(
    ctx: RowContext, op: Operation, status: OperationStatus, reason: str | None, params: list[str]
) -> None:
    """PENDING or EXECUTING -> FAILED/SUCCESSFUL (a PENDING operation passes through EXECUTING, so that a
    device reporting at once is not refused), applying the parameters of a successful one."""
    operations = ctx.services.operations
    if op.status is OperationStatus.PENDING:
        op = await operations.update(ctx.who, op.id, status=OperationStatus.EXECUTING)
    fragments: dict[str, Any] = {}
    if status is OperationStatus.SUCCESSFUL:
        fragments = await _apply_parameters(ctx, op, params)
    await operations.update(ctx.who, op.id, status=status, failure_reason=reason, fragments=fragments)


async def _apply_parameters(ctx: RowContext, op: Operation, params: list[str]) -> dict[str, Any]:
    """503/506 parameters (mqtt-static-templates "Updating operations"): what they add to the operation,
    or to the device."""
    fragments: dict[str, Any] = {}
    given = ",".join(params)
    command = op.fragments.get("c8y_Command")
    if isinstance(command, dict) and params:
        fragments["c8y_Command"] = {**command, "result": given}
    logfile = op.fragments.get("c8y_LogfileRequest")
    if isinstance(logfile, dict) and params:
        fragments["c8y_LogfileRequest"] = {**logfile, "file": params[0]}
    device: dict[str, Any] = {}
    if "c8y_RelayArray" in op.fragments and params:
        device["c8y_RelayArray"] = params
    mode = op.fragments.get("c8y_CommunicationMode")
    if isinstance(mode, dict) and "mode" in mode:
        device["c8y_CommunicationMode"] = {"mode": mode["mode"]}
    download = op.fragments.get("c8y_DownloadConfigFile")
    if isinstance(download, dict):
        dump = download.get("c8y_ConfigurationDump")
        stamp = params[0] if params else to_iso(ctx.now)
        device["c8y_ConfigurationDump"] = {
            "id": dump.get("id") if isinstance(dump, dict) else None,
            "time": stamp,
        }
    if device:
        await ctx.services.inventory.update(ctx.who, op.device_id, documents.managed_object_change(device))
    return fragments


async def t500(ctx: RowContext, f: Fields) -> None:
    await ctx.host.resend_pending(ctx.device)


async def t501(ctx: RowContext, f: Fields) -> None:
    fragment = f.req(1, "fragment")
    op = await _oldest(ctx, fragment, OperationStatus.PENDING)
    if op is None:
        raise invalid(f"No PENDING operation with fragment {fragment}", "501")
    await ctx.services.operations.update(ctx.who, op.id, status=OperationStatus.EXECUTING)


async def _executing_or_pending(ctx: RowContext, f: Fields) -> Operation:
    fragment = f.req(1, "fragment")
    op = await _oldest(ctx, fragment, OperationStatus.EXECUTING)
    if op is None:
        op = await _oldest(ctx, fragment, OperationStatus.PENDING)
    if op is None:
        raise invalid(f"No EXECUTING operation with fragment {fragment}", f.template)
    return op


async def t502(ctx: RowContext, f: Fields) -> None:
    op = await _executing_or_pending(ctx, f)
    await _finish(ctx, op, OperationStatus.FAILED, f.opt(2, ""), [])


async def t503(ctx: RowContext, f: Fields) -> None:
    op = await _executing_or_pending(ctx, f)
    await _finish(ctx, op, OperationStatus.SUCCESSFUL, None, f.rest(2))


async def t504(ctx: RowContext, f: Fields) -> None:
    op = await _by_id(ctx, f)
    await ctx.services.operations.update(ctx.who, op.id, status=OperationStatus.EXECUTING)


async def t505(ctx: RowContext, f: Fields) -> None:
    op = await _by_id(ctx, f)
    await _finish(ctx, op, OperationStatus.FAILED, f.opt(2, ""), [])


async def t506(ctx: RowContext, f: Fields) -> None:
    op = await _by_id(ctx, f)
    await _finish(ctx, op, OperationStatus.SUCCESSFUL, None, f.rest(2))


async def t507(ctx: RowContext, f: Fields) -> None:
    """Every EXECUTING operation (of the fragment, or all when it is empty) -> FAILED."""
    fragment, reason = f.opt(1), f.opt(2, "")
    criteria = OperationCriteria(
        device_id=ctx.device.mo_id, status=OperationStatus.EXECUTING, fragment_type=fragment
    )
    page = await ctx.services.operations.find(ctx.who, criteria, PageRequest(page_size=2000))
    for op in page.items:
        await ctx.services.operations.update(
            ctx.who, op.id, status=OperationStatus.FAILED, failure_reason=reason
        )


# -- the table --------------------------------------------------------------------------------------

_RUN: dict[str, Handler] = {
    "101": t101,
    "102": t102,
    "104": t104,
    "105": t105,
    "107": t107,
    "110": t110,
    "111": t111,
    "112": t112,
    "113": t113,
    "114": t114,
    "115": t115,
    "116": t116,
    "117": t117,
    "118": t118,
    "119": t119,
    "121": t121,
    "122": t122,
    "123": t123,
    "125": t125,
    "140": t140,
    "141": t141,
    "142": t142,
    "143": t143,
    "301": _raise("CRITICAL"),
    "302": _raise("MAJOR"),
    "303": _raise("MINOR"),
    "304": _raise("WARNING"),
    "305": t305,
    "306": t306,
    "307": t307,
    "400": t400,
    "401": t401,
    "402": t402,
    "407": t407,
    "500": t500,
    "501": t501,
    "502": t502,
    "503": t503,
    "504": t504,
    "505": t505,
    "506": t506,
    "507": t507,
}
MEASUREMENT_TEMPLATES: dict[str, Measure] = {"200": m200, "201": m201, "210": m210, "211": m211, "212": m212}

STATIC: dict[str, Template] = {
    "100": Template(run=t100, needs_device=False),
    **{tid: Template(run=handler) for tid, handler in _RUN.items()},
    **{tid: Template(measure=handler) for tid, handler in MEASUREMENT_TEMPLATES.items()},
}
