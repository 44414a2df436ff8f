"""Operations: commands for a device, routed to its agent, with one status lifecycle.

The transition table below is the only place that says which status may follow which. Protocol
families with other status names (Fleets SENT/SUCCEEDED/..., Xyte pending/in_progress/...) map onto
these four in their adapters, never here (docs/architecture.md section 1).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from tether.core.errors import InvalidInput

Json = dict[str, Any]

# The fragment that marks a device running an agent: it receives the operations of itself and of
# every device below it that has no nearer agent (step 2 of Cumulocity's REST device integration guide).
AGENT_FRAGMENT = "com_cumulocity_model_Agent"


class OperationStatus(StrEnum):
    PENDING = "PENDING"
    EXECUTING = "EXECUTING"
    SUCCESSFUL = "SUCCESSFUL"
    FAILED = "FAILED"


_S = OperationStatus

# from -> the statuses that may follow it. An agent claims a PENDING operation (EXECUTING) and
# reports its outcome; SUCCESSFUL and FAILED are final. A PENDING operation may also fail at once: that
# is how Cumulocity's UI cancels an operation the device has not claimed (PUT status FAILED with a
# failureReason), and how SmartREST 502/505 report one. Any other change is rejected (422).
TRANSITIONS: Mapping[OperationStatus, frozenset[OperationStatus]] = {
    _S.PENDING: frozenset({_S.EXECUTING, _S.FAILED}),
    _S.EXECUTING: frozenset({_S.SUCCESSFUL, _S.FAILED}),
    _S.SUCCESSFUL: frozenset(),
    _S.FAILED: frozenset(),
}

FINAL = frozenset(status for status, following in TRANSITIONS.items() if not following)


class InvalidTransition(InvalidInput):
    """A status change the lifecycle does not allow (HTTP 422)."""


def check_transition(current: OperationStatus, new: OperationStatus) -> None:
    """Raise InvalidTransition unless `new` may follow `current`.

    Repeating the current status is not a transition: it is allowed, so that a device retrying an
    update whose answer it lost is not refused.
    """
    if new is not current and new not in TRANSITIONS[current]:
        allowed = ", ".join(sorted(TRANSITIONS[current])) or "none: the operation is finished"
        raise InvalidTransition(
            f"Cannot change operation status from {current} to {new}; allowed: {allowed}",
            resource="devicecontrol",
        )


@dataclass(frozen=True, slots=True)
class Operation:
    id: int
    tenant_id: str
    device_id: int
    agent_id: int | None  # the nearest agent (the device itself or an ancestor); None: no agent found
    status: OperationStatus
    creation_time: int
    last_updated: int
    failure_reason: str | None = None
    bulk_operation_id: int | None = None
    fragments: Json = field(default_factory=dict)

    @property
    def delivered_to(self) -> int:
        """Who executes it: the agent, or the device itself when no agent was found."""
        return self.agent_id if self.agent_id is not None else self.device_id


@dataclass(frozen=True, slots=True)
class NewOperation:
    device_id: int
    agent_id: int | None
    fragments: Json
    bulk_operation_id: int | None = None


@dataclass(frozen=True, slots=True)
class OperationUpdate:
    """What a caller asks to change: a status (None: keep it), a failure reason (with FAILED only) and
    fragments to merge (None removes one)."""

    status: OperationStatus | None = None
    failure_reason: str | None = None
    fragments: Json = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class OperationChange:
    """What one update sets: the status it expects to find (compare-and-set) and the new values."""

    expected_status: OperationStatus
    status: OperationStatus
    failure_reason: str | None
    fragments: Json  # merged: a fragment replaces the stored one, None removes it


@dataclass(frozen=True, slots=True)
class OperationCriteria:
    """Filters of GET and DELETE /devicecontrol/operations; all given ones must hold.

    `agent_id` matches the operations delivered to that agent: those routed to it, and those of the
    device itself when no agent was found for them. Times are creation times in ms: from inclusive,
    to exclusive.
    """

    agent_id: int | None = None
    device_id: int | None = None
    status: OperationStatus | None = None
    fragment_type: str | None = None
    bulk_operation_id: int | None = None
    date_from: int | None = None
    date_to: int | None = None
    newest_first: bool = False
