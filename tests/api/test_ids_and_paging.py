"""One parser for ids and one for paging bounds (docs/security.md, HTTP input limits): every case that
answered 500 before gets a 4xx or an empty page now, on both backends; and the parsers themselves, with
hypothesis."""

from __future__ import annotations

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tether.core.ids import MAX_ID, MAX_INT, MIN_INT, parse_id, parse_int

HUGE = "9223372036854775807"  # int64 max: as a page number its offset overflows the stores
LAST_PAGE = (
    "/inventory/managedObjects",
    "/measurement/measurements",
    "/event/events",
    "/alarm/alarms",
    "/devicecontrol/operations",
    "/devicecontrol/newDeviceRequests",
)


@pytest.mark.parametrize("path", LAST_PAGE)
def test_a_page_past_the_end_is_empty(admin: httpx.Client, path: str) -> None:
    response = admin.get(path, params={"currentPage": HUGE, "pageSize": 2000})
    assert response.status_code == 200, response.text
    assert response.json()["statistics"]["currentPage"] == int(HUGE)
    assert all(not value for key, value in response.json().items() if isinstance(value, list))


@pytest.mark.parametrize("page", ["92233720368547758070", "³", "1e3", " 1", "+1"])
def test_page_numbers_beyond_64_bits_or_not_ascii_are_422(admin: httpx.Client, page: str) -> None:
    response = admin.get("/alarm/alarms", params={"currentPage": page})
    assert response.status_code == 422, response.text
    assert "currentPage" in response.json()["message"]


def test_emqx_paging_bounds(admin: httpx.Client) -> None:
    users = "/api/v5/authentication/password_based:built_in_database/users"
    assert admin.get(users, params={"page": HUGE, "limit": 10_000}).json()["data"] == []
    for page in ("99999999999999999999", "³", "0"):
        response = admin.get(users, params={"page": page})
        assert response.status_code == 400 and response.json()["code"] == "INVALID_PARAMETER", response.text


@pytest.mark.parametrize(
    ("method", "path", "body", "status"),
    [
        ("GET", "/devicecontrol/operations?agentId=%C2%B3", None, 200),  # names no object: nothing matches
        ("GET", "/devicecontrol/operations?deviceId=%C2%B3", None, 200),
        ("POST", "/devicecontrol/operations", {"deviceId": "³", "c8y_Restart": {}}, 422),
        ("POST", "/devicecontrol/operations", {"deviceId": "9" * 20, "c8y_Restart": {}}, 422),
        ("POST", "/inventory/managedObjects/{mo}/childDevices", {"managedObject": {"id": "³"}}, 422),
        ("POST", "/inventory/managedObjects/{mo}/childDevices", {"managedObject": {"id": "9" * 20}}, 422),
        ("POST", "/inventory/managedObjects/{mo}/childAssets", {"managedObject": {"id": 2**70}}, 422),
        ("GET", "/inventory/managedObjects?query=$filter=(bygroupid(³))", None, 200),
        ("GET", "/inventory/managedObjects?query=$filter=(id eq 99999999999999999999999)", None, 200),
        ("GET", "/inventory/managedObjects?query=c8y_X.v eq 99999999999999999999", None, 200),
        ("GET", "/inventory/managedObjects?query=c8y_X.v gt -99999999999999999999", None, 200),
        ("GET", "/inventory/managedObjects?ids=³,1", None, 422),
        ("GET", "/inventory/managedObjects?childDeviceId=99999999999999999999999", None, 422),
        ("GET", "/inventory/managedObjects/99999999999999999999999", None, 404),
        ("GET", "/inventory/managedObjects/%C2%B3", None, 404),
        ("GET", "/measurement/measurements?source=%C2%B3", None, 422),
    ],
)
def test_ids_that_name_nothing(
    admin: httpx.Client, method: str, path: str, body: object, status: int
) -> None:
    if "{mo}" in path:
        mo = admin.post("/inventory/managedObjects", json={"name": "parent"}).json()["id"]
        path = path.replace("{mo}", mo)
    response = admin.request(method, path, json=body)
    assert response.status_code == status, response.text
    if status == 200:
        assert all(not value for value in response.json().values() if isinstance(value, list))


@given(st.one_of(st.text(max_size=25), st.integers(min_value=-(2**70), max_value=2**70), st.booleans()))
def test_parse_id_accepts_exactly_ascii_ids_within_63_bits(raw: object) -> None:
    value = parse_id(raw)
    if value is None:
        return
    assert 0 <= value <= MAX_ID
    assert not isinstance(raw, bool)
    assert isinstance(raw, int) or (isinstance(raw, str) and raw.isascii() and int(raw) == value)


@given(st.integers(min_value=-(2**70), max_value=2**70))
def test_parse_int_round_trips_within_64_bits(number: int) -> None:
    assert parse_int(str(number)) == (number if MIN_INT <= number <= MAX_INT else None)


@given(st.text(max_size=25))
def test_parse_int_reads_only_ascii_digits(raw: str) -> None:
    value = parse_int(raw)
    if value is not None:
        assert raw.isascii() and int(raw) == value
