"""Relationships and discovery: data of related sources (withSourceAssets / withSourceDevices), supported
measurements and series, reference collections (assign several, create and assign, unassign several); the
`c8y-api` client where it has the call, raw httpx for the rest."""

from __future__ import annotations

import httpx
import pytest
from c8y_api import CumulocityApi
from c8y_api.model import Alarm, Device, DeviceGroup, Event, ManagedObject, Measurement
from tests.support import ADMIN_PASSWORD, ServerThread

from tether.tenants.models import Role

MO = "/inventory/managedObjects"
TIME = "2024-01-01T00:00:00.000Z"


@pytest.fixture(scope="module")
def c8y(server: ServerThread) -> CumulocityApi:
    return CumulocityApi(base_url=server.url, tenant_id="t1", username="admin", password=ADMIN_PASSWORD)


def test_related_sources_and_supported_series(server: ServerThread, c8y: CumulocityApi) -> None:
    # building -> floor (asset) -> gateway (asset) -> sensor (child device); an unrelated device beside.
    building = ManagedObject(c8y, type="c8y_Building", name="building").create()
    floor = ManagedObject(c8y, type="c8y_Floor", name="floor").create()
    gateway = Device(c8y, type="c8y_Gateway", name="gw").create()
    sensor = Device(c8y, type="c8y_Sensor", name="sensor").create()
    stranger = Device(c8y, type="c8y_Sensor", name="stranger").create()
    building.add_child_asset(floor.id)
    floor.add_child_asset(gateway.id)
    gateway.add_child_device(sensor.id)
    for mo in (building, floor, gateway, sensor, stranger):
        Event(c8y, type="c8y_Rel", source=mo.id, time=TIME, text=mo.name).create()
        Alarm(c8y, type=f"c8y_Rel{mo.name}", source=mo.id, time=TIME, text=mo.name, severity="MINOR").create()

    def events(source: str, **flags: bool) -> set[str]:
        return {e.text for e in c8y.events.get_all(source=source, type="c8y_Rel", **flags)}

    def alarms(source: str, **flags: bool) -> set[str]:
        return {a.text for a in c8y.alarms.get_all(source=source, **flags)}

    assert events(building.id) == {"building"}
    assert events(building.id, with_source_assets=True) == {"building", "floor", "gw"}
    assert events(building.id, with_source_assets=True, with_source_devices=True) == {
        "building",
        "floor",
        "gw",
        "sensor",
    }
    assert events(gateway.id, with_source_devices=True) == {"gw", "sensor"}
    assert alarms(building.id, with_source_assets=True, with_source_devices=False) == {
        "building",
        "floor",
        "gw",
    }
    assert alarms(gateway.id, with_source_devices=True) == {"gw", "sensor"}
    assert c8y.alarms.count(source=gateway.id, with_source_devices=True) == 2

    # Supported measurements and series, from what is stored.
    Measurement(
        c8y, type="t", source=sensor.id, time=TIME, c8y_Temp={"T": {"value": 1, "unit": "C"}}
    ).create()
    Measurement(
        c8y, type="t", source=sensor.id, time=TIME, c8y_Power={"L1": {"value": 2}, "L2": {"value": 3}}
    ).create()
    assert sorted(c8y.inventory.get_supported_measurements(sensor.id)) == ["c8y_Power", "c8y_Temp"]
    assert sorted(c8y.inventory.get_supported_series(sensor.id)) == [
        "c8y_Power.L1",
        "c8y_Power.L2",
        "c8y_Temp.T",
    ]
    assert c8y.inventory.get_supported_series(stranger.id) == []

    tenants = server.platform.services.tenants
    server.call(tenants.create_tenant("tr2"))
    server.call(tenants.create_user("tr2", "admin", "tr2-secret", {Role.ADMIN}))
    with httpx.Client(base_url=server.url, auth=("tr2/admin", "tr2-secret"), timeout=30) as other:
        assert other.get(f"{MO}/{sensor.id}/supportedSeries").status_code == 404
        related = other.get("/event/events", params={"source": building.id, "withSourceAssets": "true"})
        assert related.status_code == 200 and related.json()["events"] == []


def test_reference_collections(c8y: CumulocityApi, admin: httpx.Client) -> None:
    group = DeviceGroup(c8y, name="refs").create()
    members = [Device(c8y, type="c8y_T", name=f"m{i}").create() for i in range(3)]
    # Several at once.
    body = {"references": [{"managedObject": {"id": m.id}} for m in members]}
    posted = admin.post(f"{MO}/{group.id}/childAssets", json=body)
    assert posted.status_code == 201, posted.text
    assert [r["managedObject"]["id"] for r in posted.json()["references"]] == [m.id for m in members]
    # Created and assigned at once.
    made = admin.post(f"{MO}/{group.id}/childAssets", json={"name": "new child", "c8y_IsDevice": {}})
    assert made.status_code == 201, made.text
    new_id = made.json()["managedObject"]["id"]
    assert admin.get(f"{MO}/{new_id}").json()["name"] == "new child"
    listed = admin.get(f"{MO}/{group.id}/childAssets", params={"pageSize": 10}).json()["references"]
    assert {r["managedObject"]["id"] for r in listed} == {*(m.id for m in members), new_id}
    # Several unassigned at once (the client's DELETE with a body of references).
    c8y.group_inventory.unassign_children(group.id, members[0].id, members[1].id)
    listed = admin.get(f"{MO}/{group.id}/childAssets", params={"pageSize": 10}).json()["references"]
    assert {r["managedObject"]["id"] for r in listed} == {members[2].id, new_id}
    # Odd input: 4xx, nothing half done.
    gone = {
        "references": [{"managedObject": {"id": members[2].id}}, {"managedObject": {"id": members[0].id}}]
    }
    assert admin.request("DELETE", f"{MO}/{group.id}/childAssets", json=gone).status_code == 404
    assert len(admin.get(f"{MO}/{group.id}/childAssets").json()["references"]) == 2
    for bad in ({"references": "x"}, {"references": [1]}, {"references": [{"managedObject": {"id": "a"}}]}):
        assert admin.post(f"{MO}/{group.id}/childAssets", json=bad).status_code == 422, bad
        assert admin.request("DELETE", f"{MO}/{group.id}/childDevices", json=bad).status_code == 422, bad
    unknown = {"references": [{"managedObject": {"id": "999999999"}}]}
    assert admin.post(f"{MO}/{group.id}/childAssets", json=unknown).status_code == 404
    assert admin.post(f"{MO}/999999999/childAssets", json={"name": "orphan"}).status_code == 404
    assert admin.get(MO, params={"query": "name eq 'orphan'"}).json()["managedObjects"] == []
    assert admin.post(f"{MO}/{group.id}/childAssets", json={"name": 5}).status_code == 422
    assert admin.get(f"{MO}/x1/supportedMeasurements").status_code == 404
