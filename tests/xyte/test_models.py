"""POST/GET/PUT/PATCH /v1/models: device models with generated hardware keys; the communication protocol is
fixed at creation (docs/protocols.md section 9)."""

from __future__ import annotations

import uuid

import httpx
import pytest
from tests.support import BOOTSTRAP_PASSWORD, ServerThread
from tests.xyte.helpers import create_model, unique, xyte_error


def test_create_returns_201_with_a_generated_hardware_key(admin: httpx.Client) -> None:
    name = unique("Speaker")
    response = admin.post("/v1/models", json={"name": name, "communication_protocol": "mqtt"})
    assert response.status_code == 201, response.text
    model = response.json()
    assert set(model) == {"id", "name", "communication_protocol", "hardware_key", "created_at", "updated_at"}
    assert model["name"] == name
    assert model["communication_protocol"] == "mqtt"
    uuid.UUID(model["id"])
    uuid.UUID(model["hardware_key"])
    assert model["created_at"].endswith("Z")


def test_hardware_keys_are_unique_across_models_and_tenants(
    admin: httpx.Client, other_admin: httpx.Client
) -> None:
    keys = {create_model(admin)["hardware_key"] for _ in range(5)}
    keys |= {create_model(other_admin, "https")["hardware_key"] for _ in range(5)}
    assert len(keys) == 10


def test_list_and_get_show_the_tenants_own_models(admin: httpx.Client, other_admin: httpx.Client) -> None:
    mine = create_model(admin, "https")
    theirs = create_model(other_admin)
    listed = admin.get("/v1/models")
    assert listed.status_code == 200
    ids = [m["id"] for m in listed.json()]
    assert mine["id"] in ids and theirs["id"] not in ids
    assert admin.get(f"/v1/models/{mine['id']}").json() == mine
    xyte_error(admin.get(f"/v1/models/{theirs['id']}"), 404)
    xyte_error(admin.get("/v1/models/no-such-model"), 404)


@pytest.mark.parametrize("method", ["PUT", "PATCH"])
def test_the_protocol_cannot_change(admin: httpx.Client, method: str) -> None:
    model = create_model(admin, "mqtt")
    response = admin.request(method, f"/v1/models/{model['id']}", json={"communication_protocol": "https"})
    body = xyte_error(response, 422)
    assert "communication_protocol" in body["message"]
    assert admin.get(f"/v1/models/{model['id']}").json()["communication_protocol"] == "mqtt"


@pytest.mark.parametrize("method", ["PUT", "PATCH"])
def test_rename_keeps_protocol_and_key(admin: httpx.Client, method: str) -> None:
    model = create_model(admin, "https")
    name = unique("renamed")
    response = admin.request(
        method, f"/v1/models/{model['id']}", json={"name": name, "communication_protocol": "https"}
    )
    assert response.status_code == 200, response.text
    updated = response.json()
    assert updated["name"] == name
    assert updated["hardware_key"] == model["hardware_key"]
    assert updated["communication_protocol"] == "https"


@pytest.mark.parametrize(
    "body",
    [
        {"communication_protocol": "mqtt"},
        {"name": "", "communication_protocol": "mqtt"},
        {"name": 5, "communication_protocol": "mqtt"},
        {"name": "x"},
        {"name": "x", "communication_protocol": "coap"},
        {"name": "x", "communication_protocol": 1},
    ],
)
def test_missing_or_invalid_fields_are_422(admin: httpx.Client, body: dict[str, object]) -> None:
    xyte_error(admin.post("/v1/models", json=body), 422)


def test_malformed_json_is_400_and_a_duplicate_name_409(admin: httpx.Client) -> None:
    xyte_error(admin.post("/v1/models", content=b"{nope", headers={"Content-Type": "application/json"}), 400)
    model = create_model(admin)
    duplicate = {"name": model["name"], "communication_protocol": "https"}
    xyte_error(admin.post("/v1/models", json=duplicate), 409)


def test_only_tenant_admins_manage_models(server: ServerThread) -> None:
    xyte_error(httpx.get(f"{server.url}/v1/models"), 401)
    wrong = httpx.post(
        f"{server.url}/v1/models",
        json={"name": "x", "communication_protocol": "mqtt"},
        auth=("t1/admin", "no"),
    )
    assert xyte_error(wrong, 401)["error"] == "unauthorized"
    assert wrong.headers["www-authenticate"].startswith("Basic")
    bootstrap = ("management/devicebootstrap", BOOTSTRAP_PASSWORD)
    xyte_error(httpx.get(f"{server.url}/v1/models", auth=bootstrap), 403)


def test_unknown_paths_and_methods_answer_in_the_xyte_shape(admin: httpx.Client) -> None:
    xyte_error(admin.get("/v1/nothing-here"), 404)
    xyte_error(admin.delete("/v1/models"), 405)
