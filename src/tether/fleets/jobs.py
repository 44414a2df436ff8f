"""Fleets jobs as AWS IoT defines them (EMQX Fleets mirrors the device API under `$emqx/things/<name>/jobs`):
models, statuses, transitions and the device requests, pure (no I/O; docs/protocols.md section 10).

A job is a document sent to target things (names and thing groups); each target thing gets one execution
(`executionNumber` 1) with its own lifecycle:

    QUEUED -> IN_PROGRESS -> SUCCEEDED | FAILED | REJECTED          (the device: jobs/<jobId>/update)
    QUEUED -> SUCCEEDED | FAILED | REJECTED                         (the device may skip IN_PROGRESS)
    QUEUED | IN_PROGRESS -> TIMED_OUT                                (the step or in-progress timer)
    QUEUED | IN_PROGRESS -> CANCELED                                 (an operator; IN_PROGRESS with force)
    QUEUED -> REMOVED                (the thing left the target group of a CONTINUOUS job, or was deleted)

QUEUED and IN_PROGRESS are pending; the rest are final. A thing's pending executions are ordered IN_PROGRESS
first, then by creation (AWS jobs-mqtt-api, StartNextPendingJobExecution); the first is its "next". Every
accepted change increments the execution's `versionNumber` (from 1); a request naming `expectedVersion` must
name the current one (VersionMismatch).

Timers (AWS timeoutConfig and stepTimeoutInMinutes): the job's `inProgressTimeoutInMinutes` counts from the
moment an execution goes IN_PROGRESS and is never reset; a step timer is set by start-next or an IN_PROGRESS
update carrying `stepTimeoutInMinutes` (the job's `stepTimeoutInMinutes` when the request gives none), reset
by the next one, and removed by -1. The execution's deadline is the earlier of the two; when it passes the
execution is TIMED_OUT. Deadlines are stored, so they outlive a restart.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any, Final

import orjson

from tether.core.errors import Conflict, InvalidInput, NotFound
from tether.fleets.models import Json, R

MAX_TIMEOUT: Final = 10_080  # minutes (7 days), AWS's bound of both timers
MAX_DOCUMENT: Final = 32 * 1024  # bytes of the job document as JSON (AWS: 32 kB)
MAX_TARGETS: Final = 100  # names per list of `targets`
MAX_DETAILS: Final = 100  # entries of statusDetails (Tether's bound)
MAX_CLIENT_TOKEN: Final = 64
NEXT: Final = "$next"
_JOB_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
_DETAIL_KEY = re.compile(r"[A-Za-z0-9:_-]{1,128}")


class ExecutionStatus(StrEnum):
    QUEUED = "QUEUED"
    IN_PROGRESS = "IN_PROGRESS"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    REJECTED = "REJECTED"
    TIMED_OUT = "TIMED_OUT"
    CANCELED = "CANCELED"
    REMOVED = "REMOVED"


class JobType(StrEnum):
    SNAPSHOT = "SNAPSHOT"
    CONTINUOUS = "CONTINUOUS"


class JobStatus(StrEnum):
    IN_PROGRESS = "IN_PROGRESS"
    CANCELED = "CANCELED"
    COMPLETED = "COMPLETED"  # a SNAPSHOT job whose every execution is final


_E = ExecutionStatus
PENDING: Final = frozenset({_E.QUEUED, _E.IN_PROGRESS})
#: What a device may ask for on jobs/<jobId>/update.
DEVICE_STATUSES: Final = frozenset({_E.IN_PROGRESS, _E.SUCCEEDED, _E.FAILED, _E.REJECTED})
#: Final statuses the platform sets: an update of such an execution is TerminalStateReached.
PLATFORM_FINAL: Final = frozenset({_E.TIMED_OUT, _E.CANCELED, _E.REMOVED})
TRANSITIONS: Mapping[ExecutionStatus, frozenset[ExecutionStatus]] = {
    _E.QUEUED: frozenset({_E.IN_PROGRESS, _E.SUCCEEDED, _E.FAILED, _E.REJECTED}) | PLATFORM_FINAL,
    _E.IN_PROGRESS: frozenset(
        {_E.IN_PROGRESS, _E.SUCCEEDED, _E.FAILED, _E.REJECTED, _E.TIMED_OUT, _E.CANCELED}
    ),
    **{status: frozenset() for status in _E if status not in PENDING},
}


# -- errors: each carries AWS's ErrorCode (jobs-api ErrorResponse), mapped once in adapters/fleets_jobs.py --


class JobRequestInvalid(InvalidInput):
    """InvalidRequest: the request's content is not acceptable."""


class JobJsonInvalid(JobRequestInvalid):
    """InvalidJson: the payload is no JSON object."""


class ExecutionNotFound(NotFound):
    """ResourceNotFound: no such job execution for the thing (or no such job, or no such thing)."""


class JobConflict(Conflict):
    """A refusal that comes with the execution's current state (`executionState`)."""

    def __init__(self, message: str, state: Json, *, resource: str = R) -> None:
        super().__init__(message, resource=resource)
        self.state = state


class VersionMismatch(JobConflict):
    """expectedVersion is not the execution's versionNumber."""


class InvalidStateTransition(JobConflict):
    """The requested status cannot follow the current one (e.g. SUCCEEDED -> IN_PROGRESS)."""


class TerminalStateReached(JobConflict):
    """The platform ended the execution (TIMED_OUT, CANCELED, REMOVED) before the device's request."""


class JobFinished(Conflict):
    """An operator's cancel of a job or execution that has ended already (409)."""


# -- models -------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Targets:
    thing_names: tuple[str, ...] = ()
    group_names: tuple[str, ...] = ()

    def document(self) -> Json:
        return {"thingNames": list(self.thing_names), "thingGroupNames": list(self.group_names)}


@dataclass(frozen=True, slots=True)
class JobDraft:
    """POST /api/v1/jobs, checked."""

    document: Json
    targets: Targets
    type: JobType = JobType.SNAPSHOT
    description: str | None = None
    job_id: str | None = None  # None: a UUID
    in_progress_timeout: int | None = None  # minutes
    step_timeout: int | None = None  # minutes


@dataclass(frozen=True, slots=True)
class Job:
    seq: int  # the store's id: creation order
    tenant_id: str
    job_id: str
    type: JobType
    canceled: bool
    description: str | None
    document: Json
    targets: Targets
    group_ids: tuple[int, ...]  # the target groups' managed objects (CONTINUOUS: who joins later)
    in_progress_timeout: int | None
    step_timeout: int | None
    created_at: int  # ms
    updated_at: int  # ms
    comment: str | None = None  # the cancel's


@dataclass(frozen=True, slots=True)
class Execution:
    tenant_id: str
    job_seq: int
    job_id: str
    mo_id: int
    thing_name: str
    status: ExecutionStatus
    version: int
    queued_at: int  # ms
    updated_at: int  # ms
    started_at: int | None = None
    status_details: dict[str, str] = field(default_factory=dict)
    step_deadline: int | None = None  # ms
    progress_deadline: int | None = None  # ms
    document: Json | None = None  # the job's document, when read with it
    execution_number: int = 1

    @property
    def pending(self) -> bool:
        return self.status in PENDING

    @property
    def deadline(self) -> int | None:
        """When the execution times out (the earlier timer), if it is pending and has one."""
        if not self.pending:
            return None
        found = [d for d in (self.step_deadline, self.progress_deadline) if d is not None]
        return min(found) if found else None


def job_status(job: Job, counts: Mapping[ExecutionStatus, int]) -> JobStatus:
    if job.canceled:
        return JobStatus.CANCELED
    if job.type is JobType.SNAPSHOT and not any(counts.get(s, 0) for s in PENDING):
        return JobStatus.COMPLETED
    return JobStatus.IN_PROGRESS


def order(executions: Iterable[Execution]) -> list[Execution]:
    """A thing's pending executions in AWS's order: IN_PROGRESS first, then by creation."""
    pending = [e for e in executions if e.pending]
    return sorted(pending, key=lambda e: (e.status is not _E.IN_PROGRESS, e.queued_at, e.job_seq))


def transition(
    current: Execution,
    status: ExecutionStatus,
    now: int,
    *,
    details: dict[str, str] | None = None,
    step_timeout: int | None = None,
    job: Job | None = None,
) -> Execution:
    """The execution after a change to `status` (the version incremented, timers set or cleared); raises
    TerminalStateReached / InvalidStateTransition if the lifecycle forbids it. `step_timeout`: minutes, -1
    removes the step timer, None keeps it (or, when the execution starts, takes the job's)."""
    if status not in TRANSITIONS[current.status]:
        state = execution_state(current)
        if current.status in PLATFORM_FINAL:
            raise TerminalStateReached(f"Job execution is in a terminal state: {current.status.value}", state)
        raise InvalidStateTransition(
            f"Cannot change the status of the job execution from {current.status.value} to {status.value}",
            state,
        )
    started_at, step, progress = current.started_at, current.step_deadline, current.progress_deadline
    if status is _E.IN_PROGRESS:
        if started_at is None:
            started_at = now
            if job is not None and job.in_progress_timeout is not None:
                progress = now + job.in_progress_timeout * 60_000
            if step_timeout is None and job is not None:
                step_timeout = job.step_timeout
        if step_timeout == -1:
            step = None
        elif step_timeout is not None:
            step = now + step_timeout * 60_000
    else:
        step = progress = None
    return replace(
        current,
        status=status,
        version=current.version + 1,
        updated_at=now,
        started_at=started_at,
        status_details=current.status_details if details is None else details,
        step_deadline=step,
        progress_deadline=progress,
    )


# -- documents as the device API shows them (seconds since the epoch, as AWS's examples) -------------------


def _s(ms: int) -> int:
    return ms // 1000


def summary(execution: Execution) -> Json:
    """JobExecutionSummary."""
    out: Json = {
        "jobId": execution.job_id,
        "queuedAt": _s(execution.queued_at),
        "lastUpdatedAt": _s(execution.updated_at),
        "versionNumber": execution.version,
        "executionNumber": execution.execution_number,
    }
    if execution.started_at is not None:
        out["startedAt"] = _s(execution.started_at)
    return out


def execution_document(execution: Execution, thing_name: str, *, include_document: bool = True) -> Json:
    """JobExecution."""
    out: Json = {
        "jobId": execution.job_id,
        "thingName": thing_name,
        "status": execution.status.value,
        "statusDetails": execution.status_details,
        "queuedAt": _s(execution.queued_at),
        "lastUpdatedAt": _s(execution.updated_at),
        "versionNumber": execution.version,
        "executionNumber": execution.execution_number,
    }
    if execution.started_at is not None:
        out["startedAt"] = _s(execution.started_at)
    if include_document and execution.document is not None:
        out["jobDocument"] = execution.document
    return out


def execution_state(execution: Execution) -> Json:
    """JobExecutionState."""
    return {
        "status": execution.status.value,
        "statusDetails": execution.status_details,
        "versionNumber": execution.version,
    }


def pending_lists(executions: Iterable[Execution]) -> Json:
    """The `jobs` of jobs/notify: summaries by status, only the statuses that have some."""
    out: dict[str, list[Json]] = {}
    for execution in order(executions):
        out.setdefault(execution.status.value, []).append(summary(execution))
    return out


def error(code: str, message: str, timestamp: int, token: str | None, state: Json | None = None) -> Json:
    """ErrorResponse of a `.../rejected` topic."""
    out: Json = {"code": code, "message": message, "timestamp": timestamp}
    if token is not None:
        out["clientToken"] = token
    if state is not None:
        out["executionState"] = state
    return out


# -- device requests ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DeviceRequest:
    """The fields of jobs/get, jobs/start-next, jobs/<id>/get and jobs/<id>/update, checked."""

    client_token: str | None = None
    status: ExecutionStatus | None = None
    status_details: dict[str, str] | None = None
    expected_version: int | None = None
    execution_number: int | None = None
    step_timeout: int | None = None
    include_document: bool = True
    include_state: bool = False


def client_token(document: Any) -> str | None:
    """The token to echo, if the payload has a usable one (also on a rejection of the rest)."""
    if isinstance(document, dict):
        token = document.get("clientToken")
        if isinstance(token, str) and len(token.encode()) <= MAX_CLIENT_TOKEN:
            return token
    return None


def loads(payload: bytes) -> Json:
    """A request payload: empty is `{}`; anything but a JSON object is InvalidJson."""
    if not payload.strip():
        return {}
    try:
        document = orjson.loads(payload)
    except orjson.JSONDecodeError:
        raise JobJsonInvalid("Invalid JSON", resource=R) from None
    if not isinstance(document, dict):
        raise JobJsonInvalid("The request must be a JSON object", resource=R)
    return document


def _int(document: Json, key: str, low: int, high: int) -> int | None:
    value = document.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise JobRequestInvalid(f"'{key}' must be an integer from {low} to {high}", resource=R)
    return value


def _bool(document: Json, key: str, default: bool) -> bool:
    value = document.get(key, default)
    if not isinstance(value, bool):
        raise JobRequestInvalid(f"'{key}' must be true or false", resource=R)
    return value


def status_details(value: Any) -> dict[str, str] | None:
    """statusDetails: string keys ([A-Za-z0-9:_-], 1..128) to strings (1..1024, no control characters)."""
    if value is None:
        return None
    if not isinstance(value, dict) or len(value) > MAX_DETAILS:
        raise JobRequestInvalid(
            f"'statusDetails' must be an object of at most {MAX_DETAILS} strings", resource=R
        )
    for key, item in value.items():
        if not _DETAIL_KEY.fullmatch(key):
            raise JobRequestInvalid(f"Invalid statusDetails key '{key[:128]}'", resource=R)
        if not isinstance(item, str) or not 1 <= len(item) <= 1024 or not item.isprintable():
            raise JobRequestInvalid(
                f"statusDetails '{key}' must be a string of 1 to 1024 printable characters", resource=R
            )
    return dict(value)


def parse_request(document: Json, *, update: bool = False) -> DeviceRequest:
    token = document.get("clientToken")
    if token is not None and (not isinstance(token, str) or len(token.encode()) > MAX_CLIENT_TOKEN):
        raise JobRequestInvalid(
            f"'clientToken' must be a string of at most {MAX_CLIENT_TOKEN} bytes", resource=R
        )
    status = None
    if update:
        raw = document.get("status")
        status = ExecutionStatus(raw) if raw in {s.value for s in DEVICE_STATUSES} else None
        if status is None:
            raise JobRequestInvalid("'status' must be IN_PROGRESS, SUCCEEDED, FAILED or REJECTED", resource=R)
    step = _int(document, "stepTimeoutInMinutes", -1, MAX_TIMEOUT)
    if step == 0:
        raise JobRequestInvalid(f"'stepTimeoutInMinutes' must be -1 or from 1 to {MAX_TIMEOUT}", resource=R)
    return DeviceRequest(
        client_token=token,
        status=status,
        status_details=status_details(document.get("statusDetails")),
        expected_version=_int(document, "expectedVersion", 0, 2**62),
        execution_number=_int(document, "executionNumber", 0, 2**62),
        step_timeout=step,
        include_document=_bool(document, "includeJobDocument", not update),
        include_state=_bool(document, "includeJobExecutionState", False),
    )


def job_id(value: Any, field_name: str = "jobId") -> str:
    if not isinstance(value, str) or not _JOB_ID.fullmatch(value):
        raise InvalidInput(f"'{field_name}' must be 1 to 64 letters, digits, '_' and '-'", resource=R)
    return value


# -- operator requests ------------------------------------------------------------------------------------


def _names(value: Any, key: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or len(value) > MAX_TARGETS:
        raise InvalidInput(f"'targets.{key}' must be a list of at most {MAX_TARGETS} names", resource=R)
    if not all(isinstance(v, str) and v and len(v) <= 128 and v.isprintable() for v in value):
        raise InvalidInput(f"'targets.{key}' must hold names of 1 to 128 characters", resource=R)
    return tuple(dict.fromkeys(value))


def _minutes(value: Any, key: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_TIMEOUT:
        raise InvalidInput(f"'{key}' must be a number of minutes from 1 to {MAX_TIMEOUT}", resource=R)
    return value


def parse_job(document: Mapping[str, Any]) -> JobDraft:
    """`{jobId?, description?, targets: {thingNames, thingGroupNames}, document, type?, timeoutConfig?:
    {inProgressTimeoutInMinutes}, stepTimeoutInMinutes?}`."""
    body = document.get("document")
    if not isinstance(body, dict):
        raise InvalidInput("'document' must be a JSON object", resource=R)
    if len(orjson.dumps(body)) > MAX_DOCUMENT:
        raise InvalidInput(f"'document' must be at most {MAX_DOCUMENT} bytes of JSON", resource=R)
    raw_targets = document.get("targets")
    if not isinstance(raw_targets, dict):
        raise InvalidInput("'targets' must be an object {thingNames, thingGroupNames}", resource=R)
    targets = Targets(
        _names(raw_targets.get("thingNames"), "thingNames"),
        _names(raw_targets.get("thingGroupNames"), "thingGroupNames"),
    )
    if not targets.thing_names and not targets.group_names:
        raise InvalidInput("'targets' must name at least one thing or thing group", resource=R)
    raw_type = document.get("type", JobType.SNAPSHOT.value)
    if raw_type not in {t.value for t in JobType}:
        raise InvalidInput("'type' must be SNAPSHOT or CONTINUOUS", resource=R)
    description = document.get("description")
    if description is not None and (not isinstance(description, str) or len(description) > 2028):
        raise InvalidInput("'description' must be a string of at most 2028 characters", resource=R)
    if description is not None and "\x00" in description:
        raise InvalidInput("'description' must not contain NUL", resource=R)
    timeouts = document.get("timeoutConfig")
    if timeouts is not None and not isinstance(timeouts, dict):
        raise InvalidInput("'timeoutConfig' must be an object {inProgressTimeoutInMinutes}", resource=R)
    raw_id = document.get("jobId")
    return JobDraft(
        document=body,
        targets=targets,
        type=JobType(raw_type),
        description=description,
        job_id=None if raw_id is None else job_id(raw_id),
        in_progress_timeout=_minutes(
            (timeouts or {}).get("inProgressTimeoutInMinutes"), "inProgressTimeoutInMinutes"
        ),
        step_timeout=_minutes(document.get("stepTimeoutInMinutes"), "stepTimeoutInMinutes"),
    )
