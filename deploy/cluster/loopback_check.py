"""Checks the cluster of deploy/cluster/loopback.sh through HAProxy with real clients (httpx, paho-mqtt):

- REST: every live node is listed by /api/v5/nodes; requests are spread over the nodes; what is written
  through HAProxy is read on every node;
- a device registered over REST (device bootstrap) connects over MQTT through HAProxy, creates itself with
  SmartREST 100 and sends a measurement at QoS 1; REST through HAProxy finds the device and the measurement;
- MQTT publish/subscribe between two clients through HAProxy: printed with the nodes they landed on; required
  whenever they share a node, or the build routes MQTT across nodes (tether.cluster.routing).

    .venv/bin/python deploy/cluster/loopback_check.py --mqtt 127.0.0.1:21883 --http http://127.0.0.1:28080 \\
        --password PW n1=http://127.0.0.1:28081 n2=http://127.0.0.1:28082 n3=http://127.0.0.1:28083

Exit status 0 when every check passed, 1 otherwise.
"""

from __future__ import annotations

import argparse
import importlib.util
import queue
import sys
import time
import uuid

import httpx
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

WAIT = 30.0
failures: list[str] = []


def check(what: str, ok: bool, detail: str = "") -> None:
    print(f"{'ok  ' if ok else 'FAIL'} {what}{': ' + detail if detail else ''}")
    if not ok:
        failures.append(what)


def paho_client(
    address: str, client_id: str, user: str, password: str
) -> tuple[mqtt.Client, queue.Queue[bytes]]:
    host, _, port = address.rpartition(":")
    client = mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2, client_id=client_id)
    client.username_pw_set(user, password)
    got: queue.Queue[bytes] = queue.Queue()
    connected: queue.Queue[object] = queue.Queue()
    client.on_message = lambda _c, _u, message: got.put(message.payload)
    client.on_connect = lambda _c, _u, _f, code, _p: connected.put(code)
    client.connect(host, int(port))
    client.loop_start()
    code = connected.get(timeout=WAIT)
    if getattr(code, "is_failure", False):
        raise RuntimeError(f"CONNACK {code} for {user}")
    return client, got


def where(nodes: dict[str, str], auth: tuple[str, str], client_id: str) -> str:
    """The node holding the client's connection: the one whose /api/v5/clients knows it (a node of a
    build with the cluster-wide management API names it in `node`)."""
    for name, url in nodes.items():
        found = httpx.get(f"{url}/api/v5/clients/{client_id}", auth=auth, timeout=WAIT)
        if found.status_code == 200:
            node = found.json().get("node")
            return str(node) if node in nodes else name
    return "?"


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--mqtt", required=True, help="HAProxy's MQTT frontend, HOST:PORT")
    parser.add_argument("--http", required=True, help="HAProxy's HTTP frontend, http://HOST:PORT")
    parser.add_argument("--password", required=True, help="t1/admin's password")
    parser.add_argument("nodes", nargs="+", metavar="NAME=URL", help="each live node's own HTTP address")
    args = parser.parse_args()
    nodes = dict(item.split("=", 1) for item in args.nodes)
    auth = ("t1/admin", args.password)
    lb = httpx.Client(base_url=args.http, auth=auth, timeout=WAIT)

    # REST through HAProxy.
    listed = {n["node"] for n in lb.get("/api/v5/nodes").json()}
    check(
        "every live node listed (GET /api/v5/nodes through HAProxy)",
        listed == set(nodes),
        str(sorted(listed)),
    )
    answered = set()
    for _ in range(6 * len(nodes)):
        with httpx.Client(base_url=args.http, auth=auth, timeout=WAIT) as fresh:
            answered |= {n["node"] for n in fresh.get("/api/v5/nodes").json() if n["this_node"]}
    check("HTTP requests spread over the nodes", answered == set(nodes), f"answered by {sorted(answered)}")
    name = f"loopback-{uuid.uuid4().hex[:6]}"
    created = lb.post("/inventory/managedObjects", json={"name": name})
    check(
        "POST /inventory/managedObjects through HAProxy", created.status_code == 201, str(created.status_code)
    )
    mo = created.json()["id"]
    seen = {
        n: httpx.get(f"{u}/inventory/managedObjects/{mo}", auth=auth).json().get("name")
        for n, u in nodes.items()
    }
    check("every node reads it", set(seen.values()) == {name}, str(seen))

    # A SmartREST device through HAProxy, registered over REST through HAProxy.
    serial = f"loopback-{uuid.uuid4().hex[:8]}"
    bootstrap = httpx.Client(
        base_url=args.http, auth=("management/devicebootstrap", f"{args.password}-bootstrap")
    )
    lb.post("/devicecontrol/newDeviceRequests", json={"id": serial}).raise_for_status()
    bootstrap.post("/devicecontrol/deviceCredentials", json={"id": serial})  # 404 until accepted
    lb.put(f"/devicecontrol/newDeviceRequests/{serial}", json={"status": "ACCEPTED"}).raise_for_status()
    issued = bootstrap.post("/devicecontrol/deviceCredentials", json={"id": serial})
    issued.raise_for_status()
    login = f"{issued.json()['tenantId']}/{issued.json()['username']}"
    device, _ = paho_client(args.mqtt, serial, login, issued.json()["password"])
    device.publish("s/us", "100,Loopback device,c8y_MQTTDevice", qos=1).wait_for_publish(WAIT)
    device.publish("s/us", "200,c8y_Temperature,T,21.5", qos=1).wait_for_publish(WAIT)  # PUBACK: stored
    device_node = where(nodes, auth, serial)
    device.disconnect()
    device.loop_stop()
    found = lb.get(f"/identity/externalIds/c8y_Serial/{serial}")
    check(
        "SmartREST 100 through HAProxy created the device", found.status_code == 200, f"on node {device_node}"
    )
    if found.status_code == 200:
        source = found.json()["managedObject"]["id"]
        measured = lb.get("/measurement/measurements", params={"source": source}).json()["measurements"]
        check(
            "its QoS 1 measurement is read over REST through HAProxy",
            len(measured) == 1,
            f"{len(measured)} found",
        )

    # Publish/subscribe between two clients through HAProxy.
    topic = f"loopback/{uuid.uuid4().hex[:6]}"
    sub, got = paho_client(args.mqtt, f"{topic.replace('/', '-')}-sub", *auth)
    sub.subscribe(topic, qos=1)
    pub, _ = paho_client(args.mqtt, f"{topic.replace('/', '-')}-pub", *auth)
    time.sleep(1.0)  # the SUBACK (paho does not block for it)
    pub.publish(topic, b"through haproxy", qos=1).wait_for_publish(WAIT)
    try:
        delivered = got.get(timeout=5.0) == b"through haproxy"
    except queue.Empty:
        delivered = False
    on = (
        where(nodes, auth, f"{topic.replace('/', '-')}-sub"),
        where(nodes, auth, f"{topic.replace('/', '-')}-pub"),
    )
    routed = importlib.util.find_spec("tether.cluster.routing") is not None
    placement = f"subscriber on {on[0]}, publisher on {on[1]}"
    if on[0] == on[1] or routed:
        check("MQTT publish -> subscribe through HAProxy", delivered, placement)
    else:
        print(
            f"info MQTT publish -> subscribe across nodes ({placement}): delivered={delivered}; "
            "this build has no cluster routing (tether.cluster.routing), so it is not required"
        )
    for client in (sub, pub):
        client.disconnect()
        client.loop_stop()
    print("loopback check:", "passed" if not failures else f"{len(failures)} failed: {', '.join(failures)}")
    return 0 if not failures else 1


if __name__ == "__main__":
    sys.exit(main())
