"""POST /api/v5/publish and /api/v5/publish/bulk (EMQX 5 emqx_mgmt_api_publish shapes) with httpx, received
by paho-mqtt clients at 5.0 and 3.1.1 on both backends; an operator's own MQTT login publishing to its
devices; tenant isolation."""

from __future__ import annotations

import base64
import contextlib
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from tests.management.conftest import two_tenant_server
from tests.mqtt_device import PROTOCOL_IDS, PROTOCOLS, V5, Device, ServerMqtt, unique
from tests.support import ADMIN_PASSWORD, ServerThread, backends

from tether.tenants.models import Role

MAX_PACKET = 4096
USERS = "/api/v5/authentication/password_based:built_in_database/users"
RULES = "/api/v5/authorization/sources/built_in_database/rules"
protocols = pytest.mark.parametrize("protocol", PROTOCOLS, ids=PROTOCOL_IDS)


@pytest.fixture(scope="module", params=backends())
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServerThread]:
    """A server whose broker takes packets of at most MAX_PACKET bytes (for 151 packet_too_large)."""
    sections = {"mqtt": {"max_packet_size": MAX_PACKET}}
    yield from two_tenant_server(request.param, tmp_path_factory.mktemp("tether"), sections=sections)


@pytest.fixture
def clients(mqtt_server: ServerMqtt) -> Iterator[Callable[..., Device]]:
    """Connected paho clients (`connect` asserted), closed at the end of the test."""
    made: list[Device] = []

    def make(username: str, password: str, protocol: int = V5, client_id: str | None = None) -> Device:
        device = Device(
            mqtt_server.port, client_id or unique("op"), protocol, username=username, password=password
        )
        made.append(device)
        assert device.connect() == 0
        return device

    yield make
    for device in made:
        with contextlib.suppress(Exception):
            device.close()


@pytest.fixture
def admin2(server: ServerThread) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, auth=("t2/admin", ADMIN_PASSWORD), timeout=30) as client:
        yield client


def device_user(server: ServerThread, tenant: str = "t1") -> tuple[str, str, str]:
    """A device user that is an EMQX Fleets thing named after its serial: (serial, login, password)."""
    serial, password = unique("SER"), "device-pw-1"
    tenants = server.platform.services.tenants
    server.call(tenants.create_user(tenant, f"device_{serial}", password, {Role.DEVICE}))
    with httpx.Client(base_url=server.url, auth=(f"{tenant}/admin", ADMIN_PASSWORD)) as admin:
        assert admin.post("/api/v1/things", json={"name": serial, "clientId": serial}).status_code == 201
    return serial, f"{tenant}/device_{serial}", password


@protocols
def test_publish_reaches_the_tenants_subscribers_only(
    server: ServerThread, clients: Callable[..., Device], admin: httpx.Client, protocol: int
) -> None:
    serial, login, password = device_user(server)
    device = clients(login, password, protocol, client_id=serial)
    commands = f"$emqx/commands/things/{serial}/executions/1/request"
    assert device.subscribe(f"$emqx/commands/things/{serial}/#") == 1
    watcher = clients("t1/admin", ADMIN_PASSWORD, protocol)
    assert watcher.subscribe("plant/#") == 1
    stranger = clients("t2/admin", ADMIN_PASSWORD, protocol)
    assert stranger.subscribe("#") == 1
    assert stranger.subscribe(f"$emqx/commands/things/{serial}/#") == 1

    answer = admin.post(
        "/api/v5/publish", json={"topic": commands, "payload": '{"action":"reboot"}', "qos": 1}
    )
    assert answer.status_code == 200
    assert set(answer.json()) == {"id"} and len(answer.json()["id"]) == 32
    message = device.get(commands)
    assert message.payload == b'{"action":"reboot"}' and message.qos == 1

    body = {
        "topic": "plant/line1",
        "payload": base64.b64encode(b"\x00\xffbinary").decode(),
        "payload_encoding": "base64",
        "retain": False,
        "properties": {
            "payload_format_indicator": 0,
            "message_expiry_interval": 60,
            "response_topic": "plant/replies",
            "correlation_data": "corr-1",
            "user_properties": {"source": "api", "k": "v"},
            "content_type": "application/octet-stream",
        },
    }
    assert admin.post("/api/v5/publish", json=body).status_code == 200
    message = watcher.get("plant/line1")
    assert message.payload == b"\x00\xffbinary"
    if protocol == V5:
        props = message.properties
        assert props.ResponseTopic == "plant/replies"
        assert props.CorrelationData == b"corr-1"
        assert props.ContentType == "application/octet-stream"
        assert props.UserProperty == [("source", "api"), ("k", "v")]
        assert 0 < props.MessageExpiryInterval <= 60
    # The other tenant's clients, subscribed to everything and to the same topics, saw nothing.
    assert stranger.none_within(0.3)


def test_no_matching_subscribers_and_retain(
    server: ServerThread, clients: Callable[..., Device], admin: httpx.Client, admin2: httpx.Client
) -> None:
    topic = f"lonely/{unique()}"
    answer = admin.post("/api/v5/publish", json={"topic": topic, "payload": "x"})
    assert answer.status_code == 202
    assert answer.json() == {"reason_code": 16, "message": "no_matching_subscribers"}
    # A retained message is kept for later subscribers of the tenant (and of no other tenant).
    kept = admin.post("/api/v5/publish", json={"topic": topic, "payload": "kept", "retain": True, "qos": 1})
    assert kept.status_code == 202
    other = clients("t2/admin", ADMIN_PASSWORD)
    assert other.subscribe(topic) == 1
    assert other.none_within(0.3)
    late = clients("t1/admin", ADMIN_PASSWORD)
    assert late.subscribe(topic) == 1
    message = late.get(topic)
    assert message.payload == b"kept" and message.retain
    # A second tenant's operator publishing to the same topic reaches its own subscribers only.
    assert admin2.post("/api/v5/publish", json={"topic": topic, "payload": "t2"}).status_code == 200
    assert other.get(topic).payload == b"t2"
    assert late.none_within(0.3)
    assert admin.post("/api/v5/publish", json={"topic": topic, "payload": "", "retain": True}).status_code


@pytest.mark.parametrize(
    ("body", "reason_code", "message"),
    [
        ({"topic": "a/+/b", "payload": "x"}, 144, "topic_name_invalid"),
        ({"topic": "a/#", "payload": "x"}, 144, "topic_name_invalid"),
        ({"topic": "", "payload": "x"}, 144, "topic_name_invalid"),
        ({"topic": "$SYS/brokers", "payload": "x"}, 144, "topic_name_invalid"),
        ({"topic": "$tenant/t2/x", "payload": "x"}, 144, "topic_name_invalid"),
        ({"topic": "a", "payload": "x" * MAX_PACKET}, 151, "packet_too_large"),
        ({"topic": "a", "payload": "not base64!", "payload_encoding": "base64"}, 131, None),
        (
            {
                "topic": "a",
                "payload": base64.b64encode(b"\xff").decode(),
                "payload_encoding": "base64",
                "properties": {"payload_format_indicator": 1},
            },
            131,
            None,
        ),
    ],
)
def test_refused_messages(
    admin: httpx.Client, body: dict[str, Any], reason_code: int, message: str | None, mqtt_server: ServerMqtt
) -> None:
    answer = admin.post("/api/v5/publish", json=body)
    assert answer.status_code == 400
    assert answer.json()["reason_code"] == reason_code
    if message is not None:
        assert answer.json()["message"] == message


@pytest.mark.parametrize(
    "body",
    [
        {"payload": "x"},
        {"topic": "a"},
        {"topic": "a", "payload": "x", "qos": 3},
        {"topic": "a", "payload": "x", "qos": "1"},
        {"topic": "a", "payload": "x", "retain": "yes"},
        {"topic": "a", "payload": "x", "payload_encoding": "hex"},
        {"topic": "a", "payload": "x", "properties": {"message_expiry_interval": -1}},
        {"topic": "a", "payload": "x", "properties": {"user_properties": {"k": 1}}},
        {"topic": "a", "payload": "x", "properties": {"colour": "red"}},
        {"topic": 1, "payload": "x"},
        ["not", "an", "object"],
    ],
)
def test_schema_errors(admin: httpx.Client, body: Any, mqtt_server: ServerMqtt) -> None:
    answer = admin.post("/api/v5/publish", json=body)
    assert answer.status_code == 400
    assert answer.json()["code"] == "BAD_REQUEST"


def test_bulk(clients: Callable[..., Device], admin: httpx.Client) -> None:
    watcher = clients("t1/admin", ADMIN_PASSWORD)
    topic = f"bulk/{unique()}"
    assert watcher.subscribe(f"{topic}/#") == 1
    both = [{"topic": f"{topic}/a", "payload": "1"}, {"topic": f"{topic}/b", "payload": "2", "qos": 2}]
    answer = admin.post("/api/v5/publish/bulk", json=both)
    assert answer.status_code == 200
    assert [set(item) for item in answer.json()] == [{"id"}, {"id"}]
    assert [watcher.get().payload for _ in range(2)] == [b"1", b"2"]
    # One message without subscribers: 202, each message's own result, in order.
    mixed = [{"topic": f"{topic}/c", "payload": "3"}, {"topic": "nobody/listens", "payload": "4"}]
    answer = admin.post("/api/v5/publish/bulk", json=mixed)
    assert answer.status_code == 202
    first, second = answer.json()
    assert set(first) == {"id"}
    assert second == {"reason_code": 16, "message": "no_matching_subscribers"}
    assert watcher.get().payload == b"3"
    # One invalid message: the whole call is that message's 400, and nothing is published.
    bad = [{"topic": f"{topic}/d", "payload": "5"}, {"topic": "x/#", "payload": "6"}]
    answer = admin.post("/api/v5/publish/bulk", json=bad)
    assert answer.status_code == 400
    assert answer.json() == {"reason_code": 144, "message": "topic_name_invalid"}
    assert watcher.none_within(0.3)
    assert admin.post("/api/v5/publish/bulk", json={"topic": "a"}).json()["code"] == "BAD_REQUEST"
    schema = admin.post("/api/v5/publish/bulk", json=[{"topic": "a", "payload": "x", "qos": 5}])
    assert schema.status_code == 400 and schema.json()["code"] == "BAD_REQUEST"


def test_requires_an_operator(server: ServerThread, mqtt_server: ServerMqtt) -> None:
    with httpx.Client(base_url=server.url, timeout=30) as anonymous:
        answer = anonymous.post("/api/v5/publish", json={"topic": "a", "payload": "x"})
        assert answer.status_code == 401
        _, login, password = device_user(server)
        answer = anonymous.post(
            "/api/v5/publish", json={"topic": "a", "payload": "x"}, auth=(login, password)
        )
        assert answer.status_code == 403


@protocols
def test_operators_mqtt_login_publishes_to_its_devices(
    server: ServerThread, clients: Callable[..., Device], admin: httpx.Client, protocol: int
) -> None:
    """An administrator's (or EMQX superuser's) own MQTT login reaches its tenant's devices; a plain MQTT user
    only where the operator's rules allow; another tenant's operator never."""
    serial, login, password = device_user(server)
    device = clients(login, password, protocol, client_id=serial)
    commands = f"$emqx/commands/things/{serial}"
    assert device.subscribe(f"{commands}/#") == 1
    operator = clients("t1/admin", ADMIN_PASSWORD, protocol)
    assert operator.publish(f"{commands}/executions/7/request", b"reboot") < 0x80
    assert device.get().payload == b"reboot"

    plain, superuser = unique("plain"), unique("super")
    assert admin.post(USERS, json={"user_id": plain, "password": "pw-plain"}).status_code == 201
    assert (
        admin.post(
            USERS, json={"user_id": superuser, "password": "pw-super", "is_superuser": True}
        ).status_code
        == 201
    )
    boss = clients(superuser, "pw-super", protocol)
    assert boss.publish(f"{commands}/executions/8/request", b"from superuser") < 0x80
    assert device.get().payload == b"from superuser"
    rules = [
        {"topic": "$emqx/commands/things/+/executions/+/request", "permission": "allow", "action": "publish"}
    ]
    worker = clients(plain, "pw-plain", protocol)
    worker.publish(f"{commands}/executions/9/request", b"denied")
    assert device.none_within(0.3)
    assert admin.post(f"{RULES}/users", json=[{"username": plain, "rules": rules}]).status_code == 204
    allowed = clients(plain, "pw-plain", protocol)  # rules are read at login
    assert allowed.publish(f"{commands}/executions/10/request", b"allowed") < 0x80
    assert device.get().payload == b"allowed"

    stranger = clients("t2/admin", ADMIN_PASSWORD, protocol)
    assert stranger.publish(f"{commands}/executions/11/request", b"t2") < 0x80  # its own tenant's topic
    assert device.none_within(0.3)
