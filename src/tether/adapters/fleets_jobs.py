"""Fleets jobs over MQTT (docs/protocols.md section 10): AWS IoT's device jobs API under
`$emqx/things/<name>/jobs`, served for the Fleets handler (adapters/fleets.py hands it these topics).

Requests (device -> platform), each answered on the request topic + `/accepted` or `/rejected`:

* `jobs/get` `{"clientToken"}` -> `{"inProgressJobs": [JobExecutionSummary], "queuedJobs": [...],
  "timestamp", "clientToken"}`;
* `jobs/start-next` `{"statusDetails", "stepTimeoutInMinutes", "clientToken"}` -> `{"execution":
  JobExecution, "timestamp", "clientToken"}` (no `execution` when nothing is pending);
* `jobs/<jobId>/get` `{"executionNumber", "includeJobDocument", "clientToken"}` (`$next`: the next pending
  one) -> `{"execution", "timestamp", "clientToken"}`;
* `jobs/<jobId>/update` `{"status", "statusDetails", "expectedVersion", "executionNumber",
  "includeJobExecutionState", "includeJobDocument", "stepTimeoutInMinutes", "clientToken"}` ->
  `{"executionState"?, "jobDocument"?, "timestamp", "clientToken"}`.

A rejection is AWS's ErrorResponse `{"code", "message", "clientToken", "timestamp", "executionState"?}` with
the codes of :data:`JOB_CODES` (executionState with VersionMismatch, InvalidStateTransition and
TerminalStateReached). Another topic of the namespace that is no request (but for the answer and notification
topics) is answered InvalidTopic on its own `/rejected`.

Notifications (platform -> device), QoS 1, whichever API made the change: `jobs/notify` `{"jobs": {"QUEUED":
[summary], "IN_PROGRESS": [...]}, "timestamp"}` when the thing's pending executions change (one added or
ended), and `jobs/notify-next` `{"execution"?, "timestamp"}` when its next execution is another one.

The PUBACK of a request follows its answer (the change committed first). A timer (`tick_interval`) times out
the executions whose stored deadline passed.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Final

import orjson

from tether.adapters.login import login_of
from tether.adapters.namespaces import tenant_mountpoint
from tether.broker import Broker, ClientInfo, Message
from tether.core.errors import BadRequest, DomainError, ErrorMap, InvalidInput, NotFound, TooManyRequests
from tether.fleets import jobs
from tether.fleets.job_service import JobService, PendingChange
from tether.fleets.jobs import (
    NEXT,
    Execution,
    ExecutionNotFound,
    InvalidStateTransition,
    JobConflict,
    JobJsonInvalid,
    TerminalStateReached,
    VersionMismatch,
)
from tether.fleets.models import Json, Thing
from tether.fleets.things import ThingService
from tether.mqtt.properties import Properties
from tether.mqtt.reason_codes import ReasonCode

__all__ = ["JOB_CODES", "FleetsJobsAdapter", "InvalidTopic", "answer", "rejection"]

log = logging.getLogger(__name__)
Ack = asyncio.Future[ReasonCode | None]
_JSON = Properties(payload_format_indicator=1, content_type="application/json")
#: Topics of the namespace that are answers and notifications (routed to subscribers only).
_OUTBOUND: Final = frozenset({"accepted", "rejected", "notify", "notify-next"})
_PUBLISH_SLICE: Final = 256  # notifications published per turn of the event loop


class InvalidTopic(InvalidInput):
    """A topic of the jobs namespace that is no request (AWS: InvalidTopic)."""


#: Domain error -> AWS's ErrorCode of a job request's rejection (jobs-api ErrorResponse).
JOB_CODES: ErrorMap[str] = ErrorMap(
    {
        InvalidTopic: "InvalidTopic",
        JobJsonInvalid: "InvalidJson",
        InvalidInput: "InvalidRequest",
        BadRequest: "InvalidRequest",
        NotFound: "ResourceNotFound",
        VersionMismatch: "VersionMismatch",
        InvalidStateTransition: "InvalidStateTransition",
        TerminalStateReached: "TerminalStateReached",
        TooManyRequests: "RequestThrottled",
        DomainError: "InternalError",
    }
)


def jobs_topic(name: str, suffix: str) -> str:
    return f"$emqx/things/{name}/jobs/{suffix}"


def now_s() -> int:
    return int(time.time())


@dataclass(slots=True)
class _Request:
    tenant_id: str
    name: str
    operation: str  # get | start-next | describe | update | invalid
    job_id: str
    topic: str  # the request topic (answers: + /accepted | /rejected)
    payload: bytes
    ack: Ack
    acting: str | None  # the user the client acts as (None: an operator)


async def answer(service: JobService, thing: Thing, operation: str, job_id: str, document: Json) -> Json:
    """The accepted answer of a request (MQTT and the ThingDatas HTTPS API alike); DomainError otherwise."""
    timestamp = now_s()
    if operation == "get":
        request = jobs.parse_request(document)
        running, queued = await service.pending(thing)
        out: Json = {
            "inProgressJobs": [jobs.summary(e) for e in running],
            "queuedJobs": [jobs.summary(e) for e in queued],
        }
    elif operation == "start-next":
        request = jobs.parse_request(document)
        started = await service.start_next(thing, request)
        out = {} if started is None else {"execution": jobs.execution_document(started, thing.name)}
    elif operation == "describe":
        request = jobs.parse_request(document)
        found = await service.describe(thing, job_id, request)
        out = {}
        if found is not None:
            out["execution"] = jobs.execution_document(
                found, thing.name, include_document=request.include_document
            )
    elif operation == "update":
        if job_id == NEXT:
            raise jobs.JobRequestInvalid("'$next' names no job to update", resource="fleets")
        request = jobs.parse_request(document, update=True)
        updated = await service.update(thing, job_id, request)
        out = {}
        if request.include_state:
            out["executionState"] = jobs.execution_state(updated)
        if request.include_document and updated.document is not None:
            out["jobDocument"] = updated.document
    else:
        raise jobs.JobRequestInvalid("The topic maps to no jobs API", resource="fleets")
    out["timestamp"] = timestamp
    if request.client_token is not None:
        out["clientToken"] = request.client_token
    return out


def rejection(exc: DomainError, token: str | None) -> Json:
    code = JOB_CODES(exc)
    state = exc.state if isinstance(exc, JobConflict) else None
    return jobs.error(code, exc.message, now_s(), token, state)


def _settle(ack: Ack, code: ReasonCode | None) -> None:
    if not ack.done():
        ack.set_result(code)


class FleetsJobsAdapter:
    """Create it on the broker's event loop; `start()` runs the timer."""

    def __init__(
        self, broker: Broker, things: ThingService, service: JobService, tick_interval: float = 1.0
    ) -> None:
        self._broker = broker
        self._loop = broker.loop
        self._things = things
        self._service = service
        self._tick_interval = tick_interval
        self._inboxes: dict[tuple[str, str], deque[_Request]] = {}
        self._outbox: deque[PendingChange] = deque()
        self._workers: dict[object, asyncio.Task[None]] = {}
        self._ticker: asyncio.Task[None] | None = None
        self._unwatch: Callable[[], None] | None = service.watch(self._on_changes)

    def start(self) -> None:
        if self._ticker is None or self._ticker.done():
            self._ticker = self._loop.create_task(self._tick_forever())

    def stop(self) -> None:
        """Stop the timer (another node of a cluster runs it)."""
        if self._ticker is not None:
            self._ticker.cancel()
            self._ticker = None

    def close(self) -> None:
        if self._unwatch is not None:
            self._unwatch()
            self._unwatch = None
        for task in self._workers.values():
            task.cancel()
        if self._ticker is not None:
            self._ticker.cancel()
        self._service.targeting.close()

    async def _tick_forever(self) -> None:
        while True:
            await asyncio.sleep(self._tick_interval)
            try:
                await self._service.tick()
            except Exception:
                log.exception("jobs timer failed (tried again in %s s)", self._tick_interval)

    # -- device -> platform --------------------------------------------------------------------------------

    def handle(self, client: ClientInfo, topic: str, levels: list[str], message: Message) -> Ack | None:
        """A PUBLISH on `$emqx/things/<name>/jobs/...` (`levels`: its topic levels); None: routed only."""
        name = levels[2]
        rest = levels[4:]
        if rest and rest[-1] in _OUTBOUND:
            return None
        if rest in (["get"], ["start-next"]):
            operation, job_id = rest[0], ""
        elif len(rest) == 2 and rest[1] in ("get", "update"):
            operation, job_id = ("describe" if rest[1] == "get" else "update"), rest[0]
        else:
            operation, job_id = "invalid", ""
        login = login_of(client)
        ack: Ack = self._loop.create_future()
        if login is None or not (login.superuser or name in login.things):
            log.info("MQTT client %r may not act as thing %r", client.client_id, name)
            ack.set_result(ReasonCode.NOT_AUTHORIZED)
            return ack
        tenant_id = login.principal.tenant_id
        acting = None if login.superuser else login.principal.username
        request = _Request(tenant_id, name, operation, job_id, topic, bytes(message.payload), ack, acting)
        key = (tenant_id, name)
        inbox = self._inboxes.get(key)
        if inbox is None:
            inbox = self._inboxes[key] = deque()
        inbox.append(request)
        self._kick(key, lambda: self._drain_inbox(key))
        return ack

    def _kick(self, key: object, drain: Callable[[], Awaitable[None]]) -> None:
        if key not in self._workers:
            self._workers[key] = self._loop.create_task(self._work(key, drain))

    async def _work(self, key: object, drain: Callable[[], Awaitable[None]]) -> None:
        try:
            await drain()
        finally:
            self._workers.pop(key, None)

    async def _drain_inbox(self, key: tuple[str, str]) -> None:
        while True:
            inbox = self._inboxes.get(key)
            if not inbox:
                self._inboxes.pop(key, None)  # no await from here to the worker's end
                return
            request = inbox.popleft()
            try:
                await self._process(request)
            except Exception as exc:  # e.g. the database is down: not acknowledged, not answered
                log.exception("jobs request of thing %s not processed", request.name)
                if not request.ack.done():
                    request.ack.set_exception(exc)

    async def _process(self, request: _Request) -> None:
        thing = await self._things.by_name(request.tenant_id, request.name)
        if request.acting is not None and thing is not None and thing.owner != request.acting:
            _settle(request.ack, ReasonCode.NOT_AUTHORIZED)
            return
        token: str | None = None
        try:
            if request.operation == "invalid":
                document: Json = {}
                raise InvalidTopic("The topic maps to no jobs API", resource="fleets")
            document = jobs.loads(request.payload)
            token = jobs.client_token(document)
            if thing is None:
                raise ExecutionNotFound("Thing not found", resource="fleets")
            accepted = await answer(self._service, thing, request.operation, request.job_id, document)
        except DomainError as exc:
            self._publish(request.tenant_id, request.topic + "/rejected", rejection(exc, token))
        else:
            self._publish(request.tenant_id, request.topic + "/accepted", accepted)
        _settle(request.ack, None)

    # -- platform -> device --------------------------------------------------------------------------------

    def _on_changes(self, changes: list[PendingChange]) -> None:
        """JobService watcher (must not block): notifications, published by a worker a slice at a time."""
        self._outbox.extend(c for c in changes if c.members_changed or c.next_changed)
        if self._outbox:
            self._kick("outbox", self._drain_outbox)

    async def _drain_outbox(self) -> None:
        sent = 0
        while self._outbox:
            change = self._outbox.popleft()
            timestamp = now_s()
            if change.members_changed:
                notify = {"jobs": jobs.pending_lists(change.after), "timestamp": timestamp}
                self._publish(change.tenant_id, jobs_topic(change.thing_name, "notify"), notify)
            if change.next_changed:
                following: Json = {"timestamp": timestamp}
                if change.after:
                    following["execution"] = _next_document(change.after[0], change.thing_name)
                self._publish(change.tenant_id, jobs_topic(change.thing_name, "notify-next"), following)
            sent += 1
            if sent % _PUBLISH_SLICE == 0:
                await asyncio.sleep(0)  # a job over thousands of things does not hold the loop

    def _publish(self, tenant_id: str, topic: str, document: Json) -> None:
        self._broker.publish(
            topic, orjson.dumps(document), qos=1, mountpoint=tenant_mountpoint(tenant_id), properties=_JSON
        )


def _next_document(execution: Execution, name: str) -> Json:
    return jobs.execution_document(execution, name)
