"""Tenant options (/tenant/options) with the unmodified c8y-api `tenant_options` API and raw httpx: CRUD by
category and key, paging, the bulk PUT of a category; `credentials.` values encrypted at rest (the raw row
holds no clear text) and never shown; ROLE_OPTION_MANAGEMENT_READ/ADMIN enforced; tenants isolated. Both
backends."""

from __future__ import annotations

import httpx
import pytest
from c8y_api import CumulocityApi
from c8y_api.model import TenantOption
from sqlalchemy import select
from tests.api.users_support import make_user
from tests.support import ADMIN_PASSWORD, ServerThread, unique

from tether.storage.sql.options import tenant_options
from tether.tenants.options import ENCRYPTED

SECRET = "s3cr3t-value-never-shown"


@pytest.fixture
def c8y(server: ServerThread) -> CumulocityApi:
    return CumulocityApi(base_url=server.url, tenant_id="t1", username="admin", password=ADMIN_PASSWORD)


def _raw_value(server: ServerThread, tenant: str, category: str, key: str) -> tuple[str, bool]:
    """The stored row, read from the database itself."""
    database = server.platform.storage.database
    o = tenant_options

    async def read() -> tuple[str, bool]:
        async with database.read() as conn:
            row = (
                await conn.execute(
                    select(o.c.value, o.c.encrypted).where(
                        o.c.tenant_id == tenant, o.c.category == category, o.c.key == key
                    )
                )
            ).one()
        return str(row.value), bool(row.encrypted)

    return server.call(read())


def test_c8y_client_manages_tenant_options(c8y: CumulocityApi) -> None:
    category = unique("cat")
    TenantOption(c8y, category=category, key="a", value="1").create()
    c8y.tenant_options.set_value(category, "b", "2")
    assert c8y.tenant_options.get_value(category, "a") == "1"
    option = c8y.tenant_options.get(category, "b")
    assert (option.category, option.key, option.value) == (category, "b", "2")
    option.value = "22"
    option.update()
    assert c8y.tenant_options.get_value(category, "b") == "22"
    assert c8y.tenant_options.get_all_mapped(category) == {"a": "1", "b": "22"}
    c8y.tenant_options.update_by(category, {"a": "11", "c": "3"})
    assert c8y.tenant_options.get_all_mapped(category) == {"a": "11", "b": "22", "c": "3"}
    everything = {(o.category, o.key): o.value for o in c8y.tenant_options.get_all(page_size=2)}
    assert everything[(category, "c")] == "3"
    c8y.tenant_options.delete_by(category, "c")
    with pytest.raises(KeyError):
        c8y.tenant_options.get(category, "c")
    assert sorted(c8y.tenant_options.get_all_mapped(category)) == ["a", "b"]


def test_credentials_are_encrypted_at_rest_and_never_shown(
    server: ServerThread, admin: httpx.Client, c8y: CumulocityApi
) -> None:
    category = unique("secrets")
    created = admin.post(
        "/tenant/options", json={"category": category, "key": "credentials.pw", "value": SECRET}
    )
    assert created.status_code == 200 and created.json()["value"] == ENCRYPTED
    stored, encrypted = _raw_value(server, "t1", category, "credentials.pw")
    assert encrypted and SECRET not in stored and stored.startswith("v1:")
    for response in (
        admin.get(f"/tenant/options/{category}/credentials.pw"),
        admin.get(f"/tenant/options/{category}"),
        admin.get("/tenant/options", params={"pageSize": 2000}),
    ):
        assert response.status_code == 200 and SECRET not in response.text and ENCRYPTED in response.text
    assert c8y.tenant_options.get_value(category, "credentials.pw") == ENCRYPTED
    # The platform itself can read it back.
    options = server.platform.services.options
    assert server.call(options.secret("t1", category, "credentials.pw")) == SECRET
    # Replaced by PUT, still encrypted (a fresh nonce: another cipher text).
    put = admin.put(f"/tenant/options/{category}/credentials.pw", json={"value": SECRET + "2"})
    assert put.status_code == 200 and put.json()["value"] == ENCRYPTED
    again, _ = _raw_value(server, "t1", category, "credentials.pw")
    assert again != stored and SECRET not in again
    assert server.call(options.secret("t1", category, "credentials.pw")) == SECRET + "2"
    # A plain key keeps its clear value.
    admin.post("/tenant/options", json={"category": category, "key": "plain", "value": "visible"})
    assert _raw_value(server, "t1", category, "plain") == ("visible", False)


def test_option_paging_and_bad_input(admin: httpx.Client) -> None:
    category = unique("page")
    assert (
        admin.put(f"/tenant/options/{category}", json={f"k{i}": str(i) for i in range(5)}).status_code == 200
    )
    first = admin.get("/tenant/options", params={"pageSize": 2, "withTotalPages": "true"})
    assert first.status_code == 200 and len(first.json()["options"]) == 2
    assert first.json()["statistics"]["totalPages"] >= 3 and "next" in first.json()
    option = first.json()["options"][0]
    assert set(option) == {"category", "key", "value", "self"}

    assert admin.get(f"/tenant/options/{category}/missing").status_code == 404
    assert admin.put(f"/tenant/options/{category}/missing", json={"value": "x"}).status_code == 404
    assert admin.delete(f"/tenant/options/{category}/missing").status_code == 404
    assert admin.post("/tenant/options", json={"category": "", "key": "k", "value": "v"}).status_code == 422
    assert admin.post("/tenant/options", json={"category": "c", "value": "v"}).status_code == 422
    assert (
        admin.post("/tenant/options", json={"category": "c", "key": "k", "value": {"x": 1}}).status_code
        == 422
    )
    assert admin.put(f"/tenant/options/{category}/k1", json={}).status_code == 422
    assert admin.put(f"/tenant/options/{category}", json={}).status_code == 422
    assert admin.put(f"/tenant/options/{category}", json={"ok": "1", "bad": ["x"]}).status_code == 422
    assert admin.get(f"/tenant/options/{category}/ok").status_code == 404  # nothing of a refused bulk PUT
    assert admin.get(f"/tenant/options/{unique('none')}").json() == {}
    assert admin.get(f"/tenant/options/{category}/k%00").status_code == 422  # the edge refuses NUL
    assert admin.delete("/tenant/options/a%00/k").status_code == 422
    assert admin.get("/tenant/tenants/t%001").status_code == 422


def test_option_roles_and_tenant_isolation(server: ServerThread, admin: httpx.Client) -> None:
    category = unique("roles")
    admin.post("/tenant/options", json={"category": category, "key": "k", "value": "v"})
    reader = make_user(admin, "ROLE_OPTION_MANAGEMENT_READ")
    with httpx.Client(base_url=server.url, auth=reader) as person:
        assert person.get(f"/tenant/options/{category}/k").json()["value"] == "v"
        assert person.get("/tenant/options").status_code == 200
        assert person.put(f"/tenant/options/{category}/k", json={"value": "w"}).status_code == 403
        assert (
            person.post("/tenant/options", json={"category": category, "key": "n", "value": "v"}).status_code
            == 403
        )
        assert person.delete(f"/tenant/options/{category}/k").status_code == 403
    nobody = make_user(admin, "ROLE_INVENTORY_ADMIN")
    with httpx.Client(base_url=server.url, auth=nobody) as person:
        assert person.get(f"/tenant/options/{category}/k").status_code == 403
        assert person.get("/tenant/options").status_code == 403
    writer = make_user(admin, "ROLE_OPTION_MANAGEMENT_ADMIN")
    with httpx.Client(base_url=server.url, auth=writer) as person:
        assert person.put(f"/tenant/options/{category}/k", json={"value": "w"}).status_code == 200

    created = admin.post(
        "/tenant/tenants",
        json={"domain": f"{unique('o')}.io", "adminName": "boss", "adminPass": "other-secret-1"},
    )
    other = created.json()["id"]
    with httpx.Client(base_url=server.url, auth=(f"{other}/boss", "other-secret-1")) as boss:
        assert boss.get(f"/tenant/options/{category}/k").status_code == 404
        assert boss.get(f"/tenant/options/{category}").json() == {}
        assert (
            boss.post(
                "/tenant/options", json={"category": category, "key": "k", "value": "theirs"}
            ).status_code
            == 200
        )
        assert boss.get(f"/tenant/options/{category}/k").json()["value"] == "theirs"
    assert admin.get(f"/tenant/options/{category}/k").json()["value"] == "w"
