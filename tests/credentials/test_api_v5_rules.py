"""/api/v5/authorization/sources/built_in_database/rules/{users,clients,all} with httpx, on both backends,
in EMQX 5's shapes (emqx_authz_api_mnesia)."""

from __future__ import annotations

import httpx
import pytest
from tests.support import unique

RULES = "/api/v5/authorization/sources/built_in_database/rules"
RULE = {"topic": "t/1", "permission": "allow", "action": "publish"}
FULL = {"topic": "t/1", "permission": "allow", "action": "publish", "qos": [0, 1, 2], "retain": "all"}


@pytest.mark.parametrize(("path", "key"), [("users", "username"), ("clients", "clientid")])
def test_rule_sets_lifecycle(admin: httpx.Client, path: str, key: str) -> None:
    a, b = unique("a"), unique("b")
    rules_b = [
        {"topic": "eq x/#", "permission": "deny", "action": "subscribe", "qos": [1], "retain": True},
        {"topic": "y/${clientid}", "permission": "allow", "action": "all", "qos": 2, "retain": False},
    ]
    created = admin.post(f"{RULES}/{path}", json=[{key: a, "rules": [RULE]}, {key: b, "rules": rules_b}])
    assert created.status_code == 204 and created.content == b""
    assert admin.get(f"{RULES}/{path}/{a}").json() == {key: a, "rules": [FULL]}
    assert admin.get(f"{RULES}/{path}/{b}").json()["rules"] == [
        {"topic": "eq x/#", "permission": "deny", "action": "subscribe", "qos": [1], "retain": True},
        {"topic": "y/${clientid}", "permission": "allow", "action": "all", "qos": [2], "retain": False},
    ]
    listed = admin.get(f"{RULES}/{path}", params={f"like_{key}": a}).json()
    assert listed == {
        "data": [{key: a, "rules": [FULL]}],
        "meta": {"page": 1, "limit": 100, "count": 1, "hasnext": False},
    }
    # Creating rules for a subject that has some is refused, and nothing of that request is stored.
    c = unique("c")
    conflict = admin.post(f"{RULES}/{path}", json=[{key: c, "rules": []}, {key: a, "rules": []}])
    assert conflict.status_code == 409 and conflict.json()["code"] == "ALREADY_EXISTS"
    assert a in conflict.json()["message"]
    assert admin.get(f"{RULES}/{path}/{c}").status_code == 404
    # PUT replaces; DELETE removes.
    put = admin.put(f"{RULES}/{path}/{a}", json={key: a, "rules": rules_b[:1]})
    assert put.status_code == 204
    assert admin.get(f"{RULES}/{path}/{a}").json()["rules"][0]["topic"] == "eq x/#"
    assert admin.delete(f"{RULES}/{path}/{a}").status_code == 204
    gone = admin.get(f"{RULES}/{path}/{a}")
    assert gone.status_code == 404 and gone.json() == {"code": "NOT_FOUND", "message": "Not Found"}
    assert admin.delete(f"{RULES}/{path}/{a}").status_code == 404


def test_rules_for_all(admin: httpx.Client) -> None:
    assert admin.delete(f"{RULES}/all").status_code == 204
    assert admin.get(f"{RULES}/all").json() == {"rules": []}
    assert admin.post(f"{RULES}/all", json={"rules": [RULE]}).status_code == 204
    assert admin.get(f"{RULES}/all").json() == {"rules": [FULL]}
    assert admin.post(f"{RULES}/all", json={"rules": []}).status_code == 204
    assert admin.get(f"{RULES}/all").json() == {"rules": []}
    assert admin.delete(f"{RULES}/all").status_code == 204


@pytest.mark.parametrize(
    "rule",
    [
        {"permission": "allow", "action": "publish"},
        {"topic": "a/#/b", "permission": "allow", "action": "publish"},
        {"topic": "a", "permission": "maybe", "action": "publish"},
        {"topic": "a", "permission": "allow", "action": "read"},
        {"topic": "a", "permission": "allow", "action": "all", "qos": [3]},
        {"topic": "a", "permission": "allow", "action": "all", "qos": []},
        {"topic": "a", "permission": "allow", "action": "all", "retain": "sometimes"},
        {"topic": "a", "permission": "allow", "action": "all", "colour": "red"},
        "a rule",
    ],
)
def test_bad_rules(admin: httpx.Client, rule: object) -> None:
    response = admin.post(f"{RULES}/users", json=[{"username": unique(), "rules": [rule]}])
    assert response.status_code == 400
    assert response.json()["code"] == "BAD_REQUEST"
    assert admin.post(f"{RULES}/all", json={"rules": [rule]}).status_code == 400


def test_bad_bodies(admin: httpx.Client) -> None:
    name = unique()
    cases = [
        (f"{RULES}/users", {"username": name, "rules": []}),  # an object, not an array
        (f"{RULES}/users", [{"rules": []}]),
        (f"{RULES}/users", [{"username": name}]),
        (f"{RULES}/clients", [{"username": name, "rules": []}]),
        (f"{RULES}/users", [{"username": name, "rules": "all"}]),
        (f"{RULES}/users", [{"username": name, "rules": []}, {"username": name, "rules": []}]),
        (f"{RULES}/users", [{"username": name, "rules": [RULE] * 101}]),
        (f"{RULES}/all", {"nothing": []}),
        (f"{RULES}/all", [RULE]),
    ]
    for path, body in cases:
        response = admin.post(path, json=body)
        assert response.status_code == 400, body
        assert response.json()["code"] == "BAD_REQUEST"
    mismatch = admin.put(f"{RULES}/users/{name}", json={"username": "someone-else", "rules": []})
    assert mismatch.status_code == 400
    assert admin.get(f"{RULES}/users", params={"limit": 10001}).json()["code"] == "INVALID_PARAMETER"
