"""Job timers on a real server, both storage backends, with a fake clock and explicit timer steps (no
sleeping): the step timer (set by start-next, reset by an IN_PROGRESS update, removed by -1), the job's
in-progress timeout, the job's default step timeout, and deadlines that survive a restart."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.fleets.conftest import make_thing
from tests.fleets.test_jobs_mqtt import create_job, jobs_topic
from tests.mqtt_device import V5, Device
from tests.support import ADMIN_PASSWORD, ServerThread, backends, start_server

JOBS = "/api/v1/jobs"
MINUTE = 60_000


class FakeClock:
    def __init__(self) -> None:
        self.now = int(time.time() * 1000)

    def __call__(self) -> int:
        return self.now


def use_clock(server: ServerThread, clock: FakeClock) -> None:
    server.platform.services.jobs.clock = clock


def tick(server: ServerThread) -> int:
    timed_out: int = server.call(server.platform.services.jobs.tick())
    return timed_out


@pytest.fixture(params=backends())
def restartable(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[list[ServerThread]]:
    servers = [start_server(request.param, tmp_path)]
    yield servers
    servers[-1].stop()


def _admin(server: ServerThread) -> httpx.Client:
    return httpx.Client(base_url=server.url, auth=("t1/admin", ADMIN_PASSWORD), timeout=30)


def _device(server: ServerThread, thing: Any) -> Device:
    port = int(server.platform.services.readiness.addresses["mqtt"].rsplit(":", 1)[1])
    device = Device(port, thing.client_id, V5, username=thing.username, password=thing.password)
    assert device.connect() == 0
    assert device.subscribe(jobs_topic(thing, "#")) == 1
    return device


def _ask(device: Device, thing: Any, suffix: str, body: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    assert device.publish(jobs_topic(thing, suffix), json.dumps(body)) == 0
    for _ in range(50):
        message = device.get()
        if message.topic.startswith(jobs_topic(thing, suffix) + "/"):
            return message.topic.rsplit("/", 1)[1], json.loads(message.payload)
    raise AssertionError("no answer")


def _status(admin: httpx.Client, job: dict[str, Any], name: str) -> str:
    status: str = admin.get(f"{JOBS}/{job['jobId']}/executions/{name}").json()["status"]
    return status


def test_step_and_in_progress_timers(restartable: list[ServerThread]) -> None:
    server = restartable[0]
    clock = FakeClock()
    use_clock(server, clock)
    with _admin(server) as admin:
        thing = make_thing(admin)
        device = _device(server, thing)
        stepped = create_job(admin, targets={"thingNames": [thing.name]})
        # start-next with a step timer of 1 minute.
        outcome, body = _ask(device, thing, "start-next", {"stepTimeoutInMinutes": 1})
        assert outcome == "accepted" and body["execution"]["jobId"] == stepped["jobId"]
        assert admin.get(f"{JOBS}/{stepped['jobId']}/executions/{thing.name}").json()["timesOutAt"]
        # Reset by an IN_PROGRESS update with a new step timer (2 minutes from now).
        clock.now += 50_000
        outcome, body = _ask(
            device, thing, f"{stepped['jobId']}/update", {"status": "IN_PROGRESS", "stepTimeoutInMinutes": 2}
        )
        assert outcome == "accepted", body
        clock.now += 61_000
        assert tick(server) == 0
        assert _status(admin, stepped, thing.name) == "IN_PROGRESS"
        clock.now += 60_000
        assert tick(server) == 1
        assert _status(admin, stepped, thing.name) == "TIMED_OUT"
        # The device's late update: the platform ended it (TerminalStateReached).
        outcome, body = _ask(device, thing, f"{stepped['jobId']}/update", {"status": "SUCCEEDED"})
        assert outcome == "rejected" and body["code"] == "TerminalStateReached"
        assert body["executionState"]["status"] == "TIMED_OUT"
        job = admin.get(f"{JOBS}/{stepped['jobId']}").json()
        assert job["status"] == "COMPLETED" and job["jobProcessDetails"]["numberOfTimedOutThings"] == 1
        # The job's in-progress timeout (3 minutes) holds even when the step timer is removed (-1).
        bounded = create_job(
            admin, targets={"thingNames": [thing.name]}, timeoutConfig={"inProgressTimeoutInMinutes": 3}
        )
        outcome, body = _ask(device, thing, "start-next", {"stepTimeoutInMinutes": 1})
        assert body["execution"]["jobId"] == bounded["jobId"]
        outcome, body = _ask(
            device, thing, f"{bounded['jobId']}/update", {"status": "IN_PROGRESS", "stepTimeoutInMinutes": -1}
        )
        assert outcome == "accepted"
        clock.now += 2 * MINUTE
        assert tick(server) == 0
        clock.now += MINUTE + 1
        assert tick(server) == 1
        assert _status(admin, bounded, thing.name) == "TIMED_OUT"
        # The job's default step timeout applies when start-next names none; read after the deadline, the
        # execution is timed out at once (no timer step needed).
        default = create_job(admin, targets={"thingNames": [thing.name]}, stepTimeoutInMinutes=5)
        outcome, body = _ask(device, thing, "start-next", {})
        assert body["execution"]["jobId"] == default["jobId"]
        clock.now += 5 * MINUTE
        outcome, body = _ask(device, thing, "get", {})
        assert body["inProgressJobs"] == [] and body["queuedJobs"] == []
        assert _status(admin, default, thing.name) == "TIMED_OUT"
        # A QUEUED execution has no timer.
        waiting = create_job(admin, targets={"thingNames": [thing.name]}, stepTimeoutInMinutes=1)
        clock.now += 10 * MINUTE
        assert tick(server) == 0 and _status(admin, waiting, thing.name) == "QUEUED"
        device.close()


def test_deadlines_survive_a_restart(restartable: list[ServerThread]) -> None:
    server = restartable[0]
    with _admin(server) as admin:
        thing = make_thing(admin)
        job = create_job(
            admin, targets={"thingNames": [thing.name]}, timeoutConfig={"inProgressTimeoutInMinutes": 1}
        )
        device = _device(server, thing)
        outcome, body = _ask(device, thing, "start-next", {"stepTimeoutInMinutes": 10})
        assert outcome == "accepted" and body["execution"]["status"] == "IN_PROGRESS"
        device.close()
    server.stop()
    again = ServerThread(server.server.settings).start()
    restartable.append(again)
    clock = FakeClock()
    use_clock(again, clock)
    with _admin(again) as admin:
        assert _status(admin, job, thing.name) == "IN_PROGRESS"
        assert tick(again) == 0
        clock.now += MINUTE + 1_000
        # The new process's timer finds the stored deadline.
        assert tick(again) == 1
        assert _status(admin, job, thing.name) == "TIMED_OUT"
        assert admin.get(f"{JOBS}/{job['jobId']}").json()["status"] == "COMPLETED"
