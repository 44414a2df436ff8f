"""The platform across nodes (docs/cluster.md): real-time notifications and operations reach the node that
holds the subscriber or the device, presence is right whichever node a device uses, a command timeout fires
once with three nodes, and the leader's duties move when the leader dies. Three real nodes, paho devices and
httpx Bayeux clients spread over them."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from tests.cluster.support import ADMIN, Cluster, Node
from tests.mqtt_device import V5, Device

REALTIME = "/notification/realtime"
TIMEOUT = 30.0  # seconds; only guards against hangs


def eventually(check: Callable[[], Any], what: str) -> Any:
    deadline = time.monotonic() + TIMEOUT
    while True:
        found = check()
        if found:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"never: {what}")
        time.sleep(0.05)


class Listener:
    """A Bayeux long-polling client of one node; messages are kept between connects."""

    def __init__(self, node: Node, *channels: str) -> None:
        self.http = httpx.Client(base_url=node.url, auth=ADMIN, timeout=TIMEOUT)
        [reply] = self._send({"channel": "/meta/handshake", "version": "1.0",
                              "supportedConnectionTypes": ["long-polling"]})  # fmt: skip
        assert reply["successful"] is True, reply
        self.client_id = reply["clientId"]
        for channel in channels:
            subscribe = {"channel": "/meta/subscribe", "subscription": channel, "clientId": self.client_id}
            [reply] = self._send(subscribe)
            assert reply["successful"] is True, reply
        self.messages: list[dict[str, Any]] = []

    def _send(self, message: dict[str, Any]) -> list[dict[str, Any]]:
        response = self.http.post(REALTIME, json=[message])
        assert response.status_code == 200, response.text
        body: list[dict[str, Any]] = response.json()
        return body

    def wait(self, channel: str, match: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
        """The first message on a channel starting with `channel` whose data matches (connects until it
        came)."""

        def found() -> dict[str, Any] | None:
            for message in self.messages:
                if str(message.get("channel")).startswith(channel) and match(message["data"]):
                    return message
            connect = {"channel": "/meta/connect", "clientId": self.client_id,
                       "connectionType": "long-polling", "advice": {"timeout": 1000}}  # fmt: skip
            self.messages += [m for m in self._send(connect) if not m["channel"].startswith("/meta/")]
            return None

        message: dict[str, Any] = eventually(found, f"a message on {channel}")
        return message

    def close(self) -> None:
        self.http.close()


def device(node: Node, serial: str) -> Device:
    """The tenant's administrator acting as the device `serial` (its ClientId)."""
    paho = Device(node.mqtt_port, serial, V5, username=ADMIN[0], password=ADMIN[1])
    assert paho.connect() == 0
    return paho


def registered(http: httpx.Client, serial: str) -> str:
    mo = http.post("/inventory/managedObjects", json={"name": serial, "c8y_IsDevice": {}})
    assert mo.status_code == 201, mo.text
    mo_id: str = mo.json()["id"]
    xid = {"type": "c8y_Serial", "externalId": serial}
    assert http.post(f"/identity/globalIds/{mo_id}/externalIds", json=xid).status_code == 201
    return mo_id


def serial() -> str:
    return f"cp-{uuid.uuid4().hex[:10]}"


def connection_status(http: httpx.Client, mo_id: str) -> str | None:
    status: str | None = (
        http.get(f"/inventory/managedObjects/{mo_id}").json().get("c8y_Connection", {}).get("status")
    )
    return status


def history(http: httpx.Client, client_id: str) -> list[dict[str, Any]]:
    response = http.get(f"/api/v5/clients/{client_id}/history")
    assert response.status_code == 200, response.text
    data: list[dict[str, Any]] = response.json()["data"]
    return data


@pytest.fixture(scope="module")
def nodes(cluster: Cluster) -> dict[str, Node]:
    return cluster.nodes


def test_notifications_and_operations_reach_the_node_that_holds_the_client(nodes: dict[str, Node]) -> None:
    n1, n2, n3 = nodes["n1"], nodes["n2"], nodes["n3"]
    listener = Listener(n2, "/measurements/*", "/alarms/*")
    devices: list[Device] = []
    try:
        with n1.client() as http:
            # REST on n1 -> the real-time subscriber on n2.
            mo_id = registered(http, serial())
            measurement = {"source": {"id": mo_id}, "type": "c8y_T", "time": "2026-12-04T17:00:00Z",
                           "c8y_T": {"T": {"value": 21.5, "unit": "C"}}}  # fmt: skip
            assert http.post("/measurement/measurements", json=measurement).status_code == 201
            got = listener.wait(f"/measurements/{mo_id}", lambda d: d["realtimeAction"] == "CREATE")
            assert got["data"]["data"]["c8y_T"]["T"]["value"] == 21.5
            # SmartREST on a device connected to n3 -> the subscriber on n2.
            name = serial()
            on_n3 = device(n3, name)
            devices.append(on_n3)
            assert on_n3.publish("s/us", "100,cp device,c8y_MQTTDevice") == 0
            assert on_n3.publish("s/us", "211,-7.5") == 0
            assert on_n3.publish("s/us", "301,c8y_ClusterAlarm,seen across nodes") == 0
            found = listener.wait("/measurements/", lambda d: "c8y_TemperatureMeasurement" in d["data"])
            assert found["data"]["data"]["c8y_TemperatureMeasurement"]["T"]["value"] == -7.5
            alarm = listener.wait("/alarms/", lambda d: d["data"].get("type") == "c8y_ClusterAlarm")
            assert alarm["data"]["data"]["text"] == "seen across nodes"
            # An operation created through REST on n1 reaches the SmartREST device connected to n2 on s/ds.
            agent = serial()
            on_n2 = device(n2, agent)
            devices.append(on_n2)
            assert on_n2.subscribe("s/ds") == 1
            assert on_n2.publish("s/us", "100,cp agent,c8y_MQTTDevice") == 0
            agent_id = eventually(
                lambda: http.get(f"/identity/externalIds/c8y_Serial/{agent}").json().get("managedObject"),
                "the agent's device",
            )["id"]
            operation = {"deviceId": agent_id, "c8y_Restart": {}}
            created = http.post("/devicecontrol/operations", json=operation)
            assert created.status_code == 201, created.text
            assert on_n2.text("s/ds") == f"510,{agent}"
    finally:
        for paho in devices:
            paho.close()
        listener.close()


def test_presence_whichever_node_the_device_uses(nodes: dict[str, Node]) -> None:
    n1, n2, n3 = nodes["n1"], nodes["n2"], nodes["n3"]
    name = serial()
    with n1.client() as http:
        mo_id = registered(http, name)
        first = device(n2, name)
        # Connected through n2, seen from n1's API: the device, and its open connection on n2.
        eventually(lambda: connection_status(http, mo_id) == "CONNECTED", "CONNECTED after the connect on n2")
        rows = eventually(lambda: history(http, name), "the connection in the history")
        assert [(r["node"], r["disconnected_at"]) for r in rows] == [("n2", None)]
        # The device moves to n3 (its client id takes the session over: n2 closes the old connection, 0x8E);
        # whichever of n3's connect and n2's disconnect is recorded first ...
        second = device(n3, name)
        eventually(lambda: len(history(http, name)) == 2, "the second connection in the history")
        first.close()
        eventually(
            lambda: [r["node"] for r in history(http, name) if r["disconnected_at"] is not None] == ["n2"],
            "the connection on n2 ended",
        )
        # ... and it stays CONNECTED, also after n3 wrote its state.
        assert http.get(f"/inventory/managedObjects/{mo_id}/availability").json()["connectionStatus"] == (
            "CONNECTED"
        )
        assert connection_status(http, mo_id) == "CONNECTED"
        second.close()
        eventually(lambda: connection_status(http, mo_id) == "DISCONNECTED", "DISCONNECTED once it left n3")
        ended = history(http, name)
        assert sorted((r["node"], r["reason"]) for r in ended) == [("n2", "takenover"), ("n3", "normal")]
        assert all(r["disconnected_at"] is not None for r in ended)
        # The device's own view (the console's Connections tab) names the nodes too.
        connections = http.get(f"/inventory/managedObjects/{mo_id}/connections").json()["connections"]
        assert sorted(c["node"] for c in connections) == ["n2", "n3"]


def _leader(http: httpx.Client) -> str | None:
    leaders = [n["node"] for n in http.get("/api/v5/nodes").json() if n["leader"]]
    return leaders[0] if len(leaders) == 1 else None


def test_timeouts_fire_once_and_the_leader_role_moves(cluster: Cluster, nodes: dict[str, Node]) -> None:
    with nodes["n1"].client() as http:
        leader = eventually(lambda: _leader(http), "one leader")
    others = sorted(name for name in nodes if name != leader)
    a, c = nodes[others[0]], nodes[others[1]]
    with a.client() as http:
        # A Fleets command created on a node that is not the leader ...
        thing = http.post("/api/v1/things", json={"name": serial()}).json()
        command = http.post(f"/api/v1/things/{thing['id']}/commands", json={"action": "reboot", "ttl": 3})
        assert command.status_code == 201, command.text
        execution = command.json()["executionId"]
        # ... and a node leaves: the leader restores the timers of what is SENT, so the command now has a
        # timer on the node that sent it and on the leader, and its reader may time it out as well.
        c.stop()
        cluster.wait_members(a, {a.name, leader})
        eventually(
            lambda: http.get(f"/api/v1/commands/{execution}").json()["status"] == "TIMED_OUT", "TIMED_OUT"
        )
        # A later command's timeout, as a marker: a second finish of the first would have come by then.
        later = {"action": "later", "ttl": 1}
        marker = http.post(f"/api/v1/things/{thing['id']}/commands", json=later).json()
        eventually(
            lambda: http.get(f"/api/v1/commands/{marker['executionId']}").json()["status"] == "TIMED_OUT",
            "the marker TIMED_OUT",
        )

        def operation_audits() -> list[dict[str, Any]]:
            found = http.get("/audit/auditRecords", params={"source": thing["deviceId"], "pageSize": 100})
            records: list[dict[str, Any]] = found.json()["auditRecords"]
            return [r for r in records if r["type"] == "Operation"]

        eventually(lambda: len(operation_audits()) >= 4, "the audit records of both commands")
        # Two commands: each created once and finished once.
        assert len(operation_audits()) == 4, operation_audits()
        op = http.get(f"/devicecontrol/operations/{execution}").json()
        assert op["status"] == "FAILED" and op["failureReason"] == "TIMED_OUT"

        # The leader dies with a device connected to it: the survivor becomes the leader and closes the
        # dead node's connections (a duty of the leader only).
        name = serial()
        mo_id = registered(http, name)
        on_leader = device(nodes[leader], name)
        eventually(lambda: connection_status(http, mo_id) == "CONNECTED", "CONNECTED on the leader")
        nodes[leader].kill()
        on_leader.paho.loop_stop()
        eventually(lambda: _leader(http) == a.name, f"{a.name} leads")
        rows = eventually(
            lambda: [r for r in history(http, name) if r["disconnected_at"] is not None],
            "the dead node's connection closed",
        )
        assert [(r["node"], r["reason"]) for r in rows] == [(leader, "node_down")]
        eventually(lambda: connection_status(http, mo_id) == "DISCONNECTED", "DISCONNECTED after the kill")
