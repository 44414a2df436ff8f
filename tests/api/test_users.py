"""The Cumulocity user API (/user): users, groups, global roles and the current user, with the unmodified
c8y-api client where it has the call and httpx for the rest; the enabled flag over REST and MQTT; device users
listed and retired; tenant isolation. Both backends (tests/conftest.py)."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import httpx
import pytest
from c8y_api import CumulocityApi
from c8y_api.model import GlobalRole, User
from tests.api.test_device_retirement import register_over_rest
from tests.api.users_support import PASSWORD, make_user
from tests.mqtt_device import BAD_CREDENTIALS, V5, Device, ServerMqtt
from tests.support import ADMIN_PASSWORD, BOOTSTRAP_PASSWORD, ServerThread, unique

from tether.tenants.models import Role

ADMINISTRATIVE_ACTION = 0x98


@pytest.fixture
def c8y(server: ServerThread) -> CumulocityApi:
    return CumulocityApi(base_url=server.url, tenant_id="t1", username="admin", password=ADMIN_PASSWORD)


@pytest.fixture(scope="module")
def mqtt(server: ServerThread) -> ServerMqtt:
    broker = ServerMqtt(server)
    broker.lenient_logins()  # refused logins are what these tests check
    return broker


@pytest.fixture
def bootstrap(server: ServerThread) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, auth=("management/devicebootstrap", BOOTSTRAP_PASSWORD)) as client:
        yield client


@pytest.fixture(scope="module")
def other_tenant(server: ServerThread) -> tuple[str, str]:
    tenants = server.platform.services.tenants
    server.call(tenants.create_tenant("t2"))
    server.call(tenants.create_user("t2", "admin", "t2-secret-1", {Role.ADMIN}))
    return ("t2/admin", "t2-secret-1")


def test_c8y_client_manages_users_and_global_roles(server: ServerThread, c8y: CumulocityApi) -> None:
    name = unique("ann")
    User(c8y, username=name, email=f"{name}@example.com", password=PASSWORD, first_name="Ann").create()
    user = c8y.users.get(name)
    assert user.username == name and user.email == f"{name}@example.com" and user.first_name == "Ann"
    assert user.enabled is True and user.global_role_ids == set()
    assert [u.username for u in c8y.users.get_all(username=name)] == [name]

    user.last_name = "Smith"
    user.email = f"{name}@example.org"
    updated = user.update()
    assert updated.last_name == "Smith" and updated.email == f"{name}@example.org"

    # Global roles are Cumulocity's groups: the defaults exist, a new one gets permissions and members.
    defaults = {g.name for g in c8y.global_roles.get_all()}
    assert {"admins", "readers", "devices"} <= defaults
    role = GlobalRole(c8y, name=unique("operators"), description="Operators").create()
    role.add_permissions("ROLE_ALARM_ADMIN", "ROLE_INVENTORY_READ")
    assert c8y.global_roles.get(role.id).permission_ids == {"ROLE_ALARM_ADMIN", "ROLE_INVENTORY_READ"}
    user.assign_global_role(role.id)
    assert [g.id for g in user.retrieve_global_roles()] == [role.id]
    assert c8y.users.get(name).global_role_ids == {role.id}
    assert [u.username for u in c8y.users.get_all(groups=int(role.id))] == [name]
    role.remove_permissions("ROLE_INVENTORY_READ")
    assert c8y.global_roles.get(role.id).permission_ids == {"ROLE_ALARM_ADMIN"}

    # The user logs in with the client and works with its own entry.
    own = CumulocityApi(base_url=server.url, tenant_id="t1", username=name, password=PASSWORD)
    me = own.users.get_current()
    assert me.username == name and me.effective_permission_ids == {"ROLE_ALARM_ADMIN"}
    me.display_name = "Ann S."
    assert me.update().display_name == "Ann S."
    put = httpx.put(
        f"{server.url}/user/currentUser",
        json={"phone": "+49 170 1", "enabled": False},
        auth=(f"t1/{name}", PASSWORD),
    )
    assert put.status_code == 200 and put.json()["phone"] == "+49 170 1" and put.json()["enabled"] is True
    own.users.set_current_password(PASSWORD, "a-new-secret-2")
    relogged = CumulocityApi(base_url=server.url, tenant_id="t1", username=name, password="a-new-secret-2")
    assert relogged.users.get_current().username == name

    role.remove_users(name)
    assert c8y.users.get(name).global_role_ids == set()
    c8y.users.get(name).delete()
    with pytest.raises(KeyError):
        c8y.users.get(name)
    role.delete()
    assert role.id not in {g.id for g in c8y.global_roles.get_all()}


def test_global_roles_are_listed(admin: httpx.Client) -> None:
    body = admin.get("/user/roles", params={"pageSize": 100}).json()
    names = {r["id"] for r in body["roles"]}
    for family in (
        "INVENTORY",
        "MEASUREMENT",
        "ALARM",
        "EVENT",
        "DEVICE_CONTROL",
        "IDENTITY",
        "USER_MANAGEMENT",
    ):
        assert {f"ROLE_{family}_READ", f"ROLE_{family}_ADMIN"} <= names
    one = admin.get("/user/roles/ROLE_ALARM_READ")
    assert one.status_code == 200 and one.json()["name"] == "ROLE_ALARM_READ"
    missing = admin.get("/user/roles/ROLE_NOPE")
    assert missing.status_code == 404 and missing.json()["error"] == "user/Not Found"


def test_default_groups_and_their_members(admin: httpx.Client) -> None:
    groups = {g["name"]: g for g in admin.get("/user/t1/groups").json()["groups"]}
    assert {"admins", "readers", "devices"} <= set(groups)
    admins = admin.get(f"/user/t1/groups/{groups['admins']['id']}/users").json()["references"]
    assert "admin" in [r["user"]["userName"] for r in admins]
    readers = {r["role"]["id"] for r in groups["readers"]["roles"]["references"]}
    assert "ROLE_INVENTORY_READ" in readers and not any(r.endswith("_ADMIN") for r in readers)
    mine = admin.get("/user/t1/users/admin/groups").json()["references"]
    assert "admins" in [r["group"]["name"] for r in mine]
    assert admin.get("/user/t1/groupByName/readers").json()["id"] == groups["readers"]["id"]


def test_users_page_and_filter(admin: httpx.Client) -> None:
    prefix = unique("page")
    names = sorted(f"{prefix}-{i}" for i in range(5))
    for name in names:
        assert admin.post("/user/t1/users", json={"userName": name, "password": PASSWORD}).status_code == 201
    first = admin.get(
        "/user/t1/users", params={"username": prefix, "pageSize": 2, "withTotalElements": "true"}
    )
    body = first.json()
    assert [u["userName"] for u in body["users"]] == names[:2]
    assert body["statistics"]["totalElements"] == 5 and "next" in body
    third = admin.get("/user/t1/users", params={"username": prefix, "pageSize": 2, "currentPage": 3}).json()
    assert [u["userName"] for u in third["users"]] == names[4:]
    group = admin.post("/user/t1/groups", json={"name": unique("g"), "description": "filter"}).json()
    for name in names[1:3]:
        admin.post(f"/user/t1/groups/{group['id']}/users", json={"user": {"self": f"/user/t1/users/{name}"}})
    in_group = admin.get("/user/t1/users", params={"groups": str(group["id"])}).json()["users"]
    assert [u["userName"] for u in in_group] == names[1:3]
    members = admin.get(f"/user/t1/groups/{group['id']}/users").json()["references"]
    assert [r["user"]["userName"] for r in members] == names[1:3]
    assert admin.delete(f"/user/t1/groups/{group['id']}/users/{names[1]}").status_code == 204
    assert admin.delete(f"/user/t1/groups/{group['id']}/users/{names[1]}").status_code == 404
    by_name = admin.get(f"/user/t1/userByName/{names[0]}")
    assert by_name.status_code == 200 and by_name.json()["userName"] == names[0]
    assert admin.delete(f"/user/t1/groups/{group['id']}").status_code == 204
    assert admin.get(f"/user/t1/groups/{group['id']}").status_code == 404


def test_bad_input_gets_4xx(admin: httpx.Client) -> None:
    cases = [
        ({"userName": "has space", "password": PASSWORD}, 422),
        ({"userName": "a/b", "password": PASSWORD}, 422),
        ({"userName": "device_x", "password": PASSWORD}, 422),
        ({"userName": unique("s"), "password": "short"}, 422),
        ({"userName": unique("n")}, 422),
        ({"userName": 5, "password": PASSWORD}, 422),
        ({"userName": unique("e"), "password": PASSWORD, "email": 7}, 422),
        ({"userName": unique("b"), "password": PASSWORD, "enabled": "yes"}, 422),
    ]
    for document, status in cases:
        response = admin.post("/user/t1/users", json=document)
        assert response.status_code == status, (document, response.text)
        assert response.json()["error"].startswith("user/")
    assert admin.post("/user/t1/users", content=b"{not json").status_code == 400
    assert admin.post("/user/t1/users", json={"userName": "admin", "password": PASSWORD}).status_code == 409
    assert admin.get("/user/t1/users/nobody").status_code == 404
    assert admin.get("/user/t1/groups/abc").status_code == 404
    assert admin.get("/user/t1/users", params={"groups": "x"}).status_code == 422
    assert admin.post("/user/t1/groups", json={"name": ""}).status_code == 422
    assert admin.post("/user/t1/groups", json={"name": "admins"}).status_code == 409
    assert (
        admin.post("/user/t1/users/admin/roles", json={"role": {"self": "user/roles/ROLE_X"}}).status_code
        == 404
    )
    assert admin.post("/user/t1/users/admin/roles", json={"role": 1}).status_code == 422
    assert admin.delete("/user/t1/users/admin").status_code == 403  # not oneself
    assert admin.put("/user/t1/users/admin", json={"enabled": False}).status_code == 403
    wrong = admin.put(
        "/user/currentUser/password", json={"currentUserPassword": "no", "newPassword": PASSWORD}
    )
    assert wrong.status_code == 422


def test_a_disabled_user_cannot_log_in(
    server: ServerThread, admin: httpx.Client, mqtt: ServerMqtt, mqtt_devices: Callable[..., Device]
) -> None:
    login, password = make_user(admin, groups=("admins",))
    name = login.split("/")[1]
    assert httpx.get(f"{server.url}/inventory/managedObjects", auth=(login, password)).status_code == 200
    live = mqtt_devices(mqtt.port, unique("cli"), V5, username=login, password=password)
    assert live.connect() == 0

    disabled = admin.put(f"/user/t1/users/{name}", json={"enabled": False})
    assert disabled.status_code == 200 and disabled.json()["enabled"] is False

    assert live.wait_closed() == ADMINISTRATIVE_ACTION  # its live connection ends
    assert httpx.get(f"{server.url}/user/currentUser", auth=(login, password)).status_code == 401
    again = mqtt_devices(mqtt.port, unique("cli"), V5, username=login, password=password)
    assert again.connect() == BAD_CREDENTIALS
    assert admin.put(f"/user/t1/users/{name}", json={"enabled": True}).status_code == 200
    assert httpx.get(f"{server.url}/user/currentUser", auth=(login, password)).status_code == 200


def test_an_administrator_sets_a_password(server: ServerThread, admin: httpx.Client) -> None:
    login, password = make_user(admin)
    name = login.split("/")[1]
    assert httpx.get(f"{server.url}/user/currentUser", auth=(login, password)).status_code == 200
    changed = admin.put(f"/user/t1/users/{name}/password", json={"newPassword": "brand-new-pass"})
    assert changed.status_code == 200
    assert httpx.get(f"{server.url}/user/currentUser", auth=(login, password)).status_code == 401
    assert httpx.get(f"{server.url}/user/currentUser", auth=(login, "brand-new-pass")).status_code == 200
    by_put = admin.put(f"/user/t1/users/{name}", json={"password": "third-password"})
    assert by_put.status_code == 200
    assert httpx.get(f"{server.url}/user/currentUser", auth=(login, "third-password")).status_code == 200


def test_device_users_are_listed_and_deleting_one_retires_the_device(
    server: ServerThread, admin: httpx.Client, bootstrap: httpx.Client, c8y: CumulocityApi
) -> None:
    serial = unique("DU")
    login, password = register_over_rest(admin, bootstrap, serial)
    device_user = login.split("/")[1]
    mo = httpx.post(
        f"{server.url}/inventory/managedObjects",
        json={"name": serial, "c8y_IsDevice": {}},
        auth=(login, password),
    ).json()
    devices = [u.username for u in c8y.users.get_all(only_devices=True)]
    assert device_user in devices
    assert device_user not in [u.username for u in c8y.users.get_all()]  # people only by default
    in_group = admin.get("/user/t1/groupByName/devices").json()["id"]
    assert device_user in [
        u["userName"]
        for u in admin.get("/user/t1/users", params={"groups": in_group, "onlyDevices": "true"}).json()[
            "users"
        ]
    ]
    assert c8y.inventory.get(mo["id"]).owner == device_user  # its device

    assert admin.delete(f"/user/t1/users/{device_user}").status_code == 204
    assert admin.get(f"/inventory/managedObjects/{mo['id']}").status_code == 404
    assert httpx.get(f"{server.url}/user/currentUser", auth=(login, password)).status_code == 401
    assert admin.get(f"/user/t1/users/{device_user}").status_code == 404


def test_tenants_never_see_each_others_users(
    server: ServerThread, admin: httpx.Client, other_tenant: tuple[str, str]
) -> None:
    login, _ = make_user(admin)
    name = login.split("/")[1]
    t1_group = admin.get("/user/t1/groupByName/admins").json()["id"]
    with httpx.Client(base_url=server.url, auth=other_tenant) as t2:
        for path in (
            "/user/t1/users",
            f"/user/t1/users/{name}",
            "/user/t1/groups",
            f"/user/t1/userByName/{name}",
        ):
            response = t2.get(path)
            assert response.status_code == 403 and response.json()["error"] == "security/Forbidden", path
        assert (
            t2.post("/user/t1/users", json={"userName": unique("x"), "password": PASSWORD}).status_code == 403
        )
        assert t2.get(f"/user/t2/users/{name}").status_code == 404
        own_groups = {g["id"] for g in t2.get("/user/t2/groups").json()["groups"]}
        assert t1_group not in own_groups and len(own_groups) >= 3  # t2 has its own default groups
        assert t2.get(f"/user/t2/groups/{t1_group}").status_code == 404
        joined = t2.post(
            f"/user/t2/groups/{min(own_groups)}/users", json={"user": {"self": f"/user/t2/users/{name}"}}
        )
        assert joined.status_code == 404


def test_no_one_grants_a_role_it_does_not_hold(server: ServerThread, admin: httpx.Client) -> None:
    login, password = make_user(admin, "ROLE_USER_MANAGEMENT_ADMIN", "ROLE_INVENTORY_READ")
    name = login.split("/")[1]
    admins = admin.get("/user/t1/groupByName/admins").json()["id"]
    with httpx.Client(base_url=server.url, auth=(login, password)) as manager:
        assert manager.get("/user/t1/users").status_code == 200
        joined = manager.post(
            f"/user/t1/groups/{admins}/users", json={"user": {"self": f"/user/t1/users/{name}"}}
        )
        assert joined.status_code == 403 and joined.json()["error"] == "security/Forbidden"
        escalate = manager.post(
            f"/user/t1/users/{name}/roles", json={"role": {"self": "user/roles/ROLE_ALARM_ADMIN"}}
        )
        assert escalate.status_code == 403
        other, _ = make_user(admin)
        granted = manager.post(
            f"/user/t1/users/{other.split('/')[1]}/roles",
            json={"role": {"self": "user/roles/ROLE_INVENTORY_READ"}},
        )
        assert granted.status_code == 201  # a role it holds
        assert manager.delete("/user/t1/users/admin").status_code == 403  # an administrator
    assert httpx.get(f"{server.url}/alarm/alarms", auth=(login, password)).status_code == 403
