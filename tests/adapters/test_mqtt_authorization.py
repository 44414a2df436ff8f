"""What a logged-in client may publish and subscribe to (docs/security.md, Identity and ClientIds), with
paho-mqtt at 5.0 and 3.1.1: a device's own namespaces, operator rules on top (EMQX order), superusers, tenant
isolation. A refused subscription gets SUBACK 0x87 (3.1.1: 0x80); a refused QoS 1 publish gets PUBACK 0x87
(3.1.1: dropped)."""

from __future__ import annotations

import httpx
import pytest
from tests.mqtt_device import NOT_AUTHORIZED, PROTOCOL_IDS, PROTOCOLS, V5, ServerMqtt, unique
from tests.support import ADMIN_PASSWORD

protocols = pytest.mark.parametrize("protocol", PROTOCOLS, ids=PROTOCOL_IDS)
RULES = "/api/v5/authorization/sources/built_in_database/rules"
USERS = "/api/v5/authentication/password_based:built_in_database/users"


def denied_suback(protocol: int) -> int:
    return NOT_AUTHORIZED if protocol == V5 else 0x80


def denied_puback(protocol: int) -> int:
    return NOT_AUTHORIZED if protocol == V5 else 0  # 3.1.1: acknowledged and dropped


@pytest.fixture
def watcher(mqtt_server: ServerMqtt, mqtt_devices):
    """An administrator of t1 watching the Fleets and Xyte topics of its tenant."""
    admin = mqtt_devices(mqtt_server.port, unique("watch"), V5, username="t1/admin", password=ADMIN_PASSWORD)
    assert admin.connect() == 0
    assert admin.subscribe("$emqx/#") == 1
    assert admin.subscribe("v1/#") == 1
    return admin


@protocols
def test_device_namespaces(
    mqtt_server: ServerMqtt, mqtt_devices, accounts, watcher, admin: httpx.Client, protocol: int
) -> None:
    serial, login, password = accounts.device()
    # The device is an EMQX Fleets thing named after its serial (it owns the thing's managed object).
    assert admin.post("/api/v1/things", json={"name": serial, "clientId": serial}).status_code == 201
    collection = unique("tpl")
    device = mqtt_devices(
        mqtt_server.port, f"d:{serial}:{collection}", protocol, username=login, password=password
    )
    assert device.connect() == 0
    # SmartREST and JSON via MQTT: implicitly the device's own (private roots). The server's SmartREST
    # adapter processes what is published there: payloads it accepts (a PUBACK error would be its verdict).
    for topic_filter in ("s/ds", "s/dt", "s/e", "t/ds", "devicecontrol/notifications", "error", "s/#"):
        assert device.subscribe(topic_filter) == 1, topic_filter
    measurement = b'{"type": "T", "time": "2024-01-02T03:04:05Z", "c8y_Temperature": {"T": {"value": 25}}}'
    published = {
        f"s/ut/{collection}": b"10,200,POST,MEASUREMENT,,c8y_Temperature,,c8y_Temperature.T.value,NUMBER,",
        f"s/uc/{collection}": b"200,,25",
        "measurement/measurements/create": measurement,
        **dict.fromkeys(("s/us", "t/us", "q/us", "c/us"), b"200,c8y_Temperature,T,25"),
    }
    for topic, payload in published.items():
        assert device.publish(topic, payload) < 0x80, topic
    assert device.none_within(0.3, "s/e") and device.none_within(0, "error")
    # Fleets topics of its own thing.
    own = f"$emqx/things/{serial}"
    assert device.subscribe(f"{own}/shadow/#") == 1
    assert device.subscribe(f"$emqx/commands/things/{serial}/#") == 1
    assert device.subscribe(f"$share/g/{own}/jobs/+") == 1
    assert device.publish(f"{own}/shadow/update", b"{}") < 0x80
    assert watcher.get(f"{own}/shadow/update").payload == b"{}"
    assert b"Missing required node" in watcher.get(f"{own}/shadow/update/rejected").payload
    # Anything else is refused.
    for topic_filter in (
        "#",
        "+/us",
        "$emqx/things/+/shadow",
        "$emqx/things/OTHER/#",
        "v1/device/x/#",
        "a/b",
    ):
        assert device.subscribe(topic_filter) == denied_suback(protocol), topic_filter
    for topic in (
        "$emqx/things/OTHER/shadow/update",
        "v1/device/x/telemetry",
        "a/b",
        f"$emqx/things/{serial}x/a",
    ):
        assert device.publish(topic, b"x") == denied_puback(protocol), topic
    assert watcher.none_within(0.3)


@protocols
def test_same_topic_in_two_tenants_never_crosses(
    mqtt_server: ServerMqtt, mqtt_devices, accounts, protocol: int
) -> None:
    tenant = accounts.tenant(unique("iso"))
    login1, password1 = accounts.admin("t1")
    login2, password2 = accounts.admin(tenant)
    topic = f"plant/{unique()}/temperature"
    one = mqtt_devices(mqtt_server.port, "same-id", protocol, username=login1, password=password1)
    two = mqtt_devices(mqtt_server.port, "same-id", protocol, username=login2, password=password2)
    assert one.connect() == 0 and two.connect() == 0  # one client id per tenant: no takeover
    assert one.subscribe(topic) == 1 and two.subscribe(topic) == 1
    assert one.subscribe("#") == 1 and two.subscribe("#") == 1
    assert one.publish(topic, b"from t1") < 0x80
    assert one.get().payload == b"from t1"
    assert two.publish(topic, b"from other") < 0x80
    assert two.get().payload == b"from other"
    assert one.none_within(0.3) and two.none_within(0.1)


@protocols
def test_private_roots_are_each_devices_own(
    mqtt_server: ServerMqtt, mqtt_devices, accounts, protocol: int
) -> None:
    """Two devices of one tenant both use s/ds: each sees only its own."""
    serial1, login1, password1 = accounts.device()
    serial2, login2, password2 = accounts.device()
    one = mqtt_devices(mqtt_server.port, serial1, protocol, username=login1, password=password1)
    two = mqtt_devices(mqtt_server.port, serial2, protocol, username=login2, password=password2)
    assert one.connect() == 0 and two.connect() == 0
    assert one.subscribe("s/us") == 1 and two.subscribe("s/us") == 1
    assert one.publish("s/us", b"400,c8y_Event,one") < 0x80
    assert one.get().payload == b"400,c8y_Event,one"
    assert two.none_within(0.3)


@protocols
def test_operator_rules_apply_on_top(
    mqtt_server: ServerMqtt, mqtt_devices, accounts, admin: httpx.Client, protocol: int
) -> None:
    serial, login, password = accounts.device()
    username = login.partition("/")[2]
    # For the user name: allow publishing on its own telemetry topics (placeholder), deny SmartREST errors.
    user_rules = [
        {"topic": "factory/${username}/#", "permission": "allow", "action": "publish"},
        {"topic": "s/e", "permission": "deny", "action": "subscribe"},
    ]
    assert admin.post(f"{RULES}/users", json=[{"username": username, "rules": user_rules}]).status_code == 204
    # For the client id: allow one exact filter, and a deny that the user-name rules shadow.
    client_rules = [
        {"topic": "eq alerts/#", "permission": "allow", "action": "subscribe"},
        {"topic": "factory/#", "permission": "deny", "action": "all"},
    ]
    assert (
        admin.post(f"{RULES}/clients", json=[{"clientid": serial, "rules": client_rules}]).status_code == 204
    )
    device = mqtt_devices(mqtt_server.port, serial, protocol, username=login, password=password)
    assert device.connect() == 0
    assert device.publish(f"factory/{username}/line1", b"1") < 0x80  # user-name rule first: allowed
    assert device.publish("factory/other/line1", b"1") == denied_puback(protocol)  # client-id deny
    assert device.subscribe("alerts/#") == 1  # `eq`: exactly this filter
    assert device.subscribe("alerts/fire") == denied_suback(protocol)
    assert device.subscribe("s/e") == denied_suback(protocol)  # a deny rule over its own namespace
    assert device.subscribe("s/ds") == 1  # no rule matches: its own namespace
    # Rules for all come last; they apply to every device of the tenant.
    assert (
        admin.post(
            f"{RULES}/all",
            json={"rules": [{"topic": "broadcast/#", "permission": "allow", "action": "subscribe"}]},
        ).status_code
        == 204
    )
    other_serial, other_login, other_password = accounts.device()
    other = mqtt_devices(
        mqtt_server.port, other_serial, protocol, username=other_login, password=other_password
    )
    assert other.connect() == 0
    assert other.subscribe("broadcast/news") == 1
    assert other.subscribe("alerts/#") == denied_suback(
        protocol
    )  # the client-id rules are the first device's
    assert admin.delete(f"{RULES}/all").status_code == 204


def test_operator_rules_qos_and_retain(
    mqtt_server: ServerMqtt, mqtt_devices, accounts, admin: httpx.Client
) -> None:
    serial, login, password = accounts.device()
    rules = [
        {"topic": "limited/#", "permission": "allow", "action": "subscribe", "qos": [0]},
        {"topic": "limited/#", "permission": "allow", "action": "publish", "retain": False},
        {"topic": "limited/#", "permission": "deny", "action": "all"},
    ]
    assert admin.post(f"{RULES}/clients", json=[{"clientid": serial, "rules": rules}]).status_code == 204
    device = mqtt_devices(mqtt_server.port, serial, V5, username=login, password=password)
    assert device.connect() == 0
    # The broker passes the requested QoS and the RETAIN flag to the rules.
    assert device.subscribe("limited/a", qos=0) == 0
    assert device.subscribe("limited/b", qos=1) == NOT_AUTHORIZED
    assert device.publish("limited/a", b"plain", qos=1) < 0x80
    assert device.publish("limited/a", b"kept", qos=1, retain=True) == NOT_AUTHORIZED


@protocols
def test_superusers_and_administrators(
    mqtt_server: ServerMqtt, mqtt_devices, admin: httpx.Client, protocol: int
) -> None:
    superuser, plain = unique("super"), unique("plain")
    assert (
        admin.post(USERS, json={"user_id": superuser, "password": "pw-1", "is_superuser": True}).status_code
        == 201
    )
    assert admin.post(USERS, json={"user_id": plain, "password": "pw-2"}).status_code == 201
    # Even a deny-everything rule for all does not bind superusers and administrators.
    deny_all = {"rules": [{"topic": "#", "permission": "deny", "action": "all"}]}
    assert admin.post(f"{RULES}/all", json=deny_all).status_code == 204
    try:
        for username, password in ((superuser, "pw-1"), ("t1/admin", ADMIN_PASSWORD)):
            client = mqtt_devices(mqtt_server.port, unique(), protocol, username=username, password=password)
            assert client.connect() == 0
            assert client.subscribe("#") == 1
            assert client.subscribe("$emqx/things/+/shadow/#") == 1
            assert client.publish("any/topic", b"x") < 0x80
            assert client.get().topic == "any/topic"
        client = mqtt_devices(mqtt_server.port, unique(), protocol, username=plain, password="pw-2")
        assert client.connect() == 0
        assert client.subscribe("s/ds") == denied_suback(protocol)  # the rule for all denies
        assert client.subscribe("#") == denied_suback(protocol)
    finally:
        assert admin.delete(f"{RULES}/all").status_code == 204


@protocols
def test_bootstrap_user_may_only_request_credentials(
    mqtt_server: ServerMqtt, mqtt_devices, protocol: int
) -> None:
    from tests.support import BOOTSTRAP_PASSWORD

    device = mqtt_devices(
        mqtt_server.port,
        unique("BOOT"),
        protocol,
        username="management/devicebootstrap",
        password=BOOTSTRAP_PASSWORD,
    )
    assert device.connect() == 0
    assert device.subscribe("s/dcr") == 1
    for topic_filter in ("s/ds", "s/#", "#"):
        assert device.subscribe(topic_filter) == denied_suback(protocol), topic_filter
    assert device.publish("s/ucr") < 0x80
    for topic in ("s/us", "s/dcr", "a"):
        assert device.publish(topic, b"x") == denied_puback(protocol), topic


@protocols
def test_will_on_a_forbidden_topic_is_refused(
    mqtt_server: ServerMqtt, mqtt_devices, accounts, protocol: int
) -> None:
    serial, login, password = accounts.device()
    device = mqtt_devices(mqtt_server.port, serial, protocol, username=login, password=password)
    device.paho.will_set("not/mine", b"bye")
    assert device.connect() == NOT_AUTHORIZED
    device = mqtt_devices(mqtt_server.port, serial, protocol, username=login, password=password)
    device.paho.will_set("s/us", b"400,c8y_ConnectionLost,gone")
    assert device.connect() == 0


@protocols
def test_no_rule_opens_other_clients_private_topics(
    mqtt_server: ServerMqtt, mqtt_devices, accounts, admin: httpx.Client, protocol: int
) -> None:
    serial, login, password = accounts.device()
    allow_all = [{"topic": "#", "permission": "allow", "action": "all"}]
    assert admin.post(f"{RULES}/clients", json=[{"clientid": serial, "rules": allow_all}]).status_code == 204
    device = mqtt_devices(mqtt_server.port, serial, protocol, username=login, password=password)
    assert device.connect() == 0
    assert device.subscribe("anything/at/all") == 1  # the rule applies
    # ...but never to where the broker keeps other devices' SmartREST topics.
    assert device.subscribe("$client/OTHER/s/ds") == denied_suback(protocol)
    assert device.subscribe("$share/g/$client/+/s/us") == denied_suback(protocol)
    assert device.publish("$client/OTHER/s/ds", b"510,x") == denied_puback(protocol)
