"""HTTP input limits (docs/security.md, HTTP input limits): every oversized or unstorable input is a 4xx in
its API family's error body, on SQLite and PostgreSQL; an unexpected exception is a 500 that keeps the
keep-alive connection."""

from __future__ import annotations

import base64
import logging
import socket
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from tests.support import ADMIN_PASSWORD, ServerThread

from tether.api.http import MAX_JSON_DEPTH, OFF_LOOP_BODY_SIZE
from tether.core.values import MAX_DEPTH as MAX_FRAGMENT_DEPTH
from tether.inventory.query import MAX_DEPTH, MAX_LENGTH, MAX_ORDER_KEYS, MAX_TERMS
from tether.telemetry.series import MAX_SERIES

MO = "/inventory/managedObjects"
USERS = "/api/v5/authentication/password_based:built_in_database/users"


def c8y_error(response: httpx.Response, status: int, error: str, words: str) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["error"] == error and "info" in body
    assert words in body["message"], body["message"]


def emqx_error(response: httpx.Response, words: str) -> None:
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["code"] == "BAD_REQUEST" and words in body["message"], body


def xyte_error(response: httpx.Response, words: str) -> None:
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["error"] == "unprocessable_entity" and words in body["message"], body


def terms(n: int) -> str:
    return "$filter=(" + " or ".join(f"c8y_Limit.v eq {i}" for i in range(n)) + ")"


# --------------------------------------------------------------------------- query language, series


def test_query_at_the_limits_is_answered(admin: httpx.Client) -> None:
    mo = admin.post(MO, json={"name": "limit", "c8y_Limit": {"v": MAX_TERMS - 1}}).json()
    found = admin.get(MO, params={"query": terms(MAX_TERMS)}).json()["managedObjects"]
    assert mo["id"] in [m["id"] for m in found]
    nested = "(" * MAX_DEPTH + "c8y_Limit.v eq 1" + ")" * MAX_DEPTH
    assert admin.get(MO, params={"query": nested}).status_code == 200
    order = "$orderby=" + ",".join(f"k{i}" for i in range(MAX_ORDER_KEYS))
    assert admin.get(MO, params={"query": order}).status_code == 200


@pytest.mark.parametrize(
    ("query", "words"),
    [
        (terms(MAX_TERMS + 1), f"more than {MAX_TERMS} conditions"),
        (terms(2000), f"longer than {MAX_LENGTH} characters"),  # the query that froze the loop for 2-3 s
        ("name eq '" + "x" * MAX_LENGTH + "'", f"longer than {MAX_LENGTH} characters"),
        ("(" * (MAX_DEPTH + 1) + "a eq 1" + ")" * (MAX_DEPTH + 1), f"more than {MAX_DEPTH} levels"),
        ("not " * (MAX_DEPTH + 1) + "a eq 1", f"more than {MAX_DEPTH} levels"),
        ("$orderby=" + ",".join(f"k{i}" for i in range(MAX_ORDER_KEYS + 1)), f"{MAX_ORDER_KEYS} keys"),
    ],
    ids=["terms", "2000-terms", "length", "parentheses", "not", "orderby"],
)
@pytest.mark.parametrize("name", ["query", "q"])
def test_query_over_a_limit_is_400(admin: httpx.Client, query: str, words: str, name: str) -> None:
    c8y_error(admin.get(MO, params={name: query}), 400, "inventory/Bad Request", words)


def test_series_count_is_limited(admin: httpx.Client) -> None:
    mo = admin.post(MO, json={"name": "series"}).json()
    params: dict[str, Any] = {"source": mo["id"], "dateFrom": "2024-01-01T00:00:00Z"}
    params["dateTo"] = "2024-01-02T00:00:00Z"
    allowed = [f"c8y_S.s{i}" for i in range(MAX_SERIES)]
    assert admin.get("/measurement/measurements/series", params={**params, "series": allowed}).is_success
    over = ",".join([*allowed, "c8y_S.more"])
    response = admin.get("/measurement/measurements/series", params={**params, "series": over})
    c8y_error(response, 422, "measurement/Unprocessable Entity", f"At most {MAX_SERIES} 'series'")


# --------------------------------------------------------------------------- JSON body nesting


def nested(depth: int) -> Any:
    value: Any = {"leaf": 1}
    for i in range(depth - 1):
        value = [value] if i % 2 else {"n": value}
    return value


def test_json_nesting_at_the_limit_is_stored(admin: httpx.Client) -> None:
    # a fragment may nest MAX_FRAGMENT_DEPTH levels (core/values.py, the same on every protocol); the body
    # reader allows that plus the envelope of a collection
    limit = MAX_FRAGMENT_DEPTH
    assert limit + 1 < MAX_JSON_DEPTH
    response = admin.post(MO, json={"name": "deep", "c8y_Deep": nested(limit)})
    assert response.status_code == 201, response.text
    assert admin.get(f"{MO}/{response.json()['id']}").json()["c8y_Deep"] == nested(limit)
    deeper = admin.post(MO, json={"name": "deep", "c8y_Deep": nested(limit + 1)})
    c8y_error(deeper, 422, "inventory/Unprocessable Entity", f"nested deeper than {limit} levels")


@pytest.mark.parametrize("depth", [MAX_JSON_DEPTH + 1, 1000, 20_000])
def test_json_nested_too_deeply_is_4xx_in_every_family(admin: httpx.Client, depth: int) -> None:
    # the object itself is level 1; "[" * (depth - 1) makes `depth` levels in all
    inner = "[" * (depth - 1) + "]" * (depth - 1)
    body = '{"name": "deep", "user_id": "deep", "password": "p", "communication_protocol": "mqtt", '
    content = (body + f'"c8y_Deep": {inner}}}').encode()
    json_type = {"Content-Type": "application/json"}
    if depth <= 1024:
        words, status, kind = f"more than {MAX_JSON_DEPTH} levels", 422, "Unprocessable Entity"
    else:  # orjson refuses more than 1024 levels itself
        words, status, kind = "Malformed JSON", 400, "Bad Request"
    c8y_error(admin.post(MO, content=content, headers=json_type), status, f"inventory/{kind}", words)
    emqx_error(admin.post(USERS, content=content, headers=json_type), words)
    response = admin.post("/v1/models", content=content, headers=json_type)
    assert response.status_code == status and words in response.json()["message"], response.text


def test_large_json_body_is_parsed_and_stored(admin: httpx.Client) -> None:
    """A body over the off-loop threshold (parsed in a worker thread) behaves like a small one."""
    assert OFF_LOOP_BODY_SIZE < 48 * 1024 < 64 * 1024  # 64 KiB: the test server's max_body_size
    fragments = {f"c8y_F{i}": {"v": i, "s": "x" * 20} for i in range(1000)}
    response = admin.post(MO, json={"name": "large", **fragments})
    assert response.status_code == 201, response.text
    assert admin.get(f"{MO}/{response.json()['id']}").json()["c8y_F999"] == {"v": 999, "s": "x" * 20}


# --------------------------------------------------------------------------- Basic authentication


@pytest.mark.parametrize(
    "header",
    [
        b"Basic \xe9\xe9\xe9\xe9\xe9\xe9\xe9\xe9",  # latin-1 bytes: Starlette decodes them as latin-1
        b"Basic dDEvYWRtaW46\xff",
        b"Basic " + base64.b64encode(b"t1/adm\x00in:" + ADMIN_PASSWORD.encode()),
        b"Basic " + base64.b64encode(b"t1/admin:\x00"),
        b"Basic " + base64.b64encode("t1/\u00e4dmin:p\u00e4ss".encode()),
        b"Basic " + base64.b64encode("t1/admin:p\u00e4ss".encode("latin-1")),
    ],
)
@pytest.mark.parametrize("path", ["/user/currentUser", "/api/v5/api_key", "/v1/models"])
def test_bad_basic_credentials_are_401(server: ServerThread, header: bytes, path: str) -> None:
    with httpx.Client(base_url=server.url, timeout=30) as client:
        response = client.get(path, headers=[(b"Authorization", header)])
    assert response.status_code == 401, response.text


# --------------------------------------------------------------------------- NUL and over-long keys


NUL_C8Y = [
    "/identity/externalIds/c8y_Serial/a%00b",
    "/identity/externalIds/c8y%00Serial/ab",
    "/devicecontrol/newDeviceRequests/a%00b",
    "/tenant/tenants/t1/trusted-certificates/a%00b",
    "/tenant/tenants/t%001/trusted-certificates",
    "/inventory/managedObjects?fragmentType=a%00b",
    "/inventory/managedObjects?type=a%00b",
    "/inventory/managedObjects?query=name%20eq%20%27a%00b%27",
    "/devicecontrol/operations?fragmentType=a%00b",
    "/measurement/measurements?fragmentType=a%00b",
    "/alarm/alarms?type=a%00b",
]


@pytest.mark.parametrize("url", NUL_C8Y)
def test_nul_in_cumulocity_urls_is_422(admin: httpx.Client, url: str) -> None:
    api = url.split("/")[1].split("?")[0]
    c8y_error(admin.get(url), 422, f"{api}/Unprocessable Entity", "NUL")


@pytest.mark.parametrize(
    ("method", "url"),
    [
        ("GET", USERS + "/a%00b"),
        ("DELETE", USERS + "/a%00b"),
        ("GET", "/api/v5/api_key/a%00b"),
        ("DELETE", "/api/v5/api_key/a%00b"),
        ("GET", "/api/v5/authorization/sources/built_in_database/rules/users/a%00b"),
        ("GET", USERS + "?like_user_id=a%00b"),
    ],
)
def test_nul_in_emqx_urls_is_400(admin: httpx.Client, method: str, url: str) -> None:
    emqx_error(admin.request(method, url), "NUL")


@pytest.mark.parametrize("url", ["/v1/models/a%00b", "/v1/devices/a%00b/commands", "/v1/models?x=%00"])
def test_nul_in_xyte_urls_is_422(admin: httpx.Client, url: str) -> None:
    xyte_error(admin.get(url), "NUL")


@pytest.mark.parametrize(
    ("url", "body"),
    [
        ("/devicecontrol/newDeviceRequests", {"id": "a\u0000b"}),
        (MO, {"name": "n", "type": "a\u0000b"}),
        (USERS, {"user_id": "a\u0000b", "password": "p"}),
        ("/api/v5/api_key", {"name": "a\u0000b"}),
        ("/v1/models", {"name": "a\u0000b", "communication_protocol": "mqtt"}),
    ],
)
def test_nul_in_bodies_is_4xx(admin: httpx.Client, url: str, body: dict[str, Any]) -> None:
    response = admin.post(url, json=body)
    assert response.status_code in (400, 422), response.text
    assert "NUL" in response.text


def test_over_long_keys_are_422(admin: httpx.Client) -> None:
    mo = admin.post(MO, json={"name": "keys"}).json()
    ids = f"/identity/globalIds/{mo['id']}/externalIds"
    long = "x" * 256
    c8y_error(
        admin.post(ids, json={"type": long, "externalId": "e"}), 422, "identity/Unprocessable Entity", "255"
    )
    c8y_error(
        admin.post(ids, json={"type": "c8y_Serial", "externalId": "e" * 1025}),
        422,
        "identity/Unprocessable Entity",
        "1024",
    )
    c8y_error(admin.get(f"/identity/externalIds/{long}/e"), 422, "identity/Unprocessable Entity", "255")
    c8y_error(
        admin.get(f"/identity/externalIds/c8y_Serial/{'e' * 1025}"),
        422,
        "identity/Unprocessable Entity",
        "1024",
    )
    c8y_error(admin.post(MO, json={"type": long}), 422, "inventory/Unprocessable Entity", "255")
    c8y_error(admin.post(MO, json={"name": "o", "owner": long}), 422, "inventory/Unprocessable Entity", "255")
    # at the limits the values are stored and found
    assert admin.post(ids, json={"type": "t" * 255, "externalId": "e" * 1024}).status_code == 201
    assert (
        admin.get(f"/identity/externalIds/{'t' * 255}/{'e' * 1024}").json()["managedObject"]["id"] == mo["id"]
    )


# --------------------------------------------------------------------------- 500 keeps the connection


@pytest.fixture
def broken(server: ServerThread, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """One service call per API family raises an unexpected exception."""

    async def boom(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("injected failure")

    platform = server.platform
    monkeypatch.setattr(platform.services.inventory, "get", boom)
    monkeypatch.setattr(platform.services.inventory, "read", boom)  # GET by id: the object and its references
    monkeypatch.setattr(platform.services.mqtt_users, "get", boom)
    monkeypatch.setattr(platform.services.xyte, "list_models", boom)
    yield


def raw_get(sock: socket.socket, path: str) -> bytes:
    """One keep-alive GET on `sock` and its complete response (the bodies here are small)."""
    auth = base64.b64encode(f"t1/admin:{ADMIN_PASSWORD}".encode()).decode()
    sock.sendall(f"GET {path} HTTP/1.1\r\nHost: t\r\nAuthorization: Basic {auth}\r\n\r\n".encode())
    data = b""
    while b"\r\n\r\n" not in data:
        data += sock.recv(65536)
    head, _, body = data.partition(b"\r\n\r\n")
    length = next(
        int(line.split(b":")[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length")
    )
    while len(body) < length:
        chunk = sock.recv(65536)
        assert chunk, "connection closed"
        body += chunk
    assert b"connection: close" not in head.lower()
    return head.split(b" ", 2)[1] + b" " + body


@pytest.mark.usefixtures("broken")
def test_unexpected_exception_is_500_on_the_same_connection(
    server: ServerThread, caplog: pytest.LogCaptureFixture
) -> None:
    host, port = server.url.removeprefix("http://").rsplit(":", 1)
    caplog.set_level(logging.ERROR)
    with socket.create_connection((host, int(port)), timeout=30) as sock:
        c8y = raw_get(sock, f"{MO}/1")
        assert c8y.startswith(b"500 ") and b'"general/Internal Server Error"' in c8y
        emqx = raw_get(sock, USERS + "/someone")
        assert emqx.startswith(b"500 ") and b'"INTERNAL_ERROR"' in emqx
        xyte = raw_get(sock, "/v1/models")
        assert xyte.startswith(b"500 ") and b'"internal_server_error"' in xyte
        assert raw_get(sock, "/health").startswith(b"200 ")  # still the same connection
    tracebacks = [r for r in caplog.records if r.exc_info is not None]
    assert len(tracebacks) == 3, [r.getMessage() for r in tracebacks]  # once per failure
    assert all("injected failure" in str(r.exc_info[1]) for r in tracebacks if r.exc_info)
