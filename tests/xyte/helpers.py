"""Xyte HTTP helpers: models, registrations and the error shape `{"error", "message"}`."""

from __future__ import annotations

import itertools
import uuid
from typing import Any

import httpx

_numbers = itertools.count(1)


def unique(prefix: str) -> str:
    return f"{prefix}-{next(_numbers)}-{uuid.uuid4().hex[:6]}"


def mac() -> str:
    digits = uuid.uuid4().hex[:12].upper()
    return ":".join(digits[i : i + 2] for i in range(0, 12, 2))


def xyte_error(response: httpx.Response, status: int) -> dict[str, Any]:
    """Assert a Xyte-shaped error: the status and JSON `{"error": <code>, "message": <text>}`, no more."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body: dict[str, Any] = response.json()
    assert set(body) == {"error", "message"}, body
    assert isinstance(body["error"], str) and body["error"]
    assert isinstance(body["message"], str) and body["message"]
    return body


def create_model(admin: httpx.Client, protocol: str = "mqtt", name: str | None = None) -> dict[str, Any]:
    response = admin.post(
        "/v1/models", json={"name": name or unique("model"), "communication_protocol": protocol}
    )
    assert response.status_code == 201, response.text
    model: dict[str, Any] = response.json()
    return model


def registration(model: dict[str, Any], **fields: Any) -> dict[str, Any]:
    body = {
        "hardware_key": model["hardware_key"],
        "sn": unique("sn"),
        "firmware_version": "1.1.1",
        "mac": mac(),
    }
    body.update(fields)
    return {k: v for k, v in body.items() if v is not None}


def register(base_url: str, model: dict[str, Any], **fields: Any) -> dict[str, Any]:
    """Register a device of `model` (no credentials: the hardware key is one); returns the 201 body."""
    response = httpx.post(f"{base_url}/v1/devices", json=registration(model, **fields), timeout=30)
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def managed_object_id(admin: httpx.Client, device_id: str) -> int:
    response = admin.get(f"/identity/externalIds/xyte_id/{device_id}")
    assert response.status_code == 200, response.text
    return int(response.json()["managedObject"]["id"])


def device_call(
    base_url: str, method: str, device: dict[str, Any], path: str, *, key: str | None = None, **kwargs: Any
) -> httpx.Response:
    """A device's own call: `Authorization: <access_key>` (no scheme) and its id in the path."""
    headers = {"Authorization": device["access_key"] if key is None else key, **kwargs.pop("headers", {})}
    return httpx.request(
        method, f"{base_url}/v1/devices/{device['id']}{path}", headers=headers, timeout=30, **kwargs
    )
