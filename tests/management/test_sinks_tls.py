"""Sinks over TLS (a connector's `ssl`, EMQX 5's shape) against real servers the test starts with a CA of
its own (tls_certs.py): a webhook receiver on https that asks for a client certificate, and mosquitto and
redis-server with TLS listeners that do too. A server whose certificate the connector cannot verify leaves
it disconnected with the reason; the key's password is never shown. One backend: TLS is the sinks' I/O,
not storage."""

from __future__ import annotations

import json
import ssl
from collections.abc import Callable, Iterator

import httpx
import pytest
import redis
from tests.management.conftest import two_tenant_server
from tests.management.sink_servers import Mosquitto, Redis, Webhook
from tests.management.sinks_support import CONNECTORS, action_metrics, admin, clients, sink, wait_for
from tests.management.tls_certs import KEY_PASSWORD, Certificates, make_certificates
from tests.mqtt_device import V5, Device, unique
from tests.support import ServerThread

__all__ = ["admin", "clients"]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerThread]:
    yield from two_tenant_server("sqlite", tmp_path_factory.mktemp("tether"))


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Certificates:
    return make_certificates(tmp_path_factory.mktemp("certs"))


@pytest.fixture(scope="module")
def https_webhook(certs: Certificates) -> Iterator[Webhook]:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH, cafile=str(certs.ca))
    context.load_cert_chain(certs.server_cert, certs.server_key)
    context.verify_mode = ssl.CERT_REQUIRED  # a client certificate signed by the CA, or no handshake
    receiver = Webhook(context)
    receiver.start()
    yield receiver
    receiver.stop()


@pytest.fixture(scope="module")
def tls_mosquitto(tmp_path_factory: pytest.TempPathFactory, certs: Certificates) -> Iterator[Mosquitto]:
    broker = Mosquitto(tmp_path_factory.mktemp("mosquitto"), (certs.ca, certs.server_cert, certs.server_key))
    broker.start()
    yield broker
    broker.stop()


@pytest.fixture(scope="module")
def tls_redis(tmp_path_factory: pytest.TempPathFactory, certs: Certificates) -> Iterator[Redis]:
    store = Redis(tmp_path_factory.mktemp("redis"), (certs.ca, certs.server_cert, certs.server_key))
    store.start()
    yield store
    store.stop()


def client_tls(certs: Certificates, **more: object) -> dict[str, object]:
    return {
        "enable": True,
        "verify": "verify_peer",
        "cacertfile": str(certs.ca),
        "certfile": str(certs.client_cert),
        "keyfile": str(certs.client_key),
        "password": KEY_PASSWORD,
        **more,
    }


def test_webhook_over_https(
    admin: httpx.Client, clients: Callable[..., Device], https_webhook: Webhook, certs: Certificates
) -> None:
    action_id = sink(
        admin,
        "http",
        "secure",
        {"url": https_webhook.url, "ssl": client_tls(certs)},
        {"path": "/tls", "body": '{"t": ${t}}'},
        'SELECT payload.t AS t FROM "tls/#"',
    )
    shown = admin.get(f"{CONNECTORS}/http:secure").json()
    assert shown["ssl"]["password"] == "******" and KEY_PASSWORD not in json.dumps(shown)
    assert shown["ssl"]["cacertfile"] == str(certs.ca) and shown["ssl"]["verify"] == "verify_peer"
    wait_for(lambda: admin.get(f"{CONNECTORS}/http:secure").json()["status"] == "connected", "connected")
    device = clients()
    assert device.publish("tls/a", '{"t": 1}') in (0, 16)
    wait_for(lambda: https_webhook.bodies("/tls") == [{"t": 1}], "the request over https")
    wait_for(lambda: action_metrics(admin, action_id)["success"] == 1, "counted")
    # The masked password sent back keeps the stored one: the key still loads.
    kept = {"url": https_webhook.url, "ssl": shown["ssl"]}
    assert admin.put(f"{CONNECTORS}/http:secure", json=kept).status_code == 200
    assert device.publish("tls/a", '{"t": 2}') in (0, 16)
    wait_for(lambda: https_webhook.bodies("/tls") == [{"t": 1}, {"t": 2}], "the second request")

    # Another CA: the server's certificate is refused, the connector says why; verify_none accepts it.
    untrusted = {"url": https_webhook.url, "ssl": client_tls(certs, cacertfile=str(certs.other_ca))}
    assert admin.post(CONNECTORS, json={"type": "http", "name": "untrusted", **untrusted}).status_code == 201
    refused = wait_for(
        lambda: (c := admin.get(f"{CONNECTORS}/http:untrusted").json())["status"] == "disconnected" and c,
        "the untrusted connector disconnected",
    )
    assert "certificate" in refused["status_reason"].lower()
    lax = {"url": https_webhook.url, "ssl": client_tls(certs, cacertfile="", verify="verify_none")}
    assert admin.put(f"{CONNECTORS}/http:untrusted", json=lax).status_code == 200
    wait_for(lambda: admin.get(f"{CONNECTORS}/http:untrusted").json()["status"] == "connected", "lax")
    missing = {"url": https_webhook.url, "ssl": client_tls(certs, certfile="/nonexistent/client.pem")}
    assert admin.put(f"{CONNECTORS}/http:untrusted", json=missing).status_code == 200
    gone = wait_for(
        lambda: (c := admin.get(f"{CONNECTORS}/http:untrusted").json())["status"] == "disconnected" and c,
        "a missing certificate file",
    )
    assert "TLS configuration" in gone["status_reason"]
    for bad in ({"cacertfile": "ca.pem"}, {"verify": "sometimes"}, {"keyfile": "/k.pem", "certfile": ""},
                {"certfile": "-----BEGIN CERTIFICATE-----"}, {"enable": "yes"}):  # fmt: skip
        answer = admin.post(
            CONNECTORS,
            json={"type": "http", "name": "bad", "url": https_webhook.url, "ssl": client_tls(certs, **bad)},
        )
        assert answer.status_code == 400 and "ssl." in answer.json()["message"], bad


def test_mqtt_bridge_over_tls(
    admin: httpx.Client, clients: Callable[..., Device], tls_mosquitto: Mosquitto, certs: Certificates
) -> None:
    remote = Device(tls_mosquitto.port, unique("remote"), V5)  # the plain listener of the same broker
    assert remote.connect() == 0
    try:
        assert remote.subscribe("bridged/#") == 1
        action_id = sink(
            admin,
            "mqtt",
            "tls_bridge",
            {"server": f"127.0.0.1:{tls_mosquitto.tls_port}", "proto_ver": "v5", "ssl": client_tls(certs)},
            {"remote": {"topic": "bridged/${topic}", "qos": 1, "payload": "${payload}"}},
            'SELECT * FROM "up/#"',
        )
        device = clients()
        for i in range(3):
            assert device.publish("up/x", f"m{i}") in (0, 16)
        assert [remote.get().payload for _ in range(3)] == [b"m0", b"m1", b"m2"]
        wait_for(lambda: action_metrics(admin, action_id)["success"] == 3, "three bridged")
        assert admin.get(f"{CONNECTORS}/mqtt:tls_bridge").json()["ssl"]["password"] == "******"
        # A broker whose certificate another CA signed: refused at the handshake, the connector says why.
        untrusted = client_tls(certs, cacertfile=str(certs.other_ca))
        server = f"127.0.0.1:{tls_mosquitto.tls_port}"
        answer = admin.post(
            CONNECTORS, json={"type": "mqtt", "name": "anon", "server": server, "ssl": untrusted}
        )
        assert answer.status_code == 201
        down = wait_for(
            lambda: (c := admin.get(f"{CONNECTORS}/mqtt:anon").json())["status"] == "disconnected" and c,
            "refused: the broker's certificate is not trusted",
        )
        assert "certificate" in down["status_reason"].lower()
    finally:
        remote.close()


def test_redis_over_tls(
    admin: httpx.Client, clients: Callable[..., Device], tls_redis: Redis, certs: Certificates
) -> None:
    action_id = sink(
        admin,
        "redis",
        "tls_cache",
        {"server": f"127.0.0.1:{tls_redis.tls_port}", "ssl": client_tls(certs)},
        {"command_template": ["RPUSH", "tls:${clientid}", "${payload}"]},
        'SELECT * FROM "rd/#"',
    )
    device = clients(client_id="rd_tls")
    for i in range(3):
        assert device.publish("rd/x", f"v{i}") in (0, 16)
    store = redis.Redis(port=tls_redis.port)  # the plain port of the same server
    wait_for(lambda: store.lrange("tls:rd_tls", 0, -1) == [b"v0", b"v1", b"v2"], "three items over TLS")
    wait_for(lambda: action_metrics(admin, action_id)["success"] == 3, "three sent")
    store.close()
