"""Events over HTTP: exact wire shapes, custom fragments, updates, filters, deletion."""

from __future__ import annotations

import httpx
from tests.telemetry.helpers import EVENTS, MODE, VENDOR, assert_error, created, device, event, total

VENDOR_EVENT = VENDOR + "event+json"
POSITION = {"lat": 51.151977, "lng": 6.95173, "alt": 67}


def test_create_returns_201_location_and_document(admin: httpx.Client) -> None:
    source = device(admin, "tracker")
    response = admin.post(
        EVENTS,
        json={
            "source": {"id": source},
            "type": "c8y_LocationUpdate",
            "text": "Location update.",
            "time": "2020-03-19T00:00:00.000Z",
            "c8y_Position": POSITION,
        },
        headers={"Content-Type": VENDOR_EVENT, "Accept": VENDOR_EVENT},
    )
    body = created(response)
    assert response.headers["content-type"].startswith(VENDOR_EVENT)
    base = str(admin.base_url)
    assert body == {
        "id": body["id"],
        "self": f"{base}/event/events/{body['id']}",
        "creationTime": body["creationTime"],
        "lastUpdated": body["creationTime"],
        "source": {"id": source, "self": f"{base}/inventory/managedObjects/{source}"},
        "type": "c8y_LocationUpdate",
        "text": "Location update.",
        "time": "2020-03-19T00:00:00.000Z",
        "c8y_Position": POSITION,
    }
    assert response.headers["location"] == body["self"] and body["creationTime"].endswith("Z")
    assert admin.get(f"{EVENTS}/{body['id']}").json() == body


def test_update_changes_text_and_fragments_only(admin: httpx.Client) -> None:
    source, elsewhere = device(admin, "updated"), device(admin, "elsewhere")
    original = created(
        admin.post(EVENTS, json=event(source, "2024-01-01T00:00:00Z", c8y_Position=POSITION, note="x"))
    )
    url = f"{EVENTS}/{original['id']}"
    response = admin.put(
        url,
        json={
            "text": "moved",
            "c8y_Position": {"lat": 1, "lng": 2},
            "note": None,
            "c8y_Extra": {"k": "v"},
            # read-only: ignored
            "source": {"id": elsewhere},
            "type": "c8y_Other",
            "time": "2030-01-01T00:00:00Z",
            "id": "1",
            "creationTime": "2000-01-01T00:00:00Z",
        },
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["text"] == "moved" and body["c8y_Position"] == {"lat": 1, "lng": 2}
    assert body["c8y_Extra"] == {"k": "v"} and "note" not in body
    assert body["source"]["id"] == source and body["type"] == "c8y_TestEvent"
    assert body["time"] == "2024-01-01T00:00:00.000Z" and body["id"] == original["id"]
    assert body["creationTime"] == original["creationTime"] and body["lastUpdated"] >= original["lastUpdated"]
    assert admin.get(url).json() == body
    untouched = admin.put(url, json={"c8y_Position": POSITION}).json()
    assert untouched["text"] == "moved" and untouched["c8y_Position"] == POSITION


def test_filters_and_order(admin: httpx.Client) -> None:
    a, b = device(admin, "events-a"), device(admin, "events-b")
    created(admin.post(EVENTS, json=event(a, "2024-02-01T00:00:01Z", "a1", c8y_Position=POSITION)))
    created(admin.post(EVENTS, json=event(a, "2024-02-01T00:00:03Z", "a3", status="open")))
    created(admin.post(EVENTS, json={**event(b, "2024-02-01T00:00:02Z", "b2"), "type": "c8y_Other"}))

    def texts(**params: str) -> list[str]:
        response = admin.get(EVENTS, params={"pageSize": "100", **params})
        assert response.status_code == 200, response.text
        return [e["text"] for e in response.json()["events"]]

    window = {"dateFrom": "2024-02-01T00:00:00Z", "dateTo": "2024-02-02T00:00:00Z"}
    assert texts(**window) == ["a3", "b2", "a1"]  # newest first by default (as Cumulocity)
    assert texts(**window, revert="true") == ["a1", "b2", "a3"]
    assert texts(source=a) == ["a3", "a1"]
    assert texts(source=a, type="c8y_TestEvent") == ["a3", "a1"]
    assert texts(type="c8y_Other") == ["b2"]
    assert texts(source=a, fragmentType="c8y_Position") == ["a1"]
    assert texts(source=a, fragmentType="status", fragmentValue="open") == ["a3"]
    assert texts(dateFrom="2024-02-01T00:00:02Z", dateTo="2024-02-01T00:00:03Z") == ["b2"]
    assert texts(source=a, createdFrom="2000-01-01T00:00:00Z") == ["a3", "a1"]
    assert texts(source=a, createdTo="2000-01-01T00:00:00Z") == []
    stats = admin.get(EVENTS, params={"source": a, "pageSize": "1", "withTotalElements": "true"}).json()
    assert stats["statistics"] == {"currentPage": 1, "pageSize": 1, "totalElements": 2}
    assert len(stats["events"]) == 1 and stats["next"].endswith("currentPage=2")


def test_delete_one_and_by_query(admin: httpx.Client) -> None:
    a, b = device(admin, "delete-events-a"), device(admin, "delete-events-b")
    one = created(admin.post(EVENTS, json=event(a, "2024-03-01T00:00:00Z")))
    created(admin.post(EVENTS, json=event(a, "2024-03-02T00:00:00Z", c8y_Position=POSITION)))
    created(admin.post(EVENTS, json=event(a, "2024-03-03T00:00:00Z")))
    created(admin.post(EVENTS, json=event(b, "2024-03-01T00:00:00Z")))
    assert admin.delete(f"{EVENTS}/{one['id']}").status_code == 204
    assert_error(admin.get(f"{EVENTS}/{one['id']}"), 404, "event/Not Found")
    assert_error(admin.put(f"{EVENTS}/{one['id']}", json={"text": "x"}), 404, "event/Not Found")
    assert admin.delete(EVENTS, params={"source": a, "fragmentType": "c8y_Position"}).status_code == 204
    assert total(admin, EVENTS, source=a) == 1
    assert admin.delete(EVENTS, params={"source": a}).status_code == 204
    assert total(admin, EVENTS, source=a) == 0 and total(admin, EVENTS, source=b) == 1


def test_processing_modes(admin: httpx.Client) -> None:
    source = device(admin, "event modes")
    body = created(
        admin.post(EVENTS, json=event(source, "2024-06-01T00:00:00Z"), headers={MODE: "TRANSIENT"})
    )
    assert "id" not in body and body["text"] == "something happened"
    assert total(admin, EVENTS, source=source) == 0
    quiet = created(
        admin.post(EVENTS, json=event(source, "2024-06-01T00:00:00Z"), headers={MODE: "QUIESCENT"})
    )
    assert quiet["id"].isdigit() and total(admin, EVENTS, source=source) == 1
