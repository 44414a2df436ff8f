"""The unmodified `c8y-api` client from PyPI against Tether."""

from __future__ import annotations

import pytest
from c8y_api import CumulocityApi
from c8y_api.model import Device, ManagedObject
from tests.support import ADMIN_PASSWORD, ServerThread


@pytest.fixture
def c8y(server: ServerThread) -> CumulocityApi:
    return CumulocityApi(base_url=server.url, tenant_id="t1", username="admin", password=ADMIN_PASSWORD)


def test_create_device_register_and_look_up_external_id(c8y: CumulocityApi) -> None:
    device = Device(
        c8y,
        type="c8y_Linux",
        name="RaspPi BCM2708 17b769d5",
        c8y_Hardware={"model": "RaspPi BCM2708", "serialNumber": "17b769d5"},
    ).create()
    assert device.id and device.is_device
    c8y.identity.create("raspi-17b769d5", "c8y_Serial", device.id)
    assert c8y.identity.get_id("raspi-17b769d5", "c8y_Serial") == device.id
    found = c8y.identity.get_object("raspi-17b769d5", "c8y_Serial")
    assert found.id == device.id and found.name == "RaspPi BCM2708 17b769d5"
    assert found.c8y_Hardware.serialNumber == "17b769d5"
    external = c8y.identity.get("raspi-17b769d5", "c8y_Serial")
    assert external.managed_object_id == device.id
    with pytest.raises(KeyError):
        c8y.identity.get_id("raspi-unknown", "c8y_Serial")

    device = c8y.device_inventory.get(device.id)
    device["c8y_Firmware"] = {"name": "raspberrypi-bootloader", "version": "1.20130207-1"}
    device.update()
    assert c8y.inventory.get(device.id).c8y_Firmware.version == "1.20130207-1"


def test_query_with_filter(c8y: CumulocityApi) -> None:
    for i in range(3):
        ManagedObject(c8y, type="c8y_QueryTest", name=f"query-{i}", c8y_Rank={"value": i}).create()
    Device(c8y, type="c8y_QueryTest", name="query-device").create()
    hits = c8y.inventory.select(
        query="$filter=(type eq 'c8y_QueryTest' and c8y_Rank.value ge 1) $orderby=name"
    )
    assert [mo.name for mo in hits] == ["query-1", "query-2"]
    by_type = c8y.inventory.get_all(type="c8y_QueryTest")
    assert sorted(mo.name for mo in by_type) == ["query-0", "query-1", "query-2", "query-device"]
    devices = c8y.device_inventory.get_all(type="c8y_QueryTest")
    assert [d.name for d in devices] == ["query-device"]
    ordered = c8y.inventory.get_all(type="c8y_QueryTest", order_by="name desc")
    assert [mo.name for mo in ordered] == ["query-device", "query-2", "query-1", "query-0"]
    assert c8y.inventory.get_count(type="c8y_QueryTest") == 4
    named = c8y.inventory.get_all(name="query-1")
    assert [mo.name for mo in named] == ["query-1"]


def test_link_children(c8y: CumulocityApi) -> None:
    gateway = Device(c8y, type="c8y_Gateway", name="gateway", com_cumulocity_model_Agent={}).create()
    sensors = [Device(c8y, type="c8y_Sensor", name=f"sensor-{i}").create() for i in range(2)]
    asset = ManagedObject(c8y, type="c8y_Room", name="room").create()
    for sensor in sensors:
        gateway.add_child_device(sensor)
    gateway.add_child_asset(asset.id)
    reloaded = c8y.device_inventory.get(gateway.id)
    assert sorted(ref.name for ref in reloaded.child_devices) == ["sensor-0", "sensor-1"]
    assert [ref.id for ref in reloaded.child_assets] == [asset.id]
    children = c8y.device_inventory.get_all(parent=gateway.id)
    assert sorted(d.name for d in children) == ["sensor-0", "sensor-1"]
    gateway.delete_tree()
    for gone in (gateway, *sensors, asset):
        with pytest.raises(KeyError):
            c8y.inventory.get(gone.id)


def test_page_through_a_collection(c8y: CumulocityApi) -> None:
    created = [ManagedObject(c8y, type="c8y_PagingTest", name=f"page-{i:02d}").create() for i in range(12)]
    # The client loops currentPage=1,2,... until an empty page.
    listed = list(c8y.inventory.select(type="c8y_PagingTest", page_size=5))
    assert [mo.id for mo in listed] == [mo.id for mo in created]
    second_page = list(c8y.inventory.select(type="c8y_PagingTest", page_size=5, page_number=2))
    assert [mo.name for mo in second_page] == [f"page-{i:02d}" for i in range(5, 10)]
    limited = list(c8y.inventory.select(type="c8y_PagingTest", page_size=5, limit=7))
    assert len(limited) == 7
    assert c8y.inventory.get_count(type="c8y_PagingTest") == 12
