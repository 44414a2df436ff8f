"""/api/v5/clients and /api/v5/subscriptions with httpx against real paho-mqtt clients (5.0 and 3.1.1), on
both backends: listing with EMQX's filters and paging, kick (DISCONNECT 0x98, recorded as `kicked`), proxy
subscriptions under the client's ACL, tenant isolation."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from tests.mqtt_device import PROTOCOL_IDS, PROTOCOLS, V5, V311, Device, ServerMqtt
from tests.support import ADMIN_PASSWORD, ServerThread, unique

from tether.tenants.models import Role

CLIENTS = "/api/v5/clients"
protocols = pytest.mark.parametrize("protocol", PROTOCOLS, ids=PROTOCOL_IDS)
NOT_FOUND = {"code": "CLIENTID_NOT_FOUND", "message": "Client ID not found"}


@pytest.fixture
def connect(mqtt_server: ServerMqtt) -> Iterator[Callable[..., Device]]:
    """Connected paho clients (as t1's administrator unless told otherwise), closed after the test."""
    made: list[Device] = []

    def make(client_id: str, protocol: int = V5, **kwargs: Any) -> Device:
        kwargs.setdefault("username", "t1/admin")
        kwargs.setdefault("password", ADMIN_PASSWORD)
        device = Device(mqtt_server.port, client_id, protocol, **kwargs)
        made.append(device)
        assert device.connect() == 0
        return device

    yield make
    for device in made:
        with contextlib.suppress(Exception):
            device.close()


def device_login(server: ServerThread) -> tuple[str, str, str]:
    """A device user of t1: (client id, username, password)."""
    serial = unique("SER")
    tenants = server.platform.services.tenants
    server.call(tenants.create_user("t1", f"device_{serial}", "dev-pw", {Role.DEVICE}))
    return serial, f"t1/device_{serial}", "dev-pw"


def wait_for(condition: Callable[[], bool]) -> None:
    deadline = time.monotonic() + 10
    while not condition():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.02)


@protocols
def test_list_and_get(
    admin: httpx.Client, server: ServerThread, connect: Callable[..., Device], protocol: int
) -> None:
    before = int(time.time() * 1000) - 1000
    a, b = unique("cla"), unique("clb")
    first = connect(a, protocol)
    connect(b, V5)
    assert first.subscribe(f"lst/{a}/#", 1) == 1
    assert first.publish(f"lst/{a}/x", b"hello", qos=1) == 0
    first.get(f"lst/{a}/x")
    # The client's PUBACK of the message it got may still be on its way: in flight until it arrives.
    wait_for(lambda: admin.get(f"{CLIENTS}/{a}").json()["inflight_cnt"] == 0)
    body = admin.get(f"{CLIENTS}/{a}").json()
    assert body["clientid"] == a and body["username"] == "t1/admin" and body["connected"] is True
    assert body["proto_name"] == "MQTT" and body["proto_ver"] == protocol
    assert body["ip_address"] == "127.0.0.1" and isinstance(body["port"], int)
    assert body["clean_start"] is True and body["keepalive"] == 60 and body["listener"] == "tcp:default"
    assert body["subscriptions_cnt"] == 1 and body["inflight_cnt"] == 0 and body["mqueue_len"] == 0
    # recv_pkt: CONNECT, SUBSCRIBE, PUBLISH (the PUBACK of the message it got may be on its way).
    assert body["recv_msg"] == 1 and body["send_msg"] == 1 and body["recv_pkt"] >= 3
    assert body["recv_oct"] > 0 and body["send_oct"] > 0
    assert body["connected_at"].endswith("Z") and "disconnected_at" not in body
    # Filters: repeated client ids, username, protocol version, address, connection time, fields.
    both = admin.get(CLIENTS, params=[("clientid", a), ("clientid", b)]).json()
    assert sorted(c["clientid"] for c in both["data"]) == sorted([a, b])
    assert both["meta"] == {"page": 1, "limit": 100, "count": 2, "hasnext": False}
    paged = admin.get(CLIENTS, params=[("clientid", a), ("clientid", b), ("limit", "1"), ("page", "2")])
    assert paged.json()["meta"] == {"page": 2, "limit": 1, "count": 2, "hasnext": False}
    assert len(paged.json()["data"]) == 1
    ids = [("clientid", a), ("clientid", b)]
    v311 = admin.get(CLIENTS, params=[*ids, ("proto_ver", "4")]).json()["data"]
    assert [c["clientid"] for c in v311] == ([a] if protocol == V311 else [])
    assert admin.get(CLIENTS, params=[*ids, ("username", "t1/admin")]).json()["meta"]["count"] == 2
    assert admin.get(CLIENTS, params=[*ids, ("username", "nobody")]).json()["data"] == []
    # By user name alone (an index of the names, not a scan): a device login's one client.
    serial, username, password = device_login(server)
    connect(serial, protocol, username=username, password=password)
    by_name = admin.get(CLIENTS, params=[("username", username), ("username", "nobody")]).json()
    assert [c["clientid"] for c in by_name["data"]] == [serial] and by_name["meta"]["count"] == 1
    assert admin.get(CLIENTS, params=[*ids, ("ip_address", "10.9.9.9")]).json()["data"] == []
    assert admin.get(CLIENTS, params=[*ids, ("conn_state", "connected")]).json()["meta"]["count"] == 2
    assert admin.get(CLIENTS, params=[*ids, ("conn_state", "disconnected")]).json()["data"] == []
    since = admin.get(CLIENTS, params=[*ids, ("gte_connected_at", str(before))]).json()
    assert since["meta"]["count"] == 2
    old = admin.get(CLIENTS, params=[*ids, ("lte_connected_at", "2020-01-01T00:00:00Z")]).json()
    assert old["data"] == []
    fuzzy = admin.get(CLIENTS, params={"like_clientid": a}).json()
    assert [c["clientid"] for c in fuzzy["data"]] == [a] and "count" not in fuzzy["meta"]
    slim = admin.get(CLIENTS, params={"clientid": a, "fields": "clientid,connected"}).json()["data"]
    assert slim == [{"clientid": a, "connected": True}]
    # Errors.
    assert admin.get(f"{CLIENTS}/{unique('none')}").json() == NOT_FOUND
    assert admin.get(f"{CLIENTS}/{unique('none')}").status_code == 404
    for bad in ({"conn_state": "asleep"}, {"proto_ver": "x"}, {"limit": "0"}, {"clean_start": "maybe"}):
        refused = admin.get(CLIENTS, params=bad)
        assert refused.status_code == 400 and refused.json()["code"] == "INVALID_PARAMETER", bad


def test_persistent_session_listed_offline(admin: httpx.Client, connect: Callable[..., Device]) -> None:
    client_id = unique("persist")
    device = connect(client_id, V5, session_expiry=300)
    assert device.subscribe("off/#", 1) == 1
    device.close()
    wait_for(lambda: admin.get(f"{CLIENTS}/{client_id}").json()["connected"] is False)
    body = admin.get(f"{CLIENTS}/{client_id}").json()
    assert body["disconnected_at"].endswith("Z") and body["expiry_interval"] == 300
    assert body["subscriptions_cnt"] == 1 and body["username"] == "t1/admin"
    listed = admin.get(CLIENTS, params={"clientid": client_id, "conn_state": "disconnected"}).json()
    assert [c["clientid"] for c in listed["data"]] == [client_id]
    # Its subscriptions are listed; proxy subscribing needs it online.
    subs = admin.get(f"{CLIENTS}/{client_id}/subscriptions").json()
    assert [s["topic"] for s in subs] == ["off/#"]
    refused = admin.post(f"{CLIENTS}/{client_id}/subscribe", json={"topic": "a/b"})
    assert refused.status_code == 404 and refused.json() == NOT_FOUND
    # Kicking an offline session discards it.
    assert admin.delete(f"{CLIENTS}/{client_id}").status_code == 204
    assert admin.get(f"{CLIENTS}/{client_id}").status_code == 404


@protocols
def test_kick(
    admin: httpx.Client, connect: Callable[..., Device], mqtt_server: ServerMqtt, protocol: int
) -> None:
    client_id = unique("kick")
    device = connect(client_id, protocol)
    kicked = admin.delete(f"{CLIENTS}/{client_id}")
    assert kicked.status_code == 204 and kicked.content == b""
    code = device.wait_closed()
    if protocol == V5:
        assert code == 0x98  # DISCONNECT 0x98 Administrative action
    status = mqtt_server.hooks.presence.get("$tenant/t1/", client_id)
    wait_for(lambda: status is not None and not status.connected)
    assert status is not None and status.reason == 0x98 and status.reason_name == "kicked"
    assert admin.get(f"{CLIENTS}/{client_id}").json() == NOT_FOUND
    again = admin.delete(f"{CLIENTS}/{client_id}")
    assert again.status_code == 404 and again.json() == NOT_FOUND


def test_kickout_bulk(admin: httpx.Client, connect: Callable[..., Device]) -> None:
    ids = [unique("bulk") for _ in range(3)]
    devices = [connect(i, p) for i, p in zip(ids, [V5, V311, V5], strict=True)]
    done = admin.post(f"{CLIENTS}/kickout/bulk", json=[*ids[:2], unique("unknown")])
    assert done.status_code == 204
    assert devices[0].wait_closed() == 0x98
    devices[1].wait_closed()
    assert admin.get(f"{CLIENTS}/{ids[2]}").json()["connected"] is True
    bad = admin.post(f"{CLIENTS}/kickout/bulk", json={"clientid": ids[2]})
    assert bad.status_code == 400 and bad.json()["code"] == "BAD_REQUEST"


@protocols
def test_proxy_subscriptions(admin: httpx.Client, connect: Callable[..., Device], protocol: int) -> None:
    target, publisher = unique("tgt"), unique("pub")
    device = connect(target, protocol)
    sender = connect(publisher, V5)
    topic = f"news/{target}"
    made = admin.post(f"{CLIENTS}/{target}/subscribe", json={"topic": topic, "qos": 1})
    assert made.status_code == 200
    assert made.json() == {
        "node": made.json()["node"],
        "clientid": target,
        "topic": topic,
        "qos": 1,
        "nl": 0,
        "rap": 0,
        "rh": 0,
        "durable": False,
    }
    # Messages reach the device as if it had subscribed.
    assert sender.publish(topic, b"first", qos=1) == 0
    message = device.get(topic)
    assert message.payload == b"first" and message.qos == 1
    listed = admin.get(f"{CLIENTS}/{target}/subscriptions").json()
    assert [(s["topic"], s["qos"]) for s in listed] == [(topic, 1)]
    # Bulk, and the tenant-wide listing with its filters.
    bulk = admin.post(
        f"{CLIENTS}/{target}/subscribe/bulk",
        json=[{"topic": f"alerts/{target}/#", "qos": 2}, {"topic": f"$share/g1/jobs/{target}", "qos": 0}],
    )
    assert bulk.status_code == 200 and [s["topic"] for s in bulk.json()] == [
        f"alerts/{target}/#",
        f"$share/g1/jobs/{target}",
    ]
    subs = admin.get("/api/v5/subscriptions", params={"clientid": target}).json()
    assert subs["meta"]["count"] == 3 and {s["clientid"] for s in subs["data"]} == {target}
    by_topic = admin.get("/api/v5/subscriptions", params={"topic": topic}).json()["data"]
    assert [s["clientid"] for s in by_topic] == [target]
    matching = admin.get("/api/v5/subscriptions", params={"match_topic": f"alerts/{target}/x/y"}).json()
    assert [s["topic"] for s in matching["data"]] == [f"alerts/{target}/#"]
    shared = admin.get("/api/v5/subscriptions", params={"share_group": "g1", "clientid": target}).json()
    assert [s["topic"] for s in shared["data"]] == [f"$share/g1/jobs/{target}"]
    qos2 = admin.get("/api/v5/subscriptions", params={"qos": "2", "clientid": target}).json()["data"]
    assert [s["topic"] for s in qos2] == [f"alerts/{target}/#"]
    page = admin.get("/api/v5/subscriptions", params={"clientid": target, "limit": 2}).json()
    assert len(page["data"]) == 2 and page["meta"]["hasnext"] is True
    # Unsubscribe: nothing more arrives.
    assert admin.post(f"{CLIENTS}/{target}/unsubscribe", json={"topic": topic}).status_code == 204
    assert sender.publish(topic, b"second", qos=1) == 0x10  # No matching subscribers
    assert device.none_within(0.3, topic)
    gone = admin.post(
        f"{CLIENTS}/{target}/unsubscribe/bulk",
        json=[{"topic": f"alerts/{target}/#"}, {"topic": f"$share/g1/jobs/{target}"}],
    )
    assert gone.status_code == 204
    assert admin.get(f"{CLIENTS}/{target}/subscriptions").json() == []


def test_proxy_subscription_errors(
    admin: httpx.Client, connect: Callable[..., Device], server: ServerThread
) -> None:
    serial, login, password = device_login(server)
    device = connect(serial, V5, username=login, password=password)
    # A device may subscribe to its own namespaces only: its ACL applies to proxy subscriptions too.
    assert device.subscribe("#") == 0x87
    denied = admin.post(f"{CLIENTS}/{serial}/subscribe", json={"topic": "#"})
    assert denied.status_code == 403 and denied.json()["code"] == "FORBIDDEN"
    own = admin.post(f"{CLIENTS}/{serial}/subscribe", json={"topic": "s/ds", "qos": 1})
    assert own.status_code == 200 and own.json()["topic"] == "s/ds"
    # A bulk request with one refused filter makes none of them.
    mixed = admin.post(f"{CLIENTS}/{serial}/subscribe/bulk", json=[{"topic": "s/dt"}, {"topic": "other/#"}])
    assert mixed.status_code == 403
    assert [s["topic"] for s in admin.get(f"{CLIENTS}/{serial}/subscriptions").json()] == ["s/ds"]
    for body, code in (
        ({"topic": "a/#/b"}, "INVALID_PARAMETER"),
        ({"topic": "$share/g/s/ds", "nl": 1}, "INVALID_PARAMETER"),
        ({"qos": 1}, "BAD_REQUEST"),
        ({"topic": "s/ds", "qos": 3}, "BAD_REQUEST"),
    ):
        refused = admin.post(f"{CLIENTS}/{serial}/subscribe", json=body)
        assert refused.status_code == 400 and refused.json()["code"] == code, body
    missing = unique("none")
    for path, body in (
        ("subscribe", {"topic": "a"}),
        ("subscribe/bulk", [{"topic": "a"}]),
        ("unsubscribe", {"topic": "a"}),
        ("unsubscribe/bulk", []),
    ):
        answer = admin.post(f"{CLIENTS}/{missing}/{path}", json=body)
        assert answer.status_code == 404 and answer.json() == NOT_FOUND, path
    assert admin.get(f"{CLIENTS}/{missing}/subscriptions").json() == NOT_FOUND


def test_tenants_see_only_their_clients(
    admin: httpx.Client, connect: Callable[..., Device], server: ServerThread
) -> None:
    tenant = unique("t")
    tenants = server.platform.services.tenants
    server.call(tenants.create_tenant(tenant))
    server.call(tenants.create_user(tenant, "boss", "boss-pw", {Role.ADMIN}))
    mine, theirs = unique("mine"), unique("theirs")
    connect(mine, V5)
    connect(theirs, V5, username=f"{tenant}/boss", password="boss-pw")
    with httpx.Client(base_url=server.url, auth=(f"{tenant}/boss", "boss-pw")) as other:
        listed = other.get(CLIENTS).json()
        assert [c["clientid"] for c in listed["data"]] == [theirs] and listed["meta"]["count"] == 1
        assert other.get(f"{CLIENTS}/{mine}").json() == NOT_FOUND
        assert other.delete(f"{CLIENTS}/{mine}").status_code == 404
        assert other.post(f"{CLIENTS}/{mine}/subscribe", json={"topic": "x"}).status_code == 404
        assert other.get(f"{CLIENTS}/{mine}/subscriptions").status_code == 404
        other.post(f"{CLIENTS}/kickout/bulk", json=[mine])
        assert other.get("/api/v5/subscriptions", params={"clientid": mine}).json()["data"] == []
    assert admin.get(f"{CLIENTS}/{mine}").json()["connected"] is True
    assert admin.get(f"{CLIENTS}/{theirs}").json() == NOT_FOUND
    assert theirs not in [c["clientid"] for c in admin.get(CLIENTS, params={"limit": 10000}).json()["data"]]


def test_authentication_required(server: ServerThread) -> None:
    refused = httpx.get(server.url + CLIENTS)
    assert refused.status_code == 401 and refused.json()["code"] == "AUTHORIZATION_HEADER_ERROR"
