"""A bulk operation's ramp goes on after a restart, without creating an operation twice (a module of its own:
the PostgreSQL half reuses the test process's database, which no other server may be using meanwhile)."""

from __future__ import annotations

import httpx
import pytest
from tests.management.sink_servers import wait_until
from tests.management.test_rules_restart import restart
from tests.support import ADMIN_PASSWORD, backends, start_server

MO = "/inventory/managedObjects"
BULK = "/devicecontrol/bulkoperations"


@pytest.mark.parametrize("backend", backends())
def test_the_ramp_resumes_after_a_restart(tmp_path_factory: pytest.TempPathFactory, backend: str) -> None:
    tmp = tmp_path_factory.mktemp("bulk-restart")
    first = start_server(backend, tmp)
    database_url = first.server.settings.effective_database_url
    auth = ("t1/admin", ADMIN_PASSWORD)
    try:
        with httpx.Client(base_url=first.url, auth=auth, timeout=30) as admin:
            group = admin.post(MO, json={"name": "g", "c8y_IsDeviceGroup": {}}).json()["id"]
            devices = []
            for i in range(3):
                device = admin.post(MO, json={"name": f"d{i}", "c8y_IsDevice": {}}).json()["id"]
                ref = {"managedObject": {"id": device}}
                assert admin.post(f"{MO}/{group}/childAssets", json=ref).status_code == 201
                devices.append(device)
            body = {"groupId": group, "creationRamp": 1.0, "operationPrototype": {"c8y_Restart": {}}}
            bulk_id = admin.post(BULK, json=body).json()["id"]

            def created() -> list[str]:
                found = admin.get("/devicecontrol/operations", params={"bulkOperationId": bulk_id}).json()
                return [op["deviceId"] for op in found["operations"]]

            wait_until(lambda: len(created()) >= 1, "the first operation")
    finally:
        first.stop()
    second = restart(tmp, database_url)
    try:
        with httpx.Client(base_url=second.url, auth=auth, timeout=30) as admin:
            wait_until(
                lambda: admin.get(f"{BULK}/{bulk_id}").json()["status"] == "COMPLETED",
                "completed after restart",
            )
            found = admin.get("/devicecontrol/operations", params={"bulkOperationId": bulk_id}).json()
            assert sorted(op["deviceId"] for op in found["operations"]) == sorted(devices)
            assert admin.get(f"{BULK}/{bulk_id}").json()["progress"]["pending"] == 3
    finally:
        second.stop()
