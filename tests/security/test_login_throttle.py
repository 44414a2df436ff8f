"""Login throttling (docs/security.md): throttling that protects without locking out, on MQTT (paho at 5.0 and
3.1.1) and HTTP (httpx); clients log in from several loopback addresses (127.0.0.x). Plus the queue for
password hashes (bounded concurrency, one computation for simultaneous checks of one credential) and the
connect timeout that does not count the time spent waiting for one."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Iterator

import httpx
import pytest
from tests.broker import raw
from tests.broker.conftest import BrokerFactory, unique
from tests.broker.raw import RawClient
from tests.mqtt_device import PROTOCOL_IDS, PROTOCOLS, V5, ServerMqtt

from tether.broker import AuthResult, ConnectionInfo, Hooks
from tether.mqtt import Connect
from tether.tenants import passwords
from tether.tenants.throttle import Throttle

BAD = 0x86
RATE_EXCEEDED = 0x9F
ONE, TWO, FRESH = "127.0.0.1", "127.0.0.2", "127.0.0.9"


@pytest.fixture
def strict(mqtt_server: ServerMqtt) -> Iterator[ServerMqtt]:
    """The server's throttle (shared by MQTT and HTTP) blocks a pair after 3 failures and a user name after
    6, for a minute (long enough for any test); a fresh throttle per test, lenient again after it."""
    throttle = mqtt_server.hooks.throttle
    saved = (throttle.max_failures, throttle.user_max_failures, throttle.base_block)
    throttle.max_failures, throttle.user_max_failures, throttle.base_block = 3, 6, 60
    throttle._pairs.clear()
    throttle._users.clear()
    yield mqtt_server
    throttle.max_failures, throttle.user_max_failures, throttle.base_block = saved
    throttle._pairs.clear()
    throttle._users.clear()


def throttled(protocol: int) -> int:
    return RATE_EXCEEDED if protocol == V5 else 0x88  # 3.1.1: 3 server unavailable, which paho shows as 0x88


@pytest.mark.parametrize("protocol", PROTOCOLS, ids=PROTOCOL_IDS)
def test_a_stranger_cannot_lock_a_device_out(
    strict: ServerMqtt, mqtt_devices, accounts, protocol: int
) -> None:
    serial, victim_login, victim_password = accounts.device()
    other_serial, other_login, other_password = accounts.device()

    def login(login_: str, password: str, address: str, client_id: str) -> int | None:
        return mqtt_devices(
            strict.port, client_id, protocol, username=login_, password=password, bind_address=address
        ).connect()

    for _ in range(3):  # guessing the victim's password from ONE
        assert login(victim_login, "guess", ONE, serial) == BAD
    # ONE may not try that name for a while: told to wait, not "bad password", even with the right one.
    assert login(victim_login, victim_password, ONE, serial) == throttled(protocol)
    # The device itself, from its own address, is never refused; nor is another user from ONE.
    assert login(victim_login, victim_password, TWO, serial) == 0
    assert login(other_login, other_password, ONE, other_serial) == 0
    # A distributed guesser: past the user name's (far higher) threshold, each failing address gets refused
    # after its own first failures, while an address that never failed still logs in.
    for index in range(3, 7):
        assert login(victim_login, "guess", f"127.0.0.{index}", serial) == BAD
    assert login(victim_login, "guess", "127.0.0.3", serial) == throttled(protocol)
    assert login(victim_login, victim_password, "127.0.0.3", serial) == throttled(protocol)
    assert login(victim_login, victim_password, FRESH, serial) == 0


def test_http_logins_are_throttled_with_429(strict: ServerMqtt, server, accounts) -> None:
    _, victim_login, victim_password = accounts.device()
    _, other_login, other_password = accounts.device()

    def get(login: str, password: str, address: str) -> httpx.Response:
        transport = httpx.HTTPTransport(local_address=address)
        with httpx.Client(base_url=server.url, transport=transport, auth=(login, password)) as client:
            return client.get("/user/currentUser")

    for _ in range(3):
        assert get(victim_login, "guess", ONE).status_code == 401
    refused = get(victim_login, victim_password, ONE)
    assert refused.status_code == 429
    assert 0 < int(refused.headers["Retry-After"]) <= 60
    assert refused.json()["error"] == "security/Too Many Requests"
    assert get(victim_login, victim_password, TWO).status_code == 200
    assert get(other_login, other_password, ONE).status_code == 200
    # MQTT and HTTP share the counters: the same guesser is refused on MQTT too.
    assert strict.hooks.throttle.retry_after(ONE, victim_login) is not None


def test_throttle_blocks_grow_and_end() -> None:
    now = [1000.0]
    throttle = Throttle(max_failures=2, window=10, base_block=5, max_block=40, clock=lambda: now[0])
    durations = []
    for _ in range(5):
        throttle.failed("x", "t1/u")
        throttle.failed("x", "t1/u")
        assert throttle.retry_after("x", "t1/u") is not None
        start = now[0]
        while throttle.retry_after("x", "t1/u") is not None:
            now[0] += 1
        durations.append(now[0] - start)
    assert durations == [5, 10, 20, 40, 40]  # doubling, capped
    assert throttle.retry_after("y", "t1/u") is None  # another address
    assert throttle.retry_after("x", "t1/other") is None  # another user
    # Failures spread wider than the window never block.
    for _ in range(5):
        throttle.failed("slow", "t1/u2")
        now[0] += 11
    assert throttle.retry_after("slow", "t1/u2") is None
    # A success forgives its own pair only.
    throttle.failed("p", "t1/victim")
    throttle.succeeded("p", "t1/victim")
    throttle.failed("p", "t1/victim")
    assert throttle.retry_after("p", "t1/victim") is None


def test_hashes_queue_and_simultaneous_checks_share_one(monkeypatch: pytest.MonkeyPatch) -> None:
    stored = passwords.hash_password("right")
    running, peak, calls = [0], [0], [0]
    lock = threading.Lock()
    real = passwords.verify_password

    def counting(password_hash: str, password: str) -> bool:
        with lock:
            running[0] += 1
            calls[0] += 1
            peak[0] = max(peak[0], running[0])
        try:
            return real(password_hash, password)
        finally:
            with lock:
                running[0] -= 1

    monkeypatch.setattr(passwords, "verify_password", counting)

    async def main() -> tuple[list[bool], list[bool]]:
        different = await asyncio.gather(*(passwords.verify_slowly(stored, f"guess-{i}") for i in range(8)))
        same = await asyncio.gather(*(passwords.verify_slowly(stored, "right") for _ in range(8)))
        return list(different), list(same)

    different, same = asyncio.run(main())
    assert different == [False] * 8 and same == [True] * 8
    assert peak[0] <= passwords.MAX_CONCURRENT_HASHES
    assert calls[0] == 8 + 1  # eight different guesses, one computation for the eight identical checks


class SlowHash(Hooks):
    """An authenticate hook that takes longer than the connect timeout (a hash queued behind others)."""

    def authenticate(self, connect: Connect, connection: ConnectionInfo) -> Awaitable[AuthResult]:
        async def check() -> AuthResult:
            await asyncio.sleep(1.5)
            return AuthResult()

        return check()


def test_connect_timeout_does_not_count_the_wait_for_a_hash(make_broker: BrokerFactory) -> None:
    broker = make_broker(hooks=SlowHash(), allow_anonymous=False, connect_timeout=0.5)
    with RawClient(broker.port) as client:
        client.send(raw.connect(unique(), username="t1/dev", password=b"pw"))
        assert client.connack(5).code == 0  # answered after the 1.5 s hook, not cut at 0.5 s
