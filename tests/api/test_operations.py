"""/devicecontrol/operations over HTTP against a real server: shapes, agent routing, the status
lifecycle, filters, bulk delete, access rules, domain events and the c8y-api client."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from c8y_api import CumulocityApi
from c8y_api.model import Device, Operation
from tests.support import ADMIN_PASSWORD, BOOTSTRAP_PASSWORD, ServerThread

from tether.c8y import render
from tether.core.events import DomainEvent
from tether.operations.models import TRANSITIONS, OperationStatus
from tether.tenants.models import Role

OPS = "/devicecontrol/operations"
MO = "/inventory/managedObjects"
VENDOR_OP = "application/vnd.com.nsn.cumulocity.operation+json"
VENDOR_OPS = "application/vnd.com.nsn.cumulocity.operationCollection+json"
S = OperationStatus
_names = itertools.count()


def unique(prefix: str) -> str:
    return f"{prefix}-{next(_names)}"


def create_mo(client: httpx.Client, **document: Any) -> str:
    response = client.post(MO, json={"name": unique("mo"), "c8y_IsDevice": {}, **document})
    assert response.status_code == 201, response.text
    mo_id: str = response.json()["id"]
    return mo_id


def link(client: httpx.Client, parent: str, child: str) -> None:
    response = client.post(f"{MO}/{parent}/childDevices", json={"managedObject": {"id": child}})
    assert response.status_code == 201, response.text


def create_op(client: httpx.Client, device_id: str, **fragments: Any) -> dict[str, Any]:
    response = client.post(OPS, json={"deviceId": device_id, **fragments})
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def listed(client: httpx.Client, **params: Any) -> list[str]:
    response = client.get(OPS, params={"pageSize": 2000, **params})
    assert response.status_code == 200, response.text
    return [op["id"] for op in response.json()["operations"]]


def total(client: httpx.Client) -> int:
    stats = client.get(OPS, params={"pageSize": 1, "withTotalElements": "true"}).json()["statistics"]
    count: int = stats["totalElements"]
    return count


def assert_error(response: httpx.Response, status: int, error: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert body["error"] == error
    assert isinstance(body["message"], str) and body["message"]
    assert "info" in body
    return body


def drive(client: httpx.Client, op_id: str, *path: S) -> None:
    for status in path:
        response = client.put(f"{OPS}/{op_id}", json={"status": status.value})
        assert response.status_code == 200, response.text


# Statuses on the way to each status, from PENDING.
PATH_TO = {
    S.PENDING: (),
    S.EXECUTING: (S.EXECUTING,),
    S.SUCCESSFUL: (S.EXECUTING, S.SUCCESSFUL),
    S.FAILED: (S.EXECUTING, S.FAILED),
}


@pytest.fixture(scope="module")
def device_user(server: ServerThread) -> tuple[str, str]:
    server.call(server.platform.services.tenants.create_user("t1", "device_ops", "ops-secret", {Role.DEVICE}))
    return ("t1/device_ops", "ops-secret")


@pytest.fixture(scope="module")
def other_tenant(server: ServerThread) -> tuple[str, str]:
    tenants = server.platform.services.tenants
    server.call(tenants.create_tenant("t3"))
    server.call(tenants.create_user("t3", "admin", "t3-secret", {Role.ADMIN}))
    return ("t3/admin", "t3-secret")


@pytest.fixture
def events(server: ServerThread) -> Iterator[list[DomainEvent]]:
    seen: list[DomainEvent] = []
    lock = threading.Lock()

    def handler(event: DomainEvent) -> None:
        if event.resource == "operations":
            with lock:
                seen.append(event)

    unsubscribe = server.call(_subscribe(server, handler))
    yield seen
    server.call(_unsubscribe(unsubscribe))


async def _subscribe(server: ServerThread, handler: Any) -> Any:
    return server.platform.services.events.subscribe(handler)  # on the server's loop: no race with publishers


async def _unsubscribe(unsubscribe: Any) -> None:
    unsubscribe()


def test_create_returns_201_location_and_document(admin: httpx.Client) -> None:
    device = create_mo(admin)
    response = admin.post(
        OPS,
        content=b'{"deviceId": "%s", "description": "Restart", "c8y_Restart": {}}' % device.encode(),
        headers={"Content-Type": VENDOR_OP, "Accept": VENDOR_OP},
    )
    assert response.status_code == 201
    assert response.headers["content-type"].startswith(VENDOR_OP)
    body = response.json()
    assert response.headers["location"] == body["self"] == f"{admin.base_url}{OPS}/{body['id']}"
    assert body == {
        "id": body["id"],
        "self": body["self"],
        "deviceId": device,
        "status": "PENDING",
        "creationTime": body["creationTime"],
        "description": "Restart",
        "c8y_Restart": {},
    }
    assert body["id"].isdigit() and body["creationTime"].endswith("Z")
    assert admin.get(f"{OPS}/{body['id']}").json() == body
    # Read-only fields a client sends are not stored as fragments; the server owns them.
    echoed = create_op(
        admin,
        device,
        status="SUCCESSFUL",
        id="1",
        creationTime="2000-01-01T00:00:00Z",
        c8y_Command={"text": "ls"},
    )
    assert (
        echoed["status"] == "PENDING"
        and echoed["id"] != "1"
        and echoed["creationTime"] != "2000-01-01T00:00:00Z"
    )
    assert echoed["c8y_Command"] == {"text": "ls"}


def test_numeric_device_id_and_null_fragments(admin: httpx.Client) -> None:
    device = create_mo(admin)
    body = admin.post(OPS, json={"deviceId": int(device), "c8y_Restart": {}, "gone": None}).json()
    assert body["deviceId"] == device and "gone" not in body


def test_operations_are_routed_to_the_nearest_agent(admin: httpx.Client) -> None:
    gateway = create_mo(admin, com_cumulocity_model_Agent={})
    child = create_mo(admin)
    grandchild = create_mo(admin)
    sub_agent = create_mo(admin, com_cumulocity_model_Agent={})
    behind_sub_agent = create_mo(admin)
    lonely = create_mo(admin)
    link(admin, gateway, child)
    link(admin, child, grandchild)
    link(admin, gateway, sub_agent)
    link(admin, sub_agent, behind_sub_agent)

    to_gateway = [create_op(admin, d, c8y_Restart={})["id"] for d in (gateway, child, grandchild)]
    to_sub_agent = [create_op(admin, d, c8y_Restart={})["id"] for d in (sub_agent, behind_sub_agent)]
    to_itself = create_op(admin, lonely, c8y_Restart={})["id"]

    assert listed(admin, agentId=gateway) == to_gateway
    assert listed(admin, agentId=sub_agent) == to_sub_agent
    assert listed(admin, agentId=child) == []  # a child without the agent fragment executes nothing
    assert listed(admin, agentId=lonely) == [to_itself]  # no agent anywhere: the device itself
    assert listed(admin, deviceId=grandchild) == [to_gateway[2]]


def test_device_integration_steps_6_and_7(admin: httpx.Client) -> None:
    """Steps 6-7 of Cumulocity's REST device integration (c8y-docs `device-integration-rest`): finish
    EXECUTING operations after a restart, then execute PENDING ones."""
    agent = create_mo(admin, com_cumulocity_model_Agent={}, c8y_SupportedOperations=["c8y_Restart"])
    restart = create_op(admin, agent, c8y_Restart={})
    drive(admin, restart["id"], S.EXECUTING)
    config = create_op(admin, agent, description="Configuration update", c8y_Configuration={"config": "a=1"})

    response = admin.get(
        OPS, params={"agentId": agent, "status": "EXECUTING"}, headers={"Accept": VENDOR_OPS}
    )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith(VENDOR_OPS)
    body = response.json()
    assert [op["id"] for op in body["operations"]] == [restart["id"]]
    assert body["operations"][0] == {**restart, "status": "EXECUTING"}
    assert body["statistics"] == {"currentPage": 1, "pageSize": 5}
    assert body["self"].startswith(f"{admin.base_url}{OPS}?") and "agentId=" + agent in body["self"]

    done = admin.put(f"{OPS}/{restart['id']}", json={"status": "SUCCESSFUL"}, headers={"Accept": VENDOR_OP})
    assert done.status_code == 200 and done.headers["content-type"].startswith(VENDOR_OP)
    assert done.json()["status"] == "SUCCESSFUL"
    assert listed(admin, agentId=agent, status="EXECUTING") == []

    pending = admin.get(OPS, params={"agentId": agent, "status": "PENDING"}).json()["operations"]
    assert pending == [config]
    drive(admin, config["id"], S.EXECUTING)
    result = admin.put(
        f"{OPS}/{config['id']}", json={"status": "FAILED", "failureReason": "Unknown key 'a'"}
    ).json()
    assert result["status"] == "FAILED" and result["failureReason"] == "Unknown key 'a'"
    assert (
        result["c8y_Configuration"] == {"config": "a=1"} and result["description"] == "Configuration update"
    )


def test_every_allowed_transition(admin: httpx.Client) -> None:
    device = create_mo(admin)
    for current, following in TRANSITIONS.items():
        for new in following:
            op = create_op(admin, device, c8y_Restart={})
            drive(admin, op["id"], *PATH_TO[current])
            response = admin.put(f"{OPS}/{op['id']}", json={"status": new.value})
            assert response.status_code == 200, (current, new, response.text)
            assert response.json()["status"] == new.value


@pytest.mark.parametrize(
    ("current", "new"),
    [(c, n) for c in S for n in S if n is not c and n not in TRANSITIONS[c]],
    ids=lambda s: str(s),
)
def test_every_other_transition_is_422(admin: httpx.Client, current: S, new: S) -> None:
    device = create_mo(admin)
    op = create_op(admin, device, c8y_Restart={})
    drive(admin, op["id"], *PATH_TO[current])
    before = admin.get(f"{OPS}/{op['id']}").json()
    body = assert_error(
        admin.put(f"{OPS}/{op['id']}", json={"status": new.value, "c8y_Result": {"x": 1}}),
        422,
        "devicecontrol/Unprocessable Entity",
    )
    assert current.value in body["message"] and new.value in body["message"]
    assert admin.get(f"{OPS}/{op['id']}").json() == before  # nothing of the update was applied


def test_the_issue_transitions_are_exactly_these() -> None:
    allowed = {(c, n) for c, following in TRANSITIONS.items() for n in following}
    assert allowed == {
        (S.PENDING, S.EXECUTING),
        (S.PENDING, S.FAILED),
        (S.EXECUTING, S.SUCCESSFUL),
        (S.EXECUTING, S.FAILED),
    }


def test_repeating_the_status_is_idempotent_and_merges_fragments(admin: httpx.Client) -> None:
    device = create_mo(admin)
    op = create_op(admin, device, c8y_Command={"text": "uptime"}, note="x")
    drive(admin, op["id"], S.EXECUTING, S.EXECUTING)
    url = f"{OPS}/{op['id']}"
    body = admin.put(
        url, json={"status": "SUCCESSFUL", "c8y_Command": {"text": "uptime", "result": "up 3 days"}}
    )
    assert body.status_code == 200
    again = admin.put(url, json={"status": "SUCCESSFUL", "note": None}).json()
    assert again["status"] == "SUCCESSFUL" and again["c8y_Command"]["result"] == "up 3 days"
    assert "note" not in again and again["deviceId"] == device
    # Fragments alone (no status) are merged too; read-only fields are ignored.
    only = admin.put(url, json={"extra": 1, "deviceId": "1", "id": "2"}).json()
    assert only["extra"] == 1 and only["deviceId"] == device and only["id"] == op["id"]


def test_failure_reason_goes_with_failed(admin: httpx.Client) -> None:
    device = create_mo(admin)
    op = create_op(admin, device, c8y_Restart={})
    url = f"{OPS}/{op['id']}"
    assert_error(
        admin.put(url, json={"status": "EXECUTING", "failureReason": "x"}),
        422,
        "devicecontrol/Unprocessable Entity",
    )
    assert_error(
        admin.put(url, json={"status": "FAILED", "failureReason": 5}),
        422,
        "devicecontrol/Unprocessable Entity",
    )
    assert admin.get(url).json()["status"] == "PENDING"
    drive(admin, op["id"], S.EXECUTING)
    failed_with_reason = admin.put(url, json={"status": "FAILED", "failureReason": "Disk full"}).json()
    assert failed_with_reason["status"] == "FAILED" and failed_with_reason["failureReason"] == "Disk full"
    assert admin.get(url).json() == failed_with_reason
    plain = create_op(admin, device, c8y_Restart={})
    drive(admin, plain["id"], S.EXECUTING)
    failed = admin.put(f"{OPS}/{plain['id']}", json={"status": "FAILED"}).json()
    assert failed["status"] == "FAILED" and "failureReason" not in failed


def test_a_pending_operation_can_be_cancelled(admin: httpx.Client) -> None:
    """Cumulocity's UI cancels an operation the device has not claimed yet with PUT status FAILED and a
    failureReason (README, Device control); afterwards the operation is finished like any failed one."""
    device = create_mo(admin)
    op = create_op(admin, device, c8y_Restart={})
    url = f"{OPS}/{op['id']}"
    cancelled = admin.put(url, json={"status": "FAILED", "failureReason": "Operation cancelled by user"})
    assert cancelled.status_code == 200, cancelled.text
    body = cancelled.json()
    assert body["status"] == "FAILED" and body["failureReason"] == "Operation cancelled by user"
    assert admin.get(url).json() == body
    assert op["id"] not in listed(admin, deviceId=device, status="PENDING")
    assert op["id"] in listed(admin, deviceId=device, status="FAILED")
    # The agent that claims it late is refused; a finished operation stays finished.
    for late in (S.EXECUTING, S.SUCCESSFUL, S.PENDING):
        assert_error(admin.put(url, json={"status": late.value}), 422, "devicecontrol/Unprocessable Entity")
    assert admin.get(url).json()["status"] == "FAILED"
    # Without a reason it is a plain failure.
    plain = create_op(admin, device, c8y_Restart={})
    failed = admin.put(f"{OPS}/{plain['id']}", json={"status": "FAILED"}).json()
    assert failed["status"] == "FAILED" and "failureReason" not in failed


@pytest.mark.parametrize("bad", ["DONE", "pending", "", 1, None, ["PENDING"], {"a": 1}])
def test_bad_status_values_are_422(admin: httpx.Client, bad: Any) -> None:
    device = create_mo(admin)
    op = create_op(admin, device, c8y_Restart={})
    response = admin.put(f"{OPS}/{op['id']}", json={"status": bad, "c8y_Marker": 1})
    if bad is None:  # no status: a fragment update only
        assert response.status_code == 200 and response.json()["status"] == "PENDING"
        return
    assert_error(response, 422, "devicecontrol/Unprocessable Entity")
    assert "c8y_Marker" not in admin.get(f"{OPS}/{op['id']}").json()


def test_filters_paging_and_order(admin: httpx.Client) -> None:
    device = create_mo(admin)
    first = create_op(admin, device, c8y_Restart={})
    second = create_op(admin, device, c8y_Command={"text": "ls"})
    third = create_op(admin, device, c8y_Restart={})
    drive(admin, second["id"], S.EXECUTING)
    ids = [first["id"], second["id"], third["id"]]

    assert listed(admin, deviceId=device) == ids
    assert listed(admin, deviceId=device, revert="true") == ids[::-1]
    assert listed(admin, deviceId=device, status="PENDING") == [first["id"], third["id"]]
    assert listed(admin, deviceId=device, fragmentType="c8y_Command") == [second["id"]]
    assert listed(admin, deviceId=device, dateFrom=first["creationTime"]) == ids
    assert listed(admin, deviceId=device, dateTo=first["creationTime"]) == []
    assert listed(admin, deviceId=device, dateFrom="2000-01-01", dateTo="2999-01-01T00:00:00+01:00") == ids
    assert listed(admin, deviceId=device, dateFrom="2999-01-01T00:00:00Z") == []
    # `+` sent unencoded arrives as a space; the zone is still understood.
    raw = admin.get(f"{OPS}?deviceId={device}&dateFrom=2000-01-01T00:00:00+01:00&pageSize=50")
    assert [op["id"] for op in raw.json()["operations"]] == ids
    assert listed(admin, deviceId="not-a-number") == []
    assert listed(admin, agentId="simulator_145074_1") == []

    page = admin.get(OPS, params={"deviceId": device, "pageSize": 2, "withTotalElements": "true"}).json()
    assert [op["id"] for op in page["operations"]] == ids[:2]
    assert page["statistics"] == {"currentPage": 1, "pageSize": 2, "totalElements": 3}
    assert "next" in page and "prev" not in page
    following = admin.get(page["next"]).json()
    assert [op["id"] for op in following["operations"]] == ids[2:]
    assert following["statistics"]["currentPage"] == 2 and "prev" in following


@pytest.mark.parametrize(
    ("params", "status", "error"),
    [
        ({"status": "DONE"}, 422, "devicecontrol/Unprocessable Entity"),
        ({"dateFrom": "yesterday"}, 400, "devicecontrol/Bad Request"),
        ({"dateTo": "2020-13-45"}, 400, "devicecontrol/Bad Request"),
        ({"pageSize": "many"}, 422, "devicecontrol/Unprocessable Entity"),
        ({"currentPage": "x"}, 422, "devicecontrol/Unprocessable Entity"),
    ],
)
def test_bad_query_parameters(admin: httpx.Client, params: dict[str, str], status: int, error: str) -> None:
    assert_error(admin.get(OPS, params=params), status, error)
    if "pageSize" not in params and "currentPage" not in params:  # DELETE takes no paging
        assert_error(admin.delete(OPS, params=params), status, error)


def test_bulk_delete_by_query(
    admin: httpx.Client, device_user: tuple[str, str], server: ServerThread
) -> None:
    device = create_mo(admin)
    keep = create_mo(admin)
    doomed = [create_op(admin, device, c8y_Restart={})["id"] for _ in range(3)]
    running = create_op(admin, device, c8y_Restart={})["id"]
    drive(admin, running, S.EXECUTING)
    other = create_op(admin, keep, c8y_Restart={})["id"]
    with httpx.Client(base_url=server.url, auth=device_user) as device_client:
        assert_error(device_client.delete(OPS, params={"deviceId": device}), 403, "security/Forbidden")
    assert listed(admin, deviceId=device) == [*doomed, running]

    response = admin.delete(OPS, params={"deviceId": device, "status": "PENDING"})
    assert response.status_code == 204 and response.content == b""
    assert listed(admin, deviceId=device) == [running]
    assert listed(admin, deviceId=keep) == [other]
    for op_id in doomed:
        assert_error(admin.get(f"{OPS}/{op_id}"), 404, "devicecontrol/Not Found")
    assert admin.delete(OPS, params={"deviceId": "nonsense"}).status_code == 204  # names nothing
    assert listed(admin, deviceId=keep) == [other]


def test_deleting_the_device_deletes_its_operations(admin: httpx.Client) -> None:
    device = create_mo(admin)
    op = create_op(admin, device, c8y_Restart={})
    assert admin.delete(f"{MO}/{device}").status_code == 204
    gone = admin.get(f"{OPS}/{op['id']}")
    assert_error(gone, 404, "devicecontrol/Not Found")
    # Cumulocity's words (c8y/errors.py), as c8y clients see them
    assert (
        gone.json()["message"]
        == f"Finding operation from database failed : No operation for id '{op['id']}'!"
    )
    assert admin.get(f"{MO}/{device}").json()["message"] == (
        f"Finding device data from database failed : No managedObject for id '{device}'!"
    )


@pytest.mark.parametrize(
    ("content", "status", "error"),
    [
        (b'{"deviceId": "1"', 400, "devicecontrol/Bad Request"),
        (b"", 400, "devicecontrol/Bad Request"),
        (b"[1]", 422, "devicecontrol/Unprocessable Entity"),
        (b'{"c8y_Restart": {}}', 422, "devicecontrol/Unprocessable Entity"),
        (b'{"deviceId": null}', 422, "devicecontrol/Unprocessable Entity"),
        (b'{"deviceId": ""}', 422, "devicecontrol/Unprocessable Entity"),
        (b'{"deviceId": "abc"}', 422, "devicecontrol/Unprocessable Entity"),
        (b'{"deviceId": true}', 422, "devicecontrol/Unprocessable Entity"),
        (b'{"deviceId": {"id": "1"}}', 422, "devicecontrol/Unprocessable Entity"),
        (b'{"deviceId": "-5"}', 422, "devicecontrol/Unprocessable Entity"),
        (b'{"deviceId": "99999999999999999999999"}', 422, "devicecontrol/Unprocessable Entity"),
        (b'{"deviceId": "999999999"}', 422, "devicecontrol/Unprocessable Entity"),
    ],
)
def test_bad_create_bodies_store_nothing(
    admin: httpx.Client, content: bytes, status: int, error: str
) -> None:
    before = total(admin)
    response = admin.post(OPS, content=content, headers={"Content-Type": "application/json"})
    assert_error(response, status, error)
    assert total(admin) == before


def test_bad_description_and_media_type(admin: httpx.Client) -> None:
    device = create_mo(admin)
    before = total(admin)
    assert_error(
        admin.post(OPS, json={"deviceId": device, "description": 5}),
        422,
        "devicecontrol/Unprocessable Entity",
    )
    response = admin.post(
        OPS, content=b"deviceId=1", headers={"Content-Type": "application/x-www-form-urlencoded"}
    )
    assert_error(response, 415, "devicecontrol/Unsupported Media Type")
    assert total(admin) == before


def test_bad_updates_change_nothing(admin: httpx.Client) -> None:
    device = create_mo(admin)
    op = create_op(admin, device, c8y_Restart={})
    url = f"{OPS}/{op['id']}"
    assert_error(
        admin.put(url, content=b"{oops", headers={"Content-Type": "application/json"}),
        400,
        "devicecontrol/Bad Request",
    )
    assert_error(admin.put(url, json=[1]), 422, "devicecontrol/Unprocessable Entity")
    assert_error(admin.put(url, json={"description": []}), 422, "devicecontrol/Unprocessable Entity")
    assert admin.get(url).json() == op
    for bad_id in ("999999999", "abc", "-1", "99999999999999999999999"):
        assert_error(admin.get(f"{OPS}/{bad_id}"), 404, "devicecontrol/Not Found")
        assert_error(
            admin.put(f"{OPS}/{bad_id}", json={"status": "EXECUTING"}), 404, "devicecontrol/Not Found"
        )


def test_tenants_never_see_each_other(
    admin: httpx.Client, server: ServerThread, other_tenant: tuple[str, str]
) -> None:
    device = create_mo(admin)
    op = create_op(admin, device, c8y_Restart={})
    with httpx.Client(base_url=server.url, auth=other_tenant) as t3:
        before = total(t3)
        assert_error(t3.post(OPS, json={"deviceId": device}), 422, "devicecontrol/Unprocessable Entity")
        assert total(t3) == before
        assert_error(t3.get(f"{OPS}/{op['id']}"), 404, "devicecontrol/Not Found")
        assert_error(
            t3.put(f"{OPS}/{op['id']}", json={"status": "EXECUTING"}), 404, "devicecontrol/Not Found"
        )
        assert t3.get(OPS, params={"deviceId": device}).json()["operations"] == []
        assert t3.delete(OPS, params={"deviceId": device}).status_code == 204
    assert admin.get(f"{OPS}/{op['id']}").json() == op


def test_device_users_command_their_own_devices_and_those_they_are_agent_of(
    admin: httpx.Client, server: ServerThread, device_user: tuple[str, str]
) -> None:
    foreign = create_mo(admin)
    foreign_op = create_op(admin, foreign, c8y_Restart={})
    with httpx.Client(base_url=server.url, auth=device_user) as dev:
        gateway = create_mo(dev, com_cumulocity_model_Agent={})
        # A child created by the admin but linked below the device user's gateway.
        child = create_mo(admin)
        link(admin, gateway, child)
        own = create_op(dev, gateway, c8y_Restart={})
        by_admin = create_op(admin, child, c8y_Restart={})
        child_by_device = create_op(dev, child, c8y_Restart={})  # it is the child's agent

        assert listed(dev, pageSize=2000) == [own["id"], by_admin["id"], child_by_device["id"]]
        assert listed(dev, agentId=gateway, status="PENDING") == [
            own["id"],
            by_admin["id"],
            child_by_device["id"],
        ]
        drive(dev, by_admin["id"], S.EXECUTING, S.SUCCESSFUL)
        assert dev.get(f"{OPS}/{own['id']}").json() == own

        assert_error(dev.get(f"{OPS}/{foreign_op['id']}"), 404, "devicecontrol/Not Found")
        assert_error(
            dev.put(f"{OPS}/{foreign_op['id']}", json={"status": "EXECUTING"}), 404, "devicecontrol/Not Found"
        )
        assert_error(dev.post(OPS, json={"deviceId": foreign}), 422, "devicecontrol/Unprocessable Entity")
        assert foreign_op["id"] not in listed(dev, deviceId=foreign)
    assert admin.get(f"{OPS}/{foreign_op['id']}").json()["status"] == "PENDING"
    assert admin.get(f"{OPS}/{by_admin['id']}").json()["status"] == "SUCCESSFUL"


def test_bootstrap_user_is_forbidden(admin: httpx.Client, server: ServerThread) -> None:
    device = create_mo(admin)
    op = create_op(admin, device, c8y_Restart={})
    with httpx.Client(base_url=server.url, auth=("management/devicebootstrap", BOOTSTRAP_PASSWORD)) as boot:
        for response in (
            boot.get(OPS),
            boot.get(f"{OPS}/{op['id']}"),
            boot.post(OPS, json={"deviceId": device}),
            boot.put(f"{OPS}/{op['id']}", json={"status": "EXECUTING"}),
            boot.delete(OPS),
        ):
            assert_error(response, 403, "security/Forbidden")
    assert httpx.get(f"{server.url}{OPS}").status_code == 401
    assert admin.get(f"{OPS}/{op['id']}").json() == op


def test_every_change_publishes_a_domain_event(
    admin: httpx.Client, server: ServerThread, events: list[DomainEvent]
) -> None:
    gateway = create_mo(admin, com_cumulocity_model_Agent={})
    child = create_mo(admin)
    link(admin, gateway, child)
    op = create_op(admin, child, c8y_Restart={})
    updated = admin.put(f"{OPS}/{op['id']}", json={"status": "EXECUTING"}).json()
    admin.delete(OPS, params={"deviceId": child})

    mine = [e for e in events if e.id == int(op["id"])]
    assert [e.action for e in mine] == ["CREATE", "UPDATE", "DELETE"]
    for event in mine:
        assert event.tenant_id == "t1" and event.resource == "operations"
        assert event.source_id == int(child) and event.agent_id == int(gateway)
    base = str(admin.base_url).rstrip("/")
    assert render.operation(base, mine[0].payload) == op  # type: ignore[arg-type]
    assert render.operation(base, mine[1].payload) == updated  # type: ignore[arg-type]
    assert render.operation(base, mine[2].payload)["status"] == "EXECUTING"  # type: ignore[arg-type]


def test_c8y_api_client_creates_and_reads_operations(server: ServerThread) -> None:
    c8y = CumulocityApi(base_url=server.url, tenant_id="t1", username="admin", password=ADMIN_PASSWORD)
    agent = Device(c8y, type="c8y_Linux", name=unique("agent"), com_cumulocity_model_Agent={}).create()
    sensor = Device(c8y, type="c8y_Sensor", name=unique("sensor")).create()
    agent.add_child_device(sensor)

    created = Operation(
        c8y, device_id=sensor.id, description="Switch relay", c8y_Relay={"relayState": "OPEN"}
    )
    created = created.create()
    assert created.id and created.status == "PENDING" and created.device_id == sensor.id
    assert created.creation_datetime is not None

    loaded = c8y.operations.get(created.id)
    assert loaded.description == "Switch relay" and loaded.c8y_Relay.relayState == "OPEN"
    pending = c8y.operations.get_all(agent_id=agent.id, status="PENDING")
    assert [op.id for op in pending] == [created.id]

    loaded.status = Operation.Status.EXECUTING
    loaded.update()
    assert c8y.operations.get(created.id).status == "EXECUTING"
    assert [op.id for op in c8y.operations.select(agent_id=agent.id, status="EXECUTING")] == [created.id]
    assert [op.id for op in c8y.operations.select(device_id=sensor.id, fragment="c8y_Relay")] == [created.id]
    assert c8y.operations.get_count(agent_id=agent.id) == 1

    done = c8y.operations.get(created.id)
    done.status = Operation.Status.SUCCESSFUL
    done.update()
    assert c8y.operations.get(created.id).status == "SUCCESSFUL"
    c8y.operations.delete_by(device_id=sensor.id)
    with pytest.raises(KeyError):
        c8y.operations.get(created.id)
