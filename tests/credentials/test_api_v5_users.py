"""/api/v5/authentication/password_based:built_in_database/users with httpx, on both backends."""

from __future__ import annotations

import httpx
from tests.support import ServerThread, unique

USERS = "/api/v5/authentication/password_based:built_in_database/users"


def test_create_get_update_delete(admin: httpx.Client) -> None:
    user_id = unique("u")
    created = admin.post(USERS, json={"user_id": user_id, "password": "secret", "is_superuser": True})
    assert created.status_code == 201
    assert created.json() == {"user_id": user_id, "is_superuser": True}
    assert admin.get(f"{USERS}/{user_id}").json() == {"user_id": user_id, "is_superuser": True}
    updated = admin.put(f"{USERS}/{user_id}", json={"is_superuser": False})
    assert updated.status_code == 200 and updated.json() == {"user_id": user_id, "is_superuser": False}
    assert admin.put(f"{USERS}/{user_id}", json={"password": "other"}).status_code == 200
    assert admin.delete(f"{USERS}/{user_id}").status_code == 204
    missing = admin.get(f"{USERS}/{user_id}")
    assert missing.status_code == 404
    assert missing.json() == {"code": "NOT_FOUND", "message": "User not found"}
    # The authenticator id may be percent-encoded, as EMQX's dashboard sends it.
    assert admin.get("/api/v5/authentication/password_based%3Abuilt_in_database/users").status_code == 200


def test_list_pages_and_filters(admin: httpx.Client) -> None:
    prefix = unique("page")
    for i in range(5):
        body = {"user_id": f"{prefix}-{i}", "password": "pw", "is_superuser": i == 0}
        assert admin.post(USERS, json=body).status_code == 201
    first = admin.get(USERS, params={"like_user_id": prefix, "limit": 2}).json()
    assert [u["user_id"] for u in first["data"]] == [f"{prefix}-0", f"{prefix}-1"]
    assert first["meta"] == {"page": 1, "limit": 2, "count": 5, "hasnext": True}
    last = admin.get(USERS, params={"like_user_id": prefix, "limit": 2, "page": 3}).json()
    assert [u["user_id"] for u in last["data"]] == [f"{prefix}-4"]
    assert last["meta"]["hasnext"] is False
    supers = admin.get(USERS, params={"like_user_id": prefix, "is_superuser": "true"}).json()
    assert supers["data"] == [{"user_id": f"{prefix}-0", "is_superuser": True}]


def test_errors(admin: httpx.Client, server: ServerThread) -> None:
    user_id = unique("dup")
    assert admin.post(USERS, json={"user_id": user_id, "password": "pw"}).status_code == 201
    duplicate = admin.post(USERS, json={"user_id": user_id, "password": "pw"})
    assert duplicate.status_code == 409
    assert duplicate.json() == {"code": "ALREADY_EXISTS", "message": "User already exists"}
    cases = [
        ({"password": "pw"}, "Missing required parameter: user_id"),
        ({"user_id": unique()}, "Missing required parameter: password"),
        ({"user_id": "a/b", "password": "pw"}, None),
        ({"user_id": unique(), "password": ""}, None),
        ({"user_id": unique(), "password": "pw", "is_superuser": "yes"}, None),
        ({"user_id": 5, "password": "pw"}, None),
    ]
    for body, message in cases:
        response = admin.post(USERS, json=body)
        assert response.status_code == 400, body
        assert response.json()["code"] == "BAD_REQUEST"
        if message:
            assert response.json()["message"] == message
    assert (
        admin.post(USERS, content=b"[1", headers={"content-type": "application/json"}).json()["code"]
        == "BAD_REQUEST"
    )
    assert admin.put(f"{USERS}/{user_id}", json={}).status_code == 400
    assert admin.put(f"{USERS}/nobody-{user_id}", json={"password": "x"}).status_code == 404
    assert admin.delete(f"{USERS}/nobody-{user_id}").json() == {
        "code": "NOT_FOUND",
        "message": "User not found",
    }
    assert admin.get(USERS, params={"limit": 0}).json() == {
        "code": "INVALID_PARAMETER",
        "message": "page_limit_invalid",
    }
    assert admin.get(USERS, params={"page": "x"}).status_code == 400
    assert admin.patch(USERS).json()["code"] == "METHOD_NOT_ALLOWED"
    # Authentication: none, wrong, and a device (not an administrator).
    anonymous = httpx.get(server.url + USERS)
    assert anonymous.status_code == 401 and anonymous.json()["code"] == "AUTHORIZATION_HEADER_ERROR"
    wrong = httpx.get(server.url + USERS, auth=("t1/admin", "wrong"))
    assert wrong.status_code == 401 and wrong.json()["code"] == "BAD_USERNAME_OR_PWD"


def test_users_are_per_tenant(admin: httpx.Client, server: ServerThread) -> None:
    from tether.tenants.models import Role

    tenant = unique("t")
    server.call(server.platform.services.tenants.create_tenant(tenant))
    server.call(server.platform.services.tenants.create_user(tenant, "boss", "boss-pw", {Role.ADMIN}))
    server.call(server.platform.services.tenants.create_user("t1", unique("dev"), "dev-pw", {Role.DEVICE}))
    user_id = unique("mine")
    assert admin.post(USERS, json={"user_id": user_id, "password": "pw"}).status_code == 201
    with httpx.Client(base_url=server.url, auth=(f"{tenant}/boss", "boss-pw")) as other:
        assert other.get(f"{USERS}/{user_id}").status_code == 404
        assert other.get(USERS).json()["data"] == []
        assert other.post(USERS, json={"user_id": user_id, "password": "pw"}).status_code == 201
    assert admin.get(f"{USERS}/{user_id}").status_code == 200


def test_devices_may_not_manage_users(server: ServerThread) -> None:
    from tether.tenants.models import Role

    name = unique("dev")
    server.call(server.platform.services.tenants.create_user("t1", name, "dev-pw", {Role.DEVICE}))
    forbidden = httpx.get(server.url + USERS, auth=(f"t1/{name}", "dev-pw"))
    assert forbidden.status_code == 403
    assert forbidden.json() == {"code": "UNAUTHORIZED_ROLE", "message": "Access is denied"}
