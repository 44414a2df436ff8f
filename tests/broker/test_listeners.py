"""MQTT over WebSocket (spec 6) and over TLS, with paho-mqtt."""

from __future__ import annotations

import shutil
import socket
import ssl
import subprocess
from collections.abc import Callable
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from tests.broker.conftest import BrokerFactory, Client, unique

from tether.broker import TlsConfig, bind_socket, listener_url

ClientFactory = Callable[..., Client]


@pytest.mark.parametrize("protocol", [mqtt.MQTTv5, mqtt.MQTTv311])
def test_websocket(make_broker: BrokerFactory, clients: ClientFactory, protocol: int) -> None:
    b = make_broker(websocket=True)
    topic = unique("ws")
    ws = clients(b.port_of("mqtt-ws"), protocol=protocol, transport="websockets")
    ws.paho.ws_set_options(path="/mqtt")
    ws.connect()
    ws.subscribe(topic, 1)
    tcp = clients(b.port)
    tcp.connect()
    tcp.publish(topic, b"over tcp", 1)
    ws.publish(topic, b"x" * 70000, 1)  # larger than one WebSocket frame of paho's
    assert [m.payload for m in ws.get_many(2)] == [b"over tcp", b"x" * 70000]


def test_websocket_wrong_path_is_refused(make_broker: BrokerFactory) -> None:
    b = make_broker(websocket=True)
    with socket.create_connection(("127.0.0.1", b.port_of("mqtt-ws")), timeout=10) as s:
        s.sendall(
            b"GET /other HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
            b"Sec-WebSocket-Protocol: mqtt\r\n\r\n"
        )
        assert s.recv(100).startswith(b"HTTP/1.1 404")


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    if shutil.which("openssl") is None:
        pytest.skip("openssl is needed to make a test certificate")
    tmp = tmp_path_factory.mktemp("tls")
    cert, key = tmp / "cert.pem", tmp / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=localhost",
         "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return cert, key


def test_tls(make_broker: BrokerFactory, clients: ClientFactory, certificate: tuple[Path, Path]) -> None:
    cert, key = certificate
    b = make_broker(tls=TlsConfig(str(cert), str(key)))
    topic = unique("tls")
    c = clients(b.port_of("mqtt-tls"))
    c.paho.tls_set(ca_certs=str(cert), cert_reqs=ssl.CERT_REQUIRED)
    c.connect()
    c.subscribe(topic, 1)
    c.publish(topic, b"secret", 1)
    assert c.get().payload == b"secret"
    assert b.run(lambda: {conn.info.listener for conn in b.broker.connections}) == {"tls"}
    c.disconnect()


def test_listener_urls() -> None:
    sock = bind_socket("127.0.0.1:0")
    try:
        port = sock.getsockname()[1]
        assert listener_url("mqtt", sock) == f"mqtt://127.0.0.1:{port}"
        assert listener_url("mqtt-tls", sock) == f"mqtts://127.0.0.1:{port}"
        assert listener_url("mqtt-ws", sock) == f"ws://127.0.0.1:{port}/mqtt"
    finally:
        sock.close()
