"""/tenant/tenants (tenant administration), /tenant/options and /tenant/statistics/summary."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tether.api.auth import authenticate
from tether.api.c8y.telemetry import query_date
from tether.api.context import ctx
from tether.api.http import base_url, collection, json_response, page_request, read_json_object
from tether.c8y import tenants as render
from tether.core.errors import InvalidInput, NotFound

R = "tenant"
RO = "option"


# ---------------------------------------------------------------------------------------------- tenants


async def list_tenants(request: Request) -> Response:
    who = await authenticate(request)
    page = await ctx(request).tenant_admin.find(who, page_request(request, resource=R))
    base = base_url(request)
    items = [render.tenant(base, t) for t in page.items]
    return json_response(request, collection(request, "tenants", items, page), "tenantCollection")


async def create_tenant(request: Request) -> Response:
    who = await authenticate(request)
    document = await read_json_object(request, resource=R)
    tenant = await ctx(request).tenant_admin.create(who, document)
    body = render.tenant(base_url(request), tenant)
    return json_response(request, body, "tenant", 201, {"Location": body["self"]})


async def get_tenant(request: Request) -> Response:
    who = await authenticate(request)
    tenant = await ctx(request).tenant_admin.get(who, str(request.path_params["tenant"]))
    return json_response(request, render.tenant(base_url(request), tenant), "tenant")


async def update_tenant(request: Request) -> Response:
    who = await authenticate(request)
    document = await read_json_object(request, resource=R)
    tenant = await ctx(request).tenant_admin.update(who, str(request.path_params["tenant"]), document)
    return json_response(request, render.tenant(base_url(request), tenant), "tenant")


async def delete_tenant(request: Request) -> Response:
    who = await authenticate(request)
    await ctx(request).tenant_admin.delete(who, str(request.path_params["tenant"]))
    return Response(status_code=204)


# ---------------------------------------------------------------------------------------------- options


def _text(request: Request, name: str) -> str:
    """A path parameter; no stored name holds NUL (PostgreSQL text cannot), so one that does names nothing."""
    value = str(request.path_params[name])
    if "\x00" in value:
        raise NotFound(f"Unable to find option by given key: {value!r}", resource=RO)
    return value


def _category(request: Request) -> str:
    return _text(request, "category")


async def list_options(request: Request) -> Response:
    who = await authenticate(request)
    page = await ctx(request).options.find(who, page_request(request, resource=RO))
    base = base_url(request)
    items = [render.option(base, o) for o in page.items]
    return json_response(request, collection(request, "options", items, page), "optionCollection")


async def create_option(request: Request) -> Response:
    who = await authenticate(request)
    document = await read_json_object(request, resource=RO)
    option = await ctx(request).options.put(
        who, document.get("category"), document.get("key"), document.get("value", "")
    )
    return json_response(request, render.option(base_url(request), option), "option")  # the spec: 200


async def get_category(request: Request) -> Response:
    who = await authenticate(request)
    options = await ctx(request).options.category(who, _category(request))
    return json_response(request, render.category(options), "option")


async def put_category(request: Request) -> Response:
    who = await authenticate(request)
    document = await read_json_object(request, resource=RO)
    options = await ctx(request).options.put_category(who, _category(request), document)
    return json_response(request, render.category(options), "option")


async def get_option(request: Request) -> Response:
    who = await authenticate(request)
    option = await ctx(request).options.get(who, _category(request), _text(request, "key"))
    return json_response(request, render.option(base_url(request), option), "option")


async def update_option(request: Request) -> Response:
    who = await authenticate(request)
    document = await read_json_object(request, resource=RO)
    if "value" not in document:
        raise InvalidInput('Expected {"value": "<text>"}', resource=RO)
    option = await ctx(request).options.update(
        who, _category(request), _text(request, "key"), document["value"]
    )
    return json_response(request, render.option(base_url(request), option), "option")


async def delete_option(request: Request) -> Response:
    who = await authenticate(request)
    await ctx(request).options.delete(who, _category(request), _text(request, "key"))
    return Response(status_code=204)


# ------------------------------------------------------------------------------------------- statistics


async def statistics_summary(request: Request) -> Response:
    """dateFrom defaults to the start of this month, dateTo to now (as Cumulocity's summary does)."""
    who = await authenticate(request)
    now = datetime.now(UTC)
    date_from = query_date(request, "dateFrom", resource=R)
    date_to = query_date(request, "dateTo", resource=R)
    if date_from is None:
        date_from = int(now.replace(day=1, hour=0, minute=0, second=0, microsecond=0).timestamp() * 1000)
    if date_to is None:
        date_to = int((now + timedelta(milliseconds=1)).timestamp() * 1000)
    if date_to <= date_from:
        raise InvalidInput("'dateTo' must be after 'dateFrom'", resource=R)
    tenant = request.query_params.get("tenant") or None
    if tenant is not None and "\x00" in tenant:
        raise InvalidInput("'tenant' must not contain NUL characters", resource=R)
    usage = await ctx(request).statistics.summary(who, tenant, date_from, date_to)
    return json_response(request, render.usage_summary(usage), "tenantUsageStatisticsSummary")


routes = [
    Route("/tenant/tenants", list_tenants, methods=["GET"]),
    Route("/tenant/tenants", create_tenant, methods=["POST"]),
    Route("/tenant/tenants/{tenant}", get_tenant, methods=["GET"]),
    Route("/tenant/tenants/{tenant}", update_tenant, methods=["PUT"]),
    Route("/tenant/tenants/{tenant}", delete_tenant, methods=["DELETE"]),
    Route("/tenant/options", list_options, methods=["GET"]),
    Route("/tenant/options", create_option, methods=["POST"]),
    Route("/tenant/options/{category}", get_category, methods=["GET"]),
    Route("/tenant/options/{category}", put_category, methods=["PUT"]),
    Route("/tenant/options/{category}/{key}", get_option, methods=["GET"]),
    Route("/tenant/options/{category}/{key}", update_option, methods=["PUT"]),
    Route("/tenant/options/{category}/{key}", delete_option, methods=["DELETE"]),
    Route("/tenant/statistics/summary", statistics_summary, methods=["GET"]),
]
