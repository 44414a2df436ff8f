"""Who may record and read telemetry: admins, device users (own sources), tenants apart, never bootstrap."""

from __future__ import annotations

import httpx
import pytest
from tests.support import BOOTSTRAP_PASSWORD, ServerThread
from tests.telemetry.helpers import (
    ALARMS,
    EVENTS,
    MEASUREMENTS,
    alarm,
    assert_error,
    created,
    device,
    event,
    measurement,
    total,
)

from tether.tenants.models import Role

TIME = "2024-01-01T00:00:00Z"


@pytest.fixture(scope="module")
def other_tenant(server: ServerThread) -> tuple[str, str]:
    tenants = server.platform.services.tenants
    server.call(tenants.create_tenant("t2"))
    server.call(tenants.create_user("t2", "admin", "t2-secret", {Role.ADMIN}))
    return ("t2/admin", "t2-secret")


@pytest.fixture(scope="module")
def device_user(server: ServerThread) -> tuple[str, str]:
    server.call(server.platform.services.tenants.create_user("t1", "device_tel", "dev-secret", {Role.DEVICE}))
    return ("t1/device_tel", "dev-secret")


def test_device_users_reach_only_their_own_sources(
    admin: httpx.Client, server: ServerThread, device_user: tuple[str, str]
) -> None:
    foreign = device(admin, "admin's device")
    theirs = created(admin.post(MEASUREMENTS, json=measurement(foreign, TIME)))
    their_event = created(admin.post(EVENTS, json=event(foreign, TIME)))
    their_alarm = created(admin.post(ALARMS, json=alarm(foreign, TIME)))
    with httpx.Client(base_url=server.url, auth=device_user) as dev:
        own = device(dev, "my device")
        mine = created(dev.post(MEASUREMENTS, json=measurement(own, TIME)))
        created(dev.post(EVENTS, json=event(own, TIME)))
        my_alarm = created(dev.post(ALARMS, json=alarm(own, TIME)))
        assert my_alarm["source"]["name"] == "my device"
        # Recording against someone else's source: as if it did not exist.
        assert_error(dev.post(MEASUREMENTS, json=measurement(foreign, TIME)), 404, "measurement/Not Found")
        refused = dev.post(EVENTS, json=event(foreign, TIME))
        assert_error(refused, 404, "event/Not Found")
        assert refused.json()["message"] == (
            f"Finding source managed object failed: No managedObject for id '{foreign}'!"
        )
        assert_error(dev.post(ALARMS, json=alarm(foreign, TIME)), 404, "alarm/Not Found")
        assert_error(
            dev.post(
                MEASUREMENTS, json={"measurements": [measurement(own, TIME), measurement(foreign, TIME)]}
            ),
            404,
            "measurement/Not Found",
        )
        # Reading someone else's data: not found.
        assert_error(dev.get(f"{MEASUREMENTS}/{theirs['id']}"), 404, "measurement/Not Found")
        assert_error(dev.delete(f"{MEASUREMENTS}/{theirs['id']}"), 404, "measurement/Not Found")
        assert_error(dev.get(f"{EVENTS}/{their_event['id']}"), 404, "event/Not Found")
        assert_error(dev.put(f"{EVENTS}/{their_event['id']}", json={"text": "x"}), 404, "event/Not Found")
        assert_error(dev.get(f"{ALARMS}/{their_alarm['id']}"), 404, "alarm/Not Found")
        assert_error(
            dev.put(f"{ALARMS}/{their_alarm['id']}", json={"status": "CLEARED"}), 404, "alarm/Not Found"
        )
        series = {"source": foreign, "dateFrom": "2023-01-01", "dateTo": "2025-01-01"}
        assert_error(dev.get(f"{MEASUREMENTS}/series", params=series), 404, "measurement/Not Found")
        # Lists, counts and bulk changes see only the caller's sources.
        listed = dev.get(MEASUREMENTS, params={"pageSize": "2000"}).json()["measurements"]
        assert [m["id"] for m in listed] == [mine["id"]]
        assert total(dev, MEASUREMENTS, source=foreign) == 0
        assert [e["source"]["id"] for e in dev.get(EVENTS).json()["events"]] == [own]
        assert dev.get(f"{ALARMS}/count").json() == 1
        assert dev.put(ALARMS, params={"source": foreign}, json={"status": "CLEARED"}).status_code == 200
        assert (
            dev.put(ALARMS, params={"status": "ACTIVE"}, json={"status": "ACKNOWLEDGED"}).status_code == 200
        )
        assert dev.get(f"{ALARMS}/{my_alarm['id']}").json()["status"] == "ACKNOWLEDGED"
        assert dev.delete(MEASUREMENTS).status_code == 204  # no filter: all of the caller's
        assert dev.delete(EVENTS).status_code == 204
        assert dev.delete(ALARMS).status_code == 204
        assert total(dev, MEASUREMENTS) == 0 and dev.get(f"{ALARMS}/count").json() == 0
    assert admin.get(f"{MEASUREMENTS}/{theirs['id']}").json() == theirs
    assert admin.get(f"{EVENTS}/{their_event['id']}").json() == their_event
    assert admin.get(f"{ALARMS}/{their_alarm['id']}").json()["status"] == "ACTIVE"


def test_tenants_never_see_each_other(
    admin: httpx.Client, server: ServerThread, other_tenant: tuple[str, str]
) -> None:
    source = device(admin, "t1 sensor")
    mine = created(admin.post(MEASUREMENTS, json=measurement(source, TIME)))
    my_event = created(admin.post(EVENTS, json=event(source, TIME)))
    my_alarm = created(admin.post(ALARMS, json=alarm(source, TIME)))
    with httpx.Client(base_url=server.url, auth=other_tenant) as t2:
        assert_error(t2.post(MEASUREMENTS, json=measurement(source, TIME)), 404, "measurement/Not Found")
        assert_error(t2.post(EVENTS, json=event(source, TIME)), 404, "event/Not Found")
        assert_error(t2.post(ALARMS, json=alarm(source, TIME)), 404, "alarm/Not Found")
        assert_error(t2.get(f"{MEASUREMENTS}/{mine['id']}"), 404, "measurement/Not Found")
        assert_error(t2.get(f"{EVENTS}/{my_event['id']}"), 404, "event/Not Found")
        assert_error(t2.get(f"{ALARMS}/{my_alarm['id']}"), 404, "alarm/Not Found")
        assert_error(t2.put(f"{ALARMS}/{my_alarm['id']}", json={"status": "CLEARED"}), 404, "alarm/Not Found")
        assert t2.get(MEASUREMENTS, params={"source": source}).json()["measurements"] == []
        assert t2.get(EVENTS).json()["events"] == []
        assert t2.get(ALARMS).json()["alarms"] == [] and t2.get(f"{ALARMS}/count").json() == 0
        assert t2.put(ALARMS, params={"source": source}, json={"status": "CLEARED"}).status_code == 200
        for path in (MEASUREMENTS, EVENTS, ALARMS):
            assert t2.delete(path).status_code == 204
        # Its own data lives apart, with its own ids.
        own = device(t2, "t2 sensor")
        assert created(t2.post(MEASUREMENTS, json=measurement(own, TIME)))["source"]["id"] == own
        assert total(t2, MEASUREMENTS) == 1
    assert admin.get(f"{MEASUREMENTS}/{mine['id']}").json() == mine
    assert admin.get(f"{EVENTS}/{my_event['id']}").json() == my_event
    assert admin.get(f"{ALARMS}/{my_alarm['id']}").json()["status"] == "ACTIVE"


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", MEASUREMENTS),
        ("POST", MEASUREMENTS),
        ("DELETE", MEASUREMENTS),
        ("GET", f"{MEASUREMENTS}/1"),
        ("GET", f"{MEASUREMENTS}/series?source=1&dateFrom=2024-01-01&dateTo=2024-02-01"),
        ("GET", EVENTS),
        ("POST", EVENTS),
        ("PUT", f"{EVENTS}/1"),
        ("DELETE", EVENTS),
        ("GET", ALARMS),
        ("POST", ALARMS),
        ("PUT", f"{ALARMS}?source=1"),
        ("GET", f"{ALARMS}/count"),
        ("DELETE", ALARMS),
    ],
)
def test_bootstrap_user_is_forbidden_and_strangers_unauthorized(
    server: ServerThread, admin: httpx.Client, method: str, path: str
) -> None:
    source = device(admin, "bootstrap target")
    body = {**alarm(source, TIME), "status": "CLEARED"} if method in ("POST", "PUT") else None
    auth = ("management/devicebootstrap", BOOTSTRAP_PASSWORD)
    response = httpx.request(method, f"{server.url}{path}", auth=auth, json=body)
    assert_error(response, 403, "security/Forbidden")
    assert_error(httpx.request(method, f"{server.url}{path}", json=body), 401, "security/Unauthorized")
    assert total(admin, ALARMS, source=source) == 0


def test_deleting_a_device_deletes_its_telemetry(admin: httpx.Client) -> None:
    doomed, kept = device(admin, "doomed"), device(admin, "kept")
    for source in (doomed, kept):
        created(admin.post(MEASUREMENTS, json=measurement(source, TIME)))
        created(admin.post(EVENTS, json=event(source, TIME)))
        created(admin.post(ALARMS, json=alarm(source, TIME)))
    doomed_alarm = admin.get(ALARMS, params={"source": doomed}).json()["alarms"][0]["id"]
    assert admin.delete(f"/inventory/managedObjects/{doomed}").status_code == 204
    for path in (MEASUREMENTS, EVENTS, ALARMS):
        assert total(admin, path, source=doomed) == 0
        assert total(admin, path, source=kept) == 1
    assert_error(admin.get(f"{ALARMS}/{doomed_alarm}"), 404, "alarm/Not Found")
