"""`$SYS/brokers/<node>/...` with paho clients (MQTT 5.0 and 3.1.1): a tenant's operator hears the connection
events of its own tenant's clients (JSON in EMQX's shape) and its tenant's periodic stats, nothing of
another tenant."""

from __future__ import annotations

from collections.abc import Callable

import orjson
import pytest
from tests.mqtt_device import V5, V311, Device, ServerMqtt, unique
from tests.support import ServerThread

from tether.tenants.models import Role
from tether.tenants.passwords import generate_password


def new_tenant(server: ServerThread) -> tuple[str, str]:
    tenants = server.platform.services.tenants
    tenant = unique("sys").lower()
    password = generate_password()
    server.call(tenants.create_tenant(tenant))
    server.call(tenants.create_user(tenant, "ops", password, {Role.ADMIN}, generated=True))
    return f"{tenant}/ops", password


@pytest.mark.parametrize("protocol", [V5, V311], ids=["mqtt5", "mqtt311"])
def test_an_operator_hears_its_own_clients(
    server: ServerThread, mqtt_server: ServerMqtt, mqtt_devices: Callable[..., Device], protocol: int
) -> None:
    login, password = new_tenant(server)
    other_login, other_password = new_tenant(server)
    watcher = mqtt_devices(mqtt_server.port, unique("ops"), protocol, username=login, password=password)
    assert watcher.connect() == 0
    assert watcher.subscribe("$SYS/brokers/+/clients/#") == 1
    client_id = unique("dev")
    device = mqtt_devices(mqtt_server.port, client_id, V5, username=login, password=password)
    assert device.connect() == 0
    connected = watcher.get()
    assert connected.topic.startswith("$SYS/brokers/tether@")
    assert connected.topic.endswith(f"/clients/{client_id}/connected")
    event = orjson.loads(connected.payload)
    assert event["clientid"] == client_id and event["username"] == login
    assert event["ipaddress"] == "127.0.0.1" and event["proto_ver"] == 5 and event["connack"] == 0
    assert event["proto_name"] == "MQTT" and event["connected_at"] == event["ts"]
    device.close()
    disconnected = watcher.get()
    assert disconnected.topic.endswith(f"/clients/{client_id}/disconnected")
    gone = orjson.loads(disconnected.payload)
    assert gone["clientid"] == client_id and gone["reason"] == "normal" and gone["disconnected_at"] >= 0
    # Another tenant's clients are not heard.
    stranger = mqtt_devices(
        mqtt_server.port, unique("dev"), V5, username=other_login, password=other_password
    )
    assert stranger.connect() == 0
    stranger.close()
    assert watcher.none_within(0.5)


def test_periodic_stats_per_tenant(
    server: ServerThread, mqtt_server: ServerMqtt, mqtt_devices: Callable[..., Device]
) -> None:
    login, password = new_tenant(server)
    other_login, other_password = new_tenant(server)
    watcher = mqtt_devices(mqtt_server.port, unique("ops"), V5, username=login, password=password)
    assert watcher.connect() == 0 and watcher.subscribe("$SYS/brokers/+/stats/#") == 1
    other = mqtt_devices(mqtt_server.port, unique("ops"), V5, username=other_login, password=other_password)
    assert other.connect() == 0 and other.subscribe("x/y") == 1 and other.subscribe("x/z") == 1
    sys_topics = server.platform.services.monitoring.sys_topics
    assert sys_topics is not None and sys_topics.interval == 60.0
    assert server.loop is not None
    server.loop.call_soon_threadsafe(sys_topics.tick)
    figures: dict[str, str] = {}
    while "subscriptions/count" not in figures or "live_connections/count" not in figures:
        message = watcher.get()
        figures[message.topic.split("/stats/", 1)[1]] = message.payload.decode()
    # Its own tenant's figures: the watcher alone, with its one subscription.
    assert figures["live_connections/count"] == "1" and figures["subscriptions/count"] == "1"
