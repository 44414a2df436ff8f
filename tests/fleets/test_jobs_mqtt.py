"""Fleets jobs over MQTT on a real server (paho MQTT 5.0 and 3.1.1), both storage backends: AWS IoT's device
jobs API under $emqx/things/<name>/jobs (get, start-next, <jobId>/get with $next, <jobId>/update), its
rejections and error codes, and the notify / notify-next pushes."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from tests.fleets.conftest import ThingLogin, make_thing
from tests.mqtt_device import NOT_AUTHORIZED, PROTOCOL_IDS, PROTOCOLS, V5, Device, ServerMqtt
from tests.support import unique

JOBS = "/api/v1/jobs"


def jobs_topic(thing: ThingLogin, suffix: str) -> str:
    return f"$emqx/things/{thing.name}/jobs/{suffix}"


def connect(make: Callable[..., Device], mqtt: ServerMqtt, thing: ThingLogin, protocol: int = V5) -> Device:
    device = make(mqtt.port, thing.client_id, protocol, username=thing.username, password=thing.password)
    assert device.connect() == 0
    assert device.subscribe(jobs_topic(thing, "#")) == 1
    return device


def create_job(admin: httpx.Client, **body: Any) -> dict[str, Any]:
    response = admin.post(JOBS, json={"document": {"operation": "upgrade"}, **body})
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def request(device: Device, thing: ThingLogin, suffix: str, body: Any = None) -> tuple[str, dict[str, Any]]:
    """Publish a request; (accepted | rejected, the answer)."""
    payload = b"" if body is None else json.dumps(body).encode()
    assert device.publish(jobs_topic(thing, suffix), payload) == 0
    while True:
        message = device.get()
        if message.topic.startswith(jobs_topic(thing, suffix) + "/"):
            outcome = message.topic.rsplit("/", 1)[1]
            return outcome, json.loads(message.payload)
        device._messages.append(message)  # a notification: keep it for later
        if len(device._messages) > 50:
            raise AssertionError("no answer")


def take(device: Device, thing: ThingLogin, suffix: str) -> dict[str, Any]:
    found: dict[str, Any] = json.loads(device.get(jobs_topic(thing, suffix)).payload)
    return found


@pytest.mark.parametrize("protocol", PROTOCOLS, ids=PROTOCOL_IDS)
def test_device_flow(
    protocol: int, admin: httpx.Client, mqtt_server: ServerMqtt, mqtt_devices: Callable[..., Device]
) -> None:
    thing = make_thing(admin)
    device = connect(mqtt_devices, mqtt_server, thing, protocol)
    # Nothing pending.
    outcome, body = request(device, thing, "get", {"clientToken": "t0"})
    assert outcome == "accepted"
    assert body["inProgressJobs"] == [] and body["queuedJobs"] == [] and body["clientToken"] == "t0"
    outcome, body = request(device, thing, "start-next", {"clientToken": "t1"})
    assert outcome == "accepted" and "execution" not in body and body["clientToken"] == "t1"
    first = create_job(admin, targets={"thingNames": [thing.name]}, document={"v": 1})
    second = create_job(admin, targets={"thingNames": [thing.name]}, document={"v": 2})
    assert first["status"] == "IN_PROGRESS" and first["executionCounts"]["QUEUED"] == 1
    # notify after each job; notify-next only for the first (the next did not change with the second).
    notify = take(device, thing, "notify")
    assert [j["jobId"] for j in notify["jobs"]["QUEUED"]] == [first["jobId"]]
    following = take(device, thing, "notify-next")
    assert following["execution"]["jobId"] == first["jobId"]
    assert following["execution"]["jobDocument"] == {"v": 1}
    assert following["execution"]["status"] == "QUEUED" and following["execution"]["thingName"] == thing.name
    notify = take(device, thing, "notify")
    assert [j["jobId"] for j in notify["jobs"]["QUEUED"]] == [first["jobId"], second["jobId"]]
    assert device.none_within(0.3, jobs_topic(thing, "notify-next"))
    outcome, body = request(device, thing, "get")
    assert [j["jobId"] for j in body["queuedJobs"]] == [first["jobId"], second["jobId"]]
    summary = body["queuedJobs"][0]
    assert summary["versionNumber"] == 1 and summary["executionNumber"] == 1 and "queuedAt" in summary
    # $next before start: the first, with its document.
    outcome, body = request(device, thing, "$next/get", {"clientToken": "n"})
    assert outcome == "accepted" and body["execution"]["jobId"] == first["jobId"]
    assert body["execution"]["jobDocument"] == {"v": 1} and body["clientToken"] == "n"
    # Start the next: IN_PROGRESS with the details asked; version 2.
    start = {"statusDetails": {"step": "download"}, "clientToken": "s"}
    outcome, body = request(device, thing, "start-next", start)
    assert outcome == "accepted", body
    execution = body["execution"]
    assert execution["jobId"] == first["jobId"] and execution["status"] == "IN_PROGRESS"
    assert execution["statusDetails"] == {"step": "download"} and execution["versionNumber"] == 2
    assert execution["jobDocument"] == {"v": 1} and "startedAt" in execution
    # The pending list kept its members and its next: no notification.
    assert device.none_within(0.3, jobs_topic(thing, "notify"))
    outcome, body = request(device, thing, "get")
    assert [j["jobId"] for j in body["inProgressJobs"]] == [first["jobId"]]
    assert [j["jobId"] for j in body["queuedJobs"]] == [second["jobId"]]
    # A stale expectedVersion: VersionMismatch with the current state.
    stale = {"status": "SUCCEEDED", "expectedVersion": 1, "clientToken": "u0"}
    outcome, body = request(device, thing, f"{first['jobId']}/update", stale)
    assert outcome == "rejected" and body["code"] == "VersionMismatch" and body["clientToken"] == "u0"
    assert body["executionState"] == {
        "status": "IN_PROGRESS",
        "statusDetails": {"step": "download"},
        "versionNumber": 2,
    }
    done = {
        "status": "SUCCEEDED",
        "expectedVersion": 2,
        "statusDetails": {"step": "done"},
        "includeJobExecutionState": True,
        "includeJobDocument": True,
        "clientToken": "u1",
    }
    outcome, body = request(device, thing, f"{first['jobId']}/update", done)
    assert outcome == "accepted", body
    assert body["executionState"] == {
        "status": "SUCCEEDED",
        "statusDetails": {"step": "done"},
        "versionNumber": 3,
    }
    assert (
        body["jobDocument"] == {"v": 1} and body["clientToken"] == "u1" and isinstance(body["timestamp"], int)
    )
    # The list changed (the first left) and so did the next.
    notify = take(device, thing, "notify")
    assert notify["jobs"] == {"QUEUED": [notify["jobs"]["QUEUED"][0]]}
    assert notify["jobs"]["QUEUED"][0]["jobId"] == second["jobId"]
    assert take(device, thing, "notify-next")["execution"]["jobId"] == second["jobId"]
    # Back to IN_PROGRESS from SUCCEEDED: InvalidStateTransition (with the state).
    outcome, body = request(device, thing, f"{first['jobId']}/update", {"status": "IN_PROGRESS"})
    assert outcome == "rejected" and body["code"] == "InvalidStateTransition"
    assert body["executionState"]["status"] == "SUCCEEDED"
    # The finished one can still be described; the job is COMPLETED.
    outcome, body = request(device, thing, f"{first['jobId']}/get", {"includeJobDocument": False})
    assert outcome == "accepted" and body["execution"]["status"] == "SUCCEEDED"
    assert "jobDocument" not in body["execution"]
    job = admin.get(f"{JOBS}/{first['jobId']}").json()
    assert job["status"] == "COMPLETED" and job["executionCounts"]["SUCCEEDED"] == 1
    assert job["jobProcessDetails"]["numberOfSucceededThings"] == 1
    # The second straight from QUEUED to FAILED (AWS allows it); then nothing is pending.
    outcome, body = request(device, thing, f"{second['jobId']}/update", {"status": "FAILED"})
    assert outcome == "accepted" and body == {"timestamp": body["timestamp"]}
    assert take(device, thing, "notify")["jobs"] == {}
    assert "execution" not in take(device, thing, "notify-next")
    outcome, body = request(device, thing, "$next/get")
    assert outcome == "accepted" and "execution" not in body
    executions = admin.get(f"{JOBS}/{second['jobId']}/executions").json()
    assert executions["meta"]["count"] == 1 and executions["data"][0]["status"] == "FAILED"


@pytest.mark.parametrize("protocol", PROTOCOLS, ids=PROTOCOL_IDS)
def test_rejections(
    protocol: int, admin: httpx.Client, mqtt_server: ServerMqtt, mqtt_devices: Callable[..., Device]
) -> None:
    thing, other = make_thing(admin), make_thing(admin)
    device = connect(mqtt_devices, mqtt_server, thing, protocol)
    mine = create_job(admin, targets={"thingNames": [thing.name]})["jobId"]
    theirs = create_job(admin, targets={"thingNames": [other.name]})["jobId"]
    take(device, thing, "notify")
    take(device, thing, "notify-next")

    def rejected(suffix: str, payload: Any, code: str) -> dict[str, Any]:
        assert device.publish(jobs_topic(thing, suffix), payload) == 0
        body: dict[str, Any] = json.loads(device.get(jobs_topic(thing, suffix) + "/rejected").payload)
        assert body["code"] == code, (suffix, payload, body)
        assert isinstance(body["message"], str) and isinstance(body["timestamp"], int)
        return body

    rejected("get", b"{", "InvalidJson")
    rejected("start-next", b"[1]", "InvalidJson")
    body = rejected(
        "start-next", json.dumps({"stepTimeoutInMinutes": 0, "clientToken": "c"}), "InvalidRequest"
    )
    assert body["clientToken"] == "c"
    rejected("start-next", json.dumps({"statusDetails": {"k": 1}}), "InvalidRequest")
    rejected("start-next", json.dumps({"statusDetails": {"bad key": "v"}}), "InvalidRequest")
    rejected("get", json.dumps({"clientToken": "x" * 65}), "InvalidRequest")
    rejected(f"{mine}/update", json.dumps({"status": "QUEUED"}), "InvalidRequest")
    rejected(f"{mine}/update", json.dumps({"status": "CANCELED"}), "InvalidRequest")
    rejected(
        f"{mine}/update", json.dumps({"status": "IN_PROGRESS", "expectedVersion": "1"}), "InvalidRequest"
    )
    rejected("$next/update", json.dumps({"status": "SUCCEEDED"}), "InvalidRequest")
    # Unknown jobs, another thing's job, a wrong execution number.
    body = rejected("nope/get", json.dumps({"clientToken": "nf"}), "ResourceNotFound")
    assert body["clientToken"] == "nf" and "executionState" not in body
    rejected(f"{theirs}/get", b"", "ResourceNotFound")
    rejected(f"{theirs}/update", json.dumps({"status": "SUCCEEDED"}), "ResourceNotFound")
    rejected(f"{mine}/get", json.dumps({"executionNumber": 2}), "ResourceNotFound")
    # Topics of the namespace that are no request.
    rejected("frobnicate", b"{}", "InvalidTopic")
    rejected(f"{mine}/delete", b"{}", "InvalidTopic")
    # Another thing's topics: not this client's to use.
    assert device.publish(jobs_topic(other, "get"), b"{}") == (NOT_AUTHORIZED if protocol == V5 else 0)
    # None of it changed the execution.
    execution = admin.get(f"{JOBS}/{mine}/executions/{thing.name}").json()
    assert execution["status"] == "QUEUED" and execution["versionNumber"] == 1
    # A canceled execution: the device's update is TerminalStateReached.
    canceled = admin.post(f"{JOBS}/{mine}/executions/{thing.name}/cancel")
    assert canceled.status_code == 200 and canceled.json()["status"] == "CANCELED"
    body = rejected(f"{mine}/update", json.dumps({"status": "SUCCEEDED"}), "TerminalStateReached")
    assert body["executionState"]["status"] == "CANCELED"


def test_group_targets_and_operator_api(
    admin: httpx.Client, mqtt_server: ServerMqtt, mqtt_devices: Callable[..., Device]
) -> None:
    group = unique("grp-")
    assert admin.post("/api/v1/thing-groups", json={"name": group}).status_code == 201
    members = [make_thing(admin, groups=[group]) for _ in range(3)]
    loner = make_thing(admin)
    devices = [connect(mqtt_devices, mqtt_server, t) for t in members]
    job = create_job(
        admin,
        jobId=unique("job-"),
        description="firmware 2",
        targets={"thingNames": [loner.name, members[0].name], "thingGroupNames": [group]},
    )
    assert job["executionCounts"]["QUEUED"] == 4 and job["type"] == "SNAPSHOT"
    assert job["targets"] == {"thingNames": [loner.name, members[0].name], "thingGroupNames": [group]}
    for device, thing in zip(devices, members, strict=True):
        assert take(device, thing, "notify-next")["execution"]["jobId"] == job["jobId"]
    # The same id twice: 409.
    again = admin.post(
        JOBS, json={"jobId": job["jobId"], "document": {}, "targets": {"thingNames": [loner.name]}}
    )
    assert again.status_code == 409
    listed = admin.get(JOBS, params={"limit": 1000}).json()
    assert job["jobId"] in [j["jobId"] for j in listed["data"]]
    executions = admin.get(f"{JOBS}/{job['jobId']}/executions", params={"status": "QUEUED"}).json()
    assert sorted(e["thingName"] for e in executions["data"]) == sorted(
        [loner.name, *(t.name for t in members)]
    )
    # Cancel without force: QUEUED ones are canceled; one IN_PROGRESS stays.
    outcome, body = request(devices[0], members[0], "start-next")
    assert outcome == "accepted" and body["execution"]["status"] == "IN_PROGRESS"
    canceled = admin.post(f"{JOBS}/{job['jobId']}/cancel", json={"comment": "stop"})
    assert canceled.status_code == 200, canceled.text
    after = canceled.json()
    assert after["status"] == "CANCELED" and after["comment"] == "stop"
    assert after["executionCounts"]["CANCELED"] == 3 and after["executionCounts"]["IN_PROGRESS"] == 1
    assert "execution" not in take(devices[1], members[1], "notify-next")
    assert admin.post(f"{JOBS}/{job['jobId']}/cancel").status_code == 409
    # The one IN_PROGRESS: refused without force, canceled with it.
    path = f"{JOBS}/{job['jobId']}/executions/{members[0].name}/cancel"
    assert admin.post(path).status_code == 409
    forced = admin.post(path, json={"force": True})
    assert forced.status_code == 200 and forced.json()["status"] == "CANCELED"
    assert admin.post(path, json={"force": True}).status_code == 409
    # Bad bodies and unknown names.
    for bad in (
        {},
        {"document": {}, "targets": {}},
        {"document": [], "targets": {"thingNames": [loner.name]}},
        {"document": {}, "targets": {"thingNames": ["no-such-thing"]}},
        {"document": {}, "targets": {"thingGroupNames": ["no such group"]}},
        {"document": {}, "targets": {"thingNames": [loner.name]}, "type": "ONCE"},
        {
            "document": {},
            "targets": {"thingNames": [loner.name]},
            "timeoutConfig": {"inProgressTimeoutInMinutes": 0},
        },
        {"document": {}, "targets": {"thingNames": [loner.name]}, "stepTimeoutInMinutes": 10081},
        {"document": {}, "targets": {"thingNames": [loner.name]}, "jobId": "a/b"},
        {"document": {"x": "y" * 40_000}, "targets": {"thingNames": [loner.name]}},
    ):
        response = admin.post(JOBS, json=bad)
        assert 400 <= response.status_code < 500, (bad, response.text)
    assert admin.get(f"{JOBS}/nope").status_code == 404
    assert admin.get(f"{JOBS}/nope/executions").status_code == 404
    assert admin.get(f"{JOBS}/{job['jobId']}/executions/nobody").status_code == 404
    assert admin.get(f"{JOBS}/{job['jobId']}/executions", params={"status": "DONE"}).status_code == 400


@pytest.mark.parametrize("protocol", PROTOCOLS, ids=PROTOCOL_IDS)
def test_notifications_reach_a_persistent_session(
    protocol: int, admin: httpx.Client, mqtt_server: ServerMqtt, mqtt_devices: Callable[..., Device]
) -> None:
    thing = make_thing(admin)
    device = mqtt_devices(
        mqtt_server.port,
        thing.client_id,
        protocol,
        username=thing.username,
        password=thing.password,
        session_expiry=600,
    )
    assert device.connect() == 0
    assert device.subscribe(jobs_topic(thing, "notify-next")) == 1
    device.close()
    job = create_job(admin, targets={"thingNames": [thing.name]})
    back = mqtt_devices(
        mqtt_server.port,
        thing.client_id,
        protocol,
        username=thing.username,
        password=thing.password,
        session_expiry=600,
    )
    assert back.connect() == 0 and back.session_present()
    assert take(back, thing, "notify-next")["execution"]["jobId"] == job["jobId"]
