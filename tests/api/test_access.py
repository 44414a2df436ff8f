"""Authentication, roles and tenant isolation over HTTP."""

from __future__ import annotations

import httpx
import pytest
from tests.support import ADMIN_PASSWORD, BOOTSTRAP_PASSWORD, ServerThread

from tether.tenants.models import Role


@pytest.fixture(scope="module")
def other_tenant(server: ServerThread) -> tuple[str, str]:
    tenants = server.platform.services.tenants
    server.call(tenants.create_tenant("t2"))
    server.call(tenants.create_user("t2", "admin", "t2-secret", {Role.ADMIN}))
    return ("t2/admin", "t2-secret")


@pytest.fixture(scope="module")
def device_user(server: ServerThread) -> tuple[str, str]:
    server.call(server.platform.services.tenants.create_user("t1", "device_abc", "dev-secret", {Role.DEVICE}))
    return ("t1/device_abc", "dev-secret")


@pytest.mark.parametrize(
    "auth_header",
    [None, "Basic", "Basic !!!notbase64", "Bearer abc", "Basic dDEvYWRtaW4=", "Basic OnBhc3M="],
)
def test_missing_or_malformed_credentials_are_401(server: ServerThread, auth_header: str | None) -> None:
    headers = {"Authorization": auth_header} if auth_header else {}
    response = httpx.get(f"{server.url}/inventory/managedObjects", headers=headers)
    assert response.status_code == 401
    assert response.json()["error"] == "security/Unauthorized"
    assert response.headers["www-authenticate"].startswith("Basic")


@pytest.mark.parametrize(
    "auth", [("t1/admin", "wrong"), ("t9/admin", ADMIN_PASSWORD), ("t1/nobody", ADMIN_PASSWORD)]
)
def test_wrong_credentials_are_401(server: ServerThread, auth: tuple[str, str]) -> None:
    response = httpx.get(f"{server.url}/user/currentUser", auth=auth)
    assert response.status_code == 401
    assert response.json()["message"] == "Invalid credentials!"


def test_plain_user_means_default_tenant(server: ServerThread) -> None:
    response = httpx.get(f"{server.url}/user/currentUser", auth=("admin", ADMIN_PASSWORD))
    assert response.status_code == 200
    assert response.json()["userName"] == "admin"
    tenant = httpx.get(f"{server.url}/tenant/currentTenant", auth=("admin", ADMIN_PASSWORD)).json()
    assert tenant["name"] == "t1"


def test_login_options_need_no_credentials(server: ServerThread) -> None:
    body = httpx.get(f"{server.url}/tenant/loginOptions").json()
    assert body["loginOptions"][0]["type"] == "BASIC"


def test_tenants_never_see_each_other(
    admin: httpx.Client, server: ServerThread, other_tenant: tuple[str, str]
) -> None:
    mine = admin.post("/inventory/managedObjects", json={"name": "t1-only", "type": "isolation"}).json()
    admin.post(
        f"/identity/globalIds/{mine['id']}/externalIds", json={"type": "c8y_Serial", "externalId": "iso-1"}
    )
    with httpx.Client(base_url=server.url, auth=other_tenant) as t2:
        url = f"/inventory/managedObjects/{mine['id']}"
        assert t2.get(url).status_code == 404
        assert t2.put(url, json={"name": "hijacked"}).status_code == 404
        assert t2.delete(url).status_code == 404
        assert (
            t2.get("/inventory/managedObjects", params={"type": "isolation"}).json()["managedObjects"] == []
        )
        assert t2.get("/identity/externalIds/c8y_Serial/iso-1").status_code == 404
        assert t2.post(f"{url}/childDevices", json={"managedObject": {"id": mine["id"]}}).status_code == 404
        theirs = t2.post("/inventory/managedObjects", json={"name": "t2 device"}).json()
        # The same external id may exist in both tenants, naming different objects.
        assert (
            t2.post(
                f"/identity/globalIds/{theirs['id']}/externalIds",
                json={"type": "c8y_Serial", "externalId": "iso-1"},
            ).status_code
            == 201
        )
        assert t2.get("/identity/externalIds/c8y_Serial/iso-1").json()["managedObject"]["id"] == theirs["id"]
        assert (
            admin.post(
                f"/inventory/managedObjects/{mine['id']}/childDevices",
                json={"managedObject": {"id": theirs["id"]}},
            ).status_code
            == 404
        )
    assert admin.get(f"/inventory/managedObjects/{mine['id']}").json()["name"] == "t1-only"
    assert admin.get("/identity/externalIds/c8y_Serial/iso-1").json()["managedObject"]["id"] == mine["id"]


def test_device_user_sees_only_its_own_objects(
    admin: httpx.Client, server: ServerThread, device_user: tuple[str, str]
) -> None:
    foreign = admin.post("/inventory/managedObjects", json={"name": "admin's"}).json()
    with httpx.Client(base_url=server.url, auth=device_user) as device:
        own = device.post("/inventory/managedObjects", json={"name": "me", "c8y_IsDevice": {}}).json()
        assert own["owner"] == "device_abc"
        assert (
            device.put(
                f"/inventory/managedObjects/{own['id']}", json={"c8y_Firmware": {"version": "2"}}
            ).status_code
            == 200
        )
        assert device.get(f"/inventory/managedObjects/{foreign['id']}").status_code == 404
        assert device.put(f"/inventory/managedObjects/{foreign['id']}", json={"x": 1}).status_code == 404
        listed = device.get("/inventory/managedObjects", params={"pageSize": 2000}).json()["managedObjects"]
        assert [m["id"] for m in listed] == [own["id"]]
        assert (
            device.post(
                f"/identity/globalIds/{own['id']}/externalIds",
                json={"type": "c8y_Serial", "externalId": "dev-abc"},
            ).status_code
            == 201
        )
        assert (
            device.post(
                f"/identity/globalIds/{foreign['id']}/externalIds",
                json={"type": "c8y_Serial", "externalId": "dev-x"},
            ).status_code
            == 404
        )
    assert admin.get(f"/inventory/managedObjects/{own['id']}").json()["owner"] == "device_abc"


def test_bootstrap_user_has_no_inventory_access(server: ServerThread) -> None:
    auth = ("management/devicebootstrap", BOOTSTRAP_PASSWORD)
    assert httpx.get(f"{server.url}/user/currentUser", auth=auth).status_code == 200
    response = httpx.get(f"{server.url}/inventory/managedObjects", auth=auth)
    assert response.status_code == 403 and response.json()["error"] == "security/Forbidden"
    response = httpx.post(f"{server.url}/inventory/managedObjects", auth=auth, json={"name": "x"})
    assert response.status_code == 403
