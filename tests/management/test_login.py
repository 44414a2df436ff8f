"""POST /api/v5/login (bearer tokens on every /api/v5 endpoint), /logout, GET /api/v5/status and the API key
roles (administrator, viewer), with httpx against a running server on both backends."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from tests.support import ADMIN_PASSWORD, ServerThread, backends, start_server, unique

from tether.tenants.models import Role
from tether.tenants.passwords import generate_password

KEYS = "/api/v5/api_key"
USERS = "/api/v5/authentication/password_based:built_in_database/users"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def login(server: ServerThread, username: str, password: str) -> httpx.Response:
    return httpx.post(server.url + "/api/v5/login", json={"username": username, "password": password})


def test_login_gives_a_bearer_token(server: ServerThread) -> None:
    answer = login(server, "admin", ADMIN_PASSWORD)  # plain user: the default tenant
    assert answer.status_code == 200
    body = answer.json()
    assert body["role"] == "administrator" and body["license"] == {"edition": "opensource"}
    assert isinstance(body["version"], str) and body["token"].count(".") == 2
    with httpx.Client(base_url=server.url, headers=bearer(body["token"])) as client:
        assert client.get(USERS).status_code == 200
        assert client.get(KEYS).status_code == 200  # a user's token may manage keys
        assert client.get("/api/v5/stats").status_code == 200
        # The Cumulocity API takes them too (the web console's session, api/auth.py), real-time included.
        assert client.get("/inventory/managedObjects").status_code == 200
        handshake = [
            {"channel": "/meta/handshake", "version": "1.0", "supportedConnectionTypes": ["long-polling"]}
        ]
        answer = client.post("/notification/realtime", json=handshake)
        assert answer.status_code == 200 and answer.json()[0]["successful"] is True
        assert client.get("/api/v1/things").status_code == 200  # and Fleets, as before
        user_id = unique("bytoken")
        assert client.post(USERS, json={"user_id": user_id, "password": "pw"}).status_code == 201
        # Logged out: refused.
        assert client.post("/api/v5/logout", json={"username": "admin"}).status_code == 204
        refused = client.get(USERS)
        assert refused.status_code == 401 and refused.json()["code"] == "BAD_TOKEN"
        # ... and refuses them once logged out, in its own error body and words.
        refused = client.get("/inventory/managedObjects")
        assert refused.status_code == 401 and refused.json()["error"] == "security/Unauthorized"
        assert refused.json()["message"] == "Logged out: get a new token by POST /login"


def test_a_token_acts_in_its_tenant_only(server: ServerThread) -> None:
    tenants = server.platform.services.tenants
    tenant = unique("tok").lower()
    password = generate_password()
    server.call(tenants.create_tenant(tenant))
    server.call(tenants.create_user(tenant, "boss", password, {Role.ADMIN}, generated=True))
    token = login(server, f"{tenant}/boss", password).json()["token"]
    with httpx.Client(base_url=server.url, headers=bearer(token)) as client:
        name = unique("k")
        assert client.post(KEYS, json={"name": name}).status_code == 200
        assert [k["name"] for k in client.get(KEYS).json()] == [name]
    with httpx.Client(base_url=server.url, auth=("t1/admin", ADMIN_PASSWORD)) as admin:
        assert name not in [k["name"] for k in admin.get(KEYS).json()]


def test_refused_logins_and_tokens(server: ServerThread) -> None:
    wrong = login(server, "t1/admin", "wrong")
    assert wrong.status_code == 401 and wrong.json() == {
        "code": "BAD_USERNAME_OR_PWD",
        "message": "Auth failed",
    }
    assert login(server, "t1/nobody", "x").json()["code"] == "BAD_USERNAME_OR_PWD"
    for body in ({}, {"username": "admin"}, {"username": 5, "password": "x"}):
        answer = httpx.post(server.url + "/api/v5/login", json=body)
        assert answer.status_code == 400 and answer.json()["code"] == "BAD_REQUEST", body
    # A device gets no token (a person with fewer rights does: tests/api/test_roles_enforced.py).
    tenants = server.platform.services.tenants
    serial = unique("SER")
    password = generate_password()
    server.call(tenants.create_user("t1", f"device_{serial}", password, {Role.DEVICE}, generated=True))
    device = login(server, f"t1/device_{serial}", password)
    assert device.status_code == 403 and device.json()["code"] == "UNAUTHORIZED_ROLE"
    # Tampered, foreign and expired tokens.
    token = login(server, "t1/admin", ADMIN_PASSWORD).json()["token"]
    for bad in (token[:-2] + ("AA" if not token.endswith("AA") else "BB"), "not.a.token", "x"):
        answer = httpx.get(server.url + USERS, headers=bearer(bad))
        assert answer.status_code == 401 and answer.json()["code"] == "BAD_TOKEN", bad
    tokens = server.platform.services.tokens
    tokens.lifetime = -10
    try:
        expired = login(server, "t1/admin", ADMIN_PASSWORD).json()["token"]
    finally:
        tokens.lifetime = tokens.LIFETIME_SECONDS
    answer = httpx.get(server.url + USERS, headers=bearer(expired))
    assert answer.status_code == 401 and answer.json()["code"] == "TOKEN_TIME_OUT"
    # Logout takes a token, not Basic credentials.
    basic = httpx.post(server.url + "/api/v5/logout", auth=("t1/admin", ADMIN_PASSWORD))
    assert basic.status_code == 400 and basic.json()["code"] == "BAD_REQUEST"


def test_a_changed_password_ends_the_tokens(server: ServerThread) -> None:
    tenants = server.platform.services.tenants
    name = unique("ops")
    password = generate_password()
    server.call(tenants.create_user("t1", name, password, {Role.ADMIN}, generated=True))
    token = login(server, f"t1/{name}", password).json()["token"]
    assert httpx.get(server.url + USERS, headers=bearer(token)).status_code == 200
    assert server.call(tenants.set_password("t1", name, generate_password()))
    tokens = server.platform.services.tokens
    time.sleep(tokens.CACHE_SECONDS)  # the verified user record is reused this long
    answer = httpx.get(server.url + USERS, headers=bearer(token))
    assert answer.status_code == 401 and answer.json()["code"] == "BAD_TOKEN"


def test_status(server: ServerThread) -> None:
    text = httpx.get(server.url + "/api/v5/status")
    assert text.status_code == 200 and text.headers["content-type"].startswith("text/plain")
    assert text.text.startswith("Node tether@") and "is started" in text.text
    body = httpx.get(server.url + "/api/v5/status", params={"format": "json"}).json()
    assert body["broker_status"] == "started" and body["app_status"] == "running"
    assert body["node_name"].startswith("tether@") and body["rel_vsn"]


def test_a_viewer_key_may_only_read(server: ServerThread) -> None:
    with httpx.Client(base_url=server.url, auth=("t1/admin", ADMIN_PASSWORD)) as admin:
        name = unique("view")
        created = admin.post(KEYS, json={"name": name, "role": "viewer"}).json()
        assert created["role"] == "viewer" and admin.get(f"{KEYS}/{name}").json()["role"] == "viewer"
        key = (created["api_key"], created["api_secret"])
        with httpx.Client(base_url=server.url, auth=key) as viewer:
            assert viewer.get(USERS).status_code == 200
            assert viewer.get("/api/v5/stats").status_code == 200
            assert viewer.get("/inventory/managedObjects").status_code == 200
            refused = viewer.post(USERS, json={"user_id": unique("no"), "password": "pw"})
            assert refused.status_code == 403 and refused.json()["code"] == "UNAUTHORIZED_ROLE"
            assert viewer.delete(f"{USERS}/anyone").json()["code"] == "UNAUTHORIZED_ROLE"
            assert viewer.post("/inventory/managedObjects", json={"name": "x"}).status_code == 403
            # Made an administrator: it may write.
            assert (
                admin.put(f"{KEYS}/{name}", json={"role": "administrator"}).json()["role"] == "administrator"
            )
            assert viewer.post(USERS, json={"user_id": unique("yes"), "password": "pw"}).status_code == 201
        refused = admin.put(f"{KEYS}/{name}", json={"role": "superuser"})
        assert refused.status_code == 400 and refused.json()["code"] == "BAD_REQUEST"


@pytest.fixture(params=backends())
def restartable(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[list[ServerThread]]:
    servers = [start_server(request.param, tmp_path)]
    yield servers
    servers[-1].stop()


def test_tokens_and_logouts_outlive_a_restart(restartable: list[ServerThread]) -> None:
    server = restartable[0]
    kept = login(server, "admin", ADMIN_PASSWORD).json()["token"]
    ended = login(server, "admin", ADMIN_PASSWORD).json()["token"]
    assert httpx.post(server.url + "/api/v5/logout", headers=bearer(ended)).status_code == 204
    server.stop()
    again = ServerThread(server.server.settings).start()
    restartable.append(again)
    assert httpx.get(again.url + USERS, headers=bearer(kept)).status_code == 200
    refused = httpx.get(again.url + USERS, headers=bearer(ended))
    assert refused.status_code == 401 and refused.json()["code"] == "BAD_TOKEN"
