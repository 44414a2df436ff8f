"""The addresses a registration hands out come from the settings `public_http_url` and `public_mqtt_url`
(TETHER_PUBLIC_HTTP_URL, TETHER_PUBLIC_MQTT_URL, or keys of the config file) when they are set."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from tests.support import ADMIN_PASSWORD, ServerThread, backends, fresh_database
from tests.xyte.helpers import create_model, register

from tether.config import load_settings


@pytest.fixture(scope="module", params=backends())
def configured(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServerThread]:
    tmp: Path = tmp_path_factory.mktemp("public")
    config = tmp / "tether.toml"
    config.write_text('public_mqtt_url = "mqtts://mqtt.example.test:8883"\n')
    environ = {
        "TETHER_CONFIG": str(config),
        "TETHER_PUBLIC_HTTP_URL": "https://hub.example.test/",
        "TETHER_DATA_DIR": str(tmp),
        "TETHER_DATABASE_URL": asyncio.run(fresh_database(request.param, tmp)),
        "TETHER_HTTP": "127.0.0.1:0",
        "TETHER_MQTT": "127.0.0.1:0",
        "TETHER_ADMIN_PASSWORD": ADMIN_PASSWORD,
    }
    thread = ServerThread(load_settings({}, environ)).start()
    yield thread
    thread.stop()


def test_configured_public_addresses(configured: ServerThread) -> None:
    with httpx.Client(base_url=configured.url, auth=("t1/admin", ADMIN_PASSWORD), timeout=30) as admin:
        device = register(configured.url, create_model(admin))
    assert device["hub_url"] == device["hub_url_static_cert"] == "https://hub.example.test"
    assert device["mqtt_hub_url"] == "mqtts://mqtt.example.test:8883"


def test_default_hub_url_follows_the_host_header(server: ServerThread, admin: httpx.Client) -> None:
    model = create_model(admin)
    body = {"hardware_key": model["hardware_key"], "sn": "host-1", "firmware_version": "1", "cloud_id": "h-1"}
    response = httpx.post(
        f"{server.url}/v1/devices", json=body, headers={"Host": "devices.example.test:8443"}
    )
    assert response.status_code == 201, response.text
    assert response.json()["hub_url"] == "http://devices.example.test:8443"
    assert response.json()["mqtt_hub_url"].startswith("mqtt://devices.example.test:")
