"""Acknowledged means durable: a shadow update whose PUBACK the device got, a desired state answered 200 and a
command answered 201 survive `tether serve` being killed (SIGKILL: no shutdown) right after; both backends
(the crash harness of tests/broker/test_crash.py)."""

from __future__ import annotations

import json
import time

import httpx
from tests.broker.test_crash import Serve, database_url, serve
from tests.mqtt_device import V5, V311, Device
from tests.support import unique

__all__ = ["database_url", "serve"]


def test_acknowledged_shadow_changes_and_commands_survive_a_crash(serve: Serve) -> None:
    serve.start()
    base = f"http://127.0.0.1:{serve.http_port}"
    with httpx.Client(base_url=base, auth=("t1/admin", "admin-pw"), timeout=30) as admin:
        name = unique("crash-")
        thing = admin.post("/api/v1/things", json={"name": name}).json()
        credential = admin.post(f"/api/v1/things/{thing['id']}/credentials").json()
        topic = f"$emqx/things/{name}/shadow/update"
        for protocol, value in ((V5, 1), (V311, 2)):
            device = Device(
                serve.port,
                credential["clientId"],
                protocol,
                username=credential["username"],
                password=credential["password"],
            )
            assert device.connect() == 0
            report = {"state": {"reported": {"value": value}}}
            assert device.publish(topic, json.dumps(report)) == 0
            device.close()
        desired = admin.patch(f"/api/v1/things/{thing['id']}/shadow", json={"state": {"desired": {"v": 3}}})
        assert desired.status_code == 200
        # Many updates in flight at once (written in batches): each acknowledged one is kept.
        device = Device(
            serve.port,
            credential["clientId"],
            V311,
            username=credential["username"],
            password=credential["password"],
        )
        assert device.connect() == 0
        mids = [device.send(topic, json.dumps({"state": {"reported": {"n": n}}})) for n in range(30)]
        assert [device.ack(mid) for mid in mids] == [0] * 30
        device.close()
        command = admin.post(f"/api/v1/things/{thing['id']}/commands", json={"action": "a", "ttl": 3600})
        assert command.status_code == 201
        short = admin.post(f"/api/v1/things/{thing['id']}/commands", json={"action": "b", "ttl": 1})
        assert short.status_code == 201
    serve.kill()
    serve.start()
    base = f"http://127.0.0.1:{serve.http_port}"
    with httpx.Client(base_url=base, auth=("t1/admin", "admin-pw"), timeout=30) as admin:
        shadow = admin.get(f"/api/v1/things/{thing['id']}/shadow").json()
        assert shadow["version"] == 33
        assert shadow["state"]["reported"] == {"value": 2, "n": 29} and shadow["state"]["desired"] == {"v": 3}
        again = admin.get(f"/api/v1/commands/{command.json()['executionId']}").json()
        assert again["status"] == "SENT" and again["action"] == "a"
        # The short command's ttl passed while the server was down: the restarted server's timer times it
        # out, seen as a Cumulocity operation (no Fleets read involved).
        operation = f"/devicecontrol/operations/{short.json()['executionId']}"
        status = admin.get(operation).json()["status"]
        for _ in range(200):
            if status == "FAILED":
                break
            time.sleep(0.05)
            status = admin.get(operation).json()["status"]
        assert status == "FAILED" and admin.get(operation).json()["failureReason"] == "TIMED_OUT"
