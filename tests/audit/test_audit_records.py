"""/audit/auditRecords: the unmodified c8y-api `audit_records` API and raw httpx; records written by the
services for operation and alarm changes, user, group and role changes, failed logins over REST and MQTT,
option and tenant changes; filters and paging; ROLE_AUDIT_READ/ADMIN enforced; tenants isolated. Both
backends (tests/conftest.py)."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from c8y_api import CumulocityApi
from c8y_api.model import AuditRecord
from tests.api.users_support import make_user
from tests.mqtt_device import BAD_CREDENTIALS, V5, Device, ServerMqtt
from tests.support import ADMIN_PASSWORD, ServerThread, unique

TIMEOUT = 30.0


@pytest.fixture
def c8y(server: ServerThread) -> CumulocityApi:
    return CumulocityApi(base_url=server.url, tenant_id="t1", username="admin", password=ADMIN_PASSWORD)


@pytest.fixture(scope="module")
def mqtt(server: ServerThread) -> ServerMqtt:
    broker = ServerMqtt(server)
    broker.lenient_logins()  # refused logins are what these tests check
    return broker


def records(client: httpx.Client, **params: Any) -> list[dict[str, Any]]:
    response = client.get("/audit/auditRecords", params={"pageSize": 2000, **params})
    assert response.status_code == 200, response.text
    found: list[dict[str, Any]] = response.json()["auditRecords"]
    return found


def wait_for(client: httpx.Client, match: Callable[[dict[str, Any]], bool], **params: Any) -> dict[str, Any]:
    """The first record matching, once the trail has written it (records are written moments later)."""
    deadline = time.monotonic() + TIMEOUT
    while True:
        for record in records(client, **params):
            if match(record):
                return record
        assert time.monotonic() < deadline, f"no audit record matched among {records(client, **params)}"
        time.sleep(0.05)


def test_c8y_client_creates_reads_and_selects_audit_records(c8y: CumulocityApi) -> None:
    source = c8y.post("/inventory/managedObjects", json={"name": unique("src")})["id"]
    activity = unique("act")
    c8y.audit_records.create(
        AuditRecord(c8y, type="Inventory", source=source, activity=activity, text="made by hand", time="now"),
        AuditRecord(
            c8y, type="Inventory", source=source, activity=activity, text="second", time="now", user="someone"
        ),
    )
    found = c8y.audit_records.get_all(source=source, type="Inventory")
    assert [r.text for r in found] == ["made by hand", "second"]
    assert found[0].user == "admin" and found[1].user == "someone"  # the caller unless it names one
    assert found[0].source == source and found[0].activity == activity and found[0].creation_time
    assert [r.text for r in c8y.audit_records.get_all(source=source, reverse=True)] == [
        "second",
        "made by hand",
    ]
    assert [r.text for r in c8y.audit_records.get_all(source=source, user="someone")] == ["second"]
    one = c8y.audit_records.get(found[1].id)
    assert one.text == "second" and one.type == "Inventory"
    later = datetime.now(UTC) + timedelta(hours=1)
    assert c8y.audit_records.get_all(source=source, after=later) == []
    assert len(c8y.audit_records.get_all(source=source, before=later, page_size=1)) == 2


def test_services_write_records_of_their_changes(server: ServerThread, admin: httpx.Client) -> None:
    device = admin.post("/inventory/managedObjects", json={"name": unique("d"), "c8y_IsDevice": {}}).json()[
        "id"
    ]
    operation = admin.post("/devicecontrol/operations", json={"deviceId": device, "c8y_Restart": {}}).json()
    admin.put(f"/devicecontrol/operations/{operation['id']}", json={"status": "EXECUTING"})
    created = wait_for(admin, lambda r: r["activity"] == "Operation created", source=device, type="Operation")
    assert created["source"]["id"] == device and "PENDING" in created["text"]
    wait_for(admin, lambda r: "EXECUTING" in r["text"], source=device, type="Operation")

    alarm = admin.post(
        "/alarm/alarms",
        json={
            "source": {"id": device},
            "type": "hot",
            "text": "too hot",
            "severity": "MAJOR",
            "time": "2026-01-01T00:00:00Z",
        },
    ).json()
    admin.put(f"/alarm/alarms/{alarm['id']}", json={"status": "CLEARED"})
    raised = wait_for(admin, lambda r: r["activity"] == "Alarm created", source=device, type="Alarm")
    assert raised["severity"] == "MAJOR" and "too hot" in raised["text"]
    wait_for(admin, lambda r: "CLEARED" in r["text"], source=device, type="Alarm")

    login, _ = make_user(admin, "ROLE_AUDIT_READ")
    name = login.split("/")[1]
    wait_for(admin, lambda r: r["activity"] == "User created" and r["user"] == "admin", source=name)
    wait_for(
        admin, lambda r: r["activity"] == "Role assigned" and "ROLE_AUDIT_READ" in r["text"], source=name
    )
    admin.put(f"/user/t1/users/{name}", json={"enabled": False})
    wait_for(admin, lambda r: r["activity"] == "User updated" and "enabled" in r["text"], source=name)
    group = admin.post("/user/t1/groups", json={"name": unique("g")}).json()["id"]
    wait_for(admin, lambda r: r["activity"] == "Group created", source=str(group), type="Group")

    category = unique("opt")
    admin.post(
        "/tenant/options", json={"category": category, "key": "credentials.k", "value": "hidden-value"}
    )
    admin.post("/tenant/options", json={"category": category, "key": "k", "value": "shown"})
    secret = wait_for(admin, lambda r: True, source=f"{category}/credentials.k", type="Option")
    assert "hidden-value" not in secret["text"]  # an encrypted option's value is never written to the trail
    wait_for(admin, lambda r: "shown" in r["text"], source=f"{category}/k", type="Option")
    admin.delete(f"/tenant/options/{category}/k")
    wait_for(admin, lambda r: r["activity"] == "Option deleted", source=f"{category}/k")

    tenant = admin.post(
        "/tenant/tenants",
        json={"domain": f"{unique('a')}.io", "adminName": "boss", "adminPass": "audit-secret-1"},
    ).json()["id"]
    admin.put(f"/tenant/tenants/{tenant}", json={"status": "SUSPENDED"})
    wait_for(admin, lambda r: r["activity"] == "Tenant created", source=tenant, type="Tenant")
    wait_for(admin, lambda r: r["activity"] == "Tenant suspended", source=tenant, type="Tenant")


def test_failed_logins_are_recorded(
    server: ServerThread, admin: httpx.Client, mqtt: ServerMqtt, mqtt_devices: Callable[..., Device]
) -> None:
    login, _ = make_user(admin)
    name = login.split("/")[1]
    assert httpx.get(f"{server.url}/user/currentUser", auth=(login, "wrong-password")).status_code == 401
    rest = wait_for(admin, lambda r: "REST" in r["text"], source=name, type="UserAuthentication")
    assert rest["activity"] == "Login failed" and rest["severity"] == "WARNING" and rest["user"] == name
    device = mqtt_devices(mqtt.port, unique("cli"), V5, username=login, password="wrong-password")
    assert device.connect() == BAD_CREDENTIALS
    wait_for(admin, lambda r: "MQTT" in r["text"], source=name, type="UserAuthentication")


def test_audit_roles_paging_and_isolation(server: ServerThread, admin: httpx.Client) -> None:
    source = unique("s")
    for i in range(5):
        posted = admin.post(
            "/audit/auditRecords",
            json={
                "type": "SYSTEM",
                "time": f"2026-01-0{i + 1}T00:00:00Z",
                "activity": "a",
                "text": f"n{i}",
                "source": {"id": source},
                "c8y_Custom": {"n": i},
            },
        )
        assert posted.status_code == 201, posted.text
    assert posted.json()["c8y_Custom"] == {"n": 4} and posted.headers["location"].endswith(
        posted.json()["id"]
    )
    page = admin.get("/audit/auditRecords", params={"source": source, "pageSize": 2, "currentPage": 2})
    assert [r["text"] for r in page.json()["auditRecords"]] == ["n2", "n3"]
    window = records(admin, source=source, dateFrom="2026-01-02T00:00:00Z", dateTo="2026-01-04T00:00:00Z")
    assert [r["text"] for r in window] == ["n1", "n2"]
    record_id = posted.json()["id"]

    reader = make_user(admin, "ROLE_AUDIT_READ")
    with httpx.Client(base_url=server.url, auth=reader) as person:
        assert person.get(f"/audit/auditRecords/{record_id}").status_code == 200
        refused = person.post(
            "/audit/auditRecords",
            json={
                "type": "SYSTEM",
                "time": "2026-01-01T00:00:00Z",
                "activity": "a",
                "text": "t",
                "source": {"id": "1"},
            },
        )
        assert refused.status_code == 403
    with httpx.Client(base_url=server.url, auth=make_user(admin, "ROLE_INVENTORY_ADMIN")) as person:
        assert person.get("/audit/auditRecords").status_code == 403
        assert person.get(f"/audit/auditRecords/{record_id}").status_code == 403

    for bad in (
        {"type": "SYSTEM", "time": "2026-01-01T00:00:00Z", "activity": "a", "text": "t"},
        {"type": "Nope", "time": "2026-01-01T00:00:00Z", "activity": "a", "text": "t", "source": {"id": "1"}},
        {"type": "SYSTEM", "time": "2026-01-01T00:00:00Z", "text": "t", "source": {"id": "1"}},
    ):
        assert admin.post("/audit/auditRecords", json=bad).status_code == 422, bad
    bad_time = {"type": "SYSTEM", "time": "yesterday", "activity": "a", "text": "t", "source": {"id": "1"}}
    assert admin.post("/audit/auditRecords", json=bad_time).status_code == 400  # as every bad date is
    assert admin.get("/audit/auditRecords/abc").status_code == 404
    assert admin.get("/audit/auditRecords", params={"dateFrom": "never"}).status_code == 400
    assert admin.get("/audit/auditRecords", params={"user": "a\x00b"}).status_code == 422

    created = admin.post(
        "/tenant/tenants",
        json={"domain": f"{unique('i')}.io", "adminName": "boss", "adminPass": "iso-secret-1"},
    )
    other = created.json()["id"]
    with httpx.Client(base_url=server.url, auth=(f"{other}/boss", "iso-secret-1")) as boss:
        assert boss.get(f"/audit/auditRecords/{record_id}").status_code == 404
        assert records(boss, source=source) == []
