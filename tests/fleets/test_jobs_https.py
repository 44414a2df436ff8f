"""Fleets jobs over HTTPS (httpx) on a real server, both storage backends: the ThingDatas jobs requests of a
device (API key), CONTINUOUS jobs reaching things that join a target group later (and REMOVED for those that
leave), and tenant isolation."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import httpx
from tests.fleets.conftest import ThingLogin, make_thing
from tests.fleets.test_jobs_mqtt import connect, create_job, take
from tests.mqtt_device import Device, ServerMqtt
from tests.support import ServerThread, unique

from tether.tenants.models import Role

JOBS = "/api/v1/jobs"
DATAS = "/api/v1/thing-datas/jobs"


def eventually(read: Callable[[], Any], want: Any) -> Any:
    value = read()
    for _ in range(300):
        if value == want:
            break
        time.sleep(0.05)
        value = read()
    return value


def test_thing_datas_jobs(
    server: ServerThread, admin: httpx.Client, mqtt_server: ServerMqtt, mqtt_devices: Callable[..., Device]
) -> None:
    thing = make_thing(admin)
    # The device also listens over MQTT: HTTPS changes notify it too.
    device = connect(mqtt_devices, mqtt_server, thing)
    job = create_job(admin, targets={"thingNames": [thing.name]}, document={"url": "https://x/fw.bin"})
    take(device, thing, "notify")
    take(device, thing, "notify-next")
    key = admin.post("/api/v5/api_key", json={"name": unique("k")}).json()
    with httpx.Client(base_url=server.url, auth=(key["api_key"], key["api_secret"]), timeout=30) as client:
        got = client.post(f"{DATAS}/get", json={"thingName": thing.name, "clientToken": "g"})
        assert got.status_code == 200, got.text
        body = got.json()
        assert [j["jobId"] for j in body["queuedJobs"]] == [job["jobId"]] and body["clientToken"] == "g"
        started = client.post(
            f"{DATAS}/start-next", json={"thingName": thing.name, "stepTimeoutInMinutes": 5}
        )
        assert started.status_code == 200, started.text
        execution = started.json()["execution"]
        assert execution["status"] == "IN_PROGRESS" and execution["jobDocument"] == {
            "url": "https://x/fw.bin"
        }
        described = client.post(f"{DATAS}/$next/get", json={"thingName": thing.name})
        assert described.json()["execution"]["jobId"] == job["jobId"]
        # Rejections: AWS's body with the family's status.
        stale = {"thingName": thing.name, "status": "SUCCEEDED", "expectedVersion": 1, "clientToken": "v"}
        conflict = client.post(f"{DATAS}/{job['jobId']}/update", json=stale)
        assert conflict.status_code == 409
        assert conflict.json()["code"] == "VersionMismatch" and conflict.json()["clientToken"] == "v"
        assert conflict.json()["executionState"]["versionNumber"] == 2
        missing = client.post(f"{DATAS}/nope/update", json={"thingName": thing.name, "status": "FAILED"})
        assert missing.status_code == 404 and missing.json()["code"] == "ResourceNotFound"
        nobody = client.post(f"{DATAS}/get", json={"thingName": "no-such-thing"})
        assert nobody.status_code == 404 and nobody.json()["code"] == "ResourceNotFound"
        bad = client.post(f"{DATAS}/get", content=b"{", headers={"content-type": "application/json"})
        assert bad.status_code == 400 and bad.json()["code"] == "InvalidJson"
        bad = client.post(f"{DATAS}/get", json={"thingName": "a/b"})
        assert bad.status_code == 400 and bad.json()["code"] == "InvalidRequest"
        bad = client.post(f"{DATAS}/{job['jobId']}/update", json={"thingName": thing.name, "status": "DONE"})
        assert bad.status_code == 400 and bad.json()["code"] == "InvalidRequest"
        done = {
            "thingName": thing.name,
            "status": "SUCCEEDED",
            "expectedVersion": 2,
            "includeJobExecutionState": True,
        }
        updated = client.post(f"{DATAS}/{job['jobId']}/update", json=done)
        assert updated.status_code == 200, updated.text
        assert updated.json()["executionState"]["status"] == "SUCCEEDED"
        again = client.post(f"{DATAS}/{job['jobId']}/update", json={**done, "expectedVersion": 3})
        assert again.status_code == 409 and again.json()["code"] == "InvalidStateTransition"
    # The MQTT side heard of the HTTPS update.
    assert take(device, thing, "notify")["jobs"] == {}
    assert "execution" not in take(device, thing, "notify-next")
    assert admin.get(f"{JOBS}/{job['jobId']}").json()["status"] == "COMPLETED"
    # No credentials, or a device's: refused as the family refuses.
    assert httpx.post(server.url + f"{DATAS}/get", json={"thingName": thing.name}).status_code == 401


def test_continuous_job_reaches_late_joiners(
    admin: httpx.Client, mqtt_server: ServerMqtt, mqtt_devices: Callable[..., Device]
) -> None:
    group = admin.post("/api/v1/thing-groups", json={"name": unique("fleet ")}).json()
    early = make_thing(admin, groups=[group["name"]])
    continuous = create_job(admin, type="CONTINUOUS", targets={"thingGroupNames": [group["name"]]})
    snapshot = create_job(admin, targets={"thingGroupNames": [group["name"]]})
    assert continuous["executionCounts"]["QUEUED"] == 1 and snapshot["executionCounts"]["QUEUED"] == 1
    # A thing that exists (and is connected) joins the group: it gets the CONTINUOUS job only, and a notify.
    late = make_thing(admin)
    device = connect(mqtt_devices, mqtt_server, late)
    added = admin.post(f"/api/v1/thing-groups/{group['id']}/things", json={"thingIds": [late.id]})
    assert added.status_code == 204
    notify = take(device, late, "notify")
    assert [j["jobId"] for j in notify["jobs"]["QUEUED"]] == [continuous["jobId"]]
    assert take(device, late, "notify-next")["execution"]["jobId"] == continuous["jobId"]
    # A thing created in the group is reached too.
    newborn = make_thing(admin, groups=[group["name"]])

    def counts() -> dict[str, int]:
        found: dict[str, int] = admin.get(f"{JOBS}/{continuous['jobId']}").json()["executionCounts"]
        return found

    assert eventually(lambda: counts()["QUEUED"], 3) == 3
    assert admin.get(f"{JOBS}/{continuous['jobId']}").json()["status"] == "IN_PROGRESS"
    assert admin.get(f"{JOBS}/{snapshot['jobId']}").json()["executionCounts"]["QUEUED"] == 1
    # Leaving the group: its QUEUED execution is REMOVED (and the device told).
    removed = admin.delete(f"/api/v1/thing-groups/{group['id']}/things/{late.id}")
    assert removed.status_code == 204
    assert take(device, late, "notify")["jobs"] == {}
    assert "execution" not in take(device, late, "notify-next")
    assert eventually(lambda: counts()["REMOVED"], 1) == 1
    execution = admin.get(f"{JOBS}/{continuous['jobId']}/executions/{late.name}").json()
    assert execution["status"] == "REMOVED"
    # Joining again does not queue it twice (one execution per thing and job).
    admin.post(f"/api/v1/thing-groups/{group['id']}/things", json={"thingIds": [late.id]})
    time.sleep(0.3)
    assert counts()["REMOVED"] == 1 and counts()["QUEUED"] == 2
    # Deleting a thing: its pending executions are REMOVED.
    assert admin.delete(f"/api/v1/things/{newborn.id}").status_code == 204
    assert eventually(lambda: counts()["REMOVED"], 2) == 2
    # Canceled: no later joiner is reached.
    assert admin.post(f"{JOBS}/{continuous['jobId']}/cancel").status_code == 200
    time.sleep(0.1)
    make_thing(admin, groups=[group["name"]])
    time.sleep(0.5)
    final = counts()
    assert sum(final.values()) == 3 and final["CANCELED"] == 1
    assert admin.get(f"{JOBS}/{continuous['jobId']}/executions/{early.name}").json()["status"] == "CANCELED"


def test_tenant_isolation(server: ServerThread, admin: httpx.Client) -> None:
    thing = make_thing(admin)
    job = create_job(admin, targets={"thingNames": [thing.name]})
    tenants = server.platform.services.tenants
    other = unique("ten")
    server.call(tenants.create_tenant(other))
    server.call(tenants.create_user(other, "boss", "boss-secret-1", {Role.ADMIN}))
    with httpx.Client(base_url=server.url, auth=(f"{other}/boss", "boss-secret-1"), timeout=30) as client:
        assert client.get(f"{JOBS}/{job['jobId']}").status_code == 404
        assert client.get(f"{JOBS}/{job['jobId']}/executions").status_code == 404
        assert client.post(f"{JOBS}/{job['jobId']}/cancel").status_code == 404
        assert job["jobId"] not in [j["jobId"] for j in client.get(JOBS).json()["data"]]
        # t1's thing is unknown here, by name.
        refused = client.post(JOBS, json={"document": {}, "targets": {"thingNames": [thing.name]}})
        assert refused.status_code == 400
        nobody = client.post(f"{DATAS}/get", json={"thingName": thing.name})
        assert nobody.status_code == 404
        # The same job id may exist in both tenants.
        mine = client.post(JOBS, json={"jobId": job["jobId"], "document": {}, "targets": {"thingNames": []}})
        assert mine.status_code == 400  # no target
        named = make_thing(client, name=thing.name)
        mine = client.post(
            JOBS, json={"jobId": job["jobId"], "document": {"o": 1}, "targets": {"thingNames": [named.name]}}
        )
        assert mine.status_code == 201, mine.text
    # t1's job is untouched.
    assert admin.get(f"{JOBS}/{job['jobId']}").json()["document"] == {"operation": "upgrade"}
    executions = admin.get(f"{JOBS}/{job['jobId']}/executions").json()
    assert [e["thingName"] for e in executions["data"]] == [thing.name]
    assert json.dumps(executions["data"][0]["deviceId"]) == json.dumps(thing.device_id)


_ = ThingLogin
