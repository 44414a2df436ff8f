"""/tenant/statistics/summary: what a tenant stores and asks, counted (tenants/statistics.py); the management
tenant may ask for another tenant's, no other tenant may. Both backends."""

from __future__ import annotations

import httpx
from tests.api.users_support import make_user
from tests.support import ServerThread, unique

NOW = "2026-01-01T00:00:00Z"


def test_statistics_summary_counts_the_tenants_data(server: ServerThread, admin: httpx.Client) -> None:
    created = admin.post(
        "/tenant/tenants",
        json={"domain": f"{unique('s')}.io", "adminName": "boss", "adminPass": "stats-secret-1"},
    )
    tenant = created.json()["id"]
    with httpx.Client(base_url=server.url, auth=(f"{tenant}/boss", "stats-secret-1")) as boss:
        empty = boss.get("/tenant/statistics/summary")
        assert empty.status_code == 200, empty.text
        assert empty.json()["deviceCount"] == 0 and empty.json()["measurementsCreatedCount"] == 0
        parent = boss.post("/inventory/managedObjects", json={"name": "gw", "c8y_IsDevice": {}}).json()["id"]
        child = boss.post("/inventory/managedObjects", json={"name": "c", "c8y_IsDevice": {}}).json()["id"]
        boss.post("/inventory/managedObjects", json={"name": "asset"})
        linked = boss.post(
            f"/inventory/managedObjects/{parent}/childDevices", json={"managedObject": {"id": child}}
        )
        assert linked.status_code == 201
        for i in range(3):
            boss.post(
                "/measurement/measurements",
                json={"source": {"id": child}, "type": "t", "time": NOW, "c8y_T": {"T": {"value": i}}},
            )
        boss.post("/event/events", json={"source": {"id": child}, "type": "e", "text": "x", "time": NOW})
        boss.post(
            "/alarm/alarms",
            json={"source": {"id": child}, "type": "a", "text": "x", "severity": "MAJOR", "time": NOW},
        )
        summary = boss.get("/tenant/statistics/summary")
        assert summary.status_code == 200
        body = summary.json()
        assert body["deviceCount"] == 2
        assert body["deviceWithChildrenCount"] == 1 and body["deviceEndpointCount"] == 1
        assert body["inventoriesCreatedCount"] == 3
        assert body["measurementsCreatedCount"] == 3
        assert body["eventsCreatedCount"] == 1 and body["alarmsCreatedCount"] == 1
        assert body["storageSize"] > 0
        assert body["requestCount"] >= 10  # this server counted the tenant's requests
        # A window before today holds nothing created.
        past = boss.get(
            "/tenant/statistics/summary", params={"dateFrom": "2020-01-01", "dateTo": "2020-02-01"}
        ).json()
        assert past["measurementsCreatedCount"] == 0 and past["deviceCount"] == 2
        assert boss.get("/tenant/statistics/summary", params={"tenant": "t1"}).status_code == 403
        bad = boss.get(
            "/tenant/statistics/summary", params={"dateFrom": "2020-02-01", "dateTo": "2020-01-01"}
        )
        assert bad.status_code == 422
    # The management tenant reads another tenant's; a person needs an inventory or tenant role.
    of_other = admin.get("/tenant/statistics/summary", params={"tenant": tenant})
    assert of_other.status_code == 200 and of_other.json()["measurementsCreatedCount"] == 3
    assert admin.get("/tenant/statistics/summary", params={"tenant": "nope"}).status_code == 404
    with httpx.Client(base_url=server.url, auth=make_user(admin, "ROLE_ALARM_READ")) as person:
        assert person.get("/tenant/statistics/summary").status_code == 403
    with httpx.Client(base_url=server.url, auth=make_user(admin, "ROLE_INVENTORY_READ")) as person:
        assert person.get("/tenant/statistics/summary").status_code == 200
        assert person.get("/tenant/statistics/summary", params={"tenant": tenant}).status_code == 403
