"""Measurements over HTTP: exact wire shapes, filters, paging, deletion, series, processing modes."""

from __future__ import annotations

import httpx
from tests.support import ServerThread
from tests.telemetry.helpers import (
    MEASUREMENTS,
    MODE,
    VENDOR,
    assert_error,
    created,
    device,
    measurement,
    total,
)

from tether.core.events import DomainEvent

VENDOR_MEASUREMENT = VENDOR + "measurement+json"
VENDOR_COLLECTION = VENDOR + "measurementcollection+json"


def test_create_one_returns_201_location_and_document(admin: httpx.Client) -> None:
    source = device(admin, "thermometer")
    response = admin.post(
        MEASUREMENTS,
        json={
            "source": {"id": source},
            "type": "c8y_TemperatureMeasurement",
            "time": "2020-03-19T12:03:27.845Z",
            "c8y_Steam": {"Temperature": {"unit": "C", "value": 100}},
        },
        headers={"Content-Type": VENDOR_MEASUREMENT, "Accept": VENDOR_MEASUREMENT},
    )
    body = created(response)
    assert response.headers["content-type"].startswith(VENDOR_MEASUREMENT)
    base = str(admin.base_url)
    assert body == {
        "id": body["id"],
        "self": f"{base}/measurement/measurements/{body['id']}",
        "source": {"id": source, "self": f"{base}/inventory/managedObjects/{source}"},
        "type": "c8y_TemperatureMeasurement",
        "time": "2020-03-19T12:03:27.845Z",
        "c8y_Steam": {"Temperature": {"unit": "C", "value": 100}},
    }
    assert body["id"].isdigit() and response.headers["location"] == body["self"]
    fetched = admin.get(f"{MEASUREMENTS}/{body['id']}")
    assert fetched.status_code == 200 and fetched.json() == body
    assert fetched.headers["content-type"] == "application/json"


def test_time_zones_are_normalised_to_utc(admin: httpx.Client) -> None:
    source = device(admin, "zoned")
    body = created(admin.post(MEASUREMENTS, json=measurement(source, "2020-12-04T17:33:01.538+01:00")))
    assert body["time"] == "2020-12-04T16:33:01.538Z"
    assert created(admin.post(MEASUREMENTS, json=measurement(source, "2021-01-01")))["time"] == (
        "2021-01-01T00:00:00.000Z"
    )


def test_create_a_collection(admin: httpx.Client) -> None:
    source = device(admin, "batch")
    documents = [
        measurement(source, f"2024-01-01T00:{i // 60:02d}:{i % 60:02d}Z", value=i) for i in range(100)
    ]
    response = admin.post(
        MEASUREMENTS,
        json={"measurements": documents},
        headers={"Content-Type": VENDOR_COLLECTION, "Accept": VENDOR_COLLECTION},
    )
    body = created(response)
    assert response.headers["content-type"].lower().startswith(VENDOR_COLLECTION)  # case-insensitive
    assert list(body) == ["measurements"]
    items = body["measurements"]
    assert [m["c8y_Temperature"]["T"]["value"] for m in items] == list(range(100))
    ids = [int(m["id"]) for m in items]
    assert ids == sorted(ids) and len(set(ids)) == 100
    assert admin.get(f"{MEASUREMENTS}/{ids[42]}").json() == items[42]
    assert total(admin, MEASUREMENTS, source=source) == 100
    # Plain application/json with a "measurements" array is a collection too.
    plain = created(admin.post(MEASUREMENTS, json={"measurements": documents[:2]}))
    assert len(plain["measurements"]) == 2
    assert total(admin, MEASUREMENTS, source=source) == 102


def test_a_bad_item_rejects_the_whole_collection(admin: httpx.Client) -> None:
    source = device(admin, "all or nothing")
    good = measurement(source, "2024-01-01T00:00:00Z")
    bad = {"source": {"id": source}, "type": "t"}  # no time
    response = admin.post(MEASUREMENTS, json={"measurements": [good, bad]})
    assert_error(response, 422, "measurement/Unprocessable Entity")
    assert "'time' is mandatory" in response.json()["message"]
    assert_error(
        admin.post(MEASUREMENTS, json={"measurements": [good, 5]}), 422, "measurement/Unprocessable Entity"
    )
    assert_error(admin.post(MEASUREMENTS, json={"measurements": []}), 422, "measurement/Unprocessable Entity")
    assert_error(
        admin.post(MEASUREMENTS, json=good, headers={"Content-Type": VENDOR_COLLECTION}),
        422,
        "measurement/Unprocessable Entity",
    )
    assert total(admin, MEASUREMENTS, source=source) == 0


def test_filters_order_and_paging(admin: httpx.Client) -> None:
    a, b = device(admin, "filter-a"), device(admin, "filter-b")
    for source, time, value in ((a, "03", 3), (a, "01", 1), (b, "02", 2)):
        created(admin.post(MEASUREMENTS, json=measurement(source, f"2024-02-01T00:00:{time}Z", value)))
    created(
        admin.post(
            MEASUREMENTS,
            json={
                "source": {"id": a},
                "type": "c8y_Battery",
                "time": "2024-02-01T00:00:04Z",
                "c8y_Battery": {"level": {"value": 99, "unit": "%"}},
            },
        )
    )

    def values(**params: str) -> list[float]:
        response = admin.get(MEASUREMENTS, params={"pageSize": "100", **params})
        assert response.status_code == 200, response.text
        measurements = response.json()["measurements"]
        return [(m.get("c8y_Temperature") or m["c8y_Battery"]).popitem()[1]["value"] for m in measurements]

    assert values(source=a) == [1, 3, 99]  # oldest first by default
    assert values(source=a, revert="true") == [99, 3, 1]
    assert values(source=a, type="c8y_Battery") == [99]
    assert values(source=a, valueFragmentType="c8y_Temperature") == [1, 3]
    assert values(source=a, valueFragmentType="c8y_Battery", valueFragmentSeries="level") == [99]
    assert values(source=a, valueFragmentType="c8y_Battery", valueFragmentSeries="T") == []
    window = {"dateFrom": "2024-02-01T00:00:02Z", "dateTo": "2024-02-01T00:00:04Z"}
    assert values(**window) == [2, 3]  # dateFrom inclusive, dateTo exclusive
    # A zone offset, encoded (%2B) or sent raw (a `+` arrives as a space), means the same instant.
    assert values(source=a, dateFrom="2024-02-01T01:00:02+01:00") == [3, 99]
    raw = admin.get(f"{MEASUREMENTS}?source={a}&dateFrom=2024-02-01T01:00:02+01:00")
    assert len(raw.json()["measurements"]) == 2

    page = admin.get(MEASUREMENTS, params={"source": a, "pageSize": "2", "withTotalPages": "true"}).json()
    assert page["statistics"] == {"currentPage": 1, "pageSize": 2, "totalPages": 2}
    assert "next" in page and "prev" not in page
    second = admin.get(page["next"]).json()
    assert [m["type"] for m in second["measurements"]] == ["c8y_Battery"]
    assert second["statistics"]["currentPage"] == 2 and "prev" in second
    assert page["self"].startswith(f"{admin.base_url}/measurement/measurements?")


def test_delete_one_and_by_query(admin: httpx.Client) -> None:
    a, b = device(admin, "delete-a"), device(admin, "delete-b")
    first = created(admin.post(MEASUREMENTS, json=measurement(a, "2024-03-01T00:00:00Z")))
    created(admin.post(MEASUREMENTS, json=measurement(a, "2024-03-02T00:00:00Z")))
    created(admin.post(MEASUREMENTS, json=measurement(b, "2024-03-01T00:00:00Z")))
    response = admin.delete(f"{MEASUREMENTS}/{first['id']}")
    assert response.status_code == 204 and response.content == b""
    assert_error(admin.get(f"{MEASUREMENTS}/{first['id']}"), 404, "measurement/Not Found")
    assert_error(admin.delete(f"{MEASUREMENTS}/{first['id']}"), 404, "measurement/Not Found")
    assert (
        admin.delete(MEASUREMENTS, params={"source": a, "dateTo": "2024-03-01T12:00:00Z"}).status_code == 204
    )
    assert total(admin, MEASUREMENTS, source=a) == 1
    assert (
        admin.delete(MEASUREMENTS, params={"source": a, "fragmentType": "c8y_Temperature"}).status_code == 204
    )
    assert total(admin, MEASUREMENTS, source=a) == 0
    assert total(admin, MEASUREMENTS, source=b) == 1


def test_delete_without_filters_deletes_all_of_the_tenants(admin: httpx.Client) -> None:
    # As in Cumulocity: a DELETE without any parameter removes every measurement.
    for name in ("wipe-1", "wipe-2"):
        created(admin.post(MEASUREMENTS, json=measurement(device(admin, name), "2024-04-01T00:00:00Z")))
    assert total(admin, MEASUREMENTS) >= 2
    assert admin.delete(MEASUREMENTS).status_code == 204
    assert total(admin, MEASUREMENTS) == 0


def test_series(admin: httpx.Client) -> None:
    source = device(admin, "series")
    points = [
        ("2024-05-01T10:00:10.000Z", {"c8y_Temperature": {"T": {"value": 20, "unit": "C"}}}),
        ("2024-05-01T10:00:40.000Z", {"c8y_Temperature": {"T": {"value": 24.5, "unit": "C"}}}),
        ("2024-05-01T10:01:30.000Z", {"c8y_Humidity": {"H": {"value": 55, "unit": "%"}}}),
        ("2024-05-01T11:30:00.000Z", {"c8y_Temperature": {"T": {"value": 18, "unit": "C"}}}),
    ]
    for time, fragments in points:
        created(
            admin.post(MEASUREMENTS, json={"source": {"id": source}, "type": "x", "time": time, **fragments})
        )
    params = {"source": source, "dateFrom": "2024-05-01T00:00:00Z", "dateTo": "2024-05-02T00:00:00Z"}
    url = f"{MEASUREMENTS}/series"

    raw = admin.get(url, params={**params, "series": ["c8y_Temperature.T", "c8y_Humidity.H"]})
    assert raw.status_code == 200 and raw.headers["content-type"] == "application/json"
    assert raw.json() == {
        "values": {
            "2024-05-01T10:00:10.000Z": [{"min": 20, "max": 20}, None],
            "2024-05-01T10:00:40.000Z": [{"min": 24.5, "max": 24.5}, None],
            "2024-05-01T10:01:30.000Z": [None, {"min": 55, "max": 55}],
            "2024-05-01T11:30:00.000Z": [{"min": 18, "max": 18}, None],
        },
        "series": [
            {"unit": "C", "name": "T", "type": "c8y_Temperature"},
            {"unit": "%", "name": "H", "type": "c8y_Humidity"},
        ],
        "truncated": False,
    }
    comma = admin.get(url, params={**params, "series": "c8y_Temperature.T,c8y_Humidity.H"}).json()
    assert comma == raw.json()

    minutely = admin.get(url, params={**params, "series": "c8y_Temperature.T", "aggregationType": "MINUTELY"})
    assert minutely.json()["values"] == {
        "2024-05-01T10:00:00.000Z": [{"min": 20, "max": 24.5}],
        "2024-05-01T11:30:00.000Z": [{"min": 18, "max": 18}],
    }
    hourly = admin.get(url, params={**params, "series": "c8y_Temperature.T", "aggregationType": "HOURLY"})
    assert hourly.json()["values"] == {
        "2024-05-01T10:00:00.000Z": [{"min": 20, "max": 24.5}],
        "2024-05-01T11:00:00.000Z": [{"min": 18, "max": 18}],
    }
    daily = admin.get(url, params={**params, "aggregationType": "DAILY"}).json()
    assert daily["series"] == [
        {"unit": "%", "name": "H", "type": "c8y_Humidity"},
        {"unit": "C", "name": "T", "type": "c8y_Temperature"},
    ]
    assert daily["values"] == {"2024-05-01T00:00:00.000Z": [{"min": 55, "max": 55}, {"min": 18, "max": 24.5}]}
    newest = admin.get(url, params={**params, "series": "c8y_Temperature.T", "revert": "true"}).json()
    assert next(iter(newest["values"])) == "2024-05-01T11:30:00.000Z"
    empty = admin.get(url, params={**params, "dateTo": "2024-05-01T00:00:01Z"}).json()
    assert empty == {"values": {}, "series": [], "truncated": False}


def test_processing_modes(admin: httpx.Client) -> None:
    source = device(admin, "modes")
    transient = admin.post(
        MEASUREMENTS, json=measurement(source, "2024-06-01T00:00:00Z"), headers={MODE: "TRANSIENT"}
    )
    body = created(transient)
    assert "id" not in body and "self" not in body and "location" not in transient.headers
    assert body["source"]["id"] == source and body["time"] == "2024-06-01T00:00:00.000Z"
    assert total(admin, MEASUREMENTS, source=source) == 0
    for mode in ("PERSISTENT", "QUIESCENT", "CEP", "quiescent"):
        stored = created(
            admin.post(MEASUREMENTS, json=measurement(source, "2024-06-01T00:00:00Z"), headers={MODE: mode})
        )
        assert stored["id"].isdigit()
    assert total(admin, MEASUREMENTS, source=source) == 4
    assert_error(
        admin.post(MEASUREMENTS, json=measurement(source, "2024-06-01T00:00:00Z"), headers={MODE: "LOUD"}),
        422,
        "measurement/Unprocessable Entity",
    )
    assert total(admin, MEASUREMENTS, source=source) == 4


def test_changes_reach_the_event_bus_and_real_time(admin: httpx.Client, server: ServerThread) -> None:
    source = device(admin, "announced")
    seen: list[DomainEvent] = []
    unsubscribe = server.platform.services.events.subscribe(seen.append)
    try:
        body = measurement(source, "2024-06-01T00:00:00Z")
        stored = created(admin.post(MEASUREMENTS, json=body))
        created(admin.post(MEASUREMENTS, json=body, headers={MODE: "TRANSIENT"}))
        created(admin.post(MEASUREMENTS, json=body, headers={MODE: "QUIESCENT"}))
        assert admin.delete(f"{MEASUREMENTS}/{stored['id']}").status_code == 204
    finally:
        unsubscribe()
    mine = [e for e in seen if e.resource == "measurements"]
    assert [(e.action, e.id, e.source_id, e.tenant_id) for e in mine] == [
        ("CREATE", int(stored["id"]), int(source), "t1"),
        ("CREATE", None, int(source), "t1"),
        ("DELETE", int(stored["id"]), int(source), "t1"),
    ]
    # The hub renders them with the REST renderer: the same document as the API returned.
    render = server.platform.services.realtime.renderers["measurements"]
    assert render(str(admin.base_url), mine[0].payload) == stored
    assert "id" not in render(str(admin.base_url), mine[1].payload)
    assert set(server.platform.services.realtime.renderers) >= {"measurements", "events", "alarms"}
