"""/api/v5/api_key with httpx, on both backends, and API keys as HTTP Basic credentials (`key:secret`)."""

from __future__ import annotations

import httpx
from tests.support import ServerThread, unique

KEYS = "/api/v5/api_key"
USERS = "/api/v5/authentication/password_based:built_in_database/users"


def test_create_list_get_update_revoke(admin: httpx.Client, server: ServerThread) -> None:
    name = unique("key")
    created = admin.post(
        KEYS, json={"name": name, "desc": "for CI", "enable": True, "expired_at": "infinity"}
    )
    assert created.status_code == 200
    body = created.json()
    assert body["name"] == name and body["desc"] == "for CI" and body["enable"] is True
    assert body["expired_at"] == "infinity" and body["expired"] is False and body["role"] == "administrator"
    key, secret = body["api_key"], body["api_secret"]
    assert key.startswith("tak_") and len(secret) >= 32
    # The secret is shown once.
    assert "api_secret" not in admin.get(f"{KEYS}/{name}").json()
    assert name in [k["name"] for k in admin.get(KEYS).json()]
    assert all("api_secret" not in k for k in admin.get(KEYS).json())
    # The key is an administrator of its tenant over HTTPS: the Cumulocity API and /api/v5.
    with httpx.Client(base_url=server.url, auth=(key, secret)) as client:
        assert client.get("/inventory/managedObjects").status_code == 200
        assert client.get("/tenant/currentTenant").json()["name"] == "t1"
        user_id = unique("viakey")
        assert client.post(USERS, json={"user_id": user_id, "password": "pw"}).status_code == 201
        # ...but not of the keys themselves (EMQX: 401 API_KEY_NOT_ALLOW).
        refused = client.get(KEYS)
        assert refused.status_code == 401 and refused.json()["code"] == "API_KEY_NOT_ALLOW"
        assert client.post(KEYS, json={"name": unique("k")}).json()["code"] == "API_KEY_NOT_ALLOW"
        # Disabled: refused.
        disabled = admin.put(f"{KEYS}/{name}", json={"enable": False, "desc": "paused"})
        assert disabled.status_code == 200 and disabled.json()["enable"] is False
        assert disabled.json()["desc"] == "paused"
        assert client.get("/inventory/managedObjects").status_code == 401
        assert admin.put(f"{KEYS}/{name}", json={"enable": True}).status_code == 200
        assert client.get("/inventory/managedObjects").status_code == 200
        # Expired: refused.
        expired = admin.put(f"{KEYS}/{name}", json={"expired_at": "2020-01-01T00:00:00Z"})
        assert expired.json()["expired"] is True
        assert client.get("/inventory/managedObjects").status_code == 401
        assert admin.put(f"{KEYS}/{name}", json={"expired_at": "infinity"}).json()["expired"] is False
        assert client.get("/inventory/managedObjects").status_code == 200
        # Revoked: refused.
        assert admin.delete(f"{KEYS}/{name}").status_code == 204
        assert client.get("/inventory/managedObjects").status_code == 401
    assert admin.get(f"{KEYS}/{name}").json() == {"code": "NOT_FOUND", "message": "Name NOT FOUND"}
    # A wrong secret is refused in both API families' terms.
    assert httpx.get(server.url + "/inventory/managedObjects", auth=(key, "x")).status_code == 401
    assert httpx.get(server.url + USERS, auth=(key, "x")).json()["code"] == "BAD_USERNAME_OR_PWD"


def test_expiry_in_the_future_and_epoch_seconds(admin: httpx.Client) -> None:
    name = unique("later")
    body = admin.post(KEYS, json={"name": name, "expired_at": "2099-01-01T00:00:00Z"}).json()
    assert body["expired_at"] == "2099-01-01T00:00:00.000Z" and body["expired"] is False
    body = admin.put(f"{KEYS}/{name}", json={"expired_at": 4102444800}).json()
    assert body["expired_at"] == "2100-01-01T00:00:00.000Z"


def test_errors(admin: httpx.Client) -> None:
    name = unique("dup")
    assert admin.post(KEYS, json={"name": name}).status_code == 200
    duplicate = admin.post(KEYS, json={"name": name})
    assert duplicate.status_code == 400 and duplicate.json()["code"] == "BAD_REQUEST"
    for body in (
        {},
        {"name": "1starts-with-a-digit"},
        {"name": "has space"},
        {"name": "x" * 257},
        {"name": unique(), "enable": "yes"},
        {"name": unique(), "desc": 5},
        {"name": unique(), "expired_at": "tomorrow"},
        {"name": unique(), "role": "superuser"},
    ):
        response = admin.post(KEYS, json=body)
        assert response.status_code == 400, body
        assert response.json()["code"] == "BAD_REQUEST"
    assert admin.put(f"{KEYS}/nothing-{name}", json={"enable": False}).status_code == 404
    assert admin.delete(f"{KEYS}/nothing-{name}").status_code == 404


def test_keys_are_per_tenant(admin: httpx.Client, server: ServerThread) -> None:
    from tether.tenants.models import Role

    tenant = unique("t")
    server.call(server.platform.services.tenants.create_tenant(tenant))
    server.call(server.platform.services.tenants.create_user(tenant, "boss", "boss-pw", {Role.ADMIN}))
    name = unique("mine")
    assert admin.post(KEYS, json={"name": name}).status_code == 200
    with httpx.Client(base_url=server.url, auth=(f"{tenant}/boss", "boss-pw")) as other:
        assert other.get(f"{KEYS}/{name}").status_code == 404
        assert name not in [k["name"] for k in other.get(KEYS).json()]
        key = other.post(KEYS, json={"name": name}).json()  # the same name in another tenant
    with httpx.Client(base_url=server.url, auth=(key["api_key"], key["api_secret"])) as client:
        assert client.get("/tenant/currentTenant").json()["name"] == tenant
