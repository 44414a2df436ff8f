"""XyteService.authenticate, which the MQTT authenticate hook calls for Xyte logins: the access key is checked
in constant time against a fast hash, and an unknown or malformed id costs the same check (a decoy hash)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from tests.support import ServerThread
from tests.xyte.helpers import create_model, managed_object_id, register

import tether.registration.xyte as xyte_module
from tether.tenants.passwords import is_fast_hash


def test_authenticate_returns_the_device_record(server: ServerThread, admin: httpx.Client) -> None:
    device = register(server.url, create_model(admin))
    found = server.call(server.platform.services.xyte.authenticate(device["id"], device["access_key"]))
    assert found is not None
    assert found.id == device["id"] and found.tenant_id == "t1"
    assert found.mo_id == managed_object_id(admin, device["id"])
    assert found.principal.username == f"xyte_{device['id']}" and found.principal.is_device
    assert is_fast_hash(found.access_key_hash) and device["access_key"] not in found.access_key_hash
    assert device["access_key"] not in repr(found)


def test_every_refusal_costs_one_hash_check(
    server: ServerThread, admin: httpx.Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    device = register(server.url, create_model(admin))
    checks: list[str] = []
    real = xyte_module.verify_password

    def counting(stored: str, password: str) -> bool:
        checks.append(stored)
        return real(stored, password)

    monkeypatch.setattr(xyte_module, "verify_password", counting)
    attempts: list[tuple[str, Any]] = [
        (device["id"], "wrong"),
        (device["id"], ""),
        ("00000000-0000-4000-8000-000000000000", device["access_key"]),
        ("not-a-uuid", device["access_key"]),
        (device["id"].upper(), device["access_key"]),
    ]
    for device_id, key in attempts:
        assert server.call(server.platform.services.xyte.authenticate(device_id, key)) is None
    assert len(checks) == len(attempts)
    assert all(is_fast_hash(stored) for stored in checks)


def test_objects_that_are_not_xyte_devices_are_read_once(
    server: ServerThread, admin: httpx.Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every new operation asks whether its device is a Xyte device: other devices cost one read."""
    xyte = server.platform.services.xyte
    other = admin.post("/inventory/managedObjects", json={"name": "not xyte", "c8y_IsDevice": {}})
    other_id = int(other.json()["id"])
    device = register(server.url, create_model(admin))
    device_mo = managed_object_id(admin, device["id"])
    reads: list[int] = []
    real = xyte._store.device_for_object

    async def counting(tenant_id: str, mo_id: int) -> Any:
        reads.append(mo_id)
        return await real(tenant_id, mo_id)

    monkeypatch.setattr(xyte._store, "device_for_object", counting)
    for _ in range(3):
        assert server.call(xyte.device_for_object("t1", other_id)) is None
        found = server.call(xyte.device_for_object("t1", device_mo))
        assert found is not None and found.id == device["id"]
    assert reads.count(other_id) == 1 and reads.count(device_mo) <= 1
