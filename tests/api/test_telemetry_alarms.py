"""Alarms over HTTP: wire shapes, de-duplication (also under concurrent raises), updates, count, filters."""

from __future__ import annotations

import asyncio

import httpx
from tests.support import ADMIN_PASSWORD, ServerThread
from tests.telemetry.helpers import ALARMS, MODE, VENDOR, alarm, assert_error, created, device, total

VENDOR_ALARM = VENDOR + "alarm+json"


def count(client: httpx.Client, **params: str) -> int:
    response = client.get(f"{ALARMS}/count", params=params)
    assert response.status_code == 200, response.text
    value = response.json()
    assert isinstance(value, int) and response.text == str(value)  # a bare integer
    return value


def test_create_returns_201_location_and_document(admin: httpx.Client) -> None:
    source = device(admin, "My tracking device")
    response = admin.post(
        ALARMS,
        json={
            "source": {"id": source},
            "type": "c8y_UnavailabilityAlarm",
            "text": "No data received from the device within the required interval.",
            "severity": "MAJOR",
            "time": "2020-03-19T00:00:00.000Z",
            "c8y_Extra": {"reason": "test"},
        },
        headers={"Content-Type": VENDOR_ALARM, "Accept": VENDOR_ALARM},
    )
    body = created(response)
    assert response.headers["content-type"].startswith(VENDOR_ALARM)
    base = str(admin.base_url)
    assert body == {
        "id": body["id"],
        "self": f"{base}/alarm/alarms/{body['id']}",
        "creationTime": body["creationTime"],
        "lastUpdated": body["creationTime"],
        "source": {
            "id": source,
            "name": "My tracking device",
            "self": f"{base}/inventory/managedObjects/{source}",
        },
        "type": "c8y_UnavailabilityAlarm",
        "text": "No data received from the device within the required interval.",
        "status": "ACTIVE",
        "severity": "MAJOR",
        "count": 1,
        "time": "2020-03-19T00:00:00.000Z",
        "c8y_Extra": {"reason": "test"},
    }
    assert response.headers["location"] == body["self"]
    assert admin.get(f"{ALARMS}/{body['id']}").json() == body


def test_open_alarms_are_deduplicated(admin: httpx.Client) -> None:
    source = device(admin, "dedup")
    first = created(admin.post(ALARMS, json=alarm(source, "2024-01-01T00:00:00Z", c8y_A={"n": 1})))
    second = created(
        admin.post(
            ALARMS,
            json={**alarm(source, "2024-01-01T00:05:00Z", c8y_B={"n": 2}), "text": "still wrong"},
        )
    )
    assert second["id"] == first["id"] and second["self"] == first["self"]
    assert second["count"] == 2 and second["time"] == "2024-01-01T00:05:00.000Z"
    assert second["firstOccurrenceTime"] == "2024-01-01T00:00:00.000Z"
    assert second["text"] == "still wrong" and second["c8y_A"] == {"n": 1} and second["c8y_B"] == {"n": 2}
    assert second["creationTime"] == first["creationTime"] and second["status"] == "ACTIVE"
    assert admin.get(f"{ALARMS}/{first['id']}").json() == second
    # Acknowledged is still open.
    acked = admin.put(f"{ALARMS}/{first['id']}", json={"status": "ACKNOWLEDGED"})
    assert acked.status_code == 200 and acked.json()["status"] == "ACKNOWLEDGED"
    third = created(admin.post(ALARMS, json=alarm(source, "2024-01-01T00:10:00Z")))
    assert third["id"] == first["id"] and third["count"] == 3 and third["status"] == "ACKNOWLEDGED"
    # Another type is another alarm.
    other = created(admin.post(ALARMS, json=alarm(source, "2024-01-01T00:10:00Z", type_="c8y_Other")))
    assert other["id"] != first["id"] and other["count"] == 1
    # Cleared alarms are not de-duplicated.
    assert admin.put(f"{ALARMS}/{first['id']}", json={"status": "CLEARED"}).json()["status"] == "CLEARED"
    fresh = created(admin.post(ALARMS, json=alarm(source, "2024-01-02T00:00:00Z")))
    assert fresh["id"] != first["id"] and fresh["count"] == 1 and "firstOccurrenceTime" not in fresh
    cleared = [
        created(admin.post(ALARMS, json=alarm(source, "2024-01-03T00:00:00Z", status="CLEARED")))
        for _ in "ab"
    ]
    assert cleared[0]["id"] != cleared[1]["id"]
    assert count(admin, source=source) == 5 and count(admin, source=source, resolved="false") == 2


def test_concurrent_raises_make_one_alarm(admin: httpx.Client, server: ServerThread) -> None:
    source = device(admin, "concurrent")
    raises = 40

    async def raise_all() -> list[httpx.Response]:
        limits = httpx.Limits(max_connections=raises)
        async with httpx.AsyncClient(
            base_url=server.url, auth=("t1/admin", ADMIN_PASSWORD), limits=limits, timeout=60
        ) as client:
            return await asyncio.gather(
                *(
                    client.post(ALARMS, json=alarm(source, f"2024-02-01T00:00:{i:02d}Z", text=f"raise {i}"))
                    for i in range(raises)
                )
            )

    responses = asyncio.run(raise_all())
    assert all(r.status_code == 201 for r in responses), [r.text for r in responses if r.status_code != 201]
    assert len({r.json()["id"] for r in responses}) == 1
    assert sorted(r.json()["count"] for r in responses) == list(range(1, raises + 1))
    listed = admin.get(ALARMS, params={"source": source, "pageSize": "100"}).json()["alarms"]
    assert len(listed) == 1 and listed[0]["count"] == raises and listed[0]["status"] == "ACTIVE"
    assert count(admin, source=source, status="ACTIVE") == 1


def test_update_one(admin: httpx.Client) -> None:
    source, elsewhere = device(admin, "update-alarm"), device(admin, "elsewhere")
    original = created(admin.post(ALARMS, json=alarm(source, "2024-03-01T00:00:00Z", c8y_Old={"a": 1})))
    url = f"{ALARMS}/{original['id']}"
    response = admin.put(
        url,
        json={
            "status": "ACKNOWLEDGED",
            "severity": "CRITICAL",
            "text": "acknowledged by operator",
            "c8y_Old": None,
            "c8y_New": {"b": 2},
            "source": {"id": elsewhere},
            "type": "ignored",
            "time": "2030-01-01T00:00:00Z",
            "count": 99,
        },
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["status"], body["severity"], body["text"]) == (
        "ACKNOWLEDGED",
        "CRITICAL",
        "acknowledged by operator",
    )
    assert body["c8y_New"] == {"b": 2} and "c8y_Old" not in body
    assert body["source"]["id"] == source and body["type"] == "c8y_TestAlarm" and body["count"] == 1
    assert body["time"] == "2024-03-01T00:00:00.000Z"
    assert admin.get(url).json() == body
    assert_error(admin.put(url, json={"status": "DONE"}), 422, "alarm/Unprocessable Entity")
    assert_error(admin.put(url, json={"severity": "minor"}), 422, "alarm/Unprocessable Entity")
    assert admin.get(url).json() == body


def test_reopening_conflicts_with_an_open_alarm(admin: httpx.Client) -> None:
    source = device(admin, "reopen")
    old = created(admin.post(ALARMS, json=alarm(source, "2024-03-01T00:00:00Z")))
    admin.put(f"{ALARMS}/{old['id']}", json={"status": "CLEARED"})
    created(admin.post(ALARMS, json=alarm(source, "2024-03-02T00:00:00Z")))
    assert_error(admin.put(f"{ALARMS}/{old['id']}", json={"status": "ACTIVE"}), 409, "alarm/Conflict")
    assert admin.get(f"{ALARMS}/{old['id']}").json()["status"] == "CLEARED"


def test_bulk_update_by_query(admin: httpx.Client) -> None:
    a, b = device(admin, "bulk-a"), device(admin, "bulk-b")
    for source in (a, b):
        for type_ in ("t1", "t2"):
            created(admin.post(ALARMS, json=alarm(source, "2024-04-01T00:00:00Z", type_=type_)))
    response = admin.put(ALARMS, params={"source": a}, json={"status": "CLEARED"})
    assert response.status_code == 200 and response.content == b""
    assert count(admin, source=a, status="CLEARED") == 2 and count(admin, source=a, resolved="false") == 0
    assert count(admin, source=b, status="ACTIVE") == 2
    acked = admin.put(ALARMS, params={"source": b, "type": "t1"}, json={"status": "ACKNOWLEDGED"})
    assert acked.status_code == 200
    assert count(admin, source=b, status="ACKNOWLEDGED") == 1
    before = count(admin, resolved="false")
    assert_error(admin.put(ALARMS, json={"status": "CLEARED"}), 422, "alarm/Unprocessable Entity")
    assert_error(
        admin.put(ALARMS, params={"source": b}, json={"text": "x"}), 422, "alarm/Unprocessable Entity"
    )
    assert_error(
        admin.put(ALARMS, params={"source": b}, json={"status": "OFF"}), 422, "alarm/Unprocessable Entity"
    )
    assert count(admin, resolved="false") == before


def test_filters_count_and_order(admin: httpx.Client) -> None:
    source = device(admin, "filters")
    created(admin.post(ALARMS, json=alarm(source, "2024-05-01T00:00:01Z", type_="a", severity="CRITICAL")))
    created(admin.post(ALARMS, json=alarm(source, "2024-05-01T00:00:02Z", type_="b", severity="MINOR")))
    created(admin.post(ALARMS, json=alarm(source, "2024-05-01T00:00:03Z", type_="c", status="ACKNOWLEDGED")))
    created(admin.post(ALARMS, json=alarm(source, "2024-05-01T00:00:04Z", type_="d", status="CLEARED")))

    def types(**params: str) -> list[str]:
        response = admin.get(ALARMS, params={"source": source, "pageSize": "100", **params})
        assert response.status_code == 200, response.text
        listed = [a["type"] for a in response.json()["alarms"]]
        assert count(admin, source=source, **{k: v for k, v in params.items() if k != "revert"}) == len(
            listed
        )
        return listed

    assert types() == ["d", "c", "b", "a"]  # newest first
    assert types(revert="true") == ["a", "b", "c", "d"]
    assert types(status="ACTIVE") == ["b", "a"]
    assert types(status="ACTIVE,ACKNOWLEDGED") == ["c", "b", "a"]
    assert types(severity="CRITICAL,MINOR") == ["b", "a"]
    assert types(type="a,d") == ["d", "a"]
    assert types(resolved="true") == ["d"]
    assert types(resolved="false") == ["c", "b", "a"]
    assert types(dateFrom="2024-05-01T00:00:02Z", dateTo="2024-05-01T00:00:04Z") == ["c", "b"]
    text = admin.get(f"{ALARMS}/count", params={"source": source}, headers={"Accept": "text/plain"})
    assert text.headers["content-type"].startswith("text/plain") and text.text == "4"


def test_delete_by_query(admin: httpx.Client) -> None:
    a, b = device(admin, "delete-alarms-a"), device(admin, "delete-alarms-b")
    for source in (a, b):
        created(admin.post(ALARMS, json=alarm(source, "2024-06-01T00:00:00Z")))
        created(admin.post(ALARMS, json=alarm(source, "2024-06-01T00:00:00Z", type_="x", status="CLEARED")))
    assert admin.delete(ALARMS, params={"source": a, "resolved": "true"}).status_code == 204
    assert count(admin, source=a) == 1 and count(admin, source=b) == 2
    assert admin.delete(ALARMS, params={"source": a}).status_code == 204
    assert count(admin, source=a) == 0 and count(admin, source=b) == 2
    # Cumulocity has no DELETE of one alarm.
    alarm_id = admin.get(ALARMS, params={"source": b}).json()["alarms"][0]["id"]
    assert admin.delete(f"{ALARMS}/{alarm_id}").status_code == 405
    assert total(admin, ALARMS, source=b) == 2


def test_processing_modes(admin: httpx.Client) -> None:
    source = device(admin, "alarm modes")
    body = created(
        admin.post(ALARMS, json=alarm(source, "2024-07-01T00:00:00Z"), headers={MODE: "TRANSIENT"})
    )
    assert "id" not in body and body["count"] == 1 and body["status"] == "ACTIVE"
    assert body["source"]["name"] == "alarm modes"
    assert count(admin, source=source) == 0
    quiet = created(
        admin.post(ALARMS, json=alarm(source, "2024-07-01T00:00:00Z"), headers={MODE: "QUIESCENT"})
    )
    assert quiet["id"].isdigit() and count(admin, source=source) == 1
