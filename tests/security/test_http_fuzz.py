"""HTTP fuzzing (docs/security.md, HTTP input limits): hypothesis-generated requests against a real in-process
server, on SQLite and PostgreSQL. Whatever the path, query, headers and body, the answer is never a 5xx,
nothing logs a traceback, and /health stays 200 throughout."""

from __future__ import annotations

import base64
import json
import logging
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.support import ADMIN_PASSWORD, ServerThread

# The implemented routes, with {} where an id or name goes.
ROUTES = [
    "/inventory/managedObjects",
    "/inventory/managedObjects/{}",
    "/inventory/managedObjects/{}/childDevices",
    "/inventory/managedObjects/{}/childAssets/{}",
    "/identity/externalIds/{}/{}",
    "/identity/globalIds/{}/externalIds",
    "/measurement/measurements",
    "/measurement/measurements/{}",
    "/measurement/measurements/series",
    "/event/events",
    "/event/events/{}",
    "/alarm/alarms",
    "/alarm/alarms/{}",
    "/alarm/alarms/count",
    "/devicecontrol/operations",
    "/devicecontrol/operations/{}",
    "/devicecontrol/newDeviceRequests",
    "/devicecontrol/newDeviceRequests/{}",
    "/devicecontrol/deviceCredentials",
    "/tenant/currentTenant",
    "/tenant/loginOptions",
    "/user/currentUser",
    "/tenant/tenants/{}/trusted-certificates",
    "/tenant/tenants/{}/trusted-certificates/{}",
    "/api/v5/authentication/password_based:built_in_database/users",
    "/api/v5/authentication/password_based:built_in_database/users/{}",
    "/api/v5/authorization/sources/built_in_database/rules/users",
    "/api/v5/authorization/sources/built_in_database/rules/clients/{}",
    "/api/v5/authorization/sources/built_in_database/rules/all",
    "/api/v5/api_key",
    "/api/v5/api_key/{}",
    "/v1/models",
    "/v1/models/{}",
    "/v1/devices",
    "/v1/devices/{}/telemetry",
    "/v1/devices/{}/command",
    "/v1/devices/{}/commands",
]
PARAMS = [
    "query", "q", "pageSize", "currentPage", "withTotalPages", "withTotalElements", "source", "type",
    "fragmentType", "dateFrom", "dateTo", "ids", "series", "aggregationType", "status", "revert", "owner",
    "text", "agentId", "deviceId", "withChildren", "onlyRoots", "childDeviceId", "valueFragmentType",
    "valueFragmentSeries", "severity", "resolved", "page", "limit", "like_user_id", "is_superuser",
]  # fmt: skip
HUGE = [
    "9" * 40,
    "-1",
    "0",
    "1e309",
    "NaN",
    "\u0661\u0662",
    "\uff11\uff12",
    "\u00b2",
    "2024-13-45T99:99:99Z",
    "9" * 5000,
]
QUERIES = ["$filter=(", "not " * 50 + "a eq 1", "a eq 1 or " * 60 + "b eq 2", "$orderby=" + "a," * 20 + "b"]

# A segment: ids that exist, huge and unicode numbers, and arbitrary text incl. NUL and non-ASCII.
segments = st.one_of(
    st.sampled_from(["1", "2", "t1", "c8y_Serial", "admin", "device_x"]),
    st.sampled_from(HUGE),
    st.text(st.characters(codec="utf-8"), min_size=1, max_size=30),
)
values = st.one_of(st.sampled_from(HUGE + QUERIES), st.text(st.characters(codec="utf-8"), max_size=40))
queries = st.lists(st.tuples(st.sampled_from(PARAMS) | st.text(max_size=8), values), max_size=4)


@st.composite
def paths(draw: st.DrawFn) -> str:
    route = draw(st.sampled_from(ROUTES))
    while "{}" in route:
        route = route.replace("{}", quote(draw(segments), safe=""), 1)
    return route + draw(st.sampled_from(["", "", "/", "/extra", "//x"]))


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20) | st.sampled_from(HUGE),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=20,
)
KEYS = ["name", "type", "source", "time", "text", "severity", "status", "id", "externalId", "deviceId",
        "user_id", "password", "communication_protocol", "rules", "measurements", "c8y_T"]  # fmt: skip
documents = st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=10), json_values, max_size=6)


def _json_bytes(value: Any) -> bytes:
    return json.dumps(value).encode()  # big integers and NaN as they come


bodies = st.one_of(
    st.none(),
    documents.map(_json_bytes),
    st.lists(documents, max_size=3).map(_json_bytes),
    st.binary(max_size=64),
    st.sampled_from([b"{", b"[]", b"null", b'{"a": "\\u0000"}', b'{"id": "\\ud800"}', b"{" * 2000]),
)
ADMIN_BASIC = "Basic " + base64.b64encode(f"t1/admin:{ADMIN_PASSWORD}".encode()).decode()
authorizations = st.one_of(
    st.just(ADMIN_BASIC.encode()),
    st.just(b"Basic \xe9\xff"),
    st.binary(min_size=1, max_size=30).map(lambda b: b"Basic " + base64.b64encode(b)),
    # What a client can send at all (RFC 9110 section 5.5: no leading or trailing blanks, no DEL).
    st.text(st.characters(min_codepoint=0x20, max_codepoint=0xFF, exclude_characters="\x7f"), max_size=30)
    .map(str.strip)
    .map(lambda t: t.encode("latin-1")),
)
content_types = st.sampled_from(
    [None, "application/json", "application/vnd.com.nsn.cumulocity.managedObject+json", "text/plain", "ä/ö"]
)


def header_value(value: str) -> bytes:
    return value.encode("latin-1", "replace")


@pytest.fixture(scope="module")
def http(server: ServerThread) -> Any:
    with httpx.Client(base_url=server.url, timeout=60) as client:
        yield client


@settings(
    max_examples=500,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    method=st.sampled_from(["GET", "POST", "PUT", "DELETE", "PATCH"]),
    path=paths(),
    query=queries,
    authorization=st.none() | authorizations,
    content_type=content_types,
    accept=st.sampled_from([None, "application/json", "application/vnd.com.nsn.cumulocity.x+json", "*/*"]),
    body=bodies,
)
def test_no_request_gets_a_5xx(
    http: httpx.Client,
    caplog: pytest.LogCaptureFixture,
    method: str,
    path: str,
    query: list[tuple[str, str]],
    authorization: bytes | None,
    content_type: str | None,
    accept: str | None,
    body: bytes | None,
) -> None:
    caplog.set_level(logging.WARNING)
    headers: list[tuple[bytes, bytes]] = []
    if authorization is not None:
        headers.append((b"Authorization", authorization))
    if content_type is not None:
        headers.append((b"Content-Type", header_value(content_type)))
    if accept is not None:
        headers.append((b"Accept", accept.encode()))
    url = httpx.URL(path, params=query)
    response = http.request(method, url, headers=headers, content=body)
    assert response.status_code < 500, (method, str(url), body, response.text)
    tracebacks = [r for r in caplog.records if r.exc_info is not None or "Traceback" in r.getMessage()]
    assert not tracebacks, [r.getMessage() for r in tracebacks]
    assert http.get("/health").status_code == 200
