"""Fixtures: devices of fresh device users on the MQTT listener of a real `tether serve` (per storage
backend: tests/adapters/conftest.py), where the SmartREST adapter runs as the server wires it."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from tests.mqtt_device import V5, Device, ServerMqtt


@pytest.fixture
def connect(mqtt_server: ServerMqtt, accounts: Any) -> Iterator[Callable[..., Device]]:
    """connect(serial=None, client_id=None, protocol=V5, subscribe=("s/ds", "s/e"), **kwargs) -> a connected
    device of a fresh device user (or of the serial's user when it exists); closed after the test."""
    made: list[Device] = []
    credentials: dict[str, tuple[str, str]] = {}

    def make(
        serial: str | None = None,
        *,
        client_id: str | None = None,
        protocol: int = V5,
        subscribe: tuple[str, ...] = ("s/ds", "s/e"),
        **kwargs: Any,
    ) -> Device:
        if serial is None or serial not in credentials:
            serial, login, password = accounts.device(serial=serial)
            credentials[serial] = (login, password)
        login, password = credentials[serial]
        device = Device(
            mqtt_server.port, client_id or serial, protocol, username=login, password=password, **kwargs
        )
        made.append(device)
        assert device.connect() == 0
        for topic_filter in subscribe:
            assert device.subscribe(topic_filter) == 1, topic_filter
        return device

    yield make
    for device in made:
        with contextlib.suppress(Exception):
            device.close()
