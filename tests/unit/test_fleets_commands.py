"""The Fleets command lifecycle and its mapping onto operations (fleets/commands.py), without a server."""

from __future__ import annotations

import pytest

from tether.core.errors import InvalidInput
from tether.fleets.commands import (
    FRAGMENT,
    OPERATION_STATUS,
    TRANSITIONS,
    CommandStatus,
    command_of,
    parse_answer,
    parse_command,
    request_document,
)
from tether.operations.models import Operation, OperationStatus


def _op(status: OperationStatus, fleets_status: str = "SENT") -> Operation:
    fragment = {
        "action": "reboot",
        "params": {"a": 1},
        "ttl": 30,
        "timestamp": 1_700_000_000,
        "expiresAt": 1_700_000_030_000,
        "thingName": "pump",
        "status": fleets_status,
    }
    return Operation(42, "t1", 7, None, status, 0, 0, fragments={FRAGMENT: fragment})


def test_only_sent_changes_and_every_status_maps() -> None:
    assert TRANSITIONS[CommandStatus.SENT] == frozenset(CommandStatus) - {CommandStatus.SENT}
    assert all(not TRANSITIONS[s] for s in CommandStatus if s is not CommandStatus.SENT)
    assert set(OPERATION_STATUS) == set(CommandStatus)
    assert OPERATION_STATUS[CommandStatus.SUCCEEDED] is OperationStatus.SUCCESSFUL


def test_a_command_read_from_its_operation() -> None:
    command = command_of(_op(OperationStatus.PENDING))
    assert command is not None and command.execution_id == "42" and command.status is CommandStatus.SENT
    assert request_document(command) == {
        "commandId": "42",
        "action": "reboot",
        "params": {"a": 1},
        "timestamp": 1_700_000_000,
        "ttl": 30,
    }
    # Finished through the Cumulocity API while the fragment still says SENT.
    done = command_of(_op(OperationStatus.SUCCESSFUL))
    failed = command_of(_op(OperationStatus.FAILED))
    executing = command_of(_op(OperationStatus.EXECUTING))
    assert done is not None and done.status is CommandStatus.SUCCEEDED
    assert failed is not None and failed.status is CommandStatus.CANCELED
    assert executing is not None and executing.status is CommandStatus.SENT
    rejected = command_of(_op(OperationStatus.FAILED, "REJECTED"))
    assert rejected is not None and rejected.status is CommandStatus.REJECTED
    assert command_of(Operation(1, "t1", 7, None, OperationStatus.PENDING, 0, 0)) is None
    assert command_of(_op(OperationStatus.PENDING, "BOGUS")) is None


def test_requests_and_answers_are_checked() -> None:
    assert parse_command({"action": "a"}) == ("a", {}, 60)
    assert parse_command({"action": "a", "params": None, "ttl": 5}) == ("a", {}, 5)
    for bad in (
        {},
        {"action": " "},
        {"action": "a", "ttl": True},
        {"action": "a", "ttl": 0},
        {"action": "a", "params": 1},
    ):
        with pytest.raises(InvalidInput):
            parse_command(bad)
    assert parse_answer({"status": "REJECTED", "result": "no"}) == (CommandStatus.REJECTED, "no")
    answers: list[object] = [[], {"status": "SENT"}, {"status": "TIMED_OUT"}, {"status": None}, {}]
    for bad_answer in answers:
        with pytest.raises(InvalidInput):
            parse_answer(bad_answer)
