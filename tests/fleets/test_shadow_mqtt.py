"""Shadows over MQTT (paho, MQTT 5.0 and 3.1.1) and the operator's HTTP API on a real server, both storage
backends: AWS IoT's documents, versions, deltas and rejections under $emqx/things/<name>/shadow, a thing's
topics its own, offline deltas through a persistent session, and a thing's online status."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.adapters.certs import make_ca, make_leaf
from tests.fleets.conftest import ThingLogin, make_thing
from tests.mqtt_device import NOT_AUTHORIZED, PROTOCOL_IDS, PROTOCOLS, V5, Device, ServerMqtt
from tests.support import ServerThread, unique

THINGS = "/api/v1/things"


def connect(
    make: Callable[..., Device], mqtt: ServerMqtt, thing: ThingLogin, protocol: int, **kw: Any
) -> Device:
    device = make(
        mqtt.port, thing.client_id, protocol, username=thing.username, password=thing.password, **kw
    )
    assert device.connect() == 0
    return device


def receive(device: Device, topic: str) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(device.get(topic).payload)
    return document


def prefix(thing: ThingLogin) -> str:
    return f"$emqx/things/{thing.name}/shadow"


@pytest.mark.parametrize("protocol", PROTOCOLS, ids=PROTOCOL_IDS)
def test_report_desire_delta_get(
    protocol: int, admin: httpx.Client, mqtt_server: ServerMqtt, mqtt_devices: Callable[..., Device]
) -> None:
    thing = make_thing(admin)
    device = connect(mqtt_devices, mqtt_server, thing, protocol)
    shadow = prefix(thing)
    for suffix in ("update", "update/accepted", "update/rejected", "update/delta", "update/documents"):
        assert device.subscribe(f"{shadow}/{suffix}") == 1
    for suffix in ("get/accepted", "get/rejected", "delete/accepted", "delete/rejected"):
        assert device.subscribe(f"{shadow}/{suffix}") == 1
    # No shadow yet.
    assert device.publish(f"{shadow}/get", b"") == 0
    missing = receive(device, f"{shadow}/get/rejected")
    assert missing["code"] == 404 and missing["message"] == f"No shadow exists with name: '{thing.name}'"
    # The device reports.
    report = {
        "state": {"reported": {"color": "green", "light": {"on": True, "level": 3}}},
        "clientToken": "t1",
    }
    assert device.publish(f"{shadow}/update", json.dumps(report)) == 0
    accepted = receive(device, f"{shadow}/update/accepted")
    assert (
        accepted["state"] == report["state"] and accepted["version"] == 1 and accepted["clientToken"] == "t1"
    )
    stamp = accepted["timestamp"]
    assert abs(stamp - time.time()) < 3600
    assert accepted["metadata"] == {
        "reported": {
            "color": {"timestamp": stamp},
            "light": {"on": {"timestamp": stamp}, "level": {"timestamp": stamp}},
        }
    }
    documents = receive(device, f"{shadow}/update/documents")
    assert documents["previous"] is None and documents["current"]["version"] == 1
    assert documents["current"]["state"] == {"reported": report["state"]["reported"]}
    # The device's own report came back on .../update (it subscribed to it) and nothing else.
    receive(device, f"{shadow}/update")
    assert device.none_within(0.3, f"{shadow}/update/delta")
    # The operator sets a desired state over HTTP: 200 with the whole document and its delta.
    patched = admin.patch(
        f"{THINGS}/{thing.id}/shadow",
        json={"state": {"desired": {"color": "red", "light": {"on": True, "level": 7}}}, "clientToken": "op"},
    )
    assert patched.status_code == 200, patched.text
    document = patched.json()
    assert document["version"] == 2 and document["clientToken"] == "op"
    assert document["state"]["delta"] == {"color": "red", "light": {"level": 7}}
    assert document["state"]["reported"] == report["state"]["reported"]
    # The device hears the cloud's change on .../update, the acceptance and the delta (nested path kept).
    cloud = receive(device, f"{shadow}/update")
    assert (
        cloud["state"] == {"desired": {"color": "red", "light": {"on": True, "level": 7}}}
        and cloud["version"] == 2
    )
    assert receive(device, f"{shadow}/update/accepted")["version"] == 2
    delta = receive(device, f"{shadow}/update/delta")
    assert delta["state"] == {"color": "red", "light": {"level": 7}} and delta["version"] == 2
    assert delta["metadata"]["light"]["level"]["timestamp"] == delta["timestamp"]
    assert receive(device, f"{shadow}/update/documents")["previous"]["version"] == 1
    # The device converges and clears a key with null; get shows no delta any more.
    done = {"state": {"reported": {"color": "red", "light": {"level": 7}, "extra": None}}, "version": 2}
    assert device.publish(f"{shadow}/update", json.dumps(done)) == 0
    assert receive(device, f"{shadow}/update/accepted")["version"] == 3
    assert device.publish(f"{shadow}/get", json.dumps({"clientToken": "g"})) == 0
    got = receive(device, f"{shadow}/get/accepted")
    assert got["version"] == 3 and got["clientToken"] == "g" and "delta" not in got["state"]
    assert got["state"]["reported"] == {"color": "red", "light": {"on": True, "level": 7}}
    # The HTTP view is the same document (durable before the answer).
    http = admin.get(f"{THINGS}/{thing.id}/shadow").json()
    assert http["state"] == got["state"] and http["version"] == 3
    # null removes a whole section.
    assert device.publish(f"{shadow}/update", json.dumps({"state": {"desired": None}})) == 0
    assert receive(device, f"{shadow}/update/accepted")["state"] == {"desired": None}
    assert "desired" not in admin.get(f"{THINGS}/{thing.id}/shadow").json()["state"]


@pytest.mark.parametrize("protocol", PROTOCOLS, ids=PROTOCOL_IDS)
def test_rejections(
    protocol: int, admin: httpx.Client, mqtt_server: ServerMqtt, mqtt_devices: Callable[..., Device]
) -> None:
    thing = make_thing(admin)
    device = connect(mqtt_devices, mqtt_server, thing, protocol)
    shadow = prefix(thing)
    assert device.subscribe(f"{shadow}/+/rejected") == 1
    assert device.subscribe(f"{shadow}/+/accepted") == 1
    cases: list[tuple[bytes | str, int, str]] = [
        (b"{nope", 400, "Invalid JSON"),
        ("[]", 400, "Invalid JSON"),
        ("{}", 400, "Missing required node: state"),
        ('{"state": 1}', 400, "State node must be an object"),
        ('{"state": {"desired": 1}}', 400, "Desired node must be an object"),
        ('{"state": {"reported": []}}', 400, "Reported node must be an object"),
        ('{"state": {"delta": {}}}', 400, "State contains an invalid node"),
        ('{"state": {"reported": {}}, "version": "x"}', 400, "Invalid version"),
        ('{"state": {"reported": {}}, "version": -1}', 400, "Invalid version"),
        (json.dumps({"state": {"reported": {}}, "clientToken": "x" * 65}), 400, "Invalid clientToken"),
        (
            json.dumps({"state": {"reported": {"a": {"b": {"c": {"d": {"e": {"f": {"g": 1}}}}}}}}}),
            400,
            "JSON contains too many levels of nesting; maximum is 6",
        ),
    ]
    for payload, code, message in cases:
        assert device.publish(f"{shadow}/update", payload) == 0
        rejected = receive(device, f"{shadow}/update/rejected")
        assert (rejected["code"], rejected["message"]) == (code, message), payload
    # Six levels are fine; the clientToken is echoed in a rejection too.
    six = {"state": {"reported": {"a": {"b": {"c": {"d": {"e": {"f": 1}}}}}}}, "clientToken": "ok"}
    assert device.publish(f"{shadow}/update", json.dumps(six)) == 0
    assert receive(device, f"{shadow}/update/accepted")["version"] == 1
    stale = {"state": {"reported": {"x": 1}}, "version": 0, "clientToken": "c"}
    assert device.publish(f"{shadow}/update", json.dumps(stale)) == 0
    conflict = receive(device, f"{shadow}/update/rejected")
    assert conflict == {**conflict, "code": 409, "message": "Version conflict", "clientToken": "c"}
    # Delete with a stale version is refused, with the current one accepted; the version carries on.
    assert device.publish(f"{shadow}/delete", json.dumps({"version": 5})) == 0
    assert receive(device, f"{shadow}/delete/rejected")["code"] == 409
    assert device.publish(f"{shadow}/delete", json.dumps({"version": 1, "clientToken": "d"})) == 0
    deleted = receive(device, f"{shadow}/delete/accepted")
    assert deleted["version"] == 1 and deleted["clientToken"] == "d"
    assert device.publish(f"{shadow}/delete", b"") == 0
    assert receive(device, f"{shadow}/delete/rejected")["code"] == 404
    assert device.publish(f"{shadow}/get", b"") == 0
    assert receive(device, f"{shadow}/get/rejected")["code"] == 404
    assert admin.get(f"{THINGS}/{thing.id}/shadow").status_code == 404
    assert device.publish(f"{shadow}/update", json.dumps({"state": {"reported": {"x": 1}}})) == 0
    assert receive(device, f"{shadow}/update/accepted")["version"] == 2
    # The HTTP API answers the same rules in its own body.
    bad = admin.patch(f"{THINGS}/{thing.id}/shadow", json={"state": {"desired": 3}})
    assert bad.status_code == 400 and bad.json()["message"] == "Desired node must be an object"
    stale_http = admin.patch(f"{THINGS}/{thing.id}/shadow", json={"state": {"desired": {}}, "version": 1})
    assert stale_http.status_code == 409 and stale_http.json()["code"] == "CONFLICT"


@pytest.mark.parametrize("protocol", PROTOCOLS, ids=PROTOCOL_IDS)
def test_a_thing_uses_only_its_own_topics(
    protocol: int,
    admin: httpx.Client,
    server: ServerThread,
    mqtt_server: ServerMqtt,
    mqtt_devices: Callable[..., Device],
) -> None:
    mine, other = make_thing(admin), make_thing(admin)
    device = connect(mqtt_devices, mqtt_server, mine, protocol)
    refused = NOT_AUTHORIZED if protocol == V5 else 0x80
    for topic_filter in (
        f"$emqx/things/{other.name}/shadow/update/delta",
        "$emqx/things/+/shadow/update/delta",
        "$emqx/things/#",
        f"$emqx/commands/things/{other.name}/#",
    ):
        assert device.subscribe(topic_filter) == refused, topic_filter
    assert device.subscribe(f"$emqx/things/{mine.name}/#") == 1
    assert device.subscribe(f"$emqx/commands/things/{mine.name}/#") == 1
    # Publishing to another thing's shadow: refused (MQTT 5: 0x87; 3.1.1 cannot say, nothing happens).
    code = device.publish(
        f"$emqx/things/{other.name}/shadow/update", json.dumps({"state": {"reported": {"x": 1}}})
    )
    assert code == (NOT_AUTHORIZED if protocol == V5 else 0)
    assert admin.get(f"{THINGS}/{other.id}/shadow").status_code == 404
    # The credential works only with the thing's client id.
    wrong = mqtt_devices(
        mqtt_server.port, unique("x"), protocol, username=mine.username, password=mine.password
    )
    assert wrong.connect() == 0x85
    # A device user that is no thing has no $emqx namespace, whatever its serial.
    serial, login, password = _device_user(server)
    plain = mqtt_devices(mqtt_server.port, serial, protocol, username=login, password=password)
    assert plain.connect() == 0
    assert plain.subscribe(f"$emqx/things/{serial}/#") == refused


def _device_user(server: ServerThread) -> tuple[str, str, str]:
    from tether.tenants.models import Role

    serial = unique("SER")
    server.call(
        server.platform.services.tenants.create_user("t1", f"device_{serial}", "dev-pass-1", {Role.DEVICE})
    )
    return serial, f"t1/device_{serial}", "dev-pass-1"


@pytest.mark.parametrize("protocol", PROTOCOLS, ids=PROTOCOL_IDS)
def test_offline_delta_reaches_a_persistent_session(
    protocol: int, admin: httpx.Client, mqtt_server: ServerMqtt, mqtt_devices: Callable[..., Device]
) -> None:
    thing = make_thing(admin)
    device = connect(mqtt_devices, mqtt_server, thing, protocol, session_expiry=600)
    assert device.subscribe(f"{prefix(thing)}/update/delta") == 1
    device.close()
    patched = admin.patch(f"{THINGS}/{thing.id}/shadow", json={"state": {"desired": {"fan": "high"}}})
    assert patched.status_code == 200
    back = connect(mqtt_devices, mqtt_server, thing, protocol, session_expiry=600)
    assert back.session_present()
    delta = receive(back, f"{prefix(thing)}/update/delta")
    assert delta["state"] == {"fan": "high"} and delta["version"] == 1


def _status(admin: httpx.Client, thing: ThingLogin, want: str) -> str:
    """The thing's status once it is `want` (it follows connection events); the last one seen otherwise."""
    status = ""
    for _ in range(200):
        status = admin.get(f"{THINGS}/{thing.id}").json()["status"]
        if status == want:
            break
        time.sleep(0.05)
    return status


def test_status_follows_the_connection(
    admin: httpx.Client, mqtt_server: ServerMqtt, mqtt_devices: Callable[..., Device]
) -> None:
    thing = make_thing(admin)
    assert admin.get(f"{THINGS}/{thing.id}").json()["status"] == "offline"
    device = connect(mqtt_devices, mqtt_server, thing, V5)
    assert _status(admin, thing, "online") == "online"
    online = admin.get(THINGS, params={"status": "online", "limit": 1000}).json()["data"]
    assert thing.id in [t["id"] for t in online]
    mo = admin.get(f"/inventory/managedObjects/{thing.device_id}").json()
    assert mo["c8y_Connection"] == {"status": "CONNECTED"}
    device.close()
    assert _status(admin, thing, "offline") == "offline"
    offline = admin.get(THINGS, params={"status": "offline", "limit": 1000}).json()["data"]
    assert thing.id in [t["id"] for t in offline]


def test_tenants_never_meet(
    admin: httpx.Client, server: ServerThread, mqtt_server: ServerMqtt, mqtt_devices: Callable[..., Device]
) -> None:
    """The same thing name in two tenants: two things, two shadows, two namespaces."""
    from tether.tenants.models import Role

    tenant = unique("ten")
    tenants = server.platform.services.tenants
    server.call(tenants.create_tenant(tenant))
    server.call(tenants.create_user(tenant, "boss", "boss-secret-1", {Role.ADMIN}))
    name = unique("same-")
    mine = make_thing(admin, name=name)
    with httpx.Client(base_url=server.url, auth=(f"{tenant}/boss", "boss-secret-1")) as boss:
        theirs = make_thing(boss, name=name)
        assert theirs.username.startswith(f"{tenant}/")
        a = connect(mqtt_devices, mqtt_server, mine, V5)
        b = connect(mqtt_devices, mqtt_server, theirs, V5)
        assert a.subscribe(f"$emqx/things/{name}/shadow/update/accepted") == 1
        assert b.subscribe(f"$emqx/things/{name}/shadow/update/accepted") == 1
        assert (
            a.publish(f"$emqx/things/{name}/shadow/update", json.dumps({"state": {"reported": {"t": "a"}}}))
            == 0
        )
        assert receive(a, f"$emqx/things/{name}/shadow/update/accepted")["state"]["reported"] == {"t": "a"}
        assert b.none_within(0.3)
        assert boss.get(f"{THINGS}/{theirs.id}/shadow").status_code == 404
        assert boss.get(f"{THINGS}/{mine.id}/shadow").status_code == 404
    assert admin.get(f"{THINGS}/{mine.id}/shadow").json()["state"]["reported"] == {"t": "a"}


def test_thing_datas_https(
    admin: httpx.Client, server: ServerThread, mqtt_server: ServerMqtt, mqtt_devices: Callable[..., Device]
) -> None:
    """A device on HTTPS with an API key: reports by thing name (version 0: no check), polls its shadow; an
    MQTT subscriber of the thing hears the change."""
    thing = make_thing(admin)
    listener = connect(mqtt_devices, mqtt_server, thing, V5)
    assert listener.subscribe(f"{prefix(thing)}/update/accepted") == 1
    key = admin.post("/api/v5/api_key", json={"name": unique("dev")}).json()
    with httpx.Client(base_url=server.url, auth=(key["api_key"], key["api_secret"])) as device:
        body = {
            "thingName": thing.name,
            "state": {"reported": {"on": True}},
            "clientToken": "h1",
            "version": 0,
        }
        answer = device.post("/api/v1/thing-datas/shadow/reported", json=body)
        assert answer.status_code == 200, answer.text
        assert answer.json()["version"] == 1 and answer.json()["clientToken"] == "h1"
        assert receive(listener, f"{prefix(thing)}/update/accepted")["state"] == {"reported": {"on": True}}
        again = device.post("/api/v1/thing-datas/shadow/reported", json={**body, "version": 0})
        assert again.json()["version"] == 2
        stale = device.post("/api/v1/thing-datas/shadow/reported", json={**body, "version": 1})
        assert stale.status_code == 409 and stale.json()["message"] == "Version conflict"
        read = device.get(f"/api/v1/thing-datas/{thing.name}/shadow").json()
        assert read["state"]["reported"] == {"on": True} and read["version"] == 2
        for bad in (
            {**body, "thingName": "nobody-here"},
            {**body, "thingName": None},
            {**body, "state": {"desired": {"x": 1}}},
            {**body, "state": []},
        ):
            response = device.post("/api/v1/thing-datas/shadow/reported", json=bad)
            assert response.status_code in (400, 404), (bad, response.text)
        assert device.get("/api/v1/thing-datas/nobody-here/shadow").status_code == 404
    assert httpx.get(f"{server.url}/api/v1/thing-datas/{thing.name}/shadow").status_code == 401


def test_a_certificate_whose_cn_is_the_client_id(
    admin: httpx.Client, mqtt_server: ServerMqtt, mqtt_devices: Callable[..., Device], tmp_path: Path
) -> None:
    """The thing's device logs in with a TLS client certificate (CN = its client id, issued by a CA of the
    tenant) instead of a password, and has the thing's namespaces."""
    ca = make_ca(unique("Fleets CA "))
    body = {
        "name": unique("ca"),
        "certInPemFormat": ca.pem,
        "status": "ENABLED",
        "autoRegistrationEnabled": True,
    }
    assert admin.post("/tenant/tenants/t1/trusted-certificates", json=body).status_code == 201
    client_id = unique("cert-")
    thing = admin.post(THINGS, json={"name": unique("thing-"), "clientId": client_id}).json()
    tls = mqtt_server.client_tls(make_leaf(ca, client_id), tmp_path)
    device = mqtt_devices(mqtt_server.tls_port, client_id, V5, tls=tls)
    assert device.connect() == 0
    shadow = f"$emqx/things/{thing['name']}/shadow"
    assert device.subscribe(f"{shadow}/update/accepted") == 1
    assert device.subscribe("$emqx/things/+/shadow/update/accepted") == NOT_AUTHORIZED
    assert device.publish(f"{shadow}/update", json.dumps({"state": {"reported": {"tls": True}}})) == 0
    assert receive(device, f"{shadow}/update/accepted")["version"] == 1


@pytest.mark.parametrize("protocol", PROTOCOLS, ids=PROTOCOL_IDS)
def test_renaming_or_deleting_a_thing_closes_its_connections(
    protocol: int, admin: httpx.Client, mqtt_server: ServerMqtt, mqtt_devices: Callable[..., Device]
) -> None:
    """Its namespaces were granted at CONNECT: a rename or a delete takes them away from the connection
    (MQTT 5: DISCONNECT 0x98), and the next connection has the thing's current names only."""
    thing = make_thing(admin)
    device = connect(mqtt_devices, mqtt_server, thing, protocol)
    assert device.subscribe(f"{prefix(thing)}/update/delta") == 1
    renamed = unique("renamed-")
    assert admin.put(f"{THINGS}/{thing.id}", json={"name": renamed}).status_code == 200
    closed = device.wait_closed()
    assert closed == 0x98 or protocol != V5
    again = connect(mqtt_devices, mqtt_server, thing, protocol)
    refused = NOT_AUTHORIZED if protocol == V5 else 0x80
    assert again.subscribe(f"$emqx/things/{thing.name}/#") == refused
    assert again.subscribe(f"$emqx/things/{renamed}/shadow/update/accepted") == 1
    # The old name now names another device's thing: nothing of it reaches the first device.
    other = make_thing(admin, name=thing.name, clientId=unique("other-"))
    assert (
        admin.patch(f"{THINGS}/{other.id}/shadow", json={"state": {"desired": {"x": 1}}}).status_code == 200
    )
    assert again.none_within(0.3)
    # Deleted: its connection is closed.
    assert admin.delete(f"{THINGS}/{thing.id}").status_code == 204
    closed = again.wait_closed()
    assert closed == 0x98 or protocol != V5


def test_pipelined_updates_and_http_changes_keep_one_version_sequence(
    admin: httpx.Client, mqtt_server: ServerMqtt, mqtt_devices: Callable[..., Device]
) -> None:
    """A device with many updates in flight (none waits for the one before) and an operator changing the
    desired state meanwhile: one version sequence, every change answered once and in version order, a
    version named judged on the updates before it, nothing lost."""
    thing = make_thing(admin)
    device = connect(mqtt_devices, mqtt_server, thing, V5)
    shadow = prefix(thing)
    for suffix in ("update/accepted", "update/rejected"):
        assert device.subscribe(f"{shadow}/{suffix}") == 1
    sent = []
    for i in range(40):
        sent.append(device.send(f"{shadow}/update", json.dumps({"state": {"reported": {f"k{i}": i}}})))
        if i % 8 == 7:
            desired = {"state": {"desired": {"level": i}}}
            assert admin.patch(f"{THINGS}/{thing.id}/shadow", json=desired).status_code == 200
    assert [device.ack(mid) for mid in sent] == [0] * 40
    accepted = [receive(device, f"{shadow}/update/accepted") for _ in range(45)]
    assert [a["version"] for a in accepted] == list(range(1, 46))
    assert sum("reported" in a["state"] for a in accepted) == 40
    document = admin.get(f"{THINGS}/{thing.id}/shadow").json()
    assert document["version"] == 45 and document["state"]["desired"] == {"level": 39}
    assert document["state"]["reported"] == {f"k{i}": i for i in range(40)}
    # Three requests at once: the second names the version the first will make; the third a version gone.
    report = {"state": {"reported": {"x": 1}}, "clientToken": "a"}
    named = {"state": {"reported": {"x": 2}}, "version": 46, "clientToken": "b"}
    stale = {"state": {"reported": {"x": 3}}, "version": 45, "clientToken": "c"}
    mids = [device.send(f"{shadow}/update", json.dumps(body)) for body in (report, named, stale)]
    assert [device.ack(mid) for mid in mids] == [0, 0, 0]
    answers = [device.get() for _ in range(3)]
    assert [m.topic.rsplit("/", 1)[1] for m in answers] == ["accepted", "accepted", "rejected"]
    first, second, refused = (json.loads(m.payload) for m in answers)
    assert (first["version"], first["clientToken"]) == (46, "a")
    assert (second["version"], second["clientToken"]) == (47, "b")
    assert (
        refused["code"] == 409 and refused["message"] == "Version conflict" and refused["clientToken"] == "c"
    )
    assert admin.get(f"{THINGS}/{thing.id}/shadow").json()["state"]["reported"]["x"] == 2
