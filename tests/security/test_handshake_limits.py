"""Broker limits (docs/security.md): what an unauthenticated MQTT client may cost, what a client may name.

Against a real `tether serve` (tests/support.py) with raw sockets (tests/broker/raw.py): a CONNECT over
`max_connect_size` is refused as soon as its length is known; connections in their handshake are capped per
address and in total, the refusals logged once per burst; Client Identifiers longer than
`max_client_id_length` are refused; clients cannot publish (or leave a will) under the server's `$` topics.
The connect timeout is set to a minute so that any closing seen here comes from the limits.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import time
from collections.abc import Iterator

import pytest
from tests.broker import raw
from tests.broker.raw import RawClient
from tests.support import ADMIN_PASSWORD, ServerThread, start_server, unique

PER_ADDRESS = 6
TOTAL = 10
ADMIN = "t1/admin"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerThread]:
    mqtt = {
        "connect_timeout": 60,
        "max_pending_connects_per_address": PER_ADDRESS,
        "max_pending_connects": TOTAL,
    }
    thread = start_server(
        "sqlite",
        tmp_path_factory.mktemp("tether"),
        allow_anonymous=True,
        mqtt_ws="127.0.0.1:0",
        sections={"mqtt": mqtt},
    )
    yield thread
    thread.stop()


def mqtt_port(server: ServerThread, listener: str = "mqtt") -> int:
    url: str = server.platform.services.readiness.addresses[listener]
    return int(url.rsplit(":", 1)[1].partition("/")[0])


def pending(server: ServerThread) -> int:
    count: int = server.server.mqtt.broker.handshakes.count
    return count


def wait_no_pending(server: ServerThread) -> None:
    for _ in range(1000):  # the broker sees the clients' closing a moment later
        if pending(server) == 0:
            return
        time.sleep(0.01)
    raise AssertionError(f"{pending(server)} connections still in their handshake")


def open_from(port: int, source: str) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=raw.TIMEOUT, source_address=(source, 0))
    sock.settimeout(raw.TIMEOUT)
    return sock


def closed_by_server(sock: socket.socket) -> bool:
    """Whether the server closed the connection (without sending anything) before the guard timeout."""
    try:
        return sock.recv(1) == b""
    except ConnectionResetError:
        return True
    except TimeoutError:
        return False


def connack_code(client: RawClient, version: int) -> int:
    return client.connack(version).code


# ----------------------------------------------------------------------------------------- CONNECT size


def test_connect_over_the_size_limit_gets_0x95_on_5(server: ServerThread) -> None:
    big = raw.props(raw.p_user_property("k", "v" * 40_000), raw.p_user_property("k2", "v" * 40_000))
    with RawClient(mqtt_port(server)) as c:
        c.send(raw.connect(unique(), properties=big))
        assert connack_code(c, 5) == 0x95  # Packet too large
        assert c.expect_closed() == []


def test_connect_over_the_size_limit_is_closed_on_311(server: ServerThread) -> None:
    with RawClient(mqtt_port(server)) as c:
        c.send(
            raw.connect(unique(), version=4, will_topic="w", will_payload=b"x" * 60_000, username="u" * 9_000)
        )
        assert c.expect_closed() == []  # 3.1.1 has no return code for it


def test_unfinished_connect_announcing_a_large_packet_is_refused_before_its_body(
    server: ServerThread,
) -> None:
    big = raw.props(raw.p_user_property("k", "v" * 60_000), raw.p_user_property("k", "v" * 60_000))
    whole = raw.connect(unique(), properties=big)
    with RawClient(mqtt_port(server)) as c:
        c.send(whole[:64])  # the length and the protocol level are known; the body never comes
        assert connack_code(c, 5) == 0x95
        assert c.expect_closed() == []
    wait_no_pending(server)


def test_connect_with_a_will_and_user_properties_fits(server: ServerThread) -> None:
    props = raw.props(*(raw.p_user_property(f"key{i}", "v" * 500) for i in range(40)))
    with RawClient(mqtt_port(server)) as c:
        c.send(raw.connect(unique(), properties=props, will_topic="will/x", will_payload=b"w" * 20_000))
        assert connack_code(c, 5) == 0


def test_packets_after_the_connack_may_reach_the_maximum_packet_size(server: ServerThread) -> None:
    topic = unique("big/")
    payload = b"p" * 200_000  # above max_connect_size, below max_packet_size
    with RawClient(mqtt_port(server)) as c:
        c.handshake(unique())
        c.subscribe(1, (topic, 1))
        c.send(raw.publish(topic, payload, qos=1, packet_id=2))
        got = []
        for _ in range(2):
            p = c.read()
            assert p is not None
            got.append(p)
        publish = next(raw.parse_publish(p) for p in got if p.type == 3)
        assert publish.payload == payload
        assert any(p.type == 4 for p in got)


# ------------------------------------------------------------------------------------- pending connections


def test_connections_in_their_handshake_are_capped_per_address(
    server: ServerThread, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="tether.broker")
    port = mqtt_port(server)
    wait_no_pending(server)
    with contextlib.ExitStack() as stack:
        idle = [stack.enter_context(open_from(port, "127.0.0.11")) for _ in range(PER_ADDRESS)]
        for sock in idle:  # each holds half a CONNECT: the broker has read from it
            sock.sendall(raw.connect(unique())[:5])
        for _ in range(1000):
            if pending(server) == PER_ADDRESS:
                break
            time.sleep(0.01)
        # Over the limit: closed at once (the connect timeout is a minute away), nothing sent.
        refused = [stack.enter_context(open_from(port, "127.0.0.11")) for _ in range(3)]
        assert all(closed_by_server(sock) for sock in refused)
        # Another address is not affected, and a client that finished its handshake no longer counts.
        with RawClient(port, source="127.0.0.12") as c:
            c.handshake(unique())
            assert pending(server) == PER_ADDRESS
        # The waiting ones are still served.
        idle[0].sendall(raw.connect(unique())[5:])
        assert idle[0].recv(2)[:1] == b"\x20"  # CONNACK
    wait_no_pending(server)
    with RawClient(port, source="127.0.0.11") as c:
        c.handshake(unique())
    lines = [r.getMessage() for r in caplog.records if "closing new connections" in r.getMessage()]
    assert len(lines) == 1, lines  # one line per burst, not per connection
    assert "127.0.0.11" in lines[0] and "max_pending_connects_per_address" in lines[0]


def test_connections_in_their_handshake_are_capped_in_total(server: ServerThread) -> None:
    port = mqtt_port(server)
    wait_no_pending(server)
    with contextlib.ExitStack() as stack:
        for i in range(TOTAL):
            stack.enter_context(open_from(port, f"127.0.0.{20 + i % 3}"))
        for _ in range(1000):
            if pending(server) == TOTAL:
                break
            time.sleep(0.01)
        assert pending(server) == TOTAL
        late = stack.enter_context(open_from(port, "127.0.0.30"))
        assert closed_by_server(late)
    wait_no_pending(server)
    with RawClient(port, source="127.0.0.30") as c:
        c.handshake(unique())


def test_websocket_connections_count_from_before_their_upgrade(server: ServerThread) -> None:
    port = mqtt_port(server, "mqtt-ws")
    wait_no_pending(server)
    with contextlib.ExitStack() as stack:
        for _ in range(PER_ADDRESS):
            stack.enter_context(open_from(port, "127.0.0.40"))  # no HTTP upgrade request yet
        for _ in range(1000):
            if pending(server) == PER_ADDRESS:
                break
            time.sleep(0.01)
        assert pending(server) == PER_ADDRESS
        assert closed_by_server(stack.enter_context(open_from(port, "127.0.0.40")))
    wait_no_pending(server)


# ----------------------------------------------------------------------------------------- Client Identifier


@pytest.mark.parametrize(("version", "code"), [(5, 0x85), (4, 2)])
def test_a_60kb_client_identifier_is_refused(server: ServerThread, version: int, code: int) -> None:
    with RawClient(mqtt_port(server)) as c:
        c.send(raw.connect("c" * 60_000, version=version))
        assert connack_code(c, version) == code  # 0x85 Client Identifier not valid / 2 identifier rejected
        assert c.expect_closed() == []


def test_a_client_identifier_of_the_maximum_length_is_accepted(server: ServerThread) -> None:
    with RawClient(mqtt_port(server)) as c:
        c.handshake(unique()[:6] + "i" * 250)


# ----------------------------------------------------------------------------------------- $ topics


def admin_client(server: ServerThread, version: int = 5) -> RawClient:
    c = RawClient(mqtt_port(server))
    c.handshake(unique(), version=version, username=ADMIN, password=ADMIN_PASSWORD.encode())
    return c


def test_clients_cannot_publish_to_sys_topics_on_5(server: ServerThread) -> None:
    with admin_client(server) as watcher, admin_client(server) as c:
        watcher.subscribe(1, ("$SYS/#", 1))
        c.send(raw.publish("$SYS/broker/uptime", b"forged", qos=1, packet_id=7, retain=True))
        ack = c.expect(4)
        assert ack.body[:3] == raw.u16(7) + b"\x90"  # PUBACK 0x90 Topic Name invalid
        c.send(raw.publish("$SYS/broker/version", b"forged", qos=2, packet_id=8))
        rec = c.expect(5)
        assert rec.body[:3] == raw.u16(8) + b"\x90"  # PUBREC 0x90 ends the QoS 2 flow
        assert watcher.nothing_within(0.5)
    with admin_client(server) as late:
        late.subscribe(1, ("$SYS/#", 0))
        assert late.nothing_within(0.5)  # not retained


def test_clients_cannot_publish_to_sys_topics_on_311(server: ServerThread) -> None:
    with admin_client(server, 4) as watcher, admin_client(server, 4) as c:
        assert watcher.subscribe(1, ("$SYS/#", 1), version=4) == b"\x01"
        c.send(raw.publish("$SYS/broker/uptime", b"forged", qos=1, packet_id=3, retain=True, version=4))
        assert c.expect(4).body == raw.u16(3)  # 3.1.1 has no negative PUBACK: dropped and acknowledged
        assert watcher.nothing_within(0.5)


def test_anonymous_clients_cannot_publish_into_a_tenant_or_sys(server: ServerThread) -> None:
    with admin_client(server) as watcher, RawClient(mqtt_port(server)) as anonymous:
        watcher.subscribe(1, ("#", 0), ("$SYS/#", 0))
        anonymous.handshake(unique())
        for topic in ("$tenant/t1/forged", "$SYS/x", "$client/x/s/ds"):
            anonymous.send(raw.publish(topic, b"forged", qos=1, packet_id=1))
            assert anonymous.expect(4).body[:3] == raw.u16(1) + b"\x90"
        assert watcher.nothing_within(0.5)


@pytest.mark.parametrize(("version", "code"), [(5, 0x90), (4, 5)])
def test_no_will_on_sys_topics(server: ServerThread, version: int, code: int) -> None:
    with RawClient(mqtt_port(server)) as c:
        c.send(raw.connect(unique(), version=version, will_topic="$SYS/broker/clients", will_payload=b"x"))
        assert connack_code(c, version) == code


# ------------------------------------------------------------------------ ClientIds of the mounted space


@pytest.mark.parametrize(("version", "refused"), [(5, 0x85), (4, 2)])
def test_an_anonymous_client_may_not_name_a_tenants_session(
    server: ServerThread, version: int, refused: int
) -> None:
    """Sessions of a tenant's clients are keyed `$tenant/<id>/<client id>`: an anonymous client (the whole
    topic space, no mountpoint) naming such a key would take the tenant's session over."""
    with RawClient(mqtt_port(server)) as c:
        c.send(raw.connect(f"$tenant/t1/{unique()}", version=version))
        assert connack_code(c, version) == refused  # Client Identifier not valid (3.1.1: identifier rejected)
        assert c.expect_closed() == []
    with RawClient(mqtt_port(server)) as c:
        c.send(raw.connect(unique(), version=version))
        assert connack_code(c, version) == 0
