"""Mountpoints: clients of two namespaces (tenants) never see each other's topics or sessions; private roots
keep a client's topics its own; topics are shown to clients and hooks as the clients sent them."""

from __future__ import annotations

import threading
from collections.abc import Callable

import paho.mqtt.client as mqtt
import pytest
from tests.broker.conftest import BrokerFactory, Client, unique

from tether.broker import AuthResult, ClientInfo, ConnectionInfo, Hooks
from tether.broker.mountpoints import Mount, client_prefix
from tether.mqtt import Connect

Clients = Callable[..., Client]


class TenantHooks(Hooks):
    """Username `<tenant>/<user>`: mounted at `$tenant/<tenant>/`, with `s` and `c` private to each client."""

    def __init__(self) -> None:
        self.subscribed: list[str] = []
        self.lock = threading.Lock()

    def authenticate(self, connect: Connect, connection: ConnectionInfo) -> AuthResult:
        tenant = (connect.username or "").partition("/")[0]
        if not tenant:
            return AuthResult()  # unmounted: the whole topic space
        return AuthResult(
            login=tenant,
            mountpoint=f"$tenant/{tenant}/",
            private_roots=frozenset({"s", "c"}),
        )

    def on_subscribed(self, client: ClientInfo, topic_filter: str, qos: int) -> None:
        with self.lock:
            self.subscribed.append(topic_filter)


@pytest.fixture(params=[mqtt.MQTTv5, mqtt.MQTTv311], ids=["v5", "v311"])
def protocol(request: pytest.FixtureRequest) -> int:
    return int(request.param)


def _client(clients: Clients, port: int, user: str, protocol: int, client_id: str = "") -> Client:
    c = clients(port, client_id or unique(), protocol=protocol)
    c.paho.username_pw_set(user, "x")
    c.connect()
    return c


def test_same_topic_in_two_tenants_never_crosses(
    make_broker: BrokerFactory, clients: Clients, protocol: int
) -> None:
    b = make_broker(hooks=TenantHooks())
    a_sub = _client(clients, b.port, "a/op", protocol)
    b_sub = _client(clients, b.port, "b/op", protocol)
    a_sub.subscribe("data/#", 1)
    b_sub.subscribe("data/#", 1)
    _client(clients, b.port, "a/dev", protocol).publish("data/x", b"from a", 1)
    message = a_sub.get()
    assert (message.topic, message.payload) == ("data/x", b"from a")
    assert b_sub.none_within(0.3)


def test_unmounted_wildcard_does_not_match_mounted_topics(
    make_broker: BrokerFactory, clients: Clients
) -> None:
    # `$tenant/...` starts with `$`: a leading wildcard never matches it (spec 4.7.2).
    b = make_broker(hooks=TenantHooks())
    spy = _client(clients, b.port, "", mqtt.MQTTv5)
    spy.subscribe("#", 0)
    _client(clients, b.port, "a/dev", mqtt.MQTTv5).publish("data/x", b"1", 1)
    assert spy.none_within(0.3)


def test_private_roots_are_each_clients_own(
    make_broker: BrokerFactory, clients: Clients, protocol: int
) -> None:
    hooks = TenantHooks()
    b = make_broker(hooks=hooks)
    one = _client(clients, b.port, "a/dev", protocol, "dev/1")  # '/' in a client id is escaped in the mount
    two = _client(clients, b.port, "a/dev", protocol, "dev+2")
    one.subscribe("s/ds", 1)
    two.subscribe("s/ds", 1)
    two.subscribe("shared", 1)
    # The hook sees the filter as the client sent it.
    assert "s/ds" in hooks.subscribed and all(not f.startswith("$") for f in hooks.subscribed)
    one.publish("s/ds", b"only to myself", 1)
    assert one.get().payload == b"only to myself"
    assert two.none_within(0.3)
    # The platform publishes to one client's private topic.
    reached = b.run(
        lambda: b.broker.publish("s/ds", b"510,dev+2", qos=1, mountpoint="$tenant/a/", client_id="dev+2")
    )
    assert reached == 1
    message = two.get()
    assert (message.topic, message.payload) == ("s/ds", b"510,dev+2")
    assert one.none_within(0.3)
    # Not private: shared by the tenant's clients.
    b.run(lambda: b.broker.publish("shared", b"all", mountpoint="$tenant/a/"))
    assert two.get().topic == "shared"


def test_same_client_id_in_two_tenants_are_two_sessions(make_broker: BrokerFactory, clients: Clients) -> None:
    b = make_broker(hooks=TenantHooks())
    first = _client(clients, b.port, "a/dev", mqtt.MQTTv5, "serial-1")
    second = _client(clients, b.port, "b/dev", mqtt.MQTTv5, "serial-1")
    # No takeover: both stay connected and both sessions exist.
    assert first.disconnects.empty()
    first.subscribe("ping", 0)
    second.publish("ping", b"b")  # b's ping is not a's
    assert first.none_within(0.3)
    assert b.run(lambda: {s.client_id for s in b.broker.sessions}) >= {
        "$tenant/a/serial-1",
        "$tenant/b/serial-1",
    }


def test_shared_subscriptions_are_mounted(make_broker: BrokerFactory, clients: Clients) -> None:
    b = make_broker(hooks=TenantHooks())
    a1 = _client(clients, b.port, "a/w", mqtt.MQTTv5)
    b1 = _client(clients, b.port, "b/w", mqtt.MQTTv5)
    a1.subscribe("$share/g/jobs/+", 1)
    b1.subscribe("$share/g/jobs/+", 1)
    _client(clients, b.port, "a/dev", mqtt.MQTTv5).publish("jobs/1", b"a", 1)
    message = a1.get()
    assert message.topic == "jobs/1"
    assert b1.none_within(0.3)
    assert a1.paho.unsubscribe("$share/g/jobs/+")[0] == mqtt.MQTT_ERR_SUCCESS
    assert [int(rc.value) for rc in a1.unsubacks.get(timeout=5)] == [0]


def test_retained_messages_stay_in_their_tenant(make_broker: BrokerFactory, clients: Clients) -> None:
    b = make_broker(hooks=TenantHooks())
    _client(clients, b.port, "a/dev", mqtt.MQTTv5).publish("config", b"a-config", 1, retain=True)
    a_late = _client(clients, b.port, "a/op", mqtt.MQTTv5)
    a_late.subscribe("config", 1)
    message = a_late.get()
    assert (message.topic, message.payload, message.retain) == ("config", b"a-config", True)
    b_late = _client(clients, b.port, "b/op", mqtt.MQTTv5)
    b_late.subscribe("config", 1)
    assert b_late.none_within(0.3)


def test_mount_mapping() -> None:
    mount = Mount("$tenant/t1/", "a/b#", frozenset({"s"}))
    assert mount.private == client_prefix("$tenant/t1/", "a/b#") == "$tenant/t1/$client/a%2Fb%23/"
    assert mount.topic("s/us") == "$tenant/t1/$client/a%2Fb%23/s/us"
    assert mount.topic("sensors/x") == "$tenant/t1/sensors/x"
    assert mount.filter("$share/g/s/+") == "$share/g/$tenant/t1/$client/a%2Fb%23/s/+"
    for topic in ("s/us", "sensors/x", "a"):
        assert mount.unmount(mount.topic(topic)) == topic
    assert mount.unmount_filter(mount.filter("$share/g/x/#")) == "$share/g/x/#"
    # Without private roots every topic is mounted at the prefix.
    assert Mount("$tenant/t1/", "c").topic("s/us") == "$tenant/t1/s/us"


def test_kept_mappings_follow_the_topic() -> None:
    """name_in / name_out keep the last topic mapped each way: a different topic (or one that differs only
    in its private root) is mapped afresh, never answered with the kept one."""
    mount = Mount("$tenant/t1/", "dev", frozenset({"s"}))
    sequence = ["s/us", "s/us", "sensors/x", "s/us", "s", "s/", "sensors/x", "sensors/x/", "$emqx/things/a"]
    for topic in sequence:
        assert mount.name_in(topic) == (topic, mount.topic(topic), topic.partition("/")[0])
        # A new string equal to the kept one (as the decoder makes for every PUBLISH) finds it too.
        assert mount.name_in("".join(topic)) == (topic, mount.topic(topic), topic.partition("/")[0])
    for topic in sequence:
        broker_topic = mount.topic(topic)
        assert mount.name_out(broker_topic) == topic
        assert mount.name_out(broker_topic) == topic
    # A topic of the tenant that is another client's private one is unmounted as the tenant's, not this
    # client's, whatever was kept before.
    other = "$tenant/t1/$client/other/s/us"
    assert mount.name_out(mount.topic("s/us")) == "s/us"
    assert mount.name_out(other) == "$client/other/s/us" == mount.unmount(other)
    # Two mounts never share what they keep.
    second = Mount("$tenant/t2/", "dev", frozenset({"s"}))
    assert second.name_in("s/us")[1] == "$tenant/t2/$client/dev/s/us"
    assert mount.name_in("s/us")[1] == "$tenant/t1/$client/dev/s/us"
