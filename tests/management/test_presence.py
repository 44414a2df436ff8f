"""Presence with paho-mqtt and httpx against a real server: connection history (/api/v5/clients/{clientid}/
history, /inventory/managedObjects/{id}/connections), c8y_Connection and c8y_Availability, the
unavailability and offline alarms (a fake clock and explicit timer steps: no sleeping), tenant isolation
and history across a restart."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.mqtt_device import V5, V311, Device, ServerMqtt
from tests.support import ADMIN_PASSWORD, ServerThread, backends, start_server, unique

from tether.tenants.models import Role


class FakeClock:
    def __init__(self) -> None:
        self.now = int(time.time() * 1000)

    def __call__(self) -> int:
        return self.now


def _use_clock(server: ServerThread) -> FakeClock:
    clock = FakeClock()
    presence = server.platform.services.presence
    presence.clock = presence.availability.clock = clock
    return clock


def _tick(server: ServerThread) -> None:
    server.call(server.platform.services.presence.tick())


def _eventually(check: Callable[[], Any]) -> Any:
    """Retry until `check` returns something truthy (server-side effects follow the client's acts)."""
    for _ in range(400):
        result = check()
        if result:
            return result
        time.sleep(0.025)
    raise AssertionError("condition never held")


def _device(admin: httpx.Client, serial: str, **fragments: Any) -> str:
    mo = admin.post("/inventory/managedObjects", json={"name": serial, "c8y_IsDevice": {}, **fragments})
    assert mo.status_code == 201
    mo_id: str = mo.json()["id"]
    xid = {"type": "c8y_Serial", "externalId": serial}
    assert admin.post(f"/identity/globalIds/{mo_id}/externalIds", json=xid).status_code == 201
    return mo_id


def _connect(server: ServerThread, serial: str, protocol: int = V5) -> Device:
    """The tenant's administrator acting as the device (its ClientId names the serial)."""
    device = Device(ServerMqtt(server).port, serial, protocol, username="t1/admin", password=ADMIN_PASSWORD)
    assert device.connect() == 0
    return device


def _history(admin: httpx.Client, client_id: str, **params: Any) -> dict[str, Any]:
    response = admin.get(f"/api/v5/clients/{client_id}/history", params=params)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


@pytest.mark.parametrize("protocol", [V5, V311], ids=["mqtt5", "mqtt311"])
def test_history_and_connection_status(admin: httpx.Client, server: ServerThread, protocol: int) -> None:
    serial = unique("pres")
    mo_id = _device(admin, serial)
    first = _connect(server, serial, protocol)
    server.call(server.platform.services.presence.flush())
    assert admin.get(f"/inventory/managedObjects/{mo_id}").json()["c8y_Connection"] == {"status": "CONNECTED"}
    first.close()
    _eventually(lambda: _history(admin, serial)["data"][0]["disconnected_at"])
    second = _connect(server, serial, protocol)
    body = _history(admin, serial)
    assert body["meta"] == {"page": 1, "limit": 100, "count": 2, "hasnext": False}
    newest, oldest = body["data"]
    assert newest["disconnected_at"] is None and newest["reason"] is None
    assert oldest["reason"] == "normal" and oldest["disconnected_at"] >= oldest["connected_at"]
    assert oldest["username"] == "t1/admin" and oldest["ip_address"] == "127.0.0.1"
    assert oldest["proto_ver"] == (5 if protocol == V5 else 4) and oldest["keepalive"] == 60
    assert newest["connected_at"] >= oldest["connected_at"]
    # Paging and a time range.
    page = _history(admin, serial, limit=1, page=2)
    assert page["data"] == [oldest] and page["meta"]["hasnext"] is False
    assert _history(admin, serial, to=0)["data"] == []
    assert _history(admin, serial, **{"from": oldest["connected_at"]})["meta"]["count"] == 2
    assert admin.get(f"/api/v5/clients/{serial}/history", params={"from": "x"}).status_code == 400
    # Per device.
    per_device = admin.get(f"/inventory/managedObjects/{mo_id}/connections").json()
    assert [c["connected_at"] for c in per_device["connections"]] == [
        newest["connected_at"],
        oldest["connected_at"],
    ]
    assert per_device["connections"][0]["externalId"] == serial
    second.close()
    _eventually(lambda: _history(admin, serial)["data"][0]["disconnected_at"])
    server.call(server.platform.services.presence.flush())
    mo = admin.get(f"/inventory/managedObjects/{mo_id}").json()
    assert mo["c8y_Connection"] == {"status": "DISCONNECTED"}
    # Offline clients keep their history; unknown clients have none.
    assert _history(admin, unique("nobody"))["data"] == []


def test_device_connection_counts_through_batches(admin: httpx.Client, server: ServerThread) -> None:
    """A connection that begins and ends before the writer sees it, and two overlapping connections of one
    device (two client ids, one serial): c8y_Connection follows the device's last live connection."""
    serial = unique("batch")
    mo_id = _device(admin, serial)
    _connect(server, serial).close()  # open and closed within one write batch
    server.call(server.platform.services.presence.flush())
    assert _history(admin, serial)["data"][0]["reason"] == "normal"
    assert admin.get(f"/inventory/managedObjects/{mo_id}/availability").json()["connectionStatus"] == (
        "DISCONNECTED"
    )
    first = _connect(server, serial)
    port = ServerMqtt(server).port
    second = Device(port, f"{serial}-b", V5, username="t1/admin", password=ADMIN_PASSWORD)
    assert second.connect() == 0
    server.call(server.platform.services.presence.flush())
    # The second client id names no device: only the first counts for it.
    assert admin.get(f"/inventory/managedObjects/{mo_id}").json()["c8y_Connection"] == {"status": "CONNECTED"}
    second.close()
    first.close()
    _eventually(lambda: _history(admin, serial)["data"][0]["disconnected_at"])
    server.call(server.platform.services.presence.flush())
    assert admin.get(f"/inventory/managedObjects/{mo_id}").json()["c8y_Connection"] == {
        "status": "DISCONNECTED"
    }


def test_tenant_isolation(admin: httpx.Client, server: ServerThread) -> None:
    serial = unique("iso")
    mo_id = _device(admin, serial)
    _connect(server, serial).close()
    _eventually(lambda: _history(admin, serial)["data"])
    tenant = unique("t")
    services = server.platform.services
    server.call(services.tenants.create_tenant(tenant))
    server.call(services.tenants.create_user(tenant, "boss", "boss-pw", {Role.ADMIN}))
    with httpx.Client(base_url=server.url, auth=(f"{tenant}/boss", "boss-pw")) as other:
        assert other.get(f"/api/v5/clients/{serial}/history").json()["data"] == []
        assert other.get(f"/inventory/managedObjects/{mo_id}/connections").status_code == 404
        assert other.get(f"/inventory/managedObjects/{mo_id}/availability").status_code == 404
    assert httpx.get(f"{server.url}/api/v5/clients/{serial}/history").status_code == 401


def test_unavailability_alarm(admin: httpx.Client, server: ServerThread) -> None:
    clock = _use_clock(server)
    serial = unique("avail")
    mo_id = _device(admin, serial, c8y_RequiredAvailability={"responseInterval": 1})
    device = _connect(server, serial)
    server.call(server.platform.services.presence.flush())
    assert device.publish("s/us", "400,c8y_Test,hello") == 0
    _tick(server)
    availability = admin.get(f"/inventory/managedObjects/{mo_id}/availability").json()
    assert availability["dataStatus"] == "AVAILABLE" and availability["connectionStatus"] == "CONNECTED"
    assert availability["interval"] == 1 and "lastMessage" in availability
    assert admin.get(f"/inventory/managedObjects/{mo_id}").json()["c8y_Availability"]["status"] == "AVAILABLE"

    def alarms(status: str) -> list[dict[str, Any]]:
        params = {"source": mo_id, "type": "c8y_UnavailabilityAlarm", "status": status}
        found: list[dict[str, Any]] = admin.get("/alarm/alarms", params=params).json()["alarms"]
        return found

    clock.now += 30_000
    _tick(server)
    assert alarms("ACTIVE") == []
    clock.now += 31_000
    _tick(server)
    assert len(alarms("ACTIVE")) == 1
    assert admin.get(f"/inventory/managedObjects/{mo_id}/availability").json()["dataStatus"] == "UNAVAILABLE"
    mo = admin.get(f"/inventory/managedObjects/{mo_id}").json()
    assert mo["c8y_Availability"]["status"] == "UNAVAILABLE"
    # Heard from again: available, the alarm cleared.
    assert device.publish("s/us", "400,c8y_Test,again") == 0
    _tick(server)
    assert alarms("ACTIVE") == [] and len(alarms("CLEARED")) == 1
    assert admin.get(f"/inventory/managedObjects/{mo_id}/availability").json()["dataStatus"] == "AVAILABLE"
    device.close()


@pytest.fixture(params=backends())
def restartable(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[list[ServerThread]]:
    servers = [start_server(request.param, tmp_path, presence_offline_grace=60)]
    yield servers
    servers[-1].stop()


def test_history_and_offline_alarm_across_restart(restartable: list[ServerThread]) -> None:
    server = restartable[0]
    serial = unique("restart")
    with httpx.Client(base_url=server.url, auth=("t1/admin", ADMIN_PASSWORD), timeout=30) as admin:
        mo_id = _device(admin, serial)
        _connect(server, serial)
        server.call(server.platform.services.presence.flush())
        connected_at = _history(admin, serial)["data"][0]["connected_at"]
    server.stop()  # the device is still connected
    again = ServerThread(server.server.settings).start()
    restartable.append(again)
    clock = _use_clock(again)
    with httpx.Client(base_url=again.url, auth=("t1/admin", ADMIN_PASSWORD), timeout=30) as admin:
        (row,) = _history(admin, serial)["data"]
        assert row["connected_at"] == connected_at
        assert row["disconnected_at"] is not None and row["reason"] == "shutdown"
        assert admin.get(f"/inventory/managedObjects/{mo_id}").json()["c8y_Connection"] == {
            "status": "DISCONNECTED"
        }

        def offline(status: str) -> list[Any]:
            params = {"source": mo_id, "type": "tether_OfflineAlarm", "status": status}
            found: list[Any] = admin.get("/alarm/alarms", params=params).json()["alarms"]
            return found

        _tick(again)
        assert offline("ACTIVE") == []
        clock.now += 61_000
        _tick(again)
        assert len(offline("ACTIVE")) == 1
        # The device comes back: the offline alarm is cleared.
        device = _connect(again, serial)
        again.call(again.platform.services.presence.flush())
        assert offline("ACTIVE") == [] and len(offline("CLEARED")) == 1
        device.close()
