"""Inventory roles (/user/inventoryroles) and their assignment to users on device groups
(/user/{tenant}/users/{u}/roles/inventory): the unmodified c8y-api `inventory_roles` and `User` calls, the
default roles, and their enforcement: a person with no global role but an inventory role on a group reaches
that group, its devices and their children, and their data in the role's scopes, and nothing else, over
REST (inventory, measurements, events, alarms, operations) and the real-time notifications. Both backends
(tests/conftest.py)."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest
from c8y_api import CumulocityApi
from c8y_api.model import InventoryRole, ReadPermission, WritePermission
from tests.api.users_support import make_user
from tests.support import ADMIN_PASSWORD, ServerThread, unique

NOW = "2026-01-01T00:00:00.000Z"


@pytest.fixture
def c8y(server: ServerThread) -> CumulocityApi:
    return CumulocityApi(base_url=server.url, tenant_id="t1", username="admin", password=ADMIN_PASSWORD)


def made(response: httpx.Response) -> str:
    assert response.status_code in (200, 201), response.text
    return str(response.json()["id"])


def ids(response: httpx.Response, key: str, field: str = "id") -> set[str]:
    assert response.status_code == 200, response.text
    found: set[str] = set()
    for item in response.json()[key]:
        value = item[field]
        found.add(str(value["id"] if isinstance(value, dict) else value))
    return found


def test_c8y_client_manages_inventory_roles_and_assignments(c8y: CumulocityApi, admin: httpx.Client) -> None:
    defaults = {r.name: r for r in c8y.inventory_roles.get_all()}
    assert {"Manager", "Reader", "Operations: All", "Operations: Restart Device"} <= set(defaults)
    restart = defaults["Operations: Restart Device"].permissions[0]
    assert (restart.level, restart.scope, restart.type) == ("ADMIN", "OPERATION", "c8y_Restart")
    name = unique("role")
    role = InventoryRole(
        c8y,
        name=name,
        description="alarms",
        permissions=[ReadPermission(scope="ALARM"), WritePermission(scope="EVENT")],
    ).create()
    got = c8y.inventory_roles.get(role.id)
    assert got.name == name and [(p.level, p.scope) for p in got.permissions] == [
        ("READ", "ALARM"),
        ("ADMIN", "EVENT"),
    ]
    got.description = "changed"
    assert got.update().description == "changed"
    login, _ = make_user(admin)
    username = login.split("/", 1)[1]
    group = made(admin.post("/inventory/managedObjects", json={"name": unique("g"), "c8y_IsDeviceGroup": {}}))
    user = c8y.users.get(username)
    user.assign_inventory_roles(group, role.id, defaults["Reader"].id)
    [assignment] = user.retrieve_inventory_role_assignments()
    assert assignment.managed_object == group and {r.name for r in assignment.roles} == {name, "Reader"}
    assert c8y.inventory_roles.get_all_assignments(username)[0].id == assignment.id
    # PUT of the roles, GET by id, bad input.
    path = f"/user/t1/users/{username}/roles/inventory"
    changed = admin.put(f"{path}/{assignment.id}", json={"roles": [{"id": role.id}]})
    assert changed.status_code == 200 and [r["id"] for r in changed.json()["roles"]] == [int(role.id)]
    assert admin.get(f"{path}/{assignment.id}").json()["managedObject"] == group
    for bad in (
        {"managedObject": group, "roles": []},
        {"managedObject": "x", "roles": [{"id": 1}]},
        {"roles": 3},
    ):
        assert admin.post(path, json=bad).status_code == 422, bad
    assert (
        admin.post(path, json={"managedObject": "999999999", "roles": [{"id": role.id}]}).status_code == 404
    )
    assert admin.post(path, json={"managedObject": group, "roles": [{"id": 999999}]}).status_code == 404
    bad_role = {"name": unique("r"), "permissions": [{"permission": "WRITE", "scope": "ALARM"}]}
    assert admin.post("/user/inventoryroles", json=bad_role).status_code == 422
    assert admin.post("/user/inventoryroles", json={"name": name}).status_code == 409
    # Deleting the role takes it out of the assignment (which goes, holding nothing else).
    role.delete()
    assert admin.get(f"/user/inventoryroles/{role.id}").status_code == 404
    assert user.retrieve_inventory_role_assignments() == []
    user.unassign_inventory_roles()  # nothing to do


def test_an_inventory_role_on_a_group_reaches_that_group_only(
    server: ServerThread, admin: httpx.Client
) -> None:
    def mo(**body: Any) -> str:
        return made(admin.post("/inventory/managedObjects", json={"name": unique("mo"), **body}))

    agent = {"c8y_IsDevice": {}, "com_cumulocity_model_Agent": {}}
    group, inside, child, outside = mo(c8y_IsDeviceGroup={}), mo(**agent), mo(c8y_IsDevice={}), mo(**agent)
    for parent, kind, kid in ((group, "childAssets", inside), (inside, "childDevices", child)):
        body = {"managedObject": {"id": kid}}
        assert admin.post(f"/inventory/managedObjects/{parent}/{kind}", json=body).status_code == 201

    def data(source: str) -> dict[str, str]:
        return {
            "m": made(
                admin.post(
                    "/measurement/measurements",
                    json={"source": {"id": source}, "type": "t", "time": NOW, "c8y_T": {"T": {"value": 1}}},
                )
            ),
            "e": made(
                admin.post(
                    "/event/events", json={"source": {"id": source}, "type": "t", "text": "x", "time": NOW}
                )
            ),
            "a": made(
                admin.post(
                    "/alarm/alarms",
                    json={
                        "source": {"id": source},
                        "type": "t",
                        "text": "x",
                        "severity": "MINOR",
                        "time": NOW,
                    },
                )
            ),
        }

    mine, theirs = data(child), data(outside)
    op_mine = made(admin.post("/devicecontrol/operations", json={"deviceId": inside, "c8y_Command": {}}))
    op_theirs = made(admin.post("/devicecontrol/operations", json={"deviceId": outside, "c8y_Command": {}}))
    roles = {
        r["name"]: r["id"]
        for r in admin.get("/user/inventoryroles", params={"pageSize": 100}).json()["roles"]
    }
    login, password = make_user(admin)
    username = login.split("/", 1)[1]
    path = f"/user/t1/users/{username}/roles/inventory"
    user = httpx.Client(base_url=server.url, auth=(login, password), timeout=30)
    families = [
        "/inventory/managedObjects",
        "/measurement/measurements",
        "/event/events",
        "/alarm/alarms",
        "/devicecontrol/operations",
    ]
    for family in families:  # no global role, no inventory role: nothing
        assert user.get(family).status_code == 403, family

    reader = made(admin.post(path, json={"managedObject": group, "roles": [{"id": roles["Reader"]}]}))
    listed = ids(user.get("/inventory/managedObjects", params={"pageSize": 100}), "managedObjects")
    assert listed == {group, inside, child}
    assert user.get(f"/inventory/managedObjects/{outside}").status_code == 404
    assert user.get(f"/inventory/managedObjects/{child}").status_code == 200
    query = {"pageSize": 100, "withTotalElements": "true"}
    for key, family, collection in (
        ("m", "/measurement/measurements", "measurements"),
        ("e", "/event/events", "events"),
        ("a", "/alarm/alarms", "alarms"),
    ):
        assert ids(user.get(family, params=query), collection) == {mine[key]}
        assert user.get(f"{family}/{mine[key]}").status_code == 200
        assert user.get(f"{family}/{theirs[key]}").status_code == 404
        assert user.get(family, params={"source": outside}).json()[collection] == []
    assert ids(user.get("/devicecontrol/operations", params=query), "operations") == {op_mine}
    assert user.get(f"/devicecontrol/operations/{op_theirs}").status_code == 404
    # Reading is all the Reader role gives.
    assert user.put(f"/inventory/managedObjects/{inside}", json={"x": {}}).status_code == 403
    assert user.post("/inventory/managedObjects", json={"name": "new"}).status_code == 403
    assert (
        user.post("/devicecontrol/operations", json={"deviceId": inside, "c8y_Restart": {}}).status_code
        == 403
    )
    assert user.get("/identity/externalIds/c8y_Serial/x").status_code == 403
    # Real-time: a wildcard subscription hears only the group's data; another object is refused.
    handshake = user.post(
        "/notification/realtime",
        json=[{"channel": "/meta/handshake", "version": "1.0", "supportedConnectionTypes": ["long-polling"]}],
    )
    client_id = handshake.json()[0]["clientId"]
    subscribe = [{"channel": "/meta/subscribe", "subscription": "/measurements/*", "clientId": client_id}]
    assert user.post("/notification/realtime", json=subscribe).json()[0]["successful"] is True
    other = [
        {"channel": "/meta/subscribe", "subscription": f"/measurements/{outside}", "clientId": client_id}
    ]
    assert user.post("/notification/realtime", json=other).json()[0]["successful"] is False
    theirs_live = data(outside)["m"]
    mine_live = data(child)["m"]
    heard: set[str] = set()
    deadline = time.monotonic() + 30
    while mine_live not in heard:
        assert time.monotonic() < deadline, heard
        connect = [
            {
                "channel": "/meta/connect",
                "clientId": client_id,
                "connectionType": "long-polling",
                "advice": {"timeout": 1000},
            }
        ]
        for message in user.post("/notification/realtime", json=connect).json():
            if message.get("channel", "").startswith("/measurements/"):
                heard.add(str(message["data"]["data"]["id"]))
    assert theirs_live not in heard

    # Operations: Restart Device writes c8y_Restart to the group's devices, nothing else.
    assert admin.delete(f"{path}/{reader}").status_code == 204
    made(
        admin.post(
            path, json={"managedObject": group, "roles": [{"id": roles["Operations: Restart Device"]}]}
        )
    )
    assert (
        user.post("/devicecontrol/operations", json={"deviceId": inside, "c8y_Restart": {}}).status_code
        == 201
    )
    assert (
        user.post("/devicecontrol/operations", json={"deviceId": inside, "c8y_Command": {}}).status_code
        == 422
    )
    assert (
        user.post("/devicecontrol/operations", json={"deviceId": outside, "c8y_Restart": {}}).status_code
        == 422
    )
    assert user.get("/measurement/measurements").status_code == 403  # no measurement scope
    # Unassigned: nothing again.
    for assignment in user.get(path).json()["inventoryAssignments"]:
        assert admin.delete(f"{path}/{assignment['id']}").status_code == 204
    for family in families:
        assert user.get(family).status_code == 403, family
