"""What a template handler works with: the domain services, the row's fields and the device it is about."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

from tether.adapters.smartrest.csv import encode_row
from tether.adapters.smartrest.errors import invalid
from tether.core.clock import OutOfRange, now_ms, parse_iso
from tether.core.errors import BadRequest
from tether.core.ids import parse_int
from tether.core.processing import ProcessingMode
from tether.inventory.models import ChildKind
from tether.services import Services
from tether.telemetry.measurements import IngestRow, SourceGrant, ingest_row
from tether.tenants.models import Principal

__all__ = ["DeviceRef", "Fields", "Host", "RowContext", "parse_number", "parse_time"]


@dataclass(slots=True)
class DeviceRef:
    """A device of a connection (the root device of its ClientId or one of its children): its managed
    object, its external id (c8y_Serial) and the grant to record measurements about it."""

    mo_id: int
    xid: str
    grant: SourceGrant
    is_root: bool = False


def parse_number(text: str, name: str, template: str) -> int | float:
    """A JSON number from a CSV field: an integer when written as one, else a float; not NaN or infinite.
    An integer beyond 64 bits becomes the nearest float, or is refused when that is infinite (the rule of
    core/values.py). (No exception on the common paths: this runs for every measurement.)"""
    if text.isdigit() and text.isascii() and len(text) <= 18:
        return int(text)
    try:
        value = float(text)
    except ValueError:
        raise invalid(f"'{name}' must be a number (got {text[:40]!r})", template) from None
    if not math.isfinite(value):
        raise invalid(f"'{name}' must be a finite number (got {text[:40]!r})", template)
    if "." in text:  # not an integer literal (the common case of a measurement: skip the check)
        return value
    whole = parse_int(text.removeprefix("+"))  # (text is a valid float literal here)
    return value if whole is None else whole


class Fields:
    """The fields of one row after the template id; positions count from 1 as in the template tables."""

    __slots__ = ("template", "values")

    def __init__(self, template: str, values: list[str]) -> None:
        self.template = template
        self.values = values

    def __len__(self) -> int:
        return len(self.values)

    def opt(self, position: int, default: str | None = None) -> str | None:
        """The field, or `default` when it is missing or empty (optional fields may be empty or dropped)."""
        values = self.values
        if position <= len(values):
            value = values[position - 1]
            if value:
                return value
        return default

    def req(self, position: int, name: str) -> str:
        value = self.opt(position)
        if value is None:
            raise invalid(f"Mandatory field '{name}' (position {position}) is missing", self.template)
        return value

    def number(self, position: int, name: str) -> int | float | None:
        value = self.opt(position)
        return None if value is None else parse_number(value, name, self.template)

    def req_number(self, position: int, name: str) -> int | float:
        return parse_number(self.req(position, name), name, self.template)

    def time(self, position: int, now: int) -> int:
        """A date at `position`, or the server time when it is empty (docs/protocols.md section 4)."""
        value = self.opt(position)
        if value is None:
            return now
        return parse_time(value, self.template)

    def rest(self, position: int) -> list[str]:
        """The fields from `position` on (for repeated groups), trailing empty ones dropped."""
        rest = self.values[position - 1 :]
        while rest and not rest[-1]:
            rest.pop()
        return rest


def parse_time(value: str, template: str) -> int:
    try:
        return parse_iso(value, resource="smartrest")
    except OutOfRange:
        raise invalid(f"Invalid date {value!r}; outside the years 1..9999 in UTC", template) from None
    except BadRequest:
        raise invalid(f"Invalid date {value!r}; expected ISO-8601", template) from None


class Host(Protocol):
    """What the connection offers a template beyond the services (implemented by the adapter's session)."""

    async def create_root(self, name: str | None, type_: str | None) -> bool:
        """Create the ClientId's device unless it exists; whether it was created."""
        ...

    async def create_child(
        self, parent: DeviceRef, xid: str, document: dict[str, Any], kind: ChildKind = ChildKind.DEVICE
    ) -> tuple[int, bool]:
        """The object of `xid`, created from `document` below `parent` unless it exists; its id and
        whether it was created."""
        ...

    async def child_xids(self, parent: DeviceRef) -> list[str]: ...

    async def resend_pending(self, target: DeviceRef) -> None:
        """Publish every PENDING operation of `target` (and of the devices it is the agent of) on s/ds."""
        ...

    def owns_operation(self, device_id: int, agent_id: int | None) -> bool:
        """Whether an operation of `device_id` routed to `agent_id` is this connection's to execute."""
        ...


@dataclass(slots=True)
class RowContext:
    """One row being processed: who sends it, about which device, in which processing mode.

    `reply` publishes a line on the client's s/ds; `measure` adds a measurement to the message's ingest
    batch (stored with one write for many messages); `now` is the server time of the message. `target` is
    None only for template 100 before the device exists."""

    template: str
    who: Principal
    services: Services
    host: Host
    mode: ProcessingMode
    reply: Callable[[str], None]
    target: DeviceRef | None
    measurements: list[IngestRow] = field(default_factory=list)
    now: int = field(default_factory=now_ms)

    @property
    def device(self) -> DeviceRef:
        if self.target is None:
            raise RuntimeError("the row's device was not resolved")
        return self.target

    def measure(self, type_: str, time: int, fragments: dict[str, Any]) -> None:
        """Checked before it joins the batch (telemetry.measurements.ingest_row): InvalidInput, reported
        on s/e as 45 for this row only."""
        self.measurements.append(ingest_row(self.device.grant, type_, time, fragments))

    def reply_row(self, fields: Iterable[object]) -> None:
        self.reply(encode_row(fields))

    @property
    def source(self) -> dict[str, str]:
        return {"id": str(self.device.mo_id)}
