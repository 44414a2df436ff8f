"""/measurement/measurements: create one or a collection, query, delete, and series."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tether.api.auth import authenticate
from tether.api.c8y.telemetry import (
    check_range,
    fragment_name,
    processing_mode,
    query_date,
    query_fragment,
    query_id,
    query_list,
    query_text,
)
from tether.api.context import ctx
from tether.api.http import (
    base_url,
    collection,
    json_response,
    json_text_response,
    page_request,
    path_id,
    query_flag,
    read_json_object,
)
from tether.c8y import documents, render
from tether.core.clock import to_iso
from tether.core.errors import InvalidInput
from tether.telemetry.models import Aggregation, MeasurementCriteria, SeriesName, SeriesQuery, SeriesResult
from tether.telemetry.series import MAX_SERIES

R = "measurement"
COLLECTION_MEDIA = "measurementcollection"


def _criteria(request: Request, *, deleting: bool = False) -> MeasurementCriteria:
    fragment = query_fragment(request, "valueFragmentType", resource=R)
    if fragment is None and deleting:  # DELETE names it fragmentType
        fragment = query_fragment(request, "fragmentType", resource=R)
    series = query_fragment(request, "valueFragmentSeries", resource=R)
    if series is not None and fragment is None:
        raise InvalidInput("'valueFragmentSeries' needs 'valueFragmentType'", resource=R)
    criteria = MeasurementCriteria(
        source_id=query_id(request, "source", resource=R),
        type=query_text(request, "type", resource=R),
        value_fragment_type=fragment,
        value_fragment_series=series,
        date_from=query_date(request, "dateFrom", resource=R),
        date_to=query_date(request, "dateTo", resource=R),
        newest_first=query_flag(request, "revert"),
    )
    check_range(criteria.date_from, criteria.date_to, resource=R)
    return criteria


async def create_measurements(request: Request) -> Response:
    """One measurement, or `{"measurements": [...]}` (media type measurementCollection): all or none."""
    who = await authenticate(request)
    mode = processing_mode(request, resource=R)
    # No nesting walk of the body: the service checks every fragment's values and depth (core.values).
    document = await read_json_object(request, resource=R, walk_depth=False)
    batch = document.get("measurements")
    content_type = request.headers.get("content-type", "").lower()
    is_collection = COLLECTION_MEDIA in content_type or isinstance(batch, list)
    if not is_collection:
        batch = [document]
    elif not isinstance(batch, list):
        raise InvalidInput("A measurement collection needs a 'measurements' array", resource=R)
    created = await ctx(request).measurements.create(who, documents.measurements(batch), mode)
    base = base_url(request)
    if is_collection:
        content = b'{"measurements":%s}' % render.measurements_json(base, created)
        return json_text_response(request, content, "measurementCollection", 201)
    body = render.measurement(base, created[0])
    headers = {"Location": body["self"]} if "self" in body else None
    return json_response(request, body, "measurement", 201, headers)


async def list_measurements(request: Request) -> Response:
    who = await authenticate(request)
    page = await ctx(request).measurements.find(who, _criteria(request), page_request(request, resource=R))
    base = base_url(request)
    items = render.measurements(base, page.items)
    return json_response(request, collection(request, "measurements", items, page), "measurementCollection")


async def get_measurement(request: Request) -> Response:
    who = await authenticate(request)
    measurement_id = path_id(request, "id", resource=R, what="measurement")
    measurement = await ctx(request).measurements.get(who, measurement_id)
    return json_response(request, render.measurement(base_url(request), measurement), "measurement")


async def delete_measurement(request: Request) -> Response:
    who = await authenticate(request)
    mode = processing_mode(request, resource=R)
    measurement_id = path_id(request, "id", resource=R, what="measurement")
    await ctx(request).measurements.delete(who, measurement_id, mode)
    return Response(status_code=204)


async def delete_measurements(request: Request) -> Response:
    """Every measurement matching the filters; without filters, all the caller may see (as Cumulocity)."""
    who = await authenticate(request)
    mode = processing_mode(request, resource=R)
    await ctx(request).measurements.delete_matching(who, _criteria(request, deleting=True), mode)
    return Response(status_code=204)


def _series_names(request: Request) -> tuple[SeriesName, ...]:
    names: list[SeriesName] = []
    values = query_list(request, "series", resource=R)
    if len(values) > MAX_SERIES:
        raise InvalidInput(f"At most {MAX_SERIES} 'series' may be requested at once", resource=R)
    for value in values:
        fragment, dot, series = value.partition(".")
        if not dot or not fragment or not series:
            raise InvalidInput(f"'series' must be <fragment>.<series>, got {value!r}", resource=R)
        fragment_name(value, "series", resource=R)
        names.append(SeriesName(fragment, series))
    return tuple(names)


def _series_query(request: Request) -> SeriesQuery:
    source_id = query_id(request, "source", resource=R)
    date_from = query_date(request, "dateFrom", resource=R)
    date_to = query_date(request, "dateTo", resource=R)
    if source_id is None or date_from is None or date_to is None:
        raise InvalidInput("'source', 'dateFrom' and 'dateTo' are mandatory", resource=R)
    raw_aggregation = request.query_params.get("aggregationType") or None
    try:
        aggregation = None if raw_aggregation is None else Aggregation(raw_aggregation)
    except ValueError:
        names = ", ".join(Aggregation)
        raise InvalidInput(
            f"'aggregationType' must be one of {names}, got {raw_aggregation!r}", resource=R
        ) from None
    return SeriesQuery(
        source_id=source_id,
        date_from=date_from,
        date_to=date_to,
        series=_series_names(request),
        aggregation=aggregation,
        newest_first=query_flag(request, "revert"),
    )


def render_series(result: SeriesResult) -> dict[str, Any]:
    return {
        "values": {
            to_iso(time): [None if v is None else {"min": v.min, "max": v.max} for v in slots]
            for time, slots in result.values
        },
        "series": [
            {"unit": spec.unit or "", "name": spec.name.series, "type": spec.name.fragment}
            for spec in result.specs
        ],
        "truncated": result.truncated,
    }


async def get_series(request: Request) -> Response:
    who = await authenticate(request)
    result = await ctx(request).measurements.series(who, _series_query(request))
    return json_response(request, render_series(result), "measurementSeries")


_ALL = "/measurement/measurements"
routes = [
    Route(_ALL, list_measurements, methods=["GET"]),
    Route(_ALL, create_measurements, methods=["POST"]),
    Route(_ALL, delete_measurements, methods=["DELETE"]),
    Route(_ALL + "/series", get_series, methods=["GET"]),  # before /{id}, which would take "series"
    Route(_ALL + "/{id}", get_measurement, methods=["GET"]),
    Route(_ALL + "/{id}", delete_measurement, methods=["DELETE"]),
]
