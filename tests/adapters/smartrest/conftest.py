"""Fixtures: the SmartREST adapter on a broker over a real `tether serve` (per storage backend), devices."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from tests.adapters.smartrest.harness import V5, Device, SmartRestBroker
from tests.support import ServerThread


@pytest.fixture(scope="module")
def c8y(server: ServerThread) -> Iterator[SmartRestBroker]:
    started = SmartRestBroker(server).start()
    yield started
    started.stop()


@pytest.fixture
def connect(c8y: SmartRestBroker) -> Iterator[Callable[..., Device]]:
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
            serial, login, password = c8y.device_user(serial)
            credentials[serial] = (login, password)
        login, password = credentials[serial]
        device = Device(c8y.port, client_id or serial, login, password, protocol, **kwargs).connect()
        made.append(device)
        if subscribe:
            device.subscribe(*subscribe)
        return device

    yield make
    for device in made:
        with contextlib.suppress(Exception):
            device.close()
