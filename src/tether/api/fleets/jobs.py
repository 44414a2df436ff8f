"""/api/v1/jobs: Fleets jobs (fleets/job_service.py) for operators, and the jobs requests of the ThingDatas
HTTPS API of devices (/api/v1/thing-datas/jobs/...), whose bodies and answers are those of the MQTT topics
(adapters/fleets_jobs.py) plus `thingName`."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tether.adapters.fleets_jobs import answer, rejection
from tether.api import http
from tether.api.context import ctx
from tether.api.emqx.common import caller, json, page_request, paged, read_object
from tether.api.fleets.errors import CODES
from tether.core.clock import to_iso
from tether.core.errors import BadRequest, DomainError, InvalidInput
from tether.fleets import jobs
from tether.fleets.job_service import Counts
from tether.fleets.jobs import Execution, ExecutionNotFound, ExecutionStatus, Job, job_status
from tether.fleets.models import R, thing_name

#: jobProcessDetails (AWS DescribeJob) field of each execution status.
_DETAILS = {status: f"numberOf{status.value.title().replace('_', '')}Things" for status in ExecutionStatus}


def render_job(job: Job, counts: Counts) -> dict[str, Any]:
    body: dict[str, Any] = {
        "jobId": job.job_id,
        "description": job.description,
        "type": job.type.value,
        "status": job_status(job, counts).value,
        "document": job.document,
        "targets": job.targets.document(),
        "timeoutConfig": {"inProgressTimeoutInMinutes": job.in_progress_timeout},
        "stepTimeoutInMinutes": job.step_timeout,
        "createdAt": to_iso(job.created_at),
        "updatedAt": to_iso(job.updated_at),
        "executionCounts": {status.value: counts.get(status, 0) for status in ExecutionStatus},
        "jobProcessDetails": {name: counts.get(status, 0) for status, name in _DETAILS.items()},
    }
    if job.comment is not None:
        body["comment"] = job.comment
    return body


def render_execution(execution: Execution) -> dict[str, Any]:
    body: dict[str, Any] = {
        "jobId": execution.job_id,
        "thingName": execution.thing_name,
        "deviceId": str(execution.mo_id),
        "status": execution.status.value,
        "statusDetails": execution.status_details,
        "versionNumber": execution.version,
        "executionNumber": execution.execution_number,
        "queuedAt": to_iso(execution.queued_at),
        "lastUpdatedAt": to_iso(execution.updated_at),
        "startedAt": None if execution.started_at is None else to_iso(execution.started_at),
    }
    deadline = execution.deadline
    if deadline is not None:
        body["timesOutAt"] = to_iso(deadline)
    return body


def _status(request: Request) -> ExecutionStatus | None:
    raw = request.query_params.get("status")
    if not raw:
        return None
    try:
        return ExecutionStatus(raw)
    except ValueError:
        raise BadRequest(f"Unknown execution status '{raw}'", resource=R) from None


def _force(document: dict[str, Any]) -> bool:
    force = document.get("force", False)
    if not isinstance(force, bool):
        raise InvalidInput("'force' must be true or false", resource=R)
    return force


async def _optional_object(request: Request) -> dict[str, Any]:
    return await read_object(request) if await request.body() else {}


async def create_job(request: Request) -> Response:
    who = await caller(request)
    draft = jobs.parse_job(await read_object(request))
    job, counts = await ctx(request).jobs.create(who, draft)
    return json(render_job(job, counts), 201)


async def list_jobs(request: Request) -> Response:
    who = await caller(request)
    page = await ctx(request).jobs.find(who, page_request(request))
    return json(paged([render_job(job, counts) for job, counts in page.items], page))


async def get_job(request: Request) -> Response:
    who = await caller(request)
    return json(render_job(*await ctx(request).jobs.get(who, request.path_params["job_id"])))


async def cancel_job(request: Request) -> Response:
    """`{force?, comment?}`: QUEUED executions are CANCELED (with force, IN_PROGRESS ones too)."""
    who = await caller(request)
    document = await _optional_object(request)
    comment = document.get("comment")
    if comment is not None and (not isinstance(comment, str) or len(comment) > 2028 or "\x00" in comment):
        raise InvalidInput("'comment' must be a string of at most 2028 characters", resource=R)
    found = await ctx(request).jobs.cancel(who, request.path_params["job_id"], _force(document), comment)
    return json(render_job(*found))


async def executions(request: Request) -> Response:
    who = await caller(request)
    page = await ctx(request).jobs.executions(
        who, request.path_params["job_id"], _status(request), page_request(request)
    )
    return json(paged([render_execution(e) for e in page.items], page))


async def execution(request: Request) -> Response:
    who = await caller(request)
    found = await ctx(request).jobs.execution_of(
        who, request.path_params["job_id"], request.path_params["thing_name"]
    )
    return json(render_execution(found))


async def cancel_execution(request: Request) -> Response:
    who = await caller(request)
    document = await _optional_object(request)
    found = await ctx(request).jobs.cancel_execution(
        who, request.path_params["job_id"], request.path_params["thing_name"], _force(document)
    )
    return json(render_execution(found))


# -- ThingDatas: the device's requests over HTTPS ------------------------------------------------------------


async def _device(request: Request, operation: str, job_id: str = "") -> Response:
    """The MQTT request's answer: 200 with the accepted body, or the rejected body (AWS's code) with the
    status of the family's error table."""
    who = await caller(request)
    token = None
    try:
        document: Any = {}
        if (await request.body()).strip():
            try:
                document = await http.read_json(request, resource=R)
            except BadRequest as exc:
                raise jobs.JobJsonInvalid(exc.message, resource=R) from None
        if not isinstance(document, dict):
            raise jobs.JobJsonInvalid("The request must be a JSON object", resource=R)
        token = jobs.client_token(document)
        name = thing_name(document.get("thingName"), "thingName")
        thing = await ctx(request).things.by_name(who.tenant_id, name)
        if thing is None:
            raise ExecutionNotFound(f"Thing '{name}' not found", resource=R)
        fields = {key: value for key, value in document.items() if key != "thingName"}
        return json(await answer(ctx(request).jobs, thing, operation, job_id, fields))
    except DomainError as exc:
        status, _ = CODES(exc)
        return json(rejection(exc, token), status)


async def device_get(request: Request) -> Response:
    return await _device(request, "get")


async def device_start_next(request: Request) -> Response:
    return await _device(request, "start-next")


async def device_describe(request: Request) -> Response:
    return await _device(request, "describe", request.path_params["job_id"])


async def device_update(request: Request) -> Response:
    return await _device(request, "update", request.path_params["job_id"])


routes = [
    Route("/jobs", create_job, methods=["POST"]),
    Route("/jobs", list_jobs, methods=["GET"]),
    Route("/jobs/{job_id}", get_job, methods=["GET"]),
    Route("/jobs/{job_id}/cancel", cancel_job, methods=["POST"]),
    Route("/jobs/{job_id}/executions", executions, methods=["GET"]),
    Route("/jobs/{job_id}/executions/{thing_name}", execution, methods=["GET"]),
    Route("/jobs/{job_id}/executions/{thing_name}/cancel", cancel_execution, methods=["POST"]),
    Route("/thing-datas/jobs/get", device_get, methods=["POST"]),
    Route("/thing-datas/jobs/start-next", device_start_next, methods=["POST"]),
    Route("/thing-datas/jobs/{job_id}/get", device_describe, methods=["POST"]),
    Route("/thing-datas/jobs/{job_id}/update", device_update, methods=["POST"]),
]
