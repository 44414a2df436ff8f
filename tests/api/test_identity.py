"""Identity over HTTP: register, resolve, list and delete external ids."""

from __future__ import annotations

import httpx


def test_external_id_life_cycle(admin: httpx.Client) -> None:
    mo = admin.post("/inventory/managedObjects", json={"name": "raspi"}).json()
    url = f"/identity/globalIds/{mo['id']}/externalIds"
    response = admin.post(
        url,
        json={"type": "c8y_Serial", "externalId": "raspi-0000000017b769d5"},
        headers={
            "Content-Type": "application/vnd.com.nsn.cumulocity.externalId+json",
            "Accept": "application/vnd.com.nsn.cumulocity.externalId+json",
        },
    )
    assert response.status_code == 201
    body = response.json()
    expected = {
        "externalId": "raspi-0000000017b769d5",
        "type": "c8y_Serial",
        "self": f"{admin.base_url}/identity/externalIds/c8y_Serial/raspi-0000000017b769d5",
        "managedObject": {"id": mo["id"], "self": mo["self"]},
    }
    assert body == expected
    assert response.headers["location"] == expected["self"]
    assert response.headers["content-type"].startswith("application/vnd.com.nsn.cumulocity.externalId+json")

    assert admin.get("/identity/externalIds/c8y_Serial/raspi-0000000017b769d5").json() == expected
    duplicate = admin.post(url, json={"type": "c8y_Serial", "externalId": "raspi-0000000017b769d5"})
    assert duplicate.status_code == 409 and duplicate.json()["error"] == "identity/Conflict"

    admin.post(url, json={"type": "c8y_MAC", "externalId": "00:11:22/33"})
    listing = admin.get(url).json()
    assert [(x["type"], x["externalId"]) for x in listing["externalIds"]] == [
        ("c8y_MAC", "00:11:22/33"),
        ("c8y_Serial", "raspi-0000000017b769d5"),
    ]
    assert admin.get("/identity/externalIds/c8y_MAC/00:11:22%2F33").json()["managedObject"]["id"] == mo["id"]

    assert admin.delete("/identity/externalIds/c8y_Serial/raspi-0000000017b769d5").status_code == 204
    missing = admin.get("/identity/externalIds/c8y_Serial/raspi-0000000017b769d5")
    assert missing.status_code == 404
    assert missing.json() == {
        "error": "identity/Not Found",
        "message": "External id not found; external id = ID [type=c8y_Serial, value=raspi-0000000017b769d5]",
        "info": missing.json()["info"],
    }


def test_register_on_unknown_object_is_404(admin: httpx.Client) -> None:
    response = admin.post("/identity/globalIds/987654321/externalIds", json={"type": "t", "externalId": "v"})
    assert response.status_code == 404
    assert response.json()["error"] == "inventory/Not Found"
