"""/retention/retentions (raw httpx: the c8y-api client has no retention calls): rules CRUD, gated by
ROLE_RETENTION_RULE_READ/ADMIN; the retention job (run on demand: `run_once`, at an instant of the test's
choosing instead of waiting days) deletes exactly the old rows of a rule's data type, type, source and
fragment type, with their files, in the rule's tenant only; the platform default applies to tenants without
a catch-all rule of their own. Both backends (tests/conftest.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from tests.api.test_tenants import PASSWORD, new_tenant
from tests.api.users_support import make_user
from tests.support import ServerThread, unique

DAY_MS = 86_400_000


def ago(days: int) -> str:
    return (
        (datetime.now(UTC) - timedelta(days=days)).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    )


def created(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def rule(client: httpx.Client, **body: Any) -> dict[str, Any]:
    return created(client.post("/retention/retentions", json=body))


def run_once(server: ServerThread, days_later: int = 0) -> int:
    retention = server.platform.services.retention
    now = int(datetime.now(UTC).timestamp() * 1000) + days_later * DAY_MS
    deleted: int = server.call(retention.run_once(now))
    return deleted


def exists(client: httpx.Client, path: str) -> bool:
    status = client.get(path).status_code
    assert status in (200, 404), status
    return status == 200


def files(server: ServerThread, tenant: str) -> set[str]:
    root = Path(server.platform.settings.effective_binaries_dir) / tenant
    return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()}


def test_rules_crud_roles_and_bad_input(admin: httpx.Client, server: ServerThread) -> None:
    made = rule(admin, dataType="MEASUREMENT", type="c8y_Temp", source="42", maximumAge=30)
    assert made["fragmentType"] == "*" and made["editable"] is True and made["maximumAge"] == 30
    assert admin.get(made["self"]).json() == made
    changed = admin.put(made["self"], json={"maximumAge": 7, "fragmentType": "c8y_T"})
    assert changed.status_code == 200, changed.text
    assert changed.json() == {**made, "maximumAge": 7, "fragmentType": "c8y_T"}
    listed = admin.get("/retention/retentions", params={"pageSize": 2000}).json()["retentionRules"]
    assert changed.json() in listed
    for bad in (
        {"dataType": "NOPE", "maximumAge": 1},
        {"dataType": "ALARM", "maximumAge": 0},
        {"dataType": "ALARM", "maximumAge": "3"},
        {"dataType": "ALARM", "fragmentType": "c8y_X", "maximumAge": 3},  # alarms have no fragment rule
        {"dataType": "OPERATION", "type": "x", "maximumAge": 3},
        {"maximumAge": 3, "source": "a\x00b"},
    ):
        response = admin.post("/retention/retentions", json=bad)
        assert response.status_code == 422, (bad, response.text)
    assert admin.get("/retention/retentions/999999").status_code == 404
    assert admin.delete(made["self"]).status_code == 204
    assert admin.get(made["self"]).status_code == 404
    # Roles: nothing without ROLE_RETENTION_RULE_*, reading with _READ, changing with _ADMIN.
    other = rule(admin, dataType="EVENT", maximumAge=5)
    for roles, may_read, may_write in (
        ((), False, False),
        (("ROLE_RETENTION_RULE_READ",), True, False),
        (("ROLE_RETENTION_RULE_ADMIN",), True, True),
    ):
        login, password = make_user(admin, *roles)
        with httpx.Client(base_url=server.url, auth=(login, password)) as user:
            assert user.get("/retention/retentions").status_code == (200 if may_read else 403)
            assert user.get(other["self"]).status_code == (200 if may_read else 403)
            posted = user.post("/retention/retentions", json={"dataType": "EVENT", "maximumAge": 9})
            assert posted.status_code == (201 if may_write else 403), posted.text
            if may_write:
                assert user.delete(posted.json()["self"]).status_code == 204
    # Only the management tenant (t1) makes and changes rules that are not editable.
    fixed = rule(admin, dataType="AUDIT", maximumAge=365, editable=False)
    assert fixed["editable"] is False
    tenant = new_tenant(admin)
    with httpx.Client(base_url=server.url, auth=(f"{tenant['id']}/boss", PASSWORD)) as boss:
        refused = boss.post("/retention/retentions", json={"maximumAge": 3, "editable": False})
        assert refused.status_code == 403
        assert boss.get(fixed["self"]).status_code == 404  # another tenant's rule
    for made_id in (other["id"], fixed["id"]):
        assert admin.delete(f"/retention/retentions/{made_id}").status_code == 204


def test_the_job_deletes_exactly_the_old_rows_of_each_rule(admin: httpx.Client, server: ServerThread) -> None:
    def device() -> str:
        body = {"name": unique("dev"), "c8y_IsDevice": {}, "com_cumulocity_model_Agent": {}}
        return str(created(admin.post("/inventory/managedObjects", json=body))["id"])

    d1, d2 = device(), device()

    def measurement(client: httpx.Client, source: str, kind: str, days: int) -> str:
        body = {"source": {"id": source}, "type": kind, "time": ago(days), kind: {"v": {"value": 1}}}
        return str(created(client.post("/measurement/measurements", json=body))["id"])

    def event(source: str, days: int, *fragments: str) -> str:
        body = {
            "source": {"id": source},
            "type": "e",
            "text": "t",
            "time": ago(days),
            **{f: {} for f in fragments},
        }
        return str(created(admin.post("/event/events", json=body))["id"])

    # Measurements: type c8y_T older than 10 days; events: with fragment c8y_F older than 10 days; audit
    # records of type Alarm older than 10 days; alarms of d1, operations with c8y_Restart, binaries: older
    # than 10 days (their last change; the second run below happens 20 days later).
    rules = [
        rule(admin, dataType="MEASUREMENT", type="c8y_T", maximumAge=10),
        rule(admin, dataType="EVENT", fragmentType="c8y_F", maximumAge=10),
        rule(admin, dataType="AUDIT", type="Alarm", maximumAge=10),
        rule(admin, dataType="ALARM", source=d1, maximumAge=10),
        rule(admin, dataType="OPERATION", fragmentType="c8y_Restart", maximumAge=10),
        rule(admin, dataType="BINARY", maximumAge=10),
    ]
    old_t = [measurement(admin, d1, "c8y_T", 20), measurement(admin, d2, "c8y_T", 11)]
    kept_m = [measurement(admin, d1, "c8y_T", 5), measurement(admin, d1, "c8y_U", 20)]
    default_old = measurement(admin, d1, "c8y_U", 100)  # the platform default: 90 days
    old_e = [event(d1, 20, "c8y_F"), event(d2, 15, "c8y_F", "c8y_G")]
    kept_e = [event(d1, 5, "c8y_F"), event(d1, 20, "c8y_G")]
    attached = admin.post(
        f"/event/events/{old_e[0]}/binaries", files={"file": ("a.log", b"x" * 100, "text/plain")}
    )
    assert attached.status_code == 201, attached.text
    kept_attached = admin.post(
        f"/event/events/{kept_e[0]}/binaries", files={"file": ("b.log", b"y" * 100, "text/plain")}
    )
    assert kept_attached.status_code == 201, kept_attached.text
    audit_old = created(
        admin.post(
            "/audit/auditRecords",
            json={"type": "Alarm", "time": ago(20), "text": "a", "activity": "x", "source": {"id": d1}},
        )
    )["id"]
    audit_kept = created(
        admin.post(
            "/audit/auditRecords",
            json={"type": "User", "time": ago(20), "text": "a", "activity": "x", "source": {"id": d1}},
        )
    )["id"]
    alarms = [
        created(
            admin.post(
                "/alarm/alarms",
                json={"source": {"id": d}, "type": "a", "text": "t", "severity": "MAJOR", "time": ago(0)},
            )
        )["id"]
        for d in (d1, d2)
    ]
    operations = [
        created(admin.post("/devicecontrol/operations", json={"deviceId": d1, f: {}}))["id"]
        for f in ("c8y_Restart", "c8y_Command")
    ]
    binary = created(
        admin.post("/inventory/binaries", files={"file": ("fw.bin", b"z" * 1000, "application/x-fw")})
    )["id"]
    # Another tenant's old data of the same kinds: no rule of t1 touches it.
    tenant = new_tenant(admin)
    with httpx.Client(base_url=server.url, auth=(f"{tenant['id']}/boss", PASSWORD)) as boss:
        source = str(
            created(boss.post("/inventory/managedObjects", json={"name": "x", "c8y_IsDevice": {}}))["id"]
        )
        other_old = measurement(boss, source, "c8y_T", 20)
        other_default = measurement(boss, source, "c8y_T", 100)
        assert files(server, "t1") == {
            f"events/{d1}/{old_e[0]}",
            f"events/{d1}/{kept_e[0]}",
            f"objects/{binary}",
        }

        assert run_once(server) >= 7
        for m in [*old_t, default_old]:
            assert not exists(admin, f"/measurement/measurements/{m}")
        for m in kept_m:
            assert exists(admin, f"/measurement/measurements/{m}")
        for e in old_e:
            assert not exists(admin, f"/event/events/{e}")
        for e in kept_e:
            assert exists(admin, f"/event/events/{e}")
        assert not exists(admin, f"/audit/auditRecords/{audit_old}")
        assert exists(admin, f"/audit/auditRecords/{audit_kept}")
        assert all(exists(admin, f"/alarm/alarms/{a}") for a in alarms)  # changed moments ago
        assert exists(admin, f"/inventory/binaries/{binary}")
        assert files(server, "t1") == {f"events/{d1}/{kept_e[0]}", f"objects/{binary}"}
        assert exists(boss, f"/measurement/measurements/{other_old}")
        assert not exists(boss, f"/measurement/measurements/{other_default}")  # the default holds there too

        # A tenant's own catch-all rule replaces the default; twenty days on, t1's alarms of d1, operations
        # with c8y_Restart and binaries are old.
        rule(boss, maximumAge=10_000)
        kept_long = measurement(boss, source, "c8y_T", 200)
        run_once(server, days_later=20)
        assert exists(boss, f"/measurement/measurements/{kept_long}")
        assert exists(boss, f"/measurement/measurements/{other_old}")
    assert not exists(admin, f"/alarm/alarms/{alarms[0]}") and exists(admin, f"/alarm/alarms/{alarms[1]}")
    assert not exists(admin, f"/devicecontrol/operations/{operations[0]}")
    assert exists(admin, f"/devicecontrol/operations/{operations[1]}")
    assert not exists(admin, f"/inventory/binaries/{binary}")
    assert exists(admin, f"/inventory/managedObjects/{d1}")  # a device is no binary
    assert f"objects/{binary}" not in files(server, "t1")
    for made in rules:
        assert admin.delete(made["self"]).status_code == 204
