"""Bulk operations: one operation prototype for every device of a group, created at a ramp.

A bulk operation is ACTIVE until its start date, IN_PROGRESS while its operations are being created (one
every `creationRamp` seconds), COMPLETED once all are, and DELETED when cancelled (Cumulocity's
`bulkOperation.status`). `generalStatus` is derived from that and the operations' own statuses, as
Cumulocity's spec lists it (SCHEDULED, EXECUTING, EXECUTING_WITH_ERRORS, SUCCESSFUL, FAILED, CANCELED).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from tether.operations.models import OperationStatus

Json = dict[str, Any]
CANCEL_REASON = "Bulk operation cancelled"
#: The fragments marking a group (and a subgroup) whose child assets a bulk operation descends into.
GROUP_FRAGMENTS = ("c8y_IsDeviceGroup",)
DEVICE_FRAGMENT = "c8y_IsDevice"


class BulkStatus(StrEnum):
    ACTIVE = "ACTIVE"
    IN_PROGRESS = "IN_PROGRESS"
    COMPLETED = "COMPLETED"
    DELETED = "DELETED"


class GeneralStatus(StrEnum):
    SCHEDULED = "SCHEDULED"
    EXECUTING = "EXECUTING"
    EXECUTING_WITH_ERRORS = "EXECUTING_WITH_ERRORS"
    SUCCESSFUL = "SUCCESSFUL"
    FAILED = "FAILED"
    CANCELED = "CANCELED"


#: The statuses in which operations may still be created (the runner's work).
RUNNING = frozenset({BulkStatus.ACTIVE, BulkStatus.IN_PROGRESS})


@dataclass(frozen=True, slots=True)
class BulkOperation:
    id: int
    tenant_id: str
    group_id: int | None
    failed_parent_id: int | None
    start_date: int  # ms
    creation_ramp: float  # seconds between two operations
    prototype: Json
    status: BulkStatus
    #: The devices, in creation order; empty until the run starts (a group is resolved then).
    targets: tuple[int, ...]
    created: int  # how many of `targets` have their operation
    next_at: int  # ms: when the next operation is due
    creation_time: int
    last_updated: int


@dataclass(frozen=True, slots=True)
class NewBulkOperation:
    group_id: int | None
    failed_parent_id: int | None
    start_date: int
    creation_ramp: float
    prototype: Json
    targets: tuple[int, ...] = ()


@dataclass(frozen=True, slots=True)
class BulkChange:
    """A PUT: what is given replaces the stored value."""

    start_date: int | None = None
    creation_ramp: float | None = None
    prototype: Json | None = None


@dataclass(frozen=True, slots=True)
class Progress:
    pending: int = 0
    failed: int = 0
    executing: int = 0
    successful: int = 0

    @property
    def all(self) -> int:
        return self.pending + self.failed + self.executing + self.successful


@dataclass(frozen=True, slots=True)
class BulkView:
    """A bulk operation with its progress, as read."""

    bulk: BulkOperation
    progress: Progress = field(default_factory=Progress)

    @property
    def general_status(self) -> GeneralStatus:
        return general_status(self.bulk.status, self.progress)


def progress(bulk: BulkOperation, counts: dict[OperationStatus, int]) -> Progress:
    """The counts of its operations by status; operations not created yet count as pending (until it is
    cancelled: they will never be created)."""
    waiting = len(bulk.targets) - bulk.created if bulk.status in RUNNING else 0
    return Progress(
        pending=counts.get(OperationStatus.PENDING, 0) + max(waiting, 0),
        failed=counts.get(OperationStatus.FAILED, 0),
        executing=counts.get(OperationStatus.EXECUTING, 0),
        successful=counts.get(OperationStatus.SUCCESSFUL, 0),
    )


def general_status(status: BulkStatus, p: Progress) -> GeneralStatus:
    if status is BulkStatus.DELETED:
        return GeneralStatus.CANCELED
    if status is BulkStatus.ACTIVE:
        return GeneralStatus.SCHEDULED
    if status is BulkStatus.IN_PROGRESS or p.pending or p.executing:
        return GeneralStatus.EXECUTING_WITH_ERRORS if p.failed else GeneralStatus.EXECUTING
    return GeneralStatus.FAILED if p.failed else GeneralStatus.SUCCESSFUL


def due_count(bulk: BulkOperation, now: int) -> int:
    """How many more operations are due at `now`: all at once without a ramp, else one per ramp step
    since `next_at` (at least one once `next_at` has come)."""
    left = len(bulk.targets) - bulk.created
    if left <= 0 or now < bulk.next_at:
        return 0
    ramp_ms = bulk.creation_ramp * 1000
    if ramp_ms <= 0:
        return left
    return min(left, int((now - bulk.next_at) // ramp_ms) + 1)


def ramp_ms(bulk: BulkOperation) -> int:
    return max(0, round(bulk.creation_ramp * 1000))
