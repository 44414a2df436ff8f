"""/api/v5/stats, /api/v5/metrics and /api/v5/prometheus/stats with httpx against paho clients (MQTT 5.0 and
3.1.1): EMQX's key names and shapes, each tenant's operator seeing its own namespace only, the platform
operator (the default tenant's administrator) the whole broker and the Prometheus text."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from tests.mqtt_device import V5, V311, Device, ServerMqtt, unique
from tests.support import ADMIN_PASSWORD, ServerThread

from tether.tenants.models import Role
from tether.tenants.passwords import generate_password

STATS = "/api/v5/stats"
METRICS = "/api/v5/metrics"
PROMETHEUS = "/api/v5/prometheus/stats"


def new_tenant(server: ServerThread) -> tuple[str, str, str]:
    """A fresh tenant with an administrator: (tenant, login, password)."""
    tenants = server.platform.services.tenants
    tenant = unique("ten").lower()
    password = generate_password()
    server.call(tenants.create_tenant(tenant))
    server.call(tenants.create_user(tenant, "boss", password, {Role.ADMIN}, generated=True))
    return tenant, f"{tenant}/boss", password


def operator(server: ServerThread, login: str, password: str) -> httpx.Client:
    return httpx.Client(base_url=server.url, auth=(login, password), timeout=30)


def eventually(read: Callable[[], Any], check: Callable[[Any], bool]) -> Any:
    """Connection events reach the counters right after the CONNACK/SUBACK: poll a moment."""
    for _ in range(100):
        value = read()
        if check(value):
            return value
        time.sleep(0.05)
    return value


def test_stats_of_a_tenant_are_its_own(
    server: ServerThread, mqtt_server: ServerMqtt, admin: httpx.Client, mqtt_devices: Callable[..., Device]
) -> None:
    _, login, password = new_tenant(server)
    first = mqtt_devices(mqtt_server.port, unique(), V5, username=login, password=password)
    second = mqtt_devices(mqtt_server.port, unique(), V311, username=login, password=password)
    assert first.connect() == 0 and second.connect() == 0
    assert first.subscribe("plant/+/temp") == 1 and first.subscribe("$share/g/plant/#") == 1
    assert second.subscribe("plant/+/temp") == 1
    assert first.publish("plant/1/state", "on", retain=True) == 0
    with operator(server, login, password) as client:
        nodes = client.get(STATS)
        assert nodes.status_code == 200
        (node,) = nodes.json()
        assert node["node"].startswith("tether@")
        stats = client.get(STATS, params={"aggregate": "true"}).json()
    assert "node" not in stats
    assert stats["live_connections.count"] == 2 and stats["connections.count"] == 2
    assert stats["sessions.count"] == 2 and stats["channels.count"] == 2
    assert stats["subscriptions.count"] == 3 and stats["subscriptions.shared.count"] == 1
    assert stats["topics.count"] == 2 and stats["subscribers.count"] == 2
    assert stats["retained.count"] == 1
    assert stats["live_connections.max"] >= 2 and stats["retained.max"] >= 1
    # Another tenant's operator sees none of it.
    _, other_login, other_password = new_tenant(server)
    with operator(server, other_login, other_password) as other:
        theirs = other.get(STATS, params={"aggregate": "true"}).json()
    assert theirs["connections.count"] == 0 and theirs["subscriptions.count"] == 0
    assert theirs["retained.count"] == 0
    # The platform operator sees the whole broker.
    everything = admin.get(STATS, params={"aggregate": "true"}).json()
    assert everything["live_connections.count"] >= 2 and everything["subscriptions.count"] >= 3
    # A disconnected client is gone from the figures (clean session); the maximum stays.
    second.close()
    with operator(server, login, password) as client:
        after = eventually(
            lambda: client.get(STATS, params={"aggregate": "true"}).json(),
            lambda s: s["live_connections.count"] == 1,
        )
    assert after["live_connections.count"] == 1 and after["live_connections.max"] == 2


def test_metrics_count_a_tenants_connection_events(
    server: ServerThread, mqtt_server: ServerMqtt, mqtt_devices: Callable[..., Device]
) -> None:
    _, login, password = new_tenant(server)
    with operator(server, login, password) as client:
        before = client.get(METRICS, params={"aggregate": "true"}).json()
        assert before["client.connected"] == 0 and before["messages.received"] == 0
        assert before["bytes.received"] == 0 and before["authentication.success"] == 0
        device = mqtt_devices(mqtt_server.port, unique(), V5, username=login, password=password)
        assert device.connect() == 0
        assert device.subscribe("a/b", 1) == 1
        assert device.publish("a/b", "hello", qos=1) == 0
        assert device.get("a/b").payload == b"hello"
        live = client.get(METRICS, params={"aggregate": "true"}).json()
        assert live["messages.received"] == 1 and live["bytes.received"] > 0  # a live connection's figures
        device.close()
        metrics = eventually(
            lambda: client.get(METRICS, params={"aggregate": "true"}).json(),
            lambda m: m["client.disconnected"] == 1,
        )
        assert metrics["client.connected"] == 1 and metrics["session.created"] == 1
        assert metrics["client.subscribe"] == 1 and metrics["client.unsubscribe"] == 0
        # The tenant's traffic and security counts (kept when its connections end).
        assert metrics["messages.received"] == 1 and metrics["messages.sent"] == 1
        assert metrics["packets.publish.received"] == 1 and metrics["packets.publish.sent"] == 1
        # CONNECT, SUBSCRIBE, PUBLISH, the PUBACK of the copy it got, DISCONNECT.
        assert metrics["packets.received"] == 5
        assert metrics["bytes.received"] > 0 and metrics["bytes.sent"] > 0
        assert metrics["authentication.success"] == 1 and metrics["authentication.failure"] == 0
        assert metrics["authorization.allow"] == 2 and metrics["authorization.deny"] == 0
        assert metrics["client.authorize"] == 2
        (node,) = client.get(METRICS).json()
        assert node["client.connected"] == 1 and node["node"].startswith("tether@")
        missing = client.get(METRICS, params={"node": "emqx@elsewhere"})
        assert missing.status_code == 404 and missing.json()["code"] == "NOT_FOUND"
        bad = client.get(METRICS, params={"aggregate": "maybe"})
        assert bad.status_code == 400 and bad.json()["code"] == "INVALID_PARAMETER"


def test_platform_metrics_count_messages(
    mqtt_server: ServerMqtt, admin: httpx.Client, mqtt_devices: Callable[..., Device]
) -> None:
    listener = mqtt_devices(mqtt_server.port, unique(), V5, username="t1/admin", password=ADMIN_PASSWORD)
    assert listener.connect() == 0 and listener.subscribe("news/#") == 1
    before = admin.get(METRICS, params={"aggregate": "true"}).json()
    assert listener.publish("news/today", "x") == 0
    assert listener.get("news/today").payload == b"x"
    assert listener.publish("nobody/listens", "y") == 0x10  # No matching subscribers
    after = admin.get(METRICS, params={"aggregate": "true"}).json()
    assert after["messages.received"] - before["messages.received"] == 2
    assert after["messages.sent"] - before["messages.sent"] >= 1
    assert after["messages.delivered"] - before["messages.delivered"] >= 1
    assert after["messages.dropped.no_subscribers"] - before["messages.dropped.no_subscribers"] == 1
    assert after["client.connected"] >= 1 and "delivery.dropped.queue_full" in after


def test_platform_metrics_count_logins_and_refusals(
    mqtt_server: ServerMqtt,
    admin: httpx.Client,
    mqtt_devices: Callable[..., Device],
    accounts_device: tuple[str, str, str],
) -> None:
    serial, login, password = accounts_device
    before = admin.get(METRICS, params={"aggregate": "true"}).json()
    wrong = mqtt_devices(mqtt_server.port, unique(), V311, username=login, password="wrong")
    assert wrong.connect() == 0x86  # 3.1.1: 4 bad user name or password (paho reports it as 0x86)
    device = mqtt_devices(mqtt_server.port, serial, V5, username=login, password=password)
    assert device.connect() == 0
    assert device.subscribe("someone/else/#") == 0x87  # not the device's topic
    assert device.publish("someone/else", "x", qos=1) == 0x87
    after = eventually(
        lambda: admin.get(METRICS, params={"aggregate": "true"}).json(),
        lambda m: m["authorization.deny"] - before["authorization.deny"] >= 2,
    )
    assert after["authentication.failure"] - before["authentication.failure"] == 1
    assert after["authentication.success"] - before["authentication.success"] >= 1
    assert after["client.connect"] - before["client.connect"] >= 2
    assert after["authorization.deny"] - before["authorization.deny"] == 2
    assert after["packets.connect.received"] == after["client.connect"]


def test_prometheus_text_for_the_platform_operator(
    server: ServerThread, mqtt_server: ServerMqtt, admin: httpx.Client, accounts_device: tuple[str, str, str]
) -> None:
    serial, login, password = accounts_device
    device = Device(mqtt_server.port, serial, V5, username=login, password=password)
    try:
        assert device.connect() == 0
        assert device.publish("s/us", f"100,{serial},c8y_Test") == 0
    finally:
        device.close()
    assert admin.get("/inventory/managedObjects").status_code == 200
    answer = admin.get(PROMETHEUS)
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/plain; version=")
    text = answer.text
    for line in (
        "# TYPE emqx_connections_count gauge",
        "# TYPE emqx_messages_received_total counter",
        "# TYPE emqx_client_connected_total counter",
        'tether_http_requests_count{method="GET",route="/inventory/managedObjects",status="200"}',
        'tether_mqtt_ingested_messages_total{family="smartrest"}',
        "# TYPE tether_database_latency_seconds gauge",
        "# TYPE tether_mqtt_queued_messages gauge",
        "# TYPE tether_mqtt_pending_connects gauge",
        "# TYPE tether_realtime_sessions gauge",
    ):
        assert line in text, line
    # Routes are templates, not paths: the label set stays small.
    admin.get("/inventory/managedObjects/12345")
    assert 'route="/inventory/managedObjects/{id}"' in admin.get(PROMETHEUS).text
    assert "/inventory/managedObjects/12345" not in admin.get(PROMETHEUS).text


def test_who_may_read_the_figures(server: ServerThread, accounts_device: tuple[str, str, str]) -> None:
    _, login, password = new_tenant(server)
    with operator(server, login, password) as client:
        refused = client.get(PROMETHEUS)
        assert refused.status_code == 403 and refused.json()["code"] == "UNAUTHORIZED_ROLE"
    _, device_login, device_password = accounts_device
    with operator(server, device_login, device_password) as device:
        for path in (STATS, METRICS, PROMETHEUS):
            answer = device.get(path)
            assert answer.status_code == 403 and answer.json()["code"] == "UNAUTHORIZED_ROLE", path
    for path in (STATS, METRICS, PROMETHEUS):
        answer = httpx.get(server.url + path)
        assert answer.status_code == 401 and answer.json()["code"] == "AUTHORIZATION_HEADER_ERROR"


@pytest.fixture
def accounts_device(server: ServerThread) -> tuple[str, str, str]:
    """A device user of the default tenant: (serial, login, password)."""
    serial = unique("SER")
    password = generate_password()
    tenants = server.platform.services.tenants
    server.call(tenants.create_user("t1", f"device_{serial}", password, {Role.DEVICE}, generated=True))
    return serial, f"t1/device_{serial}", password
