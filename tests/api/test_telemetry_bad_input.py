"""Bad telemetry input gets a 4xx with an error body, never a 500, and stores nothing."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from tests.support import ADMIN_PASSWORD, ServerThread
from tests.telemetry.helpers import ALARMS, EVENTS, MEASUREMENTS, assert_error, device, total

TIME = "2024-01-01T00:00:00Z"
PATHS = {"measurement": MEASUREMENTS, "event": EVENTS, "alarm": ALARMS}


@pytest.fixture(scope="module")
def source(server: ServerThread) -> str:
    with httpx.Client(base_url=server.url, auth=("t1/admin", ADMIN_PASSWORD)) as client:
        return device(client, "bad input target")


def valid(resource: str, source: str) -> dict[str, Any]:
    document: dict[str, Any] = {"source": {"id": source}, "type": "c8y_Test", "time": TIME}
    if resource in ("event", "alarm"):
        document["text"] = "text"
    if resource == "alarm":
        document["severity"] = "MAJOR"
    return document


def stored(admin: httpx.Client, source: str) -> tuple[int, int, int]:
    return tuple(total(admin, path, source=source) for path in PATHS.values())  # type: ignore[return-value]


MISSING = (
    [("measurement", f) for f in ("source", "type", "time")]
    + [("event", f) for f in ("source", "type", "text", "time")]
    + [("alarm", f) for f in ("source", "type", "text", "severity", "time")]
)


@pytest.mark.parametrize(("resource", "field"), MISSING)
def test_missing_mandatory_fields_are_422(
    admin: httpx.Client, source: str, resource: str, field: str
) -> None:
    before = stored(admin, source)
    document = valid(resource, source)
    del document[field]
    response = admin.post(PATHS[resource], json=document)
    assert_error(response, 422, f"{resource}/Unprocessable Entity")
    assert f"'{field}'" in response.json()["message"]
    assert stored(admin, source) == before


@pytest.mark.parametrize("resource", ["measurement", "event", "alarm"])
@pytest.mark.parametrize(
    ("change", "status", "kind"),
    [
        ({"time": "not a date"}, 422, "Unprocessable Entity"),
        ({"time": "2024-13-01T00:00:00Z"}, 422, "Unprocessable Entity"),
        ({"time": 1704067200000}, 422, "Unprocessable Entity"),
        ({"source": {"id": "999999999"}}, 404, "Not Found"),
        ({"source": {"id": "abc"}}, 422, "Unprocessable Entity"),
        ({"source": {"id": "99999999999999999999"}}, 422, "Unprocessable Entity"),
        ({"source": {"id": "²"}}, 422, "Unprocessable Entity"),
        ({"source": "123"}, 422, "Unprocessable Entity"),
        ({"type": ["list"]}, 422, "Unprocessable Entity"),
        ({"type": "x" * 300}, 422, "Unprocessable Entity"),
        ({"type": "nul\u0000type"}, 422, "Unprocessable Entity"),
        ({"c8y_Frag": {"k": "nul\u0000value"}}, 422, "Unprocessable Entity"),
    ],
)
def test_bad_fields(
    admin: httpx.Client, source: str, resource: str, change: dict[str, Any], status: int, kind: str
) -> None:
    before = stored(admin, source)
    response = admin.post(PATHS[resource], json={**valid(resource, source), **change})
    assert_error(response, status, f"{resource}/{kind}")
    assert stored(admin, source) == before


@pytest.mark.parametrize("resource", ["measurement", "event", "alarm"])
@pytest.mark.parametrize(
    ("content", "content_type", "status", "kind"),
    [
        (b'{"type": "x"', "application/json", 400, "Bad Request"),
        (b"", "application/json", 400, "Bad Request"),
        (b"\xff\xfe", "application/json", 400, "Bad Request"),
        (b"[1, 2]", "application/json", 422, "Unprocessable Entity"),
        (b"42", "application/json", 422, "Unprocessable Entity"),
        (b"type=x", "application/x-www-form-urlencoded", 415, "Unsupported Media Type"),
    ],
)
def test_malformed_bodies(
    admin: httpx.Client, source: str, resource: str, content: bytes, content_type: str, status: int, kind: str
) -> None:
    before = stored(admin, source)
    response = admin.post(PATHS[resource], content=content, headers={"Content-Type": content_type})
    assert_error(response, status, f"{resource}/{kind}")
    assert stored(admin, source) == before


@pytest.mark.parametrize(
    ("severity", "status"),
    [("FATAL", "ACTIVE"), ("major", "ACTIVE"), (3, "ACTIVE"), ("MAJOR", "OPEN"), ("MAJOR", "cleared")],
)
def test_bad_severities_and_statuses(admin: httpx.Client, source: str, severity: Any, status: str) -> None:
    before = stored(admin, source)
    response = admin.post(ALARMS, json={**valid("alarm", source), "severity": severity, "status": status})
    assert_error(response, 422, "alarm/Unprocessable Entity")
    assert stored(admin, source) == before


def test_a_collection_over_the_body_limit_is_413(admin: httpx.Client, source: str) -> None:
    before = stored(admin, source)
    item = {**valid("measurement", source), "c8y_T": {"T": {"value": 1.0, "unit": "C"}}}
    response = admin.post(MEASUREMENTS, json={"measurements": [item] * 2000})
    assert_error(response, 413, "measurement/Payload Too Large")
    assert stored(admin, source) == before


@pytest.mark.parametrize(
    ("path", "params", "error"),
    [
        (MEASUREMENTS, {"dateFrom": "yesterday"}, "measurement/Bad Request"),
        (MEASUREMENTS, {"source": "abc"}, "measurement/Unprocessable Entity"),
        (MEASUREMENTS, {"valueFragmentSeries": "T"}, "measurement/Unprocessable Entity"),
        (MEASUREMENTS, {"valueFragmentType": 'a"b'}, "measurement/Unprocessable Entity"),
        (MEASUREMENTS, {"type": "a\u0000b"}, "measurement/Unprocessable Entity"),
        (MEASUREMENTS, {"pageSize": "0"}, "measurement/Unprocessable Entity"),
        (MEASUREMENTS, {"currentPage": "x"}, "measurement/Unprocessable Entity"),
        (
            MEASUREMENTS,
            {"dateFrom": "2024-02-01T00:00:00Z", "dateTo": "2024-01-01T00:00:00Z"},
            "measurement/Unprocessable Entity",
        ),
        (EVENTS, {"dateTo": "2024-99-01"}, "event/Bad Request"),
        (EVENTS, {"fragmentValue": "x"}, "event/Unprocessable Entity"),
        (EVENTS, {"source": "1.5"}, "event/Unprocessable Entity"),
        (EVENTS, {"withSourceDevices": "true"}, "event/Unprocessable Entity"),  # needs a source
        (EVENTS, {"source": "1", "withSourceAssets": "maybe"}, "event/Unprocessable Entity"),
        (ALARMS, {"withSourceAssets": "true"}, "alarm/Unprocessable Entity"),
        (ALARMS, {"status": "OPEN"}, "alarm/Unprocessable Entity"),
        (ALARMS, {"status": "ACTIVE,nope"}, "alarm/Unprocessable Entity"),
        (ALARMS, {"severity": "HIGH"}, "alarm/Unprocessable Entity"),
        (ALARMS, {"resolved": "maybe"}, "alarm/Unprocessable Entity"),
        (ALARMS, {"createdFrom": "soon"}, "alarm/Bad Request"),
        (f"{ALARMS}/count", {"status": "x"}, "alarm/Unprocessable Entity"),
    ],
)
def test_bad_query_parameters(admin: httpx.Client, path: str, params: dict[str, str], error: str) -> None:
    response = admin.get(path, params=params)
    assert_error(response, 422 if error.endswith("Entity") else 400, error)


def test_bad_queries_delete_nothing(admin: httpx.Client, source: str) -> None:
    admin.post(MEASUREMENTS, json={**valid("measurement", source), "c8y_T": {"T": {"value": 1}}})
    before = stored(admin, source)
    assert_error(admin.delete(MEASUREMENTS, params={"dateFrom": "nope"}), 400, "measurement/Bad Request")
    assert_error(admin.delete(EVENTS, params={"source": "x"}), 422, "event/Unprocessable Entity")
    assert_error(admin.delete(ALARMS, params={"status": "GONE"}), 422, "alarm/Unprocessable Entity")
    assert_error(
        admin.delete(MEASUREMENTS, headers={"X-Cumulocity-Processing-Mode": "NEVER"}),
        422,
        "measurement/Unprocessable Entity",
    )
    assert stored(admin, source) == before and before[0] >= 1


@pytest.mark.parametrize(
    ("query", "error"),
    [
        ({}, "measurement/Unprocessable Entity"),  # source, dateFrom, dateTo are mandatory
        ({"dateFrom": "2024-01-01", "dateTo": "2024-02-01"}, "measurement/Unprocessable Entity"),
        ({"source": "SRC", "dateFrom": "x", "dateTo": "2024-02-01"}, "measurement/Bad Request"),
        ({"source": "SRC", "dateFrom": "2024-01-01", "dateTo": "2024-02-01", "series": "nodot"}, None),
        (
            {"source": "SRC", "dateFrom": "2024-01-01", "dateTo": "2024-02-01", "aggregationType": "WEEKLY"},
            None,
        ),
        ({"source": "999999999", "dateFrom": "2024-01-01", "dateTo": "2024-02-01"}, "measurement/Not Found"),
    ],
)
def test_bad_series_requests(
    admin: httpx.Client, source: str, query: dict[str, str], error: str | None
) -> None:
    params = {k: (source if v == "SRC" else v) for k, v in query.items()}
    response = admin.get(f"{MEASUREMENTS}/series", params=params)
    expected = error or "measurement/Unprocessable Entity"
    status = {"Unprocessable Entity": 422, "Bad Request": 400, "Not Found": 404}[expected.split("/")[1]]
    assert_error(response, status, expected)


@pytest.mark.parametrize("bad_id", ["999999999", "abc", "-1", "1.5", "99999999999999999999999"])
def test_unknown_ids_are_404(admin: httpx.Client, bad_id: str) -> None:
    assert_error(admin.get(f"{MEASUREMENTS}/{bad_id}"), 404, "measurement/Not Found")
    assert_error(admin.delete(f"{MEASUREMENTS}/{bad_id}"), 404, "measurement/Not Found")
    assert_error(admin.get(f"{EVENTS}/{bad_id}"), 404, "event/Not Found")
    assert_error(admin.put(f"{EVENTS}/{bad_id}", json={"text": "x"}), 404, "event/Not Found")
    assert_error(admin.delete(f"{EVENTS}/{bad_id}"), 404, "event/Not Found")
    assert_error(admin.get(f"{ALARMS}/{bad_id}"), 404, "alarm/Not Found")
    assert_error(admin.put(f"{ALARMS}/{bad_id}", json={"status": "CLEARED"}), 404, "alarm/Not Found")


def test_bad_updates_change_nothing(admin: httpx.Client, source: str) -> None:
    event = admin.post(EVENTS, json={**valid("event", source), "keep": 1}).json()
    url = f"{EVENTS}/{event['id']}"
    assert_error(
        admin.put(url, content=b"{oops", headers={"Content-Type": "application/json"}),
        400,
        "event/Bad Request",
    )
    assert_error(admin.put(url, json={"text": 5}), 422, "event/Unprocessable Entity")
    assert_error(admin.put(url, json={"text": "ok", "bad": "\u0000"}), 422, "event/Unprocessable Entity")
    assert admin.get(url).json() == event
