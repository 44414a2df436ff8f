"""Brute-force throttling of MQTT logins per client address and per user name (issue 5 item 1), with
paho-mqtt at 5.0 and 3.1.1; clients log in from two loopback addresses (127.0.0.1 and 127.0.0.2)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from tests.mqtt_device import BAD_CREDENTIALS, PROTOCOL_IDS, PROTOCOLS, ServerMqtt, unique

from tether.adapters.throttle import Throttle

ONE, TWO = "127.0.0.1", "127.0.0.2"


@pytest.fixture
def strict(mqtt_server: ServerMqtt) -> Iterator[ServerMqtt]:
    """The server's hooks block a key after 3 failures, for a minute (long enough for any test); a fresh
    throttle per test, and none after it."""
    mqtt_server.hooks.throttle = Throttle(max_failures=3, window=60, base_block=60)
    yield mqtt_server
    mqtt_server.lenient_logins()


@pytest.mark.parametrize("protocol", PROTOCOLS, ids=PROTOCOL_IDS)
def test_failures_block_the_address_and_the_user_name(
    strict: ServerMqtt, mqtt_devices, accounts, protocol: int
) -> None:
    _, victim_login, victim_password = accounts.device()
    _, other_login, other_password = accounts.device()

    def login(login_: str, password: str, address: str) -> int | None:
        return mqtt_devices(
            strict.port, unique(), protocol, username=login_, password=password, bind_address=address
        ).connect()

    # Guessing the victim's password from address ONE.
    for _ in range(3):
        assert login(victim_login, "guess", ONE) == BAD_CREDENTIALS
    # Now even the right password is refused without being checked: from ONE (address blocked) and from TWO
    # (user name blocked).
    assert login(victim_login, victim_password, ONE) == BAD_CREDENTIALS
    assert login(victim_login, victim_password, TWO) == BAD_CREDENTIALS
    # Another user from ONE: the address is blocked.
    assert login(other_login, other_password, ONE) == BAD_CREDENTIALS
    # Another user from TWO: neither its address nor its name failed.
    assert login(other_login, other_password, TWO) == 0
    # That success does not unblock address ONE (nor the victim's name).
    assert login(other_login, other_password, ONE) == BAD_CREDENTIALS
    assert login(victim_login, victim_password, TWO) == BAD_CREDENTIALS


def test_throttle_blocks_grow_and_end() -> None:
    now = [1000.0]
    throttle = Throttle(max_failures=2, window=10, base_block=5, max_block=40, clock=lambda: now[0])
    durations = []
    for _ in range(5):
        throttle.failed("a:x")
        throttle.failed("a:x")
        assert throttle.blocked("a:x")
        start = now[0]
        while throttle.blocked("a:x"):
            now[0] += 1
        durations.append(now[0] - start)
    assert durations == [5, 10, 20, 40, 40]  # doubling, capped
    assert not throttle.blocked("a:y", None)
    # Failures spread wider than the window never block.
    for _ in range(5):
        throttle.failed("a:slow")
        now[0] += 11
    assert not throttle.blocked("a:slow")
    # A success forgives its own address only.
    throttle.failed("a:p", "u:victim")
    throttle.succeeded("a:p")
    throttle.failed("a:p", "u:victim")
    assert not throttle.blocked("a:p")
    assert throttle.blocked("u:victim")
