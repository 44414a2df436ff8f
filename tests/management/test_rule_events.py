"""The rule engine's `$events/...` sources fed by the broker's hooks and delivery listeners, and
`$events/tether/shadow_updated`: a rule `SELECT * FROM "$events/..."` republishes each event, triggered by
real paho-mqtt clients (MQTT 5), its columns checked as EMQX names them; a tenant's rules never see another
tenant's events; the delivery path has no listener while no rule selects its events."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties as PahoProperties
from tests.management.conftest import two_tenant_server
from tests.management.test_rules import RULES, device_user, metrics
from tests.mqtt_device import V5, Device, ServerMqtt, unique
from tests.support import ADMIN_PASSWORD, ServerThread, backends


@pytest.fixture(scope="module", params=backends())
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServerThread]:
    yield from two_tenant_server(request.param, tmp_path_factory.mktemp("tether"))


def _admin(server: ServerThread, tenant: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, auth=(f"{tenant}/admin", ADMIN_PASSWORD), timeout=30) as client:
        yield client
        for rule in client.get(RULES, params={"limit": 1000}).json()["data"]:
            assert client.delete(f"{RULES}/{rule['id']}").status_code == 204


@pytest.fixture
def admin(server: ServerThread) -> Iterator[httpx.Client]:
    yield from _admin(server, "t1")


@pytest.fixture
def admin2(server: ServerThread) -> Iterator[httpx.Client]:
    yield from _admin(server, "t2")


@pytest.fixture
def clients(mqtt_server: ServerMqtt) -> Iterator[Callable[..., Device]]:
    """Connected MQTT 5 clients (`connect=False`: not yet), closed after the test."""
    made: list[Device] = []

    def make(username: str, password: str, client_id: str | None = None, connect: bool = True,
             **options: Any) -> Device:  # fmt: skip
        device = Device(
            mqtt_server.port, client_id or unique("c"), V5, username=username, password=password, **options
        )
        made.append(device)
        if connect:
            assert device.connect() == 0
        return device

    yield make
    for device in made:
        with contextlib.suppress(Exception):  # already closed
            device.close()


def republish_rule(admin: httpx.Client, rule_id: str, sources: str, where: str) -> None:
    """`SELECT * FROM <sources> WHERE <where>`, every column republished as JSON to `ev/<event>`."""
    rule = {
        "id": rule_id,
        "sql": f"SELECT * FROM {sources} WHERE {where}",
        "actions": [{"function": "republish", "args": {"topic": "ev/${event}"}}],
    }
    created = admin.post(RULES, json=rule)
    assert created.status_code == 201, created.text


def event(watcher: Device, name: str) -> dict[str, Any]:
    message = watcher.get(f"ev/{name}")
    columns: dict[str, Any] = json.loads(message.payload)
    assert columns["event"] == name and columns["node"] and isinstance(columns["timestamp"], int)
    return columns


def watch(clients: Callable[..., Device], tenant: str = "t1") -> Device:
    watcher = clients(f"{tenant}/admin", ADMIN_PASSWORD)
    assert watcher.subscribe("ev/#") == 1
    return watcher


# ------------------------------------------------------------------------------------------- client events


def test_session_subscribed_and_unsubscribed(admin: httpx.Client, clients: Callable[..., Device]) -> None:
    sources = '"$events/session_subscribed", "$events/session_unsubscribed"'
    republish_rule(admin, "subs", sources, "topic = 'x/+/y'")
    watcher = watch(clients)
    client = clients("t1/admin", ADMIN_PASSWORD)
    assert client.subscribe("x/+/y", qos=1) == 1
    subscribed = event(watcher, "session.subscribed")
    assert subscribed["clientid"] == client.client_id and subscribed["username"] == "t1/admin"
    assert subscribed["topic"] == "x/+/y" and subscribed["qos"] == 1
    assert subscribed["peerhost"] == "127.0.0.1" and subscribed["peername"].startswith("127.0.0.1:")
    client.paho.unsubscribe("x/+/y")
    unsubscribed = event(watcher, "session.unsubscribed")
    assert unsubscribed["clientid"] == client.client_id and unsubscribed["topic"] == "x/+/y"
    metrics(admin, "subs", matched=3, passed=2)  # and the watcher's own subscription


def test_connack_and_authn_complete_also_for_a_refused_connect(
    admin: httpx.Client, clients: Callable[..., Device]
) -> None:
    good, bad = unique("good"), unique("bad")
    sources = '"$events/client_connack", "$events/client_check_authn_complete"'
    republish_rule(admin, "connack", sources, f"clientid = '{good}' or clientid = '{bad}'")
    watcher = watch(clients)
    clients("t1/admin", ADMIN_PASSWORD, client_id=good)
    connack = event(watcher, "client.connack")
    assert connack["clientid"] == good and connack["reason_code"] == "success"
    assert connack["username"] == "t1/admin" and connack["proto_name"] == "MQTT" and connack["proto_ver"] == 5
    assert connack["keepalive"] == 60 and connack["clean_start"] is True
    assert isinstance(connack["connected_at"], int) and connack["peername"].startswith("127.0.0.1:")
    authn = event(watcher, "client.check_authn_complete")
    assert authn["clientid"] == good and authn["reason_code"] == "success"
    assert authn["is_superuser"] is True and authn["is_anonymous"] is False

    refused = clients("t1/admin", "wrong-password", client_id=bad, connect=False)
    assert refused.connect() == 0x86
    connack = event(watcher, "client.connack")
    assert connack["clientid"] == bad and connack["reason_code"] == "bad_username_or_password"
    authn = event(watcher, "client.check_authn_complete")
    assert authn["clientid"] == bad and authn["reason_code"] == "bad_username_or_password"
    assert authn["is_superuser"] is False


def test_authz_complete_allow_and_deny(
    server: ServerThread, admin: httpx.Client, clients: Callable[..., Device]
) -> None:
    serial, login, password = device_user(server)
    device = clients(login, password, client_id=serial)
    republish_rule(admin, "authz", '"$events/client_check_authz_complete"', f"clientid = '{serial}'")
    watcher = watch(clients)
    assert device.publish("s/us", "100,Pump,c8y_Pump") == 0
    allowed = event(watcher, "client.check_authz_complete")
    assert allowed["result"] == "allow" and allowed["action"] == "publish" and allowed["topic"] == "s/us"
    assert allowed["username"] == login and allowed["peerhost"] == "127.0.0.1"
    assert device.publish("not/mine", "x") == 0x87
    denied = event(watcher, "client.check_authz_complete")
    assert denied["result"] == "deny" and denied["action"] == "publish" and denied["topic"] == "not/mine"
    assert device.subscribe("not/mine/#") == 0x87
    denied = event(watcher, "client.check_authz_complete")
    assert denied["result"] == "deny" and denied["action"] == "subscribe" and denied["topic"] == "not/mine/#"


# ------------------------------------------------------------------------------------------- message events


def test_message_delivered_and_acked(
    mqtt_server: ServerMqtt, admin: httpx.Client, clients: Callable[..., Device]
) -> None:
    sources = '"$events/message_delivered", "$events/message_acked"'
    republish_rule(admin, "delivery", sources, "topic = 'd/1'")
    watcher = watch(clients)
    receiver = clients("t1/admin", ADMIN_PASSWORD)
    assert receiver.subscribe("d/1", qos=1) == 1
    sender = clients("t1/admin", ADMIN_PASSWORD)
    props = PahoProperties(PacketTypes.PUBLISH)  # type: ignore[no-untyped-call]
    props.UserProperty = ("k", "v")
    assert sender.publish("d/1", "hello", qos=1, properties=props) == 0
    assert receiver.get("d/1").payload == b"hello"
    for name in ("message.delivered", "message.acked"):
        columns = event(watcher, name)
        assert columns["from_clientid"] == sender.client_id and columns["from_username"] == "t1/admin"
        assert columns["clientid"] == receiver.client_id and columns["username"] == "t1/admin"
        assert columns["topic"] == "d/1" and columns["payload"] == "hello" and columns["qos"] == 1
        assert columns["pub_props"]["User-Property"] == {"k": "v"} and columns["flags"]["retain"] is False
        assert columns["peerhost"] == "127.0.0.1" and columns["id"]
    assert "puback_props" in columns
    assert mqtt_server.broker.delivery_listeners  # attached while the rule selects message events
    assert admin.delete(f"{RULES}/delivery").status_code == 204
    assert not mqtt_server.broker.delivery_listeners  # and gone with it: the delivery path pays nothing


def test_message_dropped_without_subscribers(admin: httpx.Client, clients: Callable[..., Device]) -> None:
    republish_rule(admin, "dropped", '"$events/message_dropped"', "topic = 'nobody/1'")
    watcher = watch(clients)
    sender = clients("t1/admin", ADMIN_PASSWORD)
    assert sender.publish("nobody/1", "lost", qos=1) == 0x10  # MQTT 5: No matching subscribers
    dropped = event(watcher, "message.dropped")
    assert dropped["reason"] == "no_subscribers" and dropped["clientid"] == sender.client_id
    assert dropped["topic"] == "nobody/1" and dropped["payload"] == "lost" and dropped["qos"] == 1
    assert dropped["username"] == "t1/admin"


def test_delivery_dropped_when_expired_in_an_offline_queue(
    admin: httpx.Client, clients: Callable[..., Device]
) -> None:
    republish_rule(admin, "expired", '"$events/delivery_dropped"', "topic = 'late/1'")
    watcher = watch(clients)
    sleeper_id = unique("sleeper")
    sleeper = clients("t1/admin", ADMIN_PASSWORD, client_id=sleeper_id, session_expiry=300)
    assert sleeper.subscribe("late/1", qos=1) == 1
    sleeper.close()
    sender = clients("t1/admin", ADMIN_PASSWORD)
    props = PahoProperties(PacketTypes.PUBLISH)  # type: ignore[no-untyped-call]
    props.MessageExpiryInterval = 1
    assert sender.publish("late/1", "stale", qos=1, properties=props) == 0
    time.sleep(1.5)  # the copy in the offline session's queue expires (not a time limit: a wait)
    again = clients("t1/admin", ADMIN_PASSWORD, client_id=sleeper_id, session_expiry=300)
    assert again.session_present()
    dropped = event(watcher, "delivery.dropped")
    assert dropped["reason"] == "expired" and dropped["clientid"] == sleeper_id
    assert dropped["from_clientid"] == sender.client_id and dropped["payload"] == "stale"
    assert dropped["topic"] == "late/1" and dropped["qos"] == 1
    assert again.none_within(0.3, "late/1")


# --------------------------------------------------------------------------------------- platform, isolation


def test_shadow_updated(admin: httpx.Client, clients: Callable[..., Device]) -> None:
    name = unique("thing-")
    republish_rule(admin, "shadow", '"$events/tether/shadow_updated"', f"thing_name = '{name}'")
    watcher = watch(clients)
    thing = admin.post("/api/v1/things", json={"name": name, "clientId": unique("tc")})
    assert thing.status_code == 201, thing.text
    thing_id = thing.json()["id"]
    patched = admin.patch(f"/api/v1/things/{thing_id}/shadow", json={"state": {"desired": {"rpm": 900}}})
    assert patched.status_code == 200, patched.text
    updated = event(watcher, "tether.shadow_updated")
    assert updated["thing_id"] == thing_id and updated["tenant"] == "t1" and updated["origin"] == "http"
    assert updated["operation"] == "update" and updated["version"] == 1
    assert updated["state"]["desired"] == {"rpm": 900} and updated["payload"]["version"] == 1


def test_a_tenant_never_sees_another_tenants_events(
    admin: httpx.Client, admin2: httpx.Client, clients: Callable[..., Device]
) -> None:
    every = ", ".join(
        f'"$events/{name}"'
        for name in ("session_subscribed", "message_delivered", "message_acked", "message_dropped",
                     "client_connack", "client_check_authn_complete", "client_check_authz_complete")
    )  # fmt: skip
    # t2's rule takes every event of those kinds (no action: a republish would be an event in its turn).
    assert (
        admin2.post(RULES, json={"id": "spy", "sql": f"SELECT * FROM {every}", "actions": []}).status_code
        == 201
    )
    republish_rule(admin, "own", '"$events/session_subscribed"', "topic = 'iso/1'")
    t1_watcher = watch(clients)
    receiver = clients("t1/admin", ADMIN_PASSWORD)
    assert receiver.subscribe("iso/1") == 1
    assert event(t1_watcher, "session.subscribed")["clientid"] == receiver.client_id  # t1's rule saw it
    sender = clients("t1/admin", ADMIN_PASSWORD)
    assert sender.publish("iso/1", "t1 only") == 0
    assert sender.publish("iso/none", "t1 only") == 0x10
    assert receiver.get("iso/1").payload == b"t1 only"
    time.sleep(0.5)  # let the engine's worker run (a wait, not a limit)
    assert admin2.get(f"{RULES}/spy/metrics").json()["metrics"]["matched"] == 0
    # t2's own client is seen by t2's rule (the rule works): CONNACK, authn, authz, subscription.
    t2_client = clients("t2/admin", ADMIN_PASSWORD)
    assert t2_client.subscribe("iso/1") == 1
    for _ in range(500):  # at least its CONNACK, authentication, authorization and subscription
        if admin2.get(f"{RULES}/spy/metrics").json()["metrics"]["matched"] >= 4:
            break
        time.sleep(0.02)
    else:
        raise AssertionError("t2's rule did not see t2's client")


def test_delivery_dropped_when_an_offline_queue_is_full(
    mqtt_server: ServerMqtt, admin: httpx.Client, clients: Callable[..., Device]
) -> None:
    republish_rule(admin, "full", '"$events/delivery_dropped"', "topic = 'full/1'")
    watcher = watch(clients)
    broker = mqtt_server.broker
    config = broker.config
    broker.config = dataclasses.replace(config, max_queued_messages=1)  # sessions opened now queue one
    try:
        sleeper_id = unique("sleeper")
        sleeper = clients("t1/admin", ADMIN_PASSWORD, client_id=sleeper_id, session_expiry=300)
    finally:
        broker.config = config
    assert sleeper.subscribe("full/1", qos=1) == 1
    sleeper.close()
    sender = clients("t1/admin", ADMIN_PASSWORD)
    assert sender.publish("full/1", "kept", qos=1) == 0
    assert sender.publish("full/1", "lost", qos=1) == 0
    dropped = event(watcher, "delivery.dropped")
    assert dropped["reason"] == "queue_full" and dropped["clientid"] == sleeper_id
    assert dropped["payload"] == "lost" and dropped["from_clientid"] == sender.client_id
