"""Global roles enforced on every REST family (negative tests first): a person without a role gets 403
`security/Forbidden` from each family, a READ role opens GET only and only of its family, an ADMIN role opens
writes; the `readers` group reads everything and writes nothing; /api/v5 and real-time notifications follow.
Administrators, API keys and devices keep their rights (tests/api/test_access.py and the device suites)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from tests.api.users_support import make_user
from tests.support import ServerThread, unique

from tether.tenants.models import Role


@dataclass(frozen=True)
class Family:
    name: str
    read: str
    write: Callable[[str], tuple[str, str, dict[str, Any]]]  # source id -> (method, path, body)


NOW = "2024-05-01T10:00:00.000Z"
FAMILIES = [
    Family(
        "INVENTORY",
        "/inventory/managedObjects",
        lambda mo: ("POST", "/inventory/managedObjects", {"name": "x"}),
    ),
    Family(
        "IDENTITY",
        "/identity/globalIds/{mo}/externalIds",
        lambda mo: (
            "POST",
            f"/identity/globalIds/{mo}/externalIds",
            {"type": "c8y_Serial", "externalId": unique("xid")},
        ),
    ),
    Family(
        "MEASUREMENT",
        "/measurement/measurements",
        lambda mo: (
            "POST",
            "/measurement/measurements",
            {"source": {"id": mo}, "type": "t", "time": NOW, "c8y_T": {"T": {"value": 1}}},
        ),
    ),
    Family(
        "EVENT",
        "/event/events",
        lambda mo: ("POST", "/event/events", {"source": {"id": mo}, "type": "t", "text": "x", "time": NOW}),
    ),
    Family(
        "ALARM",
        "/alarm/alarms",
        lambda mo: (
            "POST",
            "/alarm/alarms",
            {"source": {"id": mo}, "type": unique("a"), "text": "x", "time": NOW, "severity": "MAJOR"},
        ),
    ),
    Family(
        "DEVICE_CONTROL",
        "/devicecontrol/operations",
        lambda mo: ("POST", "/devicecontrol/operations", {"deviceId": mo, "c8y_Restart": {}}),
    ),
    Family(
        "TENANT_MANAGEMENT",
        "/tenant/tenants/t1/trusted-certificates",
        lambda mo: ("POST", "/tenant/tenants/t1/trusted-certificates", {"name": "x", "certInPemFormat": "x"}),
    ),
    Family(
        "USER_MANAGEMENT",
        "/user/t1/users",
        lambda mo: ("POST", "/user/t1/users", {"userName": unique("w"), "password": "a-password-1"}),
    ),
    Family(
        "OPTION_MANAGEMENT",
        "/tenant/options",
        lambda mo: ("POST", "/tenant/options", {"category": "roles", "key": unique("k"), "value": "v"}),
    ),
    Family(
        "AUDIT",
        "/audit/auditRecords",
        lambda mo: (
            "POST",
            "/audit/auditRecords",
            {"type": "Inventory", "time": NOW, "activity": "a", "text": "t", "source": {"id": mo}},
        ),
    ),
]
IDS = [f.name for f in FAMILIES]


@pytest.fixture(scope="module")
def device(server: ServerThread) -> str:
    """A device of the tenant (the administrator's), the source of the writes."""
    with httpx.Client(base_url=server.url, auth=("t1/admin", "admin-secret-1")) as admin:
        mo: str = admin.post("/inventory/managedObjects", json={"name": "src", "c8y_IsDevice": {}}).json()[
            "id"
        ]
        admin.post(
            "/alarm/alarms",
            json={"source": {"id": mo}, "type": "seen", "text": "x", "time": NOW, "severity": "MINOR"},
        )
    return mo


def call(
    server: ServerThread, auth: tuple[str, str], method: str, path: str, body: Any = None
) -> httpx.Response:
    return httpx.request(method, server.url + path, json=body, auth=auth, timeout=30)


def assert_forbidden(response: httpx.Response) -> None:
    assert response.status_code == 403, response.text
    assert response.json()["error"] == "security/Forbidden"
    assert response.headers["content-type"].startswith("application/")


def test_a_person_without_roles_is_refused_everywhere(
    server: ServerThread, admin: httpx.Client, device: str
) -> None:
    nobody = make_user(admin)
    assert call(server, nobody, "GET", "/user/currentUser").status_code == 200  # its own entry only
    for family in FAMILIES:
        assert_forbidden(call(server, nobody, "GET", family.read.format(mo=device)))
        assert_forbidden(call(server, nobody, *family.write(device)))
    assert_forbidden(call(server, nobody, "GET", f"/inventory/managedObjects/{device}"))
    assert_forbidden(call(server, nobody, "DELETE", f"/inventory/managedObjects/{device}"))


@pytest.mark.parametrize("family", FAMILIES, ids=IDS)
def test_a_read_role_opens_get_of_its_family_only(
    server: ServerThread, admin: httpx.Client, device: str, family: Family
) -> None:
    reader = make_user(admin, f"ROLE_{family.name}_READ")
    read = call(server, reader, "GET", family.read.format(mo=device))
    if family.name == "TENANT_MANAGEMENT":  # trusted certificates take the admin role even to read (spec)
        assert_forbidden(read)
    else:
        assert read.status_code == 200
    assert_forbidden(call(server, reader, *family.write(device)))
    other = next(f for f in FAMILIES if f.name != family.name)
    assert_forbidden(call(server, reader, "GET", other.read.format(mo=device)))


def test_spec_exceptions(server: ServerThread, admin: httpx.Client) -> None:
    """ROLE_INVENTORY_CREATE creates objects without reading others; deleting a device request takes
    ROLE_USER_MANAGEMENT_ADMIN (Cumulocity's spec)."""
    creator = make_user(admin, "ROLE_INVENTORY_CREATE")
    assert call(server, creator, "POST", "/inventory/managedObjects", {"name": "mine"}).status_code == 201
    assert_forbidden(call(server, creator, "GET", "/inventory/managedObjects"))
    serial = unique("REQ")
    assert admin.post("/devicecontrol/newDeviceRequests", json={"id": serial}).status_code == 201
    controller = make_user(admin, "ROLE_DEVICE_CONTROL_ADMIN")
    assert call(server, controller, "GET", f"/devicecontrol/newDeviceRequests/{serial}").status_code == 200
    assert_forbidden(call(server, controller, "DELETE", f"/devicecontrol/newDeviceRequests/{serial}"))
    both = make_user(admin, "ROLE_DEVICE_CONTROL_ADMIN", "ROLE_USER_MANAGEMENT_ADMIN")
    assert call(server, both, "DELETE", f"/devicecontrol/newDeviceRequests/{serial}").status_code == 204


@pytest.mark.parametrize("family", FAMILIES, ids=IDS)
def test_an_admin_role_opens_writes(
    server: ServerThread, admin: httpx.Client, device: str, family: Family
) -> None:
    writer = make_user(admin, f"ROLE_{family.name}_ADMIN")
    written = call(server, writer, *family.write(device))
    if family.name == "TENANT_MANAGEMENT":  # admitted: the certificate itself is refused as invalid
        assert written.status_code == 422 and written.json()["error"] != "security/Forbidden", written.text
    else:
        assert written.status_code in (200, 201), written.text
    assert call(server, writer, "GET", family.read.format(mo=device)).status_code == 200


def test_readers_read_the_tenants_data_and_write_nothing(
    server: ServerThread, admin: httpx.Client, device: str
) -> None:
    reader = make_user(admin, groups=("readers",))
    listed = call(server, reader, "GET", "/inventory/managedObjects", None).json()["managedObjects"]
    assert device in [mo["id"] for mo in listed]  # the administrator's objects
    alarms = call(server, reader, "GET", f"/alarm/alarms?source={device}").json()["alarms"]
    assert "seen" in [a["type"] for a in alarms]
    for family in FAMILIES:
        if family.name != "TENANT_MANAGEMENT":
            assert call(server, reader, "GET", family.read.format(mo=device)).status_code == 200, family.name
        assert_forbidden(call(server, reader, *family.write(device)))
    assert_forbidden(call(server, reader, "PUT", f"/inventory/managedObjects/{device}", {"name": "renamed"}))
    assert_forbidden(call(server, reader, "DELETE", f"/inventory/managedObjects/{device}"))
    # Leaving the group takes the rights away at once (no cached verification keeps them).
    readers = admin.get("/user/t1/groupByName/readers").json()["id"]
    assert admin.delete(f"/user/t1/groups/{readers}/users/{reader[0].split('/')[1]}").status_code == 204
    assert_forbidden(call(server, reader, "GET", "/inventory/managedObjects"))


def test_a_group_role_change_applies_to_its_members_at_once(
    server: ServerThread, admin: httpx.Client
) -> None:
    group = admin.post("/user/t1/groups", json={"name": unique("ops")}).json()
    member = make_user(admin, groups=(group["name"],))
    assert_forbidden(call(server, member, "GET", "/event/events"))
    role = {"role": {"self": "user/roles/ROLE_EVENT_READ"}}
    assert admin.post(f"/user/t1/groups/{group['id']}/roles", json=role).status_code == 201
    assert call(server, member, "GET", "/event/events").status_code == 200
    assert admin.delete(f"/user/t1/groups/{group['id']}/roles/ROLE_EVENT_READ").status_code == 204
    assert_forbidden(call(server, member, "GET", "/event/events"))


def test_the_management_api_and_realtime_follow_the_roles(server: ServerThread, admin: httpx.Client) -> None:
    reader = make_user(admin, groups=("readers",))
    boss = make_user(admin, groups=("admins",))
    nobody = make_user(admin)
    login = "/api/v5/login"
    assert httpx.post(server.url + login, json={"username": boss[0], "password": boss[1]}).status_code == 200
    # A reader logs in too (the web console), and its token passes the same gate as its Basic credentials:
    # it reads, writes nothing, and is refused /api/v5 and /user writes.
    answer = httpx.post(server.url + login, json={"username": reader[0], "password": reader[1]})
    assert answer.status_code == 200 and answer.json()["role"] == "viewer"
    bearer = {"Authorization": f"Bearer {answer.json()['token']}"}
    with httpx.Client(base_url=server.url, headers=bearer, timeout=30) as token:
        assert token.get("/inventory/managedObjects").status_code == 200
        assert_forbidden(token.post("/inventory/managedObjects", json={"name": "x"}))
        assert token.get("/user/currentUser").json()["effectiveRoles"]
        assert (
            token.post(
                "/user/t1/users", json={"userName": unique("no"), "password": "pw-12345678"}
            ).status_code
            == 403
        )
        refused = token.get("/api/v5/clients")
        assert refused.status_code == 403 and refused.json()["code"] == "UNAUTHORIZED_ROLE"
        # Put in the admins group, the same token becomes an administrator's (roles of now).
        admins = admin.get("/user/t1/groupByName/admins").json()["id"]
        joined = admin.post(
            f"/user/t1/groups/{admins}/users", json={"user": {"self": f"/user/t1/users/{reader[0][3:]}"}}
        )
        assert joined.status_code == 201
        tokens = server.platform.services.tokens
        tokens._users.clear()  # the verified user is reused CACHE_SECONDS; the test does not wait them out
        assert token.get("/api/v5/clients").status_code == 200
        assert admin.delete(f"/user/t1/groups/{admins}/users/{reader[0][3:]}").status_code == 204
        tokens._users.clear()
        assert token.get("/api/v5/clients").status_code == 403
        assert token.post("/api/v5/logout").status_code == 204  # a reader ends its own token
        assert token.get("/inventory/managedObjects").status_code == 401
    # Basic on /api/v5 too: only administrators (a device user was let into /api/v5/clients before).
    device = ("t1/device_v5", "device-secret-1")
    server.call(server.platform.services.tenants.create_user("t1", "device_v5", device[1], {Role.DEVICE}))
    for who in (reader, nobody, device):
        for path in ("/api/v5/clients", "/api/v5/subscriptions", "/api/v5/stats"):
            refused = call(server, who, "GET", path)
            assert refused.status_code == 403 and refused.json()["code"] == "UNAUTHORIZED_ROLE", (who, path)
    assert call(server, boss, "GET", "/api/v5/clients").status_code == 200
    # The admins group makes an administrator: it deletes what a reader may not.
    mo = call(server, boss, "POST", "/inventory/managedObjects", {"name": "tmp"}).json()["id"]
    assert call(server, boss, "DELETE", f"/inventory/managedObjects/{mo}").status_code == 204

    handshake = [
        {"channel": "/meta/handshake", "version": "1.0", "supportedConnectionTypes": ["long-polling"]}
    ]
    [ok] = call(server, reader, "POST", "/notification/realtime", handshake).json()
    assert ok["successful"] is True
    refused = call(server, nobody, "POST", "/notification/realtime", handshake)
    assert refused.status_code == 403 or refused.json()[0]["successful"] is False
