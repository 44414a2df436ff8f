"""/audit/auditRecords: the audit trail of a tenant (ROLE_AUDIT_READ; POST: ROLE_AUDIT_ADMIN)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tether.api.auth import authenticate
from tether.api.c8y.telemetry import query_date
from tether.api.context import ctx
from tether.api.http import (
    base_url,
    collection,
    json_response,
    page_request,
    path_id,
    query_flag,
    read_json_object,
)
from tether.audit.models import AuditCriteria
from tether.c8y import audit as render
from tether.core.errors import InvalidInput

R = "audit"


async def list_records(request: Request) -> Response:
    who = await authenticate(request)
    params = request.query_params
    for name in ("source", "type", "user", "application"):
        if "\x00" in params.get(name, ""):  # no stored text holds NUL (PostgreSQL text cannot)
            raise InvalidInput(f"Query parameter '{name}' must not contain NUL characters", resource=R)
    criteria = AuditCriteria(
        source=params.get("source") or None,
        type=params.get("type") or None,
        user=params.get("user") or None,
        application=params.get("application") or None,
        date_from=query_date(request, "dateFrom", resource=R),
        date_to=query_date(request, "dateTo", resource=R),
        revert=query_flag(request, "revert"),
    )
    page = await ctx(request).audit.find(who, criteria, page_request(request, resource=R))
    base = base_url(request)
    items = [render.record(base, r) for r in page.items]
    return json_response(request, collection(request, "auditRecords", items, page), "auditRecordCollection")


async def get_record(request: Request) -> Response:
    who = await authenticate(request)
    record_id = path_id(request, "id", resource=R, what="audit record")
    record = await ctx(request).audit.get(who, record_id)
    return json_response(request, render.record(base_url(request), record), "auditRecord")


async def create_record(request: Request) -> Response:
    who = await authenticate(request)
    document = await read_json_object(request, resource=R)
    record = await ctx(request).audit.create(who, render.new_record(who.tenant_id, document))
    body = render.record(base_url(request), record)
    return json_response(request, body, "auditRecord", 201, {"Location": body["self"]})


async def audit_api(request: Request) -> Response:
    await authenticate(request)
    base = base_url(request)
    body = {
        "self": f"{base}/audit",
        "auditRecords": {"self": f"{base}/audit/auditRecords", "auditRecords": []},
        "auditRecordsForType": f"{base}/audit/auditRecords?type={{type}}",
        "auditRecordsForUser": f"{base}/audit/auditRecords?user={{user}}",
        "auditRecordsForApplication": f"{base}/audit/auditRecords?application={{application}}",
    }
    return json_response(request, body, "auditApi")


routes = [
    Route("/audit", audit_api, methods=["GET"]),
    Route("/audit/auditRecords", list_records, methods=["GET"]),
    Route("/audit/auditRecords", create_record, methods=["POST"]),
    Route("/audit/auditRecords/{id}", get_record, methods=["GET"]),
]
