"""A live SmartREST device whose managed object is deleted never writes to, or receives for, an object it no
longer owns (README, Telemetry: deleting a device). Its connection forgets the object
(adapters/smartrest/dispatch.py deleted); its next message creates its device anew, as for a device seen for
the first time.

The old id is handed to another object on purpose (tests/forced_reuse.py): the store no longer reuses ids,
but a connection must not depend on that."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
from tests.forced_reuse import reuse_id
from tests.mqtt_device import Device
from tests.support import ServerThread

AGENT = {"com_cumulocity_model_Agent": {}, "c8y_IsDevice": {}}


def _mo(admin: httpx.Client, xid: str) -> int:
    response = admin.get(f"/identity/externalIds/c8y_Serial/{xid}")
    assert response.status_code == 200, response.text
    return int(response.json()["managedObject"]["id"])


def _values(admin: httpx.Client, mo_id: int) -> list[Any]:
    found = admin.get("/measurement/measurements", params={"source": mo_id, "pageSize": 100}).json()
    return [m["c8y_T"]["T"]["value"] for m in found["measurements"]]


def _delete(admin: httpx.Client, mo_id: int, **params: str) -> None:
    response = admin.delete(f"/inventory/managedObjects/{mo_id}", params=params)
    assert response.status_code == 204, response.text


def test_measurements_after_deletion_go_to_a_new_device(
    server: ServerThread, connect: Callable[..., Device], admin: httpx.Client
) -> None:
    device = connect()
    assert device.publish("s/us", "200,c8y_T,T,1") == 0  # creates the device; the connection keeps it
    old = _mo(admin, device.client_id)
    _delete(admin, old)
    reuse_id(server, old, AGENT)

    # The fast path (measurement-only message of a known device) would have written to `old`.
    assert device.publish("s/us", "200,c8y_T,T,2") == 0
    assert _values(admin, old) == []
    new = _mo(admin, device.client_id)
    assert new != old
    assert _values(admin, new) == [2]


def test_operations_for_the_reused_id_are_not_delivered(
    server: ServerThread, connect: Callable[..., Device], admin: httpx.Client
) -> None:
    device = connect()
    assert device.publish("s/us", "100") == 0
    old = _mo(admin, device.client_id)
    _delete(admin, old)
    reuse_id(server, old, AGENT)

    response = admin.post("/devicecontrol/operations", json={"deviceId": str(old), "c8y_Restart": {}})
    assert response.status_code == 201, response.text
    # An operation for a connected device is published on s/ds before POST answers (dispatch.py); the
    # device's next line on s/ds is therefore its answer to 105, not 510 for the object that is not its own.
    assert device.publish("s/us", "105") == 0
    assert device.get("s/ds").payload == b"106"
    assert _mo(admin, device.client_id) != old


def test_a_deleted_child_is_created_anew(
    server: ServerThread, connect: Callable[..., Device], admin: httpx.Client
) -> None:
    device = connect()
    child = f"{device.client_id}_child"
    assert device.publish("s/us", f"101,{child},Child") == 0
    assert device.publish(f"s/us/{child}", "200,c8y_T,T,1") == 0
    old_child = _mo(admin, child)
    _delete(admin, old_child)
    reuse_id(server, old_child, {"c8y_IsDevice": {}})

    assert device.publish(f"s/us/{child}", "200,c8y_T,T,2") == 0
    assert _values(admin, old_child) == []
    new_child = _mo(admin, child)
    assert new_child != old_child and _values(admin, new_child) == [2]
    # Created below its device again (docs/protocols.md section 1: a first-level child on s/us/<child>).
    children = admin.get(f"/inventory/managedObjects/{_mo(admin, device.client_id)}/childDevices").json()
    assert [r["managedObject"]["id"] for r in children["references"]] == [str(new_child)]


def test_children_deleted_by_cascade_are_forgotten(
    server: ServerThread, connect: Callable[..., Device], admin: httpx.Client
) -> None:
    device = connect()
    child = f"{device.client_id}_kid"
    assert device.publish(f"s/us/{child}", "200,c8y_T,T,1") == 0  # creates the device and its child
    root, old_child = _mo(admin, device.client_id), _mo(admin, child)
    _delete(admin, root, cascade="true")
    reuse_id(server, old_child, {"c8y_IsDevice": {}})

    assert device.publish(f"s/us/{child}", "200,c8y_T,T,2") == 0
    assert _values(admin, old_child) == []
    new_child = _mo(admin, child)
    assert new_child != old_child and _values(admin, new_child) == [2]
    assert _mo(admin, device.client_id) != root
