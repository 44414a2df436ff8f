"""Bad input gets a 4xx with an error body, never a 500, and stores nothing."""

from __future__ import annotations

import httpx
import pytest

MO = "/inventory/managedObjects"


def count(admin: httpx.Client) -> int:
    stats = admin.get(MO, params={"pageSize": 1, "withTotalElements": "true"}).json()["statistics"]
    total: int = stats["totalElements"]
    return total


def assert_error(response: httpx.Response, status: int, error: str) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["error"] == error
    assert isinstance(body["message"], str) and body["message"]
    assert "info" in body


@pytest.mark.parametrize(
    ("content", "content_type", "status", "error"),
    [
        (b'{"name": "x"', "application/json", 400, "inventory/Bad Request"),
        (b"", "application/json", 400, "inventory/Bad Request"),
        (b"\xff\xfe", "application/json", 400, "inventory/Bad Request"),
        (b"[1, 2]", "application/json", 422, "inventory/Unprocessable Entity"),
        (b'"text"', "application/json", 422, "inventory/Unprocessable Entity"),
        (b'{"name": 5}', "application/json", 422, "inventory/Unprocessable Entity"),
        (b'{"type": {"a": 1}}', "application/json", 422, "inventory/Unprocessable Entity"),
        (b"name=x", "application/x-www-form-urlencoded", 415, "inventory/Unsupported Media Type"),
    ],
)
def test_bad_create_bodies(
    admin: httpx.Client, content: bytes, content_type: str, status: int, error: str
) -> None:
    before = count(admin)
    response = admin.post(MO, content=content, headers={"Content-Type": content_type})
    assert_error(response, status, error)
    assert count(admin) == before


def test_body_over_the_limit_is_413_and_stores_nothing(admin: httpx.Client) -> None:
    before = count(admin)
    big = b'{"name": "big", "blob": "' + b"x" * (64 * 1024) + b'"}'
    assert_error(
        admin.post(MO, content=big, headers={"Content-Type": "application/json"}),
        413,
        "inventory/Payload Too Large",
    )

    def chunks() -> object:  # no Content-Length: the limit holds while streaming too
        yield big[:1000]
        yield big[1000:]

    streamed = admin.post(MO, content=chunks(), headers={"Content-Type": "application/json"})  # type: ignore[arg-type]
    assert_error(streamed, 413, "inventory/Payload Too Large")
    assert count(admin) == before


def test_bad_update_keeps_the_object(admin: httpx.Client) -> None:
    mo = admin.post(MO, json={"name": "stable", "a": 1}).json()
    url = f"{MO}/{mo['id']}"
    assert_error(
        admin.put(url, content=b"{oops", headers={"Content-Type": "application/json"}),
        400,
        "inventory/Bad Request",
    )
    assert_error(admin.put(url, json={"name": ["list"]}), 422, "inventory/Unprocessable Entity")
    after = admin.get(url).json()
    assert after["name"] == "stable" and after["a"] == 1 and after["lastUpdated"] == mo["lastUpdated"]


@pytest.mark.parametrize("bad_id", ["999999999", "abc", "-1", "1.5", "99999999999999999999999"])
def test_unknown_ids_are_404(admin: httpx.Client, bad_id: str) -> None:
    assert_error(admin.get(f"{MO}/{bad_id}"), 404, "inventory/Not Found")
    assert_error(admin.put(f"{MO}/{bad_id}", json={"a": 1}), 404, "inventory/Not Found")
    assert_error(admin.delete(f"{MO}/{bad_id}"), 404, "inventory/Not Found")
    assert_error(admin.get(f"{MO}/{bad_id}/childDevices"), 404, "inventory/Not Found")
    assert_error(admin.get(f"/identity/globalIds/{bad_id}/externalIds"), 404, "inventory/Not Found")


def test_bad_references(admin: httpx.Client) -> None:
    parent = admin.post(MO, json={"name": "p"}).json()
    url = f"{MO}/{parent['id']}/childDevices"
    assert_error(admin.post(url, json={"managedObject": {"id": "999999999"}}), 404, "inventory/Not Found")
    assert_error(admin.post(url, json={"managedObject": {}}), 422, "inventory/Unprocessable Entity")
    assert_error(admin.post(url, json={"id": parent["id"]}), 422, "inventory/Unprocessable Entity")
    assert_error(
        admin.post(url, json={"managedObject": {"id": parent["id"]}}), 422, "inventory/Unprocessable Entity"
    )
    assert_error(admin.get(f"{MO}/{parent['id']}/childWhatever"), 404, "inventory/Not Found")
    assert admin.get(url).json()["references"] == []


@pytest.mark.parametrize(
    "params",
    [
        {"query": "name eq"},
        {"q": "$filter=(name eq 'x'"},
        {"query": "name eq 'unterminated"},
        {"query": "creationTime gt 'not a date'"},
        {"currentPage": "x"},
        {"pageSize": "0"},
        {"currentPage": "-2"},
        {"ids": "1,x"},
        {"childDeviceId": "abc"},
    ],
)
def test_bad_query_parameters(admin: httpx.Client, params: dict[str, str]) -> None:
    response = admin.get(MO, params=params)
    assert response.status_code in (400, 422), response.text
    assert response.json()["error"].startswith("inventory/")


def test_bad_identity_bodies(admin: httpx.Client) -> None:
    mo = admin.post(MO, json={"name": "x"}).json()
    url = f"/identity/globalIds/{mo['id']}/externalIds"
    for body in ({}, {"type": "c8y_Serial"}, {"type": 1, "externalId": "v"}, {"type": "", "externalId": "v"}):
        assert_error(admin.post(url, json=body), 422, "identity/Unprocessable Entity")
    assert admin.get(url).json()["externalIds"] == []


def test_unknown_path_and_method(admin: httpx.Client) -> None:
    response = admin.get("/no/such/thing")
    assert response.status_code == 404 and response.json()["error"] == "general/Not Found"
    response = admin.patch(MO, json={})
    assert response.status_code == 405 and response.json()["error"] == "general/Method Not Allowed"


def test_nul_characters_and_non_ascii_digits_are_4xx(admin: httpx.Client) -> None:
    before = count(admin)
    response = admin.post(MO, content=b'{"name": "a\\u0000b"}', headers={"Content-Type": "application/json"})
    assert_error(response, 422, "inventory/Unprocessable Entity")
    assert count(admin) == before
    assert_error(admin.get(f"{MO}/\u00b2"), 404, "inventory/Not Found")
    assert_error(admin.get(f"{MO}/\u0663"), 404, "inventory/Not Found")
