"""/api/v1 things, thing types and thing groups with httpx on a real server, both storage backends: EMQX
paging and errors, unique names per tenant, and a thing seen as the device it is through the Cumulocity
API."""

from __future__ import annotations

import httpx
from tests.support import ServerThread, unique

THINGS = "/api/v1/things"
TYPES = "/api/v1/thing-types"
GROUPS = "/api/v1/thing-groups"


def test_create_get_list_update_delete(admin: httpx.Client) -> None:
    name = unique("pump-")
    created = admin.post(THINGS, json={"name": name, "attributes": {"site": "north"}})
    assert created.status_code == 201, created.text
    thing = created.json()
    assert thing["name"] == name and thing["clientId"] == name and thing["attributes"] == {"site": "north"}
    assert thing["status"] == "offline" and thing["groups"] == [] and thing["thingType"] is None
    thing_id = thing["id"]
    assert len(thing_id) == 36
    assert admin.get(f"{THINGS}/{thing_id}").json() == thing
    # The thing is a device of the one inventory, with its names as external ids.
    mo = admin.get(f"/inventory/managedObjects/{thing['deviceId']}").json()
    assert "c8y_IsDevice" in mo and mo["name"] == name and mo["fleets_Thing"]["id"] == thing_id
    assert mo["owner"] == f"device_{name}"
    xid = admin.get(f"/identity/externalIds/fleets_thingName/{name}").json()
    assert xid["managedObject"]["id"] == thing["deviceId"]
    listed = admin.get(THINGS, params={"name": name}).json()
    assert listed["data"] == [thing]
    assert listed["meta"] == {"page": 1, "limit": 100, "count": 1, "hasnext": False}
    # Rename, new attributes.
    renamed = unique("pump-")
    updated = admin.put(f"{THINGS}/{thing_id}", json={"name": renamed, "attributes": {"site": "south"}})
    assert updated.status_code == 200, updated.text
    assert updated.json()["name"] == renamed and updated.json()["attributes"] == {"site": "south"}
    assert admin.get(f"/identity/externalIds/fleets_thingName/{name}").status_code == 404
    assert admin.get(THINGS, params={"name": renamed}).json()["meta"]["count"] == 1
    # The old name is free again (its client id stays the renamed thing's).
    assert admin.post(THINGS, json={"name": name}).status_code == 409
    again = admin.post(THINGS, json={"name": name, "clientId": unique("c")})
    assert again.status_code == 201, again.text
    assert admin.delete(f"{THINGS}/{thing_id}").status_code == 204
    assert admin.get(f"{THINGS}/{thing_id}").json()["code"] == "NOT_FOUND"
    assert admin.get(f"/inventory/managedObjects/{thing['deviceId']}").status_code == 404
    assert admin.delete(f"{THINGS}/{again.json()['id']}").status_code == 204


def test_duplicates_and_bad_input(admin: httpx.Client) -> None:
    name = unique("dup-")
    assert admin.post(THINGS, json={"name": name}).status_code == 201
    duplicate = admin.post(THINGS, json={"name": name, "clientId": unique("other")})
    assert duplicate.status_code == 409
    assert duplicate.json() == {"code": "ALREADY_EXISTS", "message": f"Thing name '{name}' already exists"}
    # A taken client id is a conflict too, and nothing of the refused thing stays behind.
    other = unique("dup-")
    assert admin.post(THINGS, json={"name": other, "clientId": name}).status_code == 409
    assert admin.get(THINGS, params={"name": other}).json()["meta"]["count"] == 0
    assert admin.get(f"/identity/externalIds/fleets_thingName/{other}").status_code == 404
    for body in (
        {},
        {"name": ""},
        {"name": "a/b"},
        {"name": "a+b"},
        {"name": "x" * 129},
        {"name": 5},
        {"name": unique("n"), "clientId": "a:b"},
        {"name": unique("n"), "attributes": []},
        {"name": unique("n"), "thingType": "nosuchtype"},
        {"name": unique("n"), "groups": ["nosuchgroup"]},
        {"name": unique("n"), "deviceId": "abc"},
    ):
        response = admin.post(THINGS, json=body)
        assert response.status_code == 400, (body, response.text)
        assert response.json()["code"] in ("INVALID_PARAMETER", "BAD_REQUEST")
    assert admin.post(THINGS, content=b"{", headers={"content-type": "application/json"}).status_code == 400
    assert admin.get(THINGS, params={"limit": 0}).status_code == 400
    assert admin.get(THINGS, params={"status": "sleeping"}).status_code == 400
    assert admin.get(f"{THINGS}/not-a-uuid").status_code == 404
    assert admin.put(f"{THINGS}/not-a-uuid", json={}).status_code == 404
    assert admin.get("/api/v1/nothing").json()["code"] == "NOT_FOUND"


def test_paging(admin: httpx.Client) -> None:
    prefix = unique("pg")
    for i in range(5):
        assert admin.post(THINGS, json={"name": f"{prefix}-{i}"}).status_code == 201
    first = admin.get(THINGS, params={"name": f"{prefix}-*", "limit": 2}).json()
    assert first["meta"] == {"page": 1, "limit": 2, "count": 5, "hasnext": True}
    last = admin.get(THINGS, params={"name": f"{prefix}-*", "limit": 2, "page": 3}).json()
    assert last["meta"] == {"page": 3, "limit": 2, "count": 5, "hasnext": False}
    names = [t["name"] for t in first["data"]] + [t["name"] for t in last["data"]]
    assert names == [f"{prefix}-0", f"{prefix}-1", f"{prefix}-4"]


def test_types_and_groups(admin: httpx.Client) -> None:
    type_name = unique("meter")
    body = {
        "name": type_name,
        "description": "a meter",
        "properties": [
            {"name": "rate", "type": "float", "writable": True},
            {"name": "mode", "type": "enum", "values": ["eco", "max"]},
        ],
        "events": [{"name": "overheat"}],
        "commands": [{"name": "reboot"}],
    }
    created = admin.post(TYPES, json=body)
    assert created.status_code == 201, created.text
    meter = created.json()
    assert meter["properties"][1]["writable"] is False and meter["commands"] == [{"name": "reboot"}]
    assert admin.post(TYPES, json=body).status_code == 409
    untyped = {**body, "name": unique("t"), "properties": [{"name": "x"}]}
    assert admin.post(TYPES, json=untyped).status_code == 400
    bad_enum = {**body, "name": unique("t"), "properties": [{"name": "x", "type": "enum"}]}
    assert admin.post(TYPES, json=bad_enum).status_code == 400
    assert admin.get(f"{TYPES}/{meter['id']}").json() == meter
    assert meter["id"] in [t["id"] for t in admin.get(TYPES, params={"limit": 1000}).json()["data"]]
    # Its default group exists; a thing of the type joins it.
    default = f"{type_name} (default)"
    groups = admin.get(GROUPS, params={"limit": 1000}).json()["data"]
    assert default in [g["name"] for g in groups]
    group = admin.post(GROUPS, json={"name": unique("floor "), "description": "first floor"})
    assert group.status_code == 201, group.text
    floor = group.json()
    assert admin.post(GROUPS, json={"name": floor["name"]}).status_code == 409
    thing = admin.post(THINGS, json={"name": unique("m"), "thingType": type_name, "groups": [floor["name"]]})
    assert thing.status_code == 201, thing.text
    assert sorted(thing.json()["groups"]) == sorted([default, floor["name"]])
    assert thing.json()["thingType"] == type_name
    by_type = admin.get(THINGS, params={"thingType": type_name}).json()
    assert [t["id"] for t in by_type["data"]] == [thing.json()["id"]]
    by_group = admin.get(THINGS, params={"group": floor["name"]}).json()
    assert [t["id"] for t in by_group["data"]] == [thing.json()["id"]]
    assert admin.get(THINGS, params={"group": "no such group"}).json()["meta"]["count"] == 0
    # Groups are Cumulocity device groups with the things as childAssets.
    mo = admin.get(f"/inventory/managedObjects/{floor['deviceId']}").json()
    assert "c8y_IsDeviceGroup" in mo and mo["type"] == "c8y_DeviceGroup"
    assert [r["managedObject"]["id"] for r in mo["childAssets"]["references"]] == [thing.json()["deviceId"]]
    # Membership through the group.
    other = admin.post(THINGS, json={"name": unique("m")}).json()
    assert admin.post(f"{GROUPS}/{floor['id']}/things", json={"thingIds": [other["id"]]}).status_code == 204
    members = admin.get(f"{GROUPS}/{floor['id']}/things").json()
    assert sorted(t["id"] for t in members["data"]) == sorted([thing.json()["id"], other["id"]])
    assert admin.post(f"{GROUPS}/{floor['id']}/things", json={"thingIds": ["nope"]}).status_code == 400
    assert admin.delete(f"{GROUPS}/{floor['id']}/things/{other['id']}").status_code == 204
    assert admin.get(f"{GROUPS}/{floor['id']}/things").json()["meta"]["count"] == 1
    # Only things are members, and a thing's groups are thing groups only (also a childAsset of a plain
    # Cumulocity group or another asset): its `groups` can be sent back as they are.
    device = admin.post("/inventory/managedObjects", json={"name": "not a thing", "c8y_IsDevice": {}}).json()
    plain = admin.post("/inventory/managedObjects", json={"name": "plain", "c8y_IsDeviceGroup": {}}).json()
    for parent, child in ((floor["deviceId"], device["id"]), (plain["id"], thing.json()["deviceId"])):
        reference = {"managedObject": {"id": child}}
        added = admin.post(f"/inventory/managedObjects/{parent}/childAssets", json=reference)
        assert added.status_code == 201, added.text
    members = admin.get(f"{GROUPS}/{floor['id']}/things").json()
    assert [t["id"] for t in members["data"]] == [thing.json()["id"]]
    assert members["meta"]["count"] == 1 and members["meta"]["hasnext"] is False
    listed = admin.get(f"{THINGS}/{thing.json()['id']}").json()["groups"]
    assert sorted(listed) == sorted([default, floor["name"]])
    assert admin.put(f"{THINGS}/{thing.json()['id']}", json={"groups": listed}).status_code == 200
    # PUT groups replaces the thing's groups (its type's default group stays only if named or typed).
    moved = admin.put(f"{THINGS}/{thing.json()['id']}", json={"groups": []})
    assert moved.status_code == 200 and moved.json()["groups"] == []
    # A type in use cannot go; renaming a group keeps its members.
    assert admin.delete(f"{TYPES}/{meter['id']}").status_code == 409
    renamed = admin.put(f"{GROUPS}/{floor['id']}", json={"name": unique("floor ")})
    assert renamed.status_code == 200 and renamed.json()["name"] != floor["name"]
    assert admin.delete(f"{THINGS}/{thing.json()['id']}").status_code == 204
    assert admin.delete(f"{TYPES}/{meter['id']}").status_code == 204
    assert admin.get(f"{TYPES}/{meter['id']}").status_code == 404
    assert admin.delete(f"{GROUPS}/{floor['id']}").status_code == 204
    # Its former member is still a thing.
    assert admin.get(f"{THINGS}/{other['id']}").status_code == 200


def test_any_device_becomes_a_thing(admin: httpx.Client) -> None:
    """A device created through the Cumulocity API is made a thing by naming it; it keeps its id."""
    device = admin.post(
        "/inventory/managedObjects", json={"name": "Legacy", "type": "c8y_Linux", "c8y_IsDevice": {}}
    ).json()
    name = unique("legacy-")
    made = admin.post(THINGS, json={"name": name, "deviceId": device["id"]})
    assert made.status_code == 201, made.text
    assert made.json()["deviceId"] == device["id"]
    assert admin.post(THINGS, json={"name": unique("x"), "deviceId": device["id"]}).status_code == 409
    mo = admin.get(f"/inventory/managedObjects/{device['id']}").json()
    assert mo["type"] == "c8y_Linux" and mo["fleets_Thing"]["name"] == name
    group = admin.post("/inventory/managedObjects", json={"name": "not a device"}).json()
    assert admin.post(THINGS, json={"name": unique("x"), "deviceId": group["id"]}).status_code == 400
    assert admin.post(THINGS, json={"name": unique("x"), "deviceId": "999999999"}).status_code == 404


def test_authentication_and_tenant_isolation(server: ServerThread, admin: httpx.Client) -> None:
    name = unique("iso-")
    thing = admin.post(THINGS, json={"name": name}).json()
    assert httpx.get(server.url + THINGS).status_code == 401
    assert httpx.get(server.url + THINGS, auth=("t1/admin", "wrong")).json()["code"] == "BAD_USERNAME_OR_PWD"
    # An API key works.
    key = admin.post("/api/v5/api_key", json={"name": unique("k")}).json()
    with httpx.Client(base_url=server.url, auth=(key["api_key"], key["api_secret"])) as client:
        assert client.get(f"{THINGS}/{thing['id']}").status_code == 200
    # Another tenant sees nothing of t1's and may use the same name.
    tenants = server.platform.services.tenants
    other = unique("ten")
    server.call(tenants.create_tenant(other))
    from tether.tenants.models import Role

    server.call(tenants.create_user(other, "boss", "boss-secret-1", {Role.ADMIN}))
    with httpx.Client(base_url=server.url, auth=(f"{other}/boss", "boss-secret-1")) as client:
        assert client.get(f"{THINGS}/{thing['id']}").status_code == 404
        assert client.get(THINGS, params={"name": name}).json()["meta"]["count"] == 0
        assert client.post(THINGS, json={"name": name}).status_code == 201
        assert client.delete(f"{THINGS}/{thing['id']}").status_code == 404
    # A device user is not an operator.
    server.call(tenants.create_user("t1", "device_x1", "dev-secret-1", {Role.DEVICE}))
    assert httpx.get(server.url + THINGS, auth=("t1/device_x1", "dev-secret-1")).status_code == 403


def test_a_new_thing_is_a_device_known_by_its_serial(admin: httpx.Client) -> None:
    """A thing made from nothing has its client id as c8y_Serial, as its device user's SmartREST device would;
    a client id that is another device's serial is refused (that device is to be named instead)."""
    client_id = unique("sn-")
    thing = admin.post(THINGS, json={"name": unique("t-"), "clientId": client_id}).json()
    serial = admin.get(f"/identity/externalIds/c8y_Serial/{client_id}").json()
    assert serial["managedObject"]["id"] == thing["deviceId"]
    device = admin.post("/inventory/managedObjects", json={"name": "d", "c8y_IsDevice": {}}).json()
    taken = unique("SER")
    body = {"externalId": taken, "type": "c8y_Serial"}
    assert admin.post(f"/identity/globalIds/{device['id']}/externalIds", json=body).status_code == 201
    refused = admin.post(THINGS, json={"name": unique("t-"), "clientId": taken})
    assert refused.status_code == 409 and "serial of another device" in refused.json()["message"]
