"""HTTPS and MQTT over secure WebSocket (`--https`, `--mqtt-wss`) with the `[tls]` certificate: real clients
(httpx, paho over wss) trusting a test CA; /health lists the listeners; Xyte registration hands out https and
mqtts addresses. `[tls] cafile` is set: HTTPS asks for a client certificate but does not require one."""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from tests.adapters.certs import make_ca, make_leaf
from tests.mqtt_device import Device, unique
from tests.support import ADMIN_PASSWORD, ServerThread, start_server
from tests.xyte.helpers import create_model, registration


@pytest.fixture(scope="module")
def tls_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("tls")


@pytest.fixture(scope="module")
def server(tls_dir: Path) -> Iterator[ServerThread]:
    ca = make_ca("Tether HTTPS test CA")
    (tls_dir / "server-ca.crt").write_text(ca.pem)
    certfile, keyfile = make_leaf(ca, "localhost", server=True).write(tls_dir, "server")
    clients = make_ca("Tether HTTPS client CA")
    (tls_dir / "client-ca.crt").write_text(clients.pem)
    make_leaf(clients, "operator-1").write(tls_dir, "client")
    tls = {"certfile": certfile, "keyfile": keyfile, "cafile": str(tls_dir / "client-ca.crt")}
    thread = start_server(
        "sqlite",
        tls_dir,
        https="127.0.0.1:0",
        mqtt_tls="127.0.0.1:0",
        mqtt_wss="127.0.0.1:0",
        sections={"tls": tls},
    )
    yield thread
    thread.stop()


def _address(server: ServerThread, listener: str) -> str:
    address: str = server.platform.services.readiness.addresses[listener]
    return address


def _trusting(tls_dir: Path) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(tls_dir / "server-ca.crt"))


@pytest.fixture
def https_admin(server: ServerThread, tls_dir: Path) -> Iterator[httpx.Client]:
    base = _address(server, "https")
    with httpx.Client(
        base_url=base, auth=("t1/admin", ADMIN_PASSWORD), verify=_trusting(tls_dir), timeout=30
    ) as client:
        yield client


def test_health_lists_the_tls_listeners(server: ServerThread) -> None:
    health = httpx.get(f"{server.url}/health", timeout=30)
    assert health.status_code == 200
    listeners = health.json()["listeners"]
    assert listeners["https"].startswith("https://127.0.0.1:")
    assert listeners["mqtt-wss"].startswith("wss://127.0.0.1:") and listeners["mqtt-wss"].endswith("/mqtt")
    assert listeners["http"] == server.url


def test_authenticated_get_and_post_over_https(https_admin: httpx.Client) -> None:
    created = https_admin.post("/inventory/managedObjects", json={"name": "over TLS", "c8y_IsDevice": {}})
    assert created.status_code == 201, created.text
    assert created.json()["self"].startswith("https://127.0.0.1:")  # the scheme the caller used
    got = https_admin.get(f"/inventory/managedObjects/{created.json()['id']}")
    assert got.status_code == 200 and got.json()["name"] == "over TLS"
    assert https_admin.get("/inventory/managedObjects", auth=("t1/admin", "wrong")).status_code == 401


def test_https_client_certificate_is_verified_when_offered(server: ServerThread, tls_dir: Path) -> None:
    """cafile set: a certificate of that CA is accepted (credentials still required), one of another CA
    fails the handshake."""
    base = _address(server, "https")
    context = _trusting(tls_dir)
    context.load_cert_chain(tls_dir / "client.crt", tls_dir / "client.key")
    with httpx.Client(base_url=base, verify=context, timeout=30) as client:
        assert client.get("/user/currentUser").status_code == 401
        response = client.get("/user/currentUser", auth=("t1/admin", ADMIN_PASSWORD))
        assert response.status_code == 200, response.text
    stranger = make_leaf(make_ca("Unknown CA"), "stranger")
    context = _trusting(tls_dir)
    context.load_cert_chain(*stranger.write(tls_dir, "stranger"))
    with (
        httpx.Client(base_url=base, verify=context, timeout=30) as client,
        pytest.raises(httpx.TransportError),
    ):
        client.get("/health")


def test_plain_clients_cannot_use_the_https_port(server: ServerThread) -> None:
    port = urlsplit(_address(server, "https")).port
    with pytest.raises(httpx.TransportError):
        httpx.get(f"http://127.0.0.1:{port}/health", timeout=30)


def test_mqtt_over_secure_websocket(server: ServerThread, tls_dir: Path) -> None:
    """[tls] cafile makes the MQTT TLS listeners require a client certificate; the login is the password."""
    port = urlsplit(_address(server, "mqtt-wss")).port
    assert port is not None
    context = _trusting(tls_dir)
    context.load_cert_chain(tls_dir / "client.crt", tls_dir / "client.key")
    topic = unique("wss/")
    device = Device(
        port,
        unique("wss"),
        username="t1/admin",
        password=ADMIN_PASSWORD,
        tls=context,
        transport="websockets",
    )
    try:
        assert device.connect() == 0
        assert device.subscribe(topic, 1) == 1
        assert device.publish(topic, b"x" * 70_000, 1) == 0  # more than one WebSocket frame
        assert device.get(topic).payload == b"x" * 70_000
    finally:
        device.close()


def test_xyte_registration_hands_out_tls_addresses(
    server: ServerThread, https_admin: httpx.Client, tls_dir: Path
) -> None:
    https_port = urlsplit(_address(server, "https")).port
    mqtts_port = urlsplit(_address(server, "mqtt-tls")).port
    model = create_model(https_admin)
    over_https = https_admin.post("/v1/devices", json=registration(model), auth=None)
    assert over_https.status_code == 201, over_https.text
    body = over_https.json()
    assert body["hub_url"] == body["hub_url_static_cert"] == f"https://127.0.0.1:{https_port}"
    assert body["mqtt_hub_url"] == f"mqtts://127.0.0.1:{mqtts_port}"
    # Registered over plain HTTP: still pointed at the TLS listeners, on the host it used.
    over_http = httpx.post(
        f"{server.url}/v1/devices", json=registration(model), headers={"Host": "hub.example.test"}
    )
    assert over_http.status_code == 201, over_http.text
    assert over_http.json()["hub_url"] == f"https://hub.example.test:{https_port}"
    assert over_http.json()["mqtt_hub_url"] == f"mqtts://hub.example.test:{mqtts_port}"
