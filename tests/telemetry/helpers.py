"""Helpers of the telemetry API tests (tests/api/test_telemetry_*.py)."""

from __future__ import annotations

from typing import Any

import httpx

VENDOR = "application/vnd.com.nsn.cumulocity."
MEASUREMENTS = "/measurement/measurements"
EVENTS = "/event/events"
ALARMS = "/alarm/alarms"
MODE = "X-Cumulocity-Processing-Mode"


def device(client: httpx.Client, name: str) -> str:
    response = client.post("/inventory/managedObjects", json={"name": name, "c8y_IsDevice": {}})
    assert response.status_code == 201, response.text
    mo_id: str = response.json()["id"]
    return mo_id


def measurement(source: str, time: str, value: float = 20.0, **fragments: Any) -> dict[str, Any]:
    return {
        "source": {"id": source},
        "type": "c8y_TemperatureMeasurement",
        "time": time,
        "c8y_Temperature": {"T": {"value": value, "unit": "C"}},
        **fragments,
    }


def event(source: str, time: str, text: str = "something happened", **fragments: Any) -> dict[str, Any]:
    return {"source": {"id": source}, "type": "c8y_TestEvent", "text": text, "time": time, **fragments}


def alarm(
    source: str, time: str, type_: str = "c8y_TestAlarm", severity: str = "MAJOR", **fields: Any
) -> dict[str, Any]:
    return {
        "source": {"id": source},
        "type": type_,
        "text": "something is wrong",
        "severity": severity,
        "time": time,
        **fields,
    }


def created(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def assert_error(response: httpx.Response, status: int, error: str) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["error"] == error
    assert isinstance(body["message"], str) and body["message"]
    assert "info" in body


def total(client: httpx.Client, path: str, **params: str) -> int:
    response = client.get(path, params={**params, "pageSize": "1", "withTotalElements": "true"})
    assert response.status_code == 200, response.text
    count: int = response.json()["statistics"]["totalElements"]
    return count
