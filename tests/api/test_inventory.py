"""Inventory over HTTP: exact wire shapes, checked with httpx."""

from __future__ import annotations

import httpx

VENDOR_MO = "application/vnd.com.nsn.cumulocity.managedObject+json"


def create(client: httpx.Client, **document: object) -> dict[str, object]:
    response = client.post("/inventory/managedObjects", json=document)
    assert response.status_code == 201, response.text
    body: dict[str, object] = response.json()
    return body


def test_create_returns_201_location_and_document(admin: httpx.Client) -> None:
    response = admin.post(
        "/inventory/managedObjects",
        content=b'{"name": "RaspPi", "type": "c8y_Linux", "c8y_IsDevice": {}, "c8y_Hardware": {"model": "B"}}',  # noqa: E501
        headers={"Content-Type": VENDOR_MO, "Accept": VENDOR_MO},
    )
    assert response.status_code == 201
    body = response.json()
    assert (
        response.headers["location"]
        == body["self"]
        == f"{admin.base_url}/inventory/managedObjects/{body['id']}"
    )
    assert response.headers["content-type"].startswith(VENDOR_MO)
    assert body["id"].isdigit() and body["name"] == "RaspPi" and body["type"] == "c8y_Linux"
    assert body["owner"] == "admin" and body["c8y_Hardware"] == {"model": "B"}
    assert body["creationTime"].endswith("Z") and body["lastUpdated"] == body["creationTime"]
    for key in ("childDevices", "childAssets", "childAdditions", "deviceParents", "assetParents"):
        assert body[key] == {"self": f"{body['self']}/{key}", "references": []}


def test_self_links_follow_the_host_header(admin: httpx.Client) -> None:
    mo = create(admin, name="linked")
    response = admin.get(f"/inventory/managedObjects/{mo['id']}", headers={"Host": "tether.example:8443"})
    assert response.json()["self"] == f"http://tether.example:8443/inventory/managedObjects/{mo['id']}"
    assert response.headers["content-type"] == "application/json"


def test_put_merges_and_null_removes_a_fragment(admin: httpx.Client) -> None:
    mo = create(admin, name="m", a={"x": 1}, b="keep", c8y_Software={"pi-driver": "3.4.5"})
    url = f"/inventory/managedObjects/{mo['id']}"
    response = admin.put(
        url, json={"a": None, "c8y_Software": {"pi-driver": "3.4.6"}, "id": "999", "owner": "x"}
    )
    assert response.status_code == 200
    body = response.json()
    assert "a" not in body and body["b"] == "keep" and body["c8y_Software"] == {"pi-driver": "3.4.6"}
    assert body["id"] == mo["id"] and body["owner"] == "admin" and body["name"] == "m"
    assert admin.get(url).json() == body


def test_delete_and_cascade(admin: httpx.Client) -> None:
    parent = create(admin, name="parent", c8y_IsDevice={})
    child = create(admin, name="child", c8y_IsDevice={})
    grandchild = create(admin, name="grandchild")
    kept = create(admin, name="kept child")
    base = "/inventory/managedObjects"
    assert (
        admin.post(
            f"{base}/{parent['id']}/childDevices", json={"managedObject": {"id": child["id"]}}
        ).status_code
        == 201
    )
    assert (
        admin.post(
            f"{base}/{child['id']}/childAssets", json={"managedObject": {"id": grandchild["id"]}}
        ).status_code
        == 201
    )
    assert (
        admin.post(
            f"{base}/{parent['id']}/childAdditions", json={"managedObject": {"id": kept["id"]}}
        ).status_code
        == 201
    )
    assert (
        admin.post(
            f"/identity/globalIds/{child['id']}/externalIds",
            json={"type": "c8y_Serial", "externalId": f"casc-{child['id']}"},
        ).status_code
        == 201
    )
    assert admin.delete(f"{base}/{parent['id']}?cascade=true").status_code == 204
    for gone in (parent, child, grandchild):
        response = admin.get(f"{base}/{gone['id']}")
        assert response.status_code == 404
        assert response.json()["error"] == "inventory/Not Found"
    assert admin.get(f"/identity/externalIds/c8y_Serial/casc-{child['id']}").status_code == 404
    assert admin.get(f"{base}/{kept['id']}").status_code == 200  # additions are not deleted by cascade

    lone_parent = create(admin, name="lone parent")
    lone_child = create(admin, name="lone child")
    admin.post(f"{base}/{lone_parent['id']}/childDevices", json={"managedObject": {"id": lone_child["id"]}})
    assert admin.delete(f"{base}/{lone_parent['id']}").status_code == 204
    assert admin.get(f"{base}/{lone_child['id']}").status_code == 200


def test_child_references(admin: httpx.Client) -> None:
    gw = create(admin, name="gw", com_cumulocity_model_Agent={})
    sensor = create(admin, name="sensor")
    base = f"/inventory/managedObjects/{gw['id']}/childDevices"
    # The form of Cumulocity's REST device-integration guide: the child named by its self URL.
    response = admin.post(
        base,
        json={"managedObject": {"self": sensor["self"]}},
        headers={"Content-Type": "application/vnd.com.nsn.cumulocity.managedObjectReference+json"},
    )
    assert response.status_code == 201
    ref = response.json()
    assert ref["self"] == f"{gw['self']}/childDevices/{sensor['id']}"
    assert ref["managedObject"]["id"] == sensor["id"] and ref["managedObject"]["name"] == "sensor"
    listing = admin.get(base).json()
    assert [r["managedObject"]["id"] for r in listing["references"]] == [sensor["id"]]
    assert listing["statistics"]["currentPage"] == 1
    assert admin.get(f"{base}/{sensor['id']}").json()["managedObject"]["id"] == sensor["id"]
    parent_view = admin.get(f"/inventory/managedObjects/{gw['id']}").json()
    assert parent_view["childDevices"]["references"][0]["managedObject"] == {
        "id": sensor["id"],
        "name": "sensor",
        "self": sensor["self"],
    }
    child_view = admin.get(f"/inventory/managedObjects/{sensor['id']}").json()
    assert child_view["deviceParents"]["references"][0]["managedObject"]["id"] == gw["id"]
    assert admin.delete(f"{base}/{sensor['id']}").status_code == 204
    assert admin.delete(f"{base}/{sensor['id']}").status_code == 404
    assert admin.get(base).json()["references"] == []
    assert admin.get(f"/inventory/managedObjects/{sensor['id']}").status_code == 200


def test_collection_paging_links(admin: httpx.Client) -> None:
    tag = "paging-test"
    ids = [create(admin, name=f"p{i}", type=tag)["id"] for i in range(7)]
    first = admin.get(
        "/inventory/managedObjects",
        params={"type": tag, "pageSize": 3, "withTotalPages": "true", "withTotalElements": "true"},
    ).json()
    assert [m["id"] for m in first["managedObjects"]] == ids[:3]
    assert first["statistics"] == {"currentPage": 1, "pageSize": 3, "totalPages": 3, "totalElements": 7}
    assert "prev" not in first
    second = httpx.get(first["next"], auth=admin.auth).json()
    assert [m["id"] for m in second["managedObjects"]] == ids[3:6]
    assert second["statistics"]["currentPage"] == 2 and "prev" in second
    third = httpx.get(second["next"], auth=admin.auth).json()
    assert [m["id"] for m in third["managedObjects"]] == ids[6:]
    assert "next" not in third
    default = admin.get("/inventory/managedObjects", params={"type": tag}).json()
    assert default["statistics"]["pageSize"] == 5 and len(default["managedObjects"]) == 5
    capped = admin.get("/inventory/managedObjects", params={"type": tag, "pageSize": 5000}).json()
    assert capped["statistics"]["pageSize"] == 2000


def test_filters_and_query_language(admin: httpx.Client) -> None:
    tag = "filter-test"
    a = create(admin, name="Alpha Sensor", type=tag, c8y_IsDevice={}, c8y_Hardware={"model": "X1", "rev": 3})
    b = create(admin, name="Beta Sensor", type=tag, c8y_IsDevice={}, c8y_Hardware={"model": "X2", "rev": 5})
    c = create(admin, name="Gamma Group", type=tag, c8y_IsDeviceGroup={})
    admin.post(f"/inventory/managedObjects/{c['id']}/childAssets", json={"managedObject": {"id": a["id"]}})

    def ids(**params: str) -> list[str]:
        response = admin.get("/inventory/managedObjects", params={"pageSize": "100", **params})
        assert response.status_code == 200, response.text
        return [m["id"] for m in response.json()["managedObjects"]]

    assert ids(type=tag, fragmentType="c8y_IsDevice") == [a["id"], b["id"]]
    assert ids(type=tag, text="gamma") == [c["id"]]
    assert ids(ids=f"{b['id']},{c['id']}") == [b["id"], c["id"]]
    assert ids(childDeviceId=a["id"]) == []
    assert ids(type=tag, onlyRoots="true") == [b["id"], c["id"]]
    assert ids(q=f"$filter=(type eq '{tag}' and c8y_Hardware.rev gt 3)") == [b["id"]]
    assert ids(query=f"$filter=(type eq {tag} and has(c8y_IsDevice)) $orderby=name desc") == [
        b["id"],
        a["id"],
    ]
    assert ids(query=f"type eq '{tag}' and name eq '*Sensor' and not(c8y_Hardware.model eq 'X2')") == [
        a["id"]
    ]
    assert ids(query=f"bygroupid({c['id']})") == [a["id"]]
    assert ids(type=tag, unknownParameter="whatever", owner="admin") == [a["id"], b["id"], c["id"]]
    assert ids(type=tag, withChildren="false") == [a["id"], b["id"], c["id"]]
    no_children = admin.get("/inventory/managedObjects", params={"type": tag, "withChildren": "false"}).json()
    assert "childAssets" not in no_children["managedObjects"][0]


def test_trailing_slashes_and_vendor_collection_type(admin: httpx.Client) -> None:
    response = admin.post("/inventory/managedObjects/", json={"name": "slash"})
    assert response.status_code == 201
    listing = admin.get(
        "/inventory/managedObjects/",
        params={"pageSize": 1},
        headers={"Accept": "application/vnd.com.nsn.cumulocity.managedObjectCollection+json"},
    )
    assert listing.status_code == 200
    assert listing.headers["content-type"].startswith(
        "application/vnd.com.nsn.cumulocity.managedObjectCollection+json"
    )
    assert admin.get(f"/inventory/managedObjects/{response.json()['id']}/").status_code == 200
