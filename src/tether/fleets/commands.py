"""Fleets commands as Cumulocity operations on the thing's device (docs/protocols.md section 10).

A command IS an operation (so /devicecontrol/operations shows it) with the fragment `fleets_Command`
{action, params, ttl, timestamp, expiresAt, thingName, status, result?}; its execution id is the
operation's id. The Fleets lifecycle is the table below; each status maps onto an operation status once,
here (:data:`OPERATION_STATUS`): SENT is PENDING (the device has not answered), SUCCEEDED is SUCCESSFUL, and
FAILED, REJECTED, TIMED_OUT and CANCELED are FAILED with the Fleets status as failure reason.

A command waits `ttl` seconds for the device's answer; then it is TIMED_OUT (also when the device was offline:
the request's Message Expiry Interval is the ttl, so a session that resumes later does not get it). The
adapter's timer applies it; the timers of SENT commands are restored at start
(:meth:`CommandService.pending`), and a command read or answered after its ttl is timed out then at the
latest.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Final

from tether.core.clock import now_ms
from tether.core.errors import Conflict, InvalidInput, Missing, NotFound
from tether.core.ids import parse_int
from tether.core.locks import KeyedLocks
from tether.core.paging import Page, PageRequest
from tether.fleets.models import DEVICE_USER_PREFIX, Json, R, Thing
from tether.fleets.things import ThingService, system
from tether.operations.models import Operation, OperationCriteria, OperationStatus
from tether.operations.service import OperationService
from tether.tenants.models import Principal

FRAGMENT: Final = "fleets_Command"
DEFAULT_TTL: Final = 60  # seconds
MAX_TTL: Final = 7 * 24 * 3600
MAX_ACTION: Final = 128


class CommandStatus(StrEnum):
    SENT = "SENT"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    REJECTED = "REJECTED"
    TIMED_OUT = "TIMED_OUT"
    CANCELED = "CANCELED"


_C = CommandStatus
#: SENT is the only status that may change; every other is final.
TRANSITIONS: Mapping[CommandStatus, frozenset[CommandStatus]] = {
    _C.SENT: frozenset({_C.SUCCEEDED, _C.FAILED, _C.REJECTED, _C.TIMED_OUT, _C.CANCELED}),
    **{status: frozenset() for status in _C if status is not _C.SENT},
}
#: What the device may answer on `.../executions/<id>/response`.
DEVICE_ANSWERS: Final = frozenset({_C.SUCCEEDED, _C.FAILED, _C.REJECTED})
OPERATION_STATUS: Mapping[CommandStatus, OperationStatus] = {
    _C.SENT: OperationStatus.PENDING,
    _C.SUCCEEDED: OperationStatus.SUCCESSFUL,
    _C.FAILED: OperationStatus.FAILED,
    _C.REJECTED: OperationStatus.FAILED,
    _C.TIMED_OUT: OperationStatus.FAILED,
    _C.CANCELED: OperationStatus.FAILED,
}


#: Fragments of an operation that are not what it asks the device to do.
_NOT_ACTIONS: Final = frozenset(
    {"description", "deviceId", "deviceName", "status", "failureReason", FRAGMENT}
)


class CommandFinished(Conflict):
    """The command has a final status already (409)."""


@dataclass(frozen=True, slots=True)
class Command:
    """A command as the Fleets API shows it, read from its operation."""

    execution_id: str
    tenant_id: str
    device_id: int
    thing_name: str
    action: str
    params: Json
    ttl: int
    timestamp: int  # epoch seconds of the request
    expires_at: int  # ms
    status: CommandStatus
    result: Any
    operation: Operation


def command_of(op: Operation) -> Command | None:
    fragment = op.fragments.get(FRAGMENT)
    if not isinstance(fragment, dict):
        return None
    try:
        status = CommandStatus(str(fragment.get("status")))
    except ValueError:
        return None
    if status is _C.SENT and op.status is OperationStatus.SUCCESSFUL:
        status = _C.SUCCEEDED  # finished through the Cumulocity API
    elif status is _C.SENT and op.status is OperationStatus.FAILED:
        status = _C.CANCELED  # an operator's FAILED (Cumulocity's cancel)
    params = fragment.get("params")
    return Command(
        execution_id=str(op.id),
        tenant_id=op.tenant_id,
        device_id=op.device_id,
        thing_name=str(fragment.get("thingName", "")),
        action=str(fragment.get("action", "")),
        params=params if isinstance(params, dict) else {},
        ttl=int(fragment.get("ttl", DEFAULT_TTL)),
        timestamp=int(fragment.get("timestamp", 0)),
        expires_at=int(fragment.get("expiresAt", 0)),
        status=status,
        result=fragment.get("result"),
        operation=op,
    )


def request_document(command: Command) -> Json:
    """What the device receives on `$emqx/commands/things/<name>/executions/<id>/request`."""
    return {
        "commandId": command.execution_id,
        "action": command.action,
        "params": command.params,
        "timestamp": command.timestamp,
        "ttl": command.ttl,
    }


def parse_command(document: Mapping[str, Any]) -> tuple[str, Json, int]:
    """(action, params, ttl) of `POST /api/v1/things/{id}/commands`."""
    action = document.get("action")
    if not isinstance(action, str) or not action.strip() or len(action) > MAX_ACTION:
        raise InvalidInput(f"'action' must be a string of 1 to {MAX_ACTION} characters", resource=R)
    params = document.get("params", {})
    if params is None:
        params = {}
    if not isinstance(params, dict):
        raise InvalidInput("'params' must be a JSON object", resource=R)
    ttl = document.get("ttl", DEFAULT_TTL)
    if isinstance(ttl, bool) or not isinstance(ttl, int) or not 1 <= ttl <= MAX_TTL:
        raise InvalidInput(f"'ttl' must be a number of seconds from 1 to {MAX_TTL}", resource=R)
    return action, params, ttl


def parse_answer(document: Any) -> tuple[CommandStatus, Any]:
    """The device's `{"status", "result"}`."""
    if not isinstance(document, dict):
        raise InvalidInput("The response must be a JSON object", resource=R)
    try:
        status = CommandStatus(str(document.get("status")))
    except ValueError:
        status = None
    if status not in DEVICE_ANSWERS:
        raise InvalidInput("'status' must be SUCCEEDED, FAILED or REJECTED", resource=R)
    assert status is not None
    return status, document.get("result")


class CommandService:
    def __init__(self, operations: OperationService, things: ThingService) -> None:
        self._operations = operations
        self._things = things
        # One change at a time per command in this process: the operation's compare-and-set is on its
        # status, and FAILED may follow FAILED (operations/models.py), so two final Fleets statuses must
        # not race.
        self._locks: KeyedLocks[tuple[str, int]] = KeyedLocks()

    async def send(self, who: Principal, thing_id: str, action: str, params: Json, ttl: int) -> Command:
        """A new command for the thing: its operation is created (and announced, which the MQTT adapter
        publishes to the device)."""
        thing, _ = await self._things.get(who, thing_id)
        now = now_ms()
        fragment = {
            "action": action,
            "params": params,
            "ttl": ttl,
            "timestamp": now // 1000,
            "expiresAt": now + ttl * 1000,
            "thingName": thing.name,
            "status": _C.SENT.value,
        }
        op = await self._operations.create(
            who, thing.mo_id, {FRAGMENT: fragment, "description": f"Fleets command {action}"}
        )
        found = command_of(op)
        assert found is not None
        return found

    async def adopt(self, op: Operation) -> Command | None:
        """A Cumulocity operation for a thing that has no agent to execute it: it becomes a command (its
        first fragment is the action, that fragment's object the params), delivered like one."""
        if FRAGMENT in op.fragments or op.agent_id is not None:
            return None
        thing = await self._things.by_device(op.tenant_id, op.device_id)
        if thing is None or thing.owner != DEVICE_USER_PREFIX + thing.client_id:
            # Not a thing, or a device of a family that delivers operations its own way (Xyte).
            return None
        action = next((k for k in op.fragments if k not in _NOT_ACTIONS), None)
        if action is None:
            return None
        params = op.fragments[action]
        now = now_ms()
        fragment = {
            "action": action,
            "params": params if isinstance(params, dict) else {},
            "ttl": DEFAULT_TTL,
            "timestamp": now // 1000,
            "expiresAt": now + DEFAULT_TTL * 1000,
            "thingName": thing.name,
            "status": _C.SENT.value,
        }
        who = system(op.tenant_id)
        try:
            updated = await self._operations.update(who, op.id, fragments={FRAGMENT: fragment})
        except NotFound:
            return None
        return command_of(updated)

    async def get(self, who: Principal, execution_id: str) -> Command:
        """The command (TIMED_OUT first if its ttl passed unanswered)."""
        op_id = parse_int(execution_id)
        missing = NotFound(missing=Missing.of("command", execution_id), resource=R)
        if op_id is None or op_id <= 0:
            raise missing
        try:
            op = await self._operations.get(who, op_id)
        except NotFound:
            raise missing from None
        command = command_of(op)
        if command is None:
            raise missing
        return await self._expire_if_due(command)

    async def of_thing(self, who: Principal, thing_id: str, page: PageRequest) -> Page[Command]:
        thing, _ = await self._things.get(who, thing_id)
        criteria = OperationCriteria(device_id=thing.mo_id, fragment_type=FRAGMENT, newest_first=True)
        found = await self._operations.find(who, criteria, page)
        commands = [c for c in map(command_of, found.items) if c is not None]
        return Page([await self._expire_if_due(c) for c in commands], found.request, found.total_elements)

    async def pending(self, tenant_ids: list[str]) -> list[Command]:
        """Every SENT command of these tenants (the adapter's timers at start: a ttl outlives a restart)."""
        found: list[Command] = []
        criteria = OperationCriteria(
            status=OperationStatus.PENDING, fragment_type=FRAGMENT, newest_first=False
        )
        for tenant_id in tenant_ids:
            number = 1
            while True:
                page = await self._operations.find(
                    system(tenant_id), criteria, PageRequest(current_page=number, page_size=1000)
                )
                found.extend(c for c in map(command_of, page.items) if c is not None)
                if len(page.items) < 1000:
                    break
                number += 1
        return found

    async def cancel(self, who: Principal, execution_id: str) -> Command:
        command = await self.get(who, execution_id)
        return await self._finish(command, _C.CANCELED, None)

    async def answer(self, thing: Thing, execution_id: str, status: CommandStatus, result: Any) -> Command:
        """The device's answer on its response topic: for a command of this thing only."""
        who = system(thing.tenant_id)
        command = await self.get(who, execution_id)
        if command.device_id != thing.mo_id:
            raise NotFound(missing=Missing.of("command", execution_id), resource=R)
        return await self._finish(command, status, result)

    async def expire(self, tenant_id: str, execution_id: str) -> None:
        """The adapter's timer: TIMED_OUT unless answered (or gone) meanwhile."""
        with contextlib.suppress(NotFound):
            await self.get(system(tenant_id), execution_id)

    async def _expire_if_due(self, command: Command) -> Command:
        if command.status is _C.SENT and now_ms() >= command.expires_at:
            with contextlib.suppress(CommandFinished):
                return await self._finish(command, _C.TIMED_OUT, None)
        return command

    async def _finish(self, command: Command, status: CommandStatus, result: Any) -> Command:
        who = system(command.tenant_id)
        op_id = command.operation.id
        async with self._locks.hold((command.tenant_id, op_id)):
            current = command_of(await self._operations.get(who, op_id))
            assert current is not None
            if status not in TRANSITIONS[current.status]:
                raise CommandFinished(
                    f"Command '{current.execution_id}' is {current.status.value} already", resource=R
                )
            if status is not _C.TIMED_OUT and status is not _C.CANCELED and now_ms() >= current.expires_at:
                # An answer after the ttl: the command timed out.
                await self._finish_unlocked(current, _C.TIMED_OUT, None)
                raise CommandFinished(f"Command '{current.execution_id}' is TIMED_OUT already", resource=R)
            return await self._finish_unlocked(current, status, result)

    async def _finish_unlocked(self, current: Command, status: CommandStatus, result: Any) -> Command:
        who = system(current.tenant_id)
        op_id = current.operation.id
        fragment = dict(current.operation.fragments[FRAGMENT])
        fragment["status"] = status.value
        if result is not None:
            fragment["result"] = result
        target = OPERATION_STATUS[status]
        # Each step only from the status read (the lock above is this process's; the nodes of a cluster
        # may time one command out at once): one of them finishes it, the others find it finished.
        was = current.operation.status
        try:
            if target is OperationStatus.SUCCESSFUL and was is OperationStatus.PENDING:
                # The operation lifecycle passes through EXECUTING (operations/models.py TRANSITIONS).
                await self._operations.update(who, op_id, status=OperationStatus.EXECUTING, expect=was)
                was = OperationStatus.EXECUTING
                op = await self._operations.update(
                    who, op_id, status=target, fragments={FRAGMENT: fragment}, expect=was
                )
            else:
                reason = status.value if not isinstance(result, str) else f"{status.value}: {result}"
                op = await self._operations.update(
                    who,
                    op_id,
                    status=target,
                    failure_reason=reason[:1024],
                    fragments={FRAGMENT: fragment},
                    expect=was,
                )
        except Conflict:
            latest = command_of(await self._operations.get(who, op_id))
            shown = latest.status.value if latest is not None else "finished"
            message = f"Command '{current.execution_id}' is {shown} already"
            raise CommandFinished(message, resource=R) from None
        found = command_of(op)
        assert found is not None
        return found
