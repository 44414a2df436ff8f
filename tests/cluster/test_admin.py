"""Operating on any node (docs/cluster.md): the management API of one node lists, kicks and subscribes the
clients of every node (cluster/admin.py over cluster/rpc.py), and a credential changed on one node takes
effect on every node (cluster/invalidation.py). Real nats-server, three real nodes, paho clients."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from tests.cluster.support import Cluster, Node
from tests.mqtt_device import BAD_CREDENTIALS, Device, raw_connack
from tests.support import BOOTSTRAP_PASSWORD

USERS = "/api/v5/authentication/password_based:built_in_database/users"
ADMINISTRATIVE_ACTION = 0x98
BANNED = 0x8A
SERIAL = "cluster-serial-1"  # a device user's client id is its serial
MQTT5 = 5


def wait_for(condition: Callable[[], Any], what: str, timeout: float = 30.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = condition()
        if result:
            return result
        time.sleep(0.05)
    raise AssertionError(f"waited in vain for {what}")


def device(node: Node, client_id: str, username: str, password: str) -> Device:
    client = Device(node.mqtt_port, client_id, username=username, password=password)
    assert client.connect() == 0, f"{client_id} refused by {node.name}"
    return client


@pytest.fixture(scope="module")
def nodes(cluster: Cluster) -> Iterator[dict[str, httpx.Client]]:
    """An operator's HTTP client per node, and an MQTT superuser `t1/ops` (EMQX built-in user)."""
    clients = {name: node.client() for name, node in cluster.nodes.items()}
    ops = {"user_id": "ops", "password": "ops-secret", "is_superuser": True}
    created = clients["n1"].post(USERS, json=ops)
    assert created.status_code == 201, created.text
    yield clients
    for client in clients.values():
        client.close()


def test_clients_of_every_node_are_listed_kicked_and_subscribed_from_any(
    cluster: Cluster, nodes: dict[str, httpx.Client]
) -> None:
    n2, n3 = cluster.nodes["n2"], cluster.nodes["n3"]
    on_n2 = device(n2, "held-by-n2", "t1/ops", "ops-secret")
    on_n3 = device(n3, "held-by-n3", "t1/ops", "ops-secret")
    try:
        # n1 lists both, each with the node holding it; filters and paging hold over the merged list.
        listed = nodes["n1"].get("/api/v5/clients").json()
        shown = {c["clientid"]: c["node"] for c in listed["data"]}
        assert shown == {"held-by-n2": "n2", "held-by-n3": "n3"}
        assert listed["meta"]["count"] == 2
        first = nodes["n1"].get("/api/v5/clients", params={"limit": 1, "page": 1}).json()
        second = nodes["n1"].get("/api/v5/clients", params={"limit": 1, "page": 2}).json()
        assert first["meta"] == {"page": 1, "limit": 1, "hasnext": True, "count": 2}
        assert {first["data"][0]["clientid"], second["data"][0]["clientid"]} == set(shown)
        assert second["meta"]["hasnext"] is False
        only = nodes["n1"].get("/api/v5/clients", params={"clientid": "held-by-n3"}).json()
        assert [c["clientid"] for c in only["data"]] == ["held-by-n3"]
        got = nodes["n1"].get("/api/v5/clients/held-by-n2").json()
        assert (got["node"], got["connected"], got["username"]) == ("n2", True, "t1/ops")
        assert nodes["n1"].get("/api/v5/clients/nobody").json()["code"] == "CLIENTID_NOT_FOUND"

        # A proxy subscription made through n1 for the client on n2, and a publish there, reach it.
        made = nodes["n1"].post("/api/v5/clients/held-by-n2/subscribe", json={"topic": "proxy/t", "qos": 1})
        assert made.status_code == 200, made.text
        assert made.json()["node"] == "n2"
        subs = nodes["n3"].get("/api/v5/clients/held-by-n2/subscriptions").json()
        assert [(s["topic"], s["node"]) for s in subs] == [("proxy/t", "n2")]
        everywhere = nodes["n3"].get("/api/v5/subscriptions").json()
        assert [(s["clientid"], s["topic"]) for s in everywhere["data"]] == [("held-by-n2", "proxy/t")]
        assert on_n2.publish("proxy/t", b"hello") == 0
        assert on_n2.text("proxy/t") == "hello"
        # Answered once every node routes to it: a message published on n3 right away reaches it.
        assert on_n3.publish("proxy/t", b"from n3") == 0
        assert on_n2.text("proxy/t") == "from n3"
        refused = nodes["n1"].post("/api/v5/clients/held-by-n2/subscribe", json={"topic": "bad/#/x"})
        assert refused.status_code == 400
        gone = nodes["n3"].post("/api/v5/clients/held-by-n2/unsubscribe", json={"topic": "proxy/t"})
        assert gone.status_code == 204
        assert nodes["n1"].get("/api/v5/clients/held-by-n2/subscriptions").json() == []

        # Stats per node and summed.
        per_node = nodes["n1"].get("/api/v5/stats").json()
        assert [s["node"] for s in per_node] == ["n1", "n2", "n3"]
        live = {s["node"]: s["live_connections.count"] for s in per_node}
        assert live == {"n1": 0, "n2": 1, "n3": 1}
        total = nodes["n2"].get("/api/v5/stats", params={"aggregate": "true"}).json()
        assert total["live_connections.count"] == 2
        metrics = nodes["n3"].get("/api/v5/metrics").json()
        assert [m["node"] for m in metrics] == ["n1", "n2", "n3"]
        assert nodes["n3"].get("/api/v5/metrics", params={"node": "n2"}).json()[0]["node"] == "n2"

        # Kicked through n3's API: the client on n2 is told so.
        assert nodes["n3"].delete("/api/v5/clients/held-by-n2").status_code == 204
        assert on_n2.wait_closed() == ADMINISTRATIVE_ACTION
        assert nodes["n1"].get("/api/v5/clients/held-by-n2").status_code == 404
        assert nodes["n1"].delete("/api/v5/clients/held-by-n2").status_code == 404
    finally:
        on_n2.close()
        on_n3.close()


def test_credentials_changed_on_one_node_change_on_every_node(
    cluster: Cluster, nodes: dict[str, httpx.Client]
) -> None:
    n2, n3 = cluster.nodes["n2"], cluster.nodes["n3"]
    # A ban made via n1 kicks the client on n2 and refuses it on n3.
    victim = device(n2, "victim", "t1/ops", "ops-secret")
    try:
        ban = nodes["n1"].post("/api/v5/banned", json={"as": "clientid", "who": "victim"})
        assert ban.status_code == 200, ban.text
        assert victim.wait_closed() == ADMINISTRATIVE_ACTION
        wait_for(  # the answer waited for every node's acknowledgement: true at once unless one was slow
            lambda: raw_connack(n3.mqtt_port, MQTT5, "victim", "t1/ops", b"ops-secret") == BANNED,
            "the ban on n3",
        )
        assert nodes["n2"].delete("/api/v5/banned/clientid/victim").status_code == 204
        wait_for(
            lambda: raw_connack(n3.mqtt_port, MQTT5, "victim", "t1/ops", b"ops-secret") == 0,
            "the lifted ban on n3",
        )
    finally:
        victim.close()

    # A changed MQTT user's password: the old one, verified (cached) on n3, is refused there.
    mqtt_user = nodes["n1"].post(USERS, json={"user_id": "meter", "password": "old-secret"})
    assert mqtt_user.status_code == 201
    assert raw_connack(n3.mqtt_port, MQTT5, "meter-1", "t1/meter", b"old-secret") == 0
    assert nodes["n1"].put(f"{USERS}/meter", json={"password": "new-secret"}).status_code == 200
    wait_for(
        lambda: raw_connack(n3.mqtt_port, MQTT5, "meter-1", "t1/meter", b"old-secret") == BAD_CREDENTIALS,
        "the old MQTT password refused on n3",
    )
    assert raw_connack(n3.mqtt_port, MQTT5, "meter-1", "t1/meter", b"new-secret") == 0

    # A platform user's new password: the old one, verified (cached) on n2 and n3, stops working there.
    person = {"userName": "pat", "password": "pat-old-secret-1", "email": "pat@example.com"}
    assert nodes["n1"].post("/user/t1/users", json=person).status_code == 201
    old = ("t1/pat", "pat-old-secret-1")
    for node in (n2, n3):
        assert httpx.get(f"{node.url}/user/currentUser", auth=old).status_code == 200
    changed = nodes["n1"].put("/user/t1/users/pat", json={"password": "pat-new-secret-2"})
    assert changed.status_code == 200, changed.text
    for node in (n2, n3):
        wait_for(
            lambda node=node: (
                httpx.get(f"{node.url}/user/currentUser", auth=("t1/pat", "pat-old-secret-1")).status_code
                == 401
            ),
            f"the old password refused on {node.name}",
        )

    # A tenant suspended via n1: its administrator's connection on n2 ends, its logins are refused on n3;
    # reactivated via n3, it logs in on n2 again.
    tenant = {"domain": "acme.example.com", "adminName": "boss", "adminPass": "boss-secret-1"}
    created = nodes["n1"].post("/tenant/tenants", json=tenant)
    assert created.status_code == 201, created.text
    boss = f"{created.json()['id']}/boss"
    held = device(n2, "boss-client", boss, "boss-secret-1")
    try:
        suspended = nodes["n1"].put(f"/tenant/tenants/{created.json()['id']}", json={"status": "SUSPENDED"})
        assert suspended.status_code == 200, suspended.text
        assert held.wait_closed() == ADMINISTRATIVE_ACTION
        assert httpx.get(f"{n3.url}/user/currentUser", auth=(boss, "boss-secret-1")).status_code == 401
    finally:
        held.close()
    assert (
        nodes["n3"].put(f"/tenant/tenants/{created.json()['id']}", json={"status": "ACTIVE"}).status_code
        == 200
    )
    wait_for(
        lambda: raw_connack(n2.mqtt_port, MQTT5, "boss-client", boss, b"boss-secret-1") == 0,
        "the reactivated tenant's login on n2",
    )

    # A retired device (its device user deleted via n1) loses its connection on n3.
    login, password, mo_id = register_device(nodes["n1"], cluster.nodes["n1"])
    retiring = device(n3, SERIAL, login, password)
    try:
        retired = nodes["n1"].delete(f"/inventory/managedObjects/{mo_id}", params={"withDeviceUser": "true"})
        assert retired.status_code == 204, retired.text
        assert retiring.wait_closed() == ADMINISTRATIVE_ACTION
        assert raw_connack(n3.mqtt_port, MQTT5, SERIAL, login, password.encode()) == BAD_CREDENTIALS
    finally:
        retiring.close()


def register_device(admin: httpx.Client, node: Node) -> tuple[str, str, str]:
    """A device registered over REST (request, accepted, credentials) and its managed object."""
    serial = SERIAL
    bootstrap = httpx.Client(base_url=node.url, auth=("management/devicebootstrap", BOOTSTRAP_PASSWORD))
    with bootstrap:
        assert admin.post("/devicecontrol/newDeviceRequests", json={"id": serial}).status_code == 201
        assert bootstrap.post("/devicecontrol/deviceCredentials", json={"id": serial}).status_code == 404
        accepted = admin.put(f"/devicecontrol/newDeviceRequests/{serial}", json={"status": "ACCEPTED"})
        assert accepted.status_code == 200, accepted.text
        issued = bootstrap.post("/devicecontrol/deviceCredentials", json={"id": serial}).json()
    login, password = f"{issued['tenantId']}/{issued['username']}", issued["password"]
    document = {"name": "retiring", "c8y_IsDevice": {}}
    created = httpx.post(f"{node.url}/inventory/managedObjects", json=document, auth=(login, password))
    assert created.status_code == 201, created.text
    return login, password, created.json()["id"]


def test_a_ban_made_while_nats_is_down_reaches_every_node_once_it_is_back(
    cluster: Cluster, nodes: dict[str, httpx.Client]
) -> None:
    """Last in the module: it restarts NATS. The ban reaches the other nodes once NATS is back (the
    announcement waits in the NATS client's buffer, and every node reads the bans again on reconnecting)."""
    n2 = cluster.nodes["n2"]
    victim = device(n2, "late-victim", "t1/ops", "ops-secret")
    try:
        cluster.nats.stop()
        ban = nodes["n1"].post("/api/v5/banned", json={"as": "clientid", "who": "late-victim"})
        assert ban.status_code == 200, ban.text  # stored; the other nodes hear nothing now
        cluster.nats.start()
        assert victim.wait_closed() == ADMINISTRATIVE_ACTION
        assert raw_connack(n2.mqtt_port, MQTT5, "late-victim", "t1/ops", b"ops-secret") == BANNED
    finally:
        victim.close()
