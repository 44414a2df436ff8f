"""MQTT fuzzing (docs/security.md): a bounded fuzz run against a real `tether serve`.

Valid CONNECT / PUBLISH / SUBSCRIBE / UNSUBSCRIBE / PINGREQ / DISCONNECT encodings built by hand
(tests/broker/raw.py) are mutated (bytes flipped, inserted, deleted, lengths rewritten, cut short, packets
repeated or swapped) or replaced by random bytes, each case on a new connection; the client then closes its
sending side and reads until the broker closes. Seeded: every run sends the same cases (`FUZZ_SEED`,
`FUZZ_CASES` to explore further). Throughout, the broker must log no error and no traceback, keep accepting
a normal client and `/health` must answer 200.
"""

from __future__ import annotations

import logging
import os
import random
import socket
from collections.abc import Callable, Iterator

import httpx
import pytest
from tests.broker import raw
from tests.broker.raw import RawClient
from tests.support import ServerThread, start_server, unique

SEED = int(os.environ.get("FUZZ_SEED", "20261203"))
CASES = int(os.environ.get("FUZZ_CASES", "400"))
CHECK_EVERY = 50


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerThread]:
    thread = start_server("sqlite", tmp_path_factory.mktemp("tether"), allow_anonymous=True)
    yield thread
    thread.stop()


def mqtt_port(server: ServerThread) -> int:
    url: str = server.platform.services.readiness.addresses["mqtt"]
    return int(url.rsplit(":", 1)[1])


# ----------------------------------------------------------------------------------------- valid material


def _connect(rng: random.Random, version: int) -> bytes:
    kwargs: dict[str, object] = {"version": version, "keep_alive": rng.choice([0, 5, 60, 65535])}
    if version == 5 and rng.random() < 0.6:
        kwargs["properties"] = raw.props(
            *rng.sample(
                [
                    raw.p_session_expiry(rng.choice([0, 60, 0xFFFFFFFF])),
                    raw.p_receive_maximum(rng.choice([1, 10, 65535])),
                    raw.p_topic_alias_maximum(rng.choice([0, 5])),
                    raw.p_maximum_packet_size(rng.choice([20, 1024, 1 << 20])),
                    raw.p_user_property("k", "v"),
                ],
                k=rng.randint(1, 3),
            )
        )
    if rng.random() < 0.4:
        kwargs["will_topic"] = rng.choice(["will/t", "$SYS/w", "a/+/b", ""])
        kwargs["will_payload"] = rng.randbytes(rng.randint(0, 40))
        kwargs["will_qos"] = rng.randint(0, 2)
        kwargs["will_retain"] = rng.random() < 0.5
        if version == 5 and rng.random() < 0.5:
            kwargs["will_properties"] = raw.props(
                raw.p_will_delay(rng.choice([0, 5])), raw.p_message_expiry(9)
            )
    if rng.random() < 0.2:
        kwargs["clean"] = False
    client_id = rng.choice([unique("fz"), "", "x" * rng.randint(1, 300)])
    return raw.connect(client_id, **kwargs)  # type: ignore[arg-type]


def _after_connect(rng: random.Random, version: int) -> bytes:
    topic = rng.choice(["a/b", "fuzz/x", "$SYS/x", "s/us", "", "a/#", "+", "t" * 200])
    kind = rng.randrange(6)
    if kind == 0:
        qos = rng.randint(0, 2)
        props = None
        if version == 5 and rng.random() < 0.5:
            props = raw.props(
                rng.choice(
                    [raw.p_topic_alias(rng.randint(0, 12)), raw.p_message_expiry(1), raw.p_subscription_id(3)]
                )
            )
        return raw.publish(
            topic,
            rng.randbytes(rng.randint(0, 64)),
            qos=qos,
            packet_id=rng.randint(0, 3) if qos else 0,
            retain=rng.random() < 0.3,
            version=version,
            properties=props,
        )
    if kind == 1:
        filters = [(rng.choice([topic, "$share/g/a", "$share//x", "#/a", "a/b#"]), rng.randrange(256))]
        return raw.subscribe(rng.randint(0, 3), *filters, version=version)
    if kind == 2:
        return raw.unsubscribe(rng.randint(0, 3), topic, version=version)
    if kind == 3:
        return raw.ack(rng.choice([0x40, 0x50, 0x62, 0x70]), rng.randint(0, 3))
    if kind == 4:
        return raw.PINGREQ
    return raw.DISCONNECT if version == 4 else bytes((0xE0, 2, rng.randrange(256), 0))


def valid_stream(rng: random.Random) -> bytes:
    version = rng.choice([4, 5])
    return _connect(rng, version) + b"".join(_after_connect(rng, version) for _ in range(rng.randint(0, 4)))


# ----------------------------------------------------------------------------------------- mutations


def _flip(rng: random.Random, data: bytearray) -> None:
    for _ in range(rng.randint(1, 4)):
        if data:
            data[rng.randrange(len(data))] = rng.randrange(256)


def _insert(rng: random.Random, data: bytearray) -> None:
    at = rng.randint(0, len(data))
    data[at:at] = rng.randbytes(rng.randint(1, 16))


def _delete(rng: random.Random, data: bytearray) -> None:
    if data:
        at = rng.randrange(len(data))
        del data[at : at + rng.randint(1, 8)]


def _cut(rng: random.Random, data: bytearray) -> None:
    del data[rng.randint(0, len(data)) :]


def _length(rng: random.Random, data: bytearray) -> None:
    # Rewrite a Remaining Length (or any byte after a first byte) with an extreme variable byte integer.
    if len(data) > 1:
        at = rng.randrange(1, len(data))
        data[at : at + 1] = rng.choice([b"\xff\xff\xff\x7f", b"\xff\xff\xff\xff\xff", b"\x00", b"\x80\x01"])


def _repeat(rng: random.Random, data: bytearray) -> None:
    if data:
        start = rng.randrange(len(data))
        data += data[start : start + rng.randint(1, 64)] * rng.randint(1, 3)


def _swap(rng: random.Random, data: bytearray) -> None:
    if len(data) > 4:
        a, b = sorted(rng.sample(range(len(data)), 2))
        data[a], data[b] = data[b], data[a]


MUTATIONS: list[Callable[[random.Random, bytearray], None]] = [
    _flip,
    _insert,
    _delete,
    _cut,
    _length,
    _repeat,
    _swap,
]


def fuzz_case(rng: random.Random) -> bytes:
    if rng.random() < 0.1:
        return rng.randbytes(rng.randint(1, 200))  # noise
    data = bytearray(valid_stream(rng))
    for _ in range(rng.randint(1, 3)):
        rng.choice(MUTATIONS)(rng, data)
    return bytes(data)


def send_case(port: int, data: bytes) -> None:
    """One case on a new connection: send, close the sending side, read until the broker closes."""
    with socket.create_connection(("127.0.0.1", port), timeout=raw.TIMEOUT) as sock:
        try:
            sock.sendall(data)
            sock.shutdown(socket.SHUT_WR)
            while sock.recv(65536):
                pass
        except (ConnectionResetError, BrokenPipeError):
            pass  # the broker closed first: fine


def broker_is_healthy(server: ServerThread) -> None:
    with RawClient(mqtt_port(server)) as c:
        c.handshake(unique("ok"))
        topic = unique("health/")
        c.subscribe(1, (topic, 1))
        c.send(raw.publish(topic, b"alive", qos=0))
        assert c.expect_publish().payload == b"alive"
    assert httpx.get(f"{server.url}/health", timeout=raw.TIMEOUT).status_code == 200


def test_mutated_and_random_packets(server: ServerThread, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    rng = random.Random(SEED)
    port = mqtt_port(server)
    broker_is_healthy(server)
    for i in range(CASES):
        data = fuzz_case(rng)
        send_case(port, data)
        if i % CHECK_EVERY == CHECK_EVERY - 1:
            broker_is_healthy(server)
    broker_is_healthy(server)
    # The broker's log is seen here (each malformed case is logged at INFO), and holds no error.
    assert any("MQTT protocol error" in r.getMessage() for r in caplog.records)
    bad = [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info is not None]
    assert not bad, [(r.levelname, r.name, r.getMessage()) for r in bad[:5]]


def test_a_client_maximum_packet_size_too_small_for_the_connack(
    server: ServerThread, caplog: pytest.LogCaptureFixture
) -> None:
    """Found by the fuzz run: the CONNACK was dropped [MQTT-3.1.2-25] but the client treated as connected,
    so its next packet failed with an error. Now the connection is closed: nothing can be said to it."""
    caplog.set_level(logging.INFO)
    with RawClient(mqtt_port(server)) as c:
        c.send(raw.connect(unique(), properties=raw.props(raw.p_maximum_packet_size(5))))
        c.send(raw.publish("a/b", b"x", qos=2, packet_id=1))
        assert c.expect_closed() == []
    broker_is_healthy(server)
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info is not None]
