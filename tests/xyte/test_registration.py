"""POST /v1/devices: registration with a model's hardware key (docs/protocols.md section 9): 201 {id,
access_key, hub_url, hub_url_static_cert, mqtt_hub_url}; the device IS a managed object with external ids;
once only."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from tests.support import ServerThread
from tests.xyte.helpers import (
    create_model,
    mac,
    managed_object_id,
    register,
    registration,
    unique,
    xyte_error,
)


def test_register_returns_the_documented_fields(server: ServerThread, admin: httpx.Client) -> None:
    model = create_model(admin)
    response = httpx.post(f"{server.url}/v1/devices", json=registration(model))
    assert response.status_code == 201, response.text
    body = response.json()
    assert set(body) == {"id", "access_key", "hub_url", "hub_url_static_cert", "mqtt_hub_url"}
    assert str(uuid.UUID(body["id"])) == body["id"]
    assert len(body["access_key"]) >= 24 and body["access_key"].isalnum()
    # Defaults: the address the device used, and the bound MQTT listener's port on the same host.
    assert body["hub_url"] == body["hub_url_static_cert"] == server.url
    mqtt_port = server.platform.services.readiness.addresses["mqtt"].rsplit(":", 1)[1]
    assert body["mqtt_hub_url"] == f"mqtt://127.0.0.1:{mqtt_port}"
    assert response.headers["cache-control"] == "no-store"


def test_the_device_is_a_managed_object_with_external_ids(server: ServerThread, admin: httpx.Client) -> None:
    model = create_model(admin)
    sn = unique("SN")
    device = register(
        server.url,
        model,
        sn=sn,
        mac="8e-00-00-00-00-0a",
        firmware_version="2.0.1",
        name="Lobby speaker",
        details={"room": "lobby"},
    )
    mo_id = managed_object_id(admin, device["id"])
    mo = admin.get(f"/inventory/managedObjects/{mo_id}").json()
    assert mo["name"] == "Lobby speaker"
    assert mo["type"] == model["name"]
    assert mo["c8y_IsDevice"] == {}
    assert mo["c8y_Hardware"] == {"serialNumber": sn, "model": model["name"]}
    assert mo["c8y_Firmware"] == {"version": "2.0.1"}
    assert mo["xyte_Device"] == {
        "id": device["id"],
        "model_id": model["id"],
        "model": model["name"],
        "mac": "8E:00:00:00:00:0A",
        "details": {"room": "lobby"},
    }
    serial = admin.get(f"/identity/externalIds/c8y_Serial/{sn}")
    assert serial.status_code == 200
    assert serial.json()["managedObject"]["id"] == str(mo_id)
    # Found by the inventory's ordinary queries, like any other device.
    found = admin.get(
        "/inventory/managedObjects", params={"type": model["name"], "fragmentType": "c8y_IsDevice"}
    )
    assert [m["id"] for m in found.json()["managedObjects"]] == [str(mo_id)]


def test_the_hardware_key_selects_the_tenant(
    server: ServerThread, admin: httpx.Client, other_admin: httpx.Client
) -> None:
    model = create_model(other_admin)
    device = register(server.url, model, cloud_id=unique("cloud"), mac=None)
    assert other_admin.get(f"/identity/externalIds/xyte_id/{device['id']}").status_code == 200
    xyte_error_free = admin.get(f"/identity/externalIds/xyte_id/{device['id']}")
    assert xyte_error_free.status_code == 404


def test_parent_id_makes_a_child_device(server: ServerThread, admin: httpx.Client) -> None:
    model = create_model(admin)
    parent = register(server.url, model)
    child = register(server.url, model, parent_id=parent["id"])
    parent_mo = managed_object_id(admin, parent["id"])
    child_mo = managed_object_id(admin, child["id"])
    references = admin.get(f"/inventory/managedObjects/{parent_mo}/childDevices").json()["references"]
    assert [r["managedObject"]["id"] for r in references] == [str(child_mo)]


def test_a_parent_of_another_tenant_or_unknown_is_422(
    server: ServerThread, admin: httpx.Client, other_admin: httpx.Client
) -> None:
    foreign = register(server.url, create_model(other_admin))
    model = create_model(admin)
    for parent_id in (foreign["id"], str(uuid.uuid4()), "not-a-uuid"):
        response = httpx.post(f"{server.url}/v1/devices", json=registration(model, parent_id=parent_id))
        xyte_error(response, 422)


def test_an_unknown_hardware_key_is_refused(server: ServerThread, admin: httpx.Client) -> None:
    model = create_model(admin)
    for key in (str(uuid.uuid4()), "nonsense", model["hardware_key"].upper()):
        body = registration(model, hardware_key=key)
        response = httpx.post(f"{server.url}/v1/devices", json=body)
        assert xyte_error(response, 401)["message"] == "Invalid hardware key"


@pytest.mark.parametrize("missing", ["hardware_key", "sn", "firmware_version"])
def test_a_missing_required_field_is_422(server: ServerThread, admin: httpx.Client, missing: str) -> None:
    body = registration(create_model(admin))
    del body[missing]
    assert missing in xyte_error(httpx.post(f"{server.url}/v1/devices", json=body), 422)["message"]


@pytest.mark.parametrize(
    "fields",
    [
        {"mac": None},  # neither mac nor cloud_id
        {"mac": "not-a-mac"},
        {"mac": "8E:00:00:00:00"},
        {"sn": ""},
        {"sn": 1000},
        {"firmware_version": None},
        {"details": "text"},
        {"name": "x" * 300},
    ],
)
def test_invalid_fields_are_422(server: ServerThread, admin: httpx.Client, fields: dict[str, Any]) -> None:
    body = registration(create_model(admin), **fields)
    xyte_error(httpx.post(f"{server.url}/v1/devices", json=body), 422)


def test_bad_bodies(server: ServerThread) -> None:
    url = f"{server.url}/v1/devices"
    xyte_error(httpx.post(url, content=b"{", headers={"Content-Type": "application/json"}), 400)
    xyte_error(httpx.post(url, content=b""), 400)
    xyte_error(httpx.post(url, json=[1, 2]), 422)
    xyte_error(httpx.post(url, content=b"sn=1", headers={"Content-Type": "text/plain"}), 415)
    xyte_error(httpx.post(url, content=b"{" + b" " * 70_000 + b"}"), 413)


def test_the_same_device_registers_once(server: ServerThread, admin: httpx.Client) -> None:
    model = create_model(admin)
    first = registration(model)
    register(server.url, model, **first)
    url = f"{server.url}/v1/devices"
    # Same model and serial number (another MAC): 409.
    xyte_error(httpx.post(url, json={**first, "mac": mac()}), 409)
    # Same MAC, written differently (another serial number): 409.
    same_mac = first["mac"].replace(":", "-").lower()
    xyte_error(httpx.post(url, json={**first, "sn": unique("sn"), "mac": same_mac}), 409)
    # Same cloud id: 409.
    cloud = registration(model, cloud_id=unique("cloud"), mac=None)
    register(server.url, model, **cloud)
    xyte_error(httpx.post(url, json={**cloud, "sn": unique("sn")}), 409)
    # The same serial number in another model is another device.
    register(server.url, create_model(admin), sn=first["sn"])


def test_concurrent_registrations_of_one_device_leave_one(server: ServerThread, admin: httpx.Client) -> None:
    from concurrent.futures import ThreadPoolExecutor

    model = create_model(admin)
    body = registration(model)
    with ThreadPoolExecutor(8) as pool:
        statuses = list(
            pool.map(
                lambda _: httpx.post(f"{server.url}/v1/devices", json=body, timeout=30).status_code, range(8)
            )
        )
    assert sorted(statuses) == [201] + [409] * 7
    found = admin.get("/inventory/managedObjects", params={"type": model["name"], "pageSize": 100})
    assert len(found.json()["managedObjects"]) == 1


def test_c8y_serial_only_when_free(server: ServerThread, admin: httpx.Client) -> None:
    model = create_model(admin)
    sn = unique("shared")
    first = register(server.url, model, sn=sn)
    second = register(server.url, create_model(admin), sn=sn)  # another model: a second device
    serial = admin.get(f"/identity/externalIds/c8y_Serial/{sn}").json()
    assert serial["managedObject"]["id"] == str(managed_object_id(admin, first["id"]))
    second_mo = managed_object_id(admin, second["id"])
    ids = admin.get(f"/identity/globalIds/{second_mo}/externalIds").json()["externalIds"]
    assert [(x["type"], x["externalId"]) for x in ids] == [("xyte_id", second["id"])]
