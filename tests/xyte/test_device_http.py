"""The calls of a registered device over HTTPS (dev.xyte.io): `Authorization: <access_key>` and its id in
the path. Telemetry is stored as measurements, commands are operations (docs/architecture.md section 1)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from tests.support import ServerThread
from tests.xyte.helpers import create_model, device_call, managed_object_id, register, xyte_error


@pytest.fixture
def device(server: ServerThread, admin: httpx.Client) -> dict[str, Any]:
    registered = register(server.url, create_model(admin, "https"))
    registered["mo_id"] = managed_object_id(admin, registered["id"])
    return registered


def measurements_of(admin: httpx.Client, mo_id: int) -> list[dict[str, Any]]:
    response = admin.get("/measurement/measurements", params={"source": mo_id, "pageSize": 100})
    assert response.status_code == 200
    found: list[dict[str, Any]] = response.json()["measurements"]
    return found


def create_operation(admin: httpx.Client, mo_id: int, **fragments: Any) -> dict[str, Any]:
    response = admin.post("/devicecontrol/operations", json={"deviceId": str(mo_id), **fragments})
    assert response.status_code == 201, response.text
    op: dict[str, Any] = response.json()
    return op


def test_telemetry_is_stored_as_a_measurement(
    server: ServerThread, admin: httpx.Client, device: dict[str, Any]
) -> None:
    payload = {
        "status": "online",
        "timestamp": "2021-08-04T07:45:44.122Z",
        "telemetries": {"fan_speed": 100.1, "temp": 30, "connection": "4g", "usbc": True},
    }
    response = device_call(server.url, "POST", device, "/telemetry", json=payload)
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["command"] is False
    assert answer["config_version"] == 0 and answer["new_licenses"] is False
    [stored] = measurements_of(admin, device["mo_id"])
    assert stored["type"] == "xyte_Telemetry"
    assert stored["time"] == "2021-08-04T07:45:44.122Z"
    assert stored["xyte_Telemetry"] == {
        "fan_speed": {"value": 100.1},
        "temp": {"value": 30},
        "usbc": {"value": 1},
    }
    assert stored["xyte_State"] == {"status": "online", "connection": "4g"}
    series = admin.get(
        "/measurement/measurements/series",
        params={
            "source": device["mo_id"],
            "series": "xyte_Telemetry.fan_speed",
            "dateFrom": "2021-08-04T00:00:00Z",
            "dateTo": "2021-08-05T00:00:00Z",
        },
    ).json()
    assert series["values"] == {"2021-08-04T07:45:44.122Z": [{"min": 100.1, "max": 100.1}]}


def test_status_only_telemetry_takes_the_server_time(
    server: ServerThread, admin: httpx.Client, device: dict[str, Any]
) -> None:
    response = device_call(
        server.url, "POST", device, "/telemetry", json={"status": "error", "message": "fan"}
    )
    assert response.status_code == 200, response.text
    [stored] = measurements_of(admin, device["mo_id"])
    assert stored["xyte_State"] == {"status": "error", "message": "fan"}
    assert "xyte_Telemetry" not in stored
    assert stored["time"].startswith(("20", "21"))


@pytest.mark.parametrize(
    "payload",
    [
        [1, 2],
        {"status": "sleeping"},
        {"telemetries": [1, 2]},
        {"telemetries": {"a": 1}, "timestamp": "yesterday"},
        {"telemetries": {"a": 1}, "timestamp": 5},
        {"telemetries": {"": 1}},
        {"message": 5},
    ],
)
def test_bad_telemetry_is_422_and_nothing_is_stored(
    server: ServerThread, admin: httpx.Client, device: dict[str, Any], payload: Any
) -> None:
    xyte_error(device_call(server.url, "POST", device, "/telemetry", json=payload), 422)
    assert measurements_of(admin, device["mo_id"]) == []


def test_malformed_telemetry_json_is_400(server: ServerThread, device: dict[str, Any]) -> None:
    response = device_call(
        server.url, "POST", device, "/telemetry", content=b"{", headers={"Content-Type": "application/json"}
    )
    xyte_error(response, 400)


def test_wrong_or_missing_access_keys_are_401(
    server: ServerThread, admin: httpx.Client, device: dict[str, Any]
) -> None:
    other = register(server.url, create_model(admin))
    body = {"status": "online"}
    for key in ("wrong", other["access_key"], device["access_key"][:-1], f"Basic {device['access_key']}"):
        xyte_error(device_call(server.url, "POST", device, "/telemetry", key=key, json=body), 401)
    missing = httpx.post(f"{server.url}/v1/devices/{device['id']}/telemetry", json=body)
    assert "www-authenticate" not in missing.headers
    xyte_error(missing, 401)
    unknown = {**device, "id": "00000000-0000-4000-8000-000000000000"}
    xyte_error(device_call(server.url, "POST", unknown, "/telemetry", json=body), 401)
    for path, method in (("/command", "GET"), ("/commands", "GET"), ("/command", "POST")):
        xyte_error(device_call(server.url, method, device, path, key="wrong", json={}), 401)
    assert measurements_of(admin, device["mo_id"]) == []


def test_commands_are_operations(server: ServerThread, admin: httpx.Client, device: dict[str, Any]) -> None:
    xyte_error(device_call(server.url, "GET", device, "/command"), 404)
    assert device_call(server.url, "GET", device, "/commands").json() == []
    op = create_operation(
        admin,
        device["mo_id"],
        description="Reboot",
        xyte_Command={"name": "reboot", "parameters": {"delay": 5}},
    )
    second = create_operation(admin, device["mo_id"], c8y_Restart={})
    telemetry = device_call(server.url, "POST", device, "/telemetry", json={"status": "online"})
    assert telemetry.json()["command"] is True
    command = device_call(server.url, "GET", device, "/command").json()
    assert command == {
        "id": op["id"],
        "device_id": device["id"],
        "status": "pending",
        "name": "reboot",
        "parameters": {"delay": 5},
    }
    listed = device_call(server.url, "GET", device, "/commands").json()
    assert [c["id"] for c in listed] == [op["id"], second["id"]]
    assert listed[1]["name"] == "c8y_Restart" and listed[1]["parameters"] == {}

    update = {"id": op["id"], "status": "in_progress", "message": "rebooting"}
    response = device_call(server.url, "POST", device, "/command", json=update)
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "in_progress"
    assert admin.get(f"/devicecontrol/operations/{op['id']}").json()["status"] == "EXECUTING"
    # In progress comes first now, before older pending ones.
    assert device_call(server.url, "GET", device, "/command").json()["id"] == op["id"]

    done = device_call(server.url, "POST", device, "/command", json={"id": op["id"], "status": "done"})
    assert done.json()["status"] == "done"
    assert admin.get(f"/devicecontrol/operations/{op['id']}").json()["status"] == "SUCCESSFUL"
    # A pending command may fail at once: it passes EXECUTING on its way to FAILED.
    failed = device_call(
        server.url,
        "POST",
        device,
        "/command",
        json={"id": second["id"], "status": "failed", "message": "busy"},
    )
    assert failed.json()["status"] == "error"
    stored = admin.get(f"/devicecontrol/operations/{second['id']}").json()
    assert stored["status"] == "FAILED" and stored["failureReason"] == "busy"
    assert device_call(server.url, "GET", device, "/commands").json() == []
    assert device_call(server.url, "POST", device, "/telemetry", json={}).json()["command"] is False


def test_command_update_errors(server: ServerThread, admin: httpx.Client, device: dict[str, Any]) -> None:
    op = create_operation(admin, device["mo_id"], xyte_Command={"name": "dump"})
    other = register(server.url, create_model(admin))
    foreign = create_operation(admin, managed_object_id(admin, other["id"]), xyte_Command={"name": "dump"})

    def update(body: Any) -> httpx.Response:
        return device_call(server.url, "POST", device, "/command", json=body)

    xyte_error(update({"id": op["id"], "status": "finished"}), 422)
    xyte_error(update({"id": op["id"], "status": "pending"}), 422)
    xyte_error(update({"status": "done"}), 422)
    xyte_error(update({"id": "abc", "status": "done"}), 422)
    xyte_error(update({"id": "999999", "status": "done"}), 404)
    xyte_error(update({"id": foreign["id"], "status": "done"}), 404)
    assert admin.get(f"/devicecontrol/operations/{foreign['id']}").json()["status"] == "PENDING"
    assert update({"id": op["id"], "status": "done"}).status_code == 200
    assert update({"id": int(op["id"]), "status": "done"}).status_code == 200  # repeating is not a change
    xyte_error(update({"id": op["id"], "status": "error"}), 422)  # finished: no way back


def test_a_deleted_device_cannot_call_any_more(
    server: ServerThread, admin: httpx.Client, device: dict[str, Any]
) -> None:
    assert device_call(server.url, "POST", device, "/telemetry", json={}).status_code == 200
    assert admin.delete(f"/inventory/managedObjects/{device['mo_id']}").status_code == 204
    xyte_error(device_call(server.url, "POST", device, "/telemetry", json={}), 401)
