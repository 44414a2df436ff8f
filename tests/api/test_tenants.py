"""Tenant administration (/tenant/tenants): the management tenant (Tether's default tenant, t1) creates,
lists, suspends and deletes tenants, with the unmodified c8y-api `tenants` API and raw httpx; a suspended
tenant's users and devices cannot log in over REST, MQTT or real-time and its MQTT connections end; deleting
removes every row of it from the store; other tenants and people without the role get 403. Both backends."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest
from c8y_api import CumulocityApi
from c8y_api.model import Tenant
from tests.api.users_support import make_user
from tests.mqtt_device import BAD_CREDENTIALS, V5, Device, ServerMqtt
from tests.support import ADMIN_PASSWORD, ServerThread, unique

from tether.tenants.models import Role

ADMINISTRATIVE_ACTION = 0x98
PASSWORD = "tenant-admin-secret"


@pytest.fixture
def c8y(server: ServerThread) -> CumulocityApi:
    return CumulocityApi(base_url=server.url, tenant_id="t1", username="admin", password=ADMIN_PASSWORD)


@pytest.fixture(scope="module")
def mqtt(server: ServerThread) -> ServerMqtt:
    broker = ServerMqtt(server)
    broker.lenient_logins()  # refused logins are what these tests check
    return broker


def new_tenant(admin: httpx.Client, **extra: object) -> dict[str, object]:
    """A tenant created over REST with its first administrator `boss`."""
    body = {
        "domain": f"{unique('d')}.example.com",
        "company": "ACME",
        "contactName": "Jo",
        "adminName": "boss",
        "adminEmail": "boss@example.com",
        "adminPass": PASSWORD,
        **extra,
    }
    created = admin.post("/tenant/tenants", json=body)
    assert created.status_code == 201, created.text
    document: dict[str, object] = created.json()
    assert "adminPass" not in document
    return document


def test_c8y_client_creates_reads_updates_and_lists_tenants(server: ServerThread, c8y: CumulocityApi) -> None:
    domain = f"{unique('acme')}.example.com"
    created = Tenant(
        c8y,
        domain=domain,
        admin_email="ann@example.com",
        admin_name="ann",
        admin_pass=PASSWORD,
        company="ACME AG",
        contact_name="Ann",
        contact_phone="+49 1",
    ).create()
    assert created.id and created.domain == domain and created.status == "ACTIVE"
    assert created.parent == "t1" and created.creation_time

    read = c8y.tenants.get(created.id)
    assert read.company == "ACME AG" and read.admin_name == "ann" and read.admin_email == "ann@example.com"
    read.company = "ACME SE"
    updated = read.update()
    assert updated.company == "ACME SE" and updated.contact_name == "Ann"
    assert created.id in [t.id for t in c8y.tenants.get_all(page_size=2)]

    # The new tenant's first administrator works at once, with the default groups of every tenant.
    with httpx.Client(base_url=server.url, auth=(f"{created.id}/ann", PASSWORD)) as ann:
        assert ann.get("/user/currentUser").status_code == 200
        groups = {g["name"] for g in ann.get(f"/user/{created.id}/groups").json()["groups"]}
        assert {"admins", "readers", "devices"} <= groups
        assert ann.get(f"/user/{created.id}/users/ann").json()["email"] == "ann@example.com"


def test_tenants_page_and_refuse_bad_bodies(admin: httpx.Client) -> None:
    ids = [new_tenant(admin)["id"] for _ in range(3)]
    page = admin.get("/tenant/tenants", params={"pageSize": 2, "withTotalElements": "true"})
    assert page.status_code == 200
    assert len(page.json()["tenants"]) == 2 and page.json()["statistics"]["totalElements"] >= 4
    listed = admin.get("/tenant/tenants", params={"pageSize": 2000}).json()["tenants"]
    assert set(ids) <= {t["id"] for t in listed}
    assert {"t1", "management"} <= {t["id"] for t in listed}

    assert admin.post("/tenant/tenants", json={"domain": "x.io", "adminName": "a"}).status_code == 422
    bad_domain = {"domain": "no spaces", "adminName": "a", "adminPass": PASSWORD}
    assert admin.post("/tenant/tenants", json=bad_domain).status_code == 422
    bad_id = {"id": "../x", "domain": "x.io", "adminName": "a", "adminPass": PASSWORD}
    assert admin.post("/tenant/tenants", json=bad_id).status_code == 422
    taken = {"id": "t1", "domain": "x.io", "adminName": "a", "adminPass": PASSWORD}
    assert admin.post("/tenant/tenants", json=taken).status_code == 409
    assert admin.put(f"/tenant/tenants/{ids[0]}", json={"status": "GONE"}).status_code == 422
    assert admin.get("/tenant/tenants/nope").status_code == 404
    assert admin.put("/tenant/tenants/t1", json={"status": "SUSPENDED"}).status_code == 422
    assert admin.delete("/tenant/tenants/t1").status_code == 422


def test_only_the_management_tenant_with_the_role_administers_tenants(
    server: ServerThread, admin: httpx.Client
) -> None:
    other = new_tenant(admin)
    assert admin.get("/tenant/currentTenant").json()["allowCreateTenants"] is True
    with httpx.Client(base_url=server.url, auth=(f"{other['id']}/boss", PASSWORD)) as boss:
        assert boss.get("/tenant/currentTenant").json()["allowCreateTenants"] is False
        assert boss.get("/tenant/tenants").status_code == 403
        assert boss.get(f"/tenant/tenants/{other['id']}").status_code == 403
        assert boss.post("/tenant/tenants", json={"domain": "x.io"}).status_code == 403
        assert boss.put(f"/tenant/tenants/{other['id']}", json={"company": "x"}).status_code == 403
        assert boss.delete(f"/tenant/tenants/{other['id']}").status_code == 403

    reader = make_user(admin, "ROLE_TENANT_MANAGEMENT_READ")
    with httpx.Client(base_url=server.url, auth=reader) as person:
        assert person.get("/tenant/tenants").status_code == 200
        assert person.get(f"/tenant/tenants/{other['id']}").status_code == 200
        assert person.put(f"/tenant/tenants/{other['id']}", json={"company": "x"}).status_code == 403
        assert person.delete(f"/tenant/tenants/{other['id']}").status_code == 403
    nobody = make_user(admin, "ROLE_INVENTORY_READ")
    with httpx.Client(base_url=server.url, auth=nobody) as person:
        assert person.get("/tenant/tenants").status_code == 403
    manager = make_user(admin, "ROLE_TENANT_MANAGEMENT_ADMIN")
    with httpx.Client(base_url=server.url, auth=manager) as person:
        assert person.put(f"/tenant/tenants/{other['id']}", json={"company": "Z"}).json()["company"] == "Z"


def test_a_suspended_tenant_cannot_log_in_anywhere(
    server: ServerThread, admin: httpx.Client, mqtt: ServerMqtt, mqtt_devices: Callable[..., Device]
) -> None:
    tenant = str(new_tenant(admin)["id"])
    login = f"{tenant}/boss"
    with httpx.Client(base_url=server.url, auth=(login, PASSWORD)) as boss:
        assert boss.get("/inventory/managedObjects").status_code == 200
        key = boss.post("/api/v5/api_key", json={"name": unique("k"), "role": "administrator"}).json()
    live = mqtt_devices(mqtt.port, unique("cli"), V5, username=login, password=PASSWORD)
    assert live.connect() == 0
    # A device of the tenant (its device user, as bootstrap issues them) on SmartREST's ClientId.
    serial = unique("SN")
    device_login = (f"{tenant}/device_{serial}", "device-secret-of-the-tenant")
    tenants = server.platform.services.tenants
    server.call(
        tenants.create_user(tenant, f"device_{serial}", device_login[1], {Role.DEVICE}, generated=True)
    )
    device = mqtt_devices(mqtt.port, serial, V5, username=device_login[0], password=device_login[1])
    assert device.connect() == 0
    handshake = {"channel": "/meta/handshake", "version": "1.0", "supportedConnectionTypes": ["long-polling"]}
    assert httpx.post(f"{server.url}/notification/realtime", json=[handshake], auth=(login, PASSWORD)).json()[
        0
    ]["successful"]

    suspended = admin.put(f"/tenant/tenants/{tenant}", json={"status": "SUSPENDED"})
    assert suspended.status_code == 200 and suspended.json()["status"] == "SUSPENDED"

    assert live.wait_closed() == ADMINISTRATIVE_ACTION  # its live connections end
    assert device.wait_closed() == ADMINISTRATIVE_ACTION
    assert httpx.get(f"{server.url}/user/currentUser", auth=(login, PASSWORD)).status_code == 401
    assert httpx.get(f"{server.url}/inventory/managedObjects", auth=device_login).status_code == 401
    refused_device = mqtt_devices(mqtt.port, serial, V5, username=device_login[0], password=device_login[1])
    assert refused_device.connect() == BAD_CREDENTIALS
    key_auth = (key["api_key"], key["api_secret"])
    assert httpx.get(f"{server.url}/inventory/managedObjects", auth=key_auth).status_code == 401
    again = mqtt_devices(mqtt.port, unique("cli"), V5, username=login, password=PASSWORD)
    assert again.connect() == BAD_CREDENTIALS
    refused = httpx.post(f"{server.url}/notification/realtime", json=[handshake], auth=(login, PASSWORD))
    assert refused.status_code == 401
    # The management tenant still reads it; reactivating lets its users in again.
    assert admin.get(f"/tenant/tenants/{tenant}").json()["status"] == "SUSPENDED"
    assert admin.put(f"/tenant/tenants/{tenant}", json={"status": "ACTIVE"}).status_code == 200
    assert httpx.get(f"{server.url}/user/currentUser", auth=(login, PASSWORD)).status_code == 200
    assert mqtt_devices(mqtt.port, unique("cli"), V5, username=login, password=PASSWORD).connect() == 0


def _rows_of(server: ServerThread, tenant: str) -> dict[str, int]:
    """How many rows of each table carry the tenant's id (read from the database itself)."""
    from sqlalchemy import func, select

    from tether.storage.sql.schema import metadata

    database = server.platform.storage.database

    async def count() -> dict[str, int]:
        found = {}
        async with database.read() as conn:
            for table in metadata.sorted_tables:
                if "tenant_id" in table.c:
                    where = table.c.tenant_id == tenant
                    found[table.name] = int(
                        await conn.scalar(select(func.count()).select_from(table).where(where))
                    )
        return found

    return server.call(count())


def test_deleting_a_tenant_removes_all_its_data(
    server: ServerThread, admin: httpx.Client, mqtt: ServerMqtt, mqtt_devices: Callable[..., Device]
) -> None:
    tenant = str(new_tenant(admin)["id"])
    login = f"{tenant}/boss"
    with httpx.Client(base_url=server.url, auth=(login, PASSWORD)) as boss:
        device = boss.post("/inventory/managedObjects", json={"name": "d", "c8y_IsDevice": {}}).json()["id"]
        boss.post(
            f"/identity/globalIds/{device}/externalIds",
            json={"type": "c8y_Serial", "externalId": unique("s")},
        )
        boss.post(
            "/measurement/measurements",
            json={
                "source": {"id": device},
                "type": "t",
                "time": "2026-01-01T00:00:00Z",
                "c8y_T": {"T": {"value": 1}},
            },
        )
        boss.post(
            "/event/events",
            json={"source": {"id": device}, "type": "e", "text": "x", "time": "2026-01-01T00:00:00Z"},
        )
        boss.post(
            "/alarm/alarms",
            json={
                "source": {"id": device},
                "type": "a",
                "text": "x",
                "severity": "MAJOR",
                "time": "2026-01-01T00:00:00Z",
            },
        )
        boss.post("/devicecontrol/operations", json={"deviceId": device, "c8y_Restart": {}})
        boss.post("/tenant/options", json={"category": "c", "key": "credentials.k", "value": "v"})
    live = mqtt_devices(mqtt.port, unique("cli"), V5, username=login, password=PASSWORD)
    assert live.connect() == 0
    before = _rows_of(server, tenant)
    for table in (
        "users",
        "user_groups",
        "managed_objects",
        "measurements",
        "events",
        "alarms",
        "operations",
    ):
        assert before[table] > 0, table

    assert admin.delete(f"/tenant/tenants/{tenant}").status_code == 204

    assert live.wait_closed() == ADMINISTRATIVE_ACTION
    assert {name: n for name, n in _rows_of(server, tenant).items() if n} == {}
    assert admin.get(f"/tenant/tenants/{tenant}").status_code == 404
    assert tenant not in {
        t["id"] for t in admin.get("/tenant/tenants", params={"pageSize": 2000}).json()["tenants"]
    }
    assert httpx.get(f"{server.url}/user/currentUser", auth=(login, PASSWORD)).status_code == 401
    assert (
        mqtt_devices(mqtt.port, unique("cli"), V5, username=login, password=PASSWORD).connect()
        == BAD_CREDENTIALS
    )
    # Its id is never issued again.
    reuse = {"id": tenant, "domain": "x.io", "adminName": "a", "adminPass": PASSWORD}
    assert admin.post("/tenant/tenants", json=reuse).status_code == 409
    assert admin.delete(f"/tenant/tenants/{tenant}").status_code == 404
