"""Device bootstrap over HTTP: new-device requests, device credentials issued exactly once, and the
official c8y-api CumulocityDeviceRegistry waiting for them."""

from __future__ import annotations

import itertools
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
from c8y_api import CumulocityApi, CumulocityDeviceRegistry
from c8y_api.model import Device, Operation
from tests.support import BOOTSTRAP_PASSWORD, ServerThread

from tether.tenants.models import Role

NDR = "/devicecontrol/newDeviceRequests"
CREDENTIALS = "/devicecontrol/deviceCredentials"
VENDOR_NDR = "application/vnd.com.nsn.cumulocity.newDeviceRequest+json"
VENDOR_CREDENTIALS = "application/vnd.com.nsn.cumulocity.deviceCredentials+json"
BOOTSTRAP = ("management/devicebootstrap", BOOTSTRAP_PASSWORD)
_serials = itertools.count()


def serial(prefix: str = "serial") -> str:
    return f"{prefix}{next(_serials):04d}"


def assert_error(response: httpx.Response, status: int, error: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert body["error"] == error
    assert isinstance(body["message"], str) and body["message"]
    assert "info" in body
    return body


@pytest.fixture
def bootstrap(server: ServerThread) -> Any:
    with httpx.Client(base_url=server.url, auth=BOOTSTRAP, timeout=30) as client:
        yield client


def request_device(admin: httpx.Client, device_id: str) -> dict[str, Any]:
    response = admin.post(NDR, json={"id": device_id})
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def status_of(admin: httpx.Client, device_id: str) -> str:
    response = admin.get(f"{NDR}/{device_id}")
    assert response.status_code == 200, response.text
    status: str = response.json()["status"]
    return status


def accept(admin: httpx.Client, device_id: str) -> None:
    response = admin.put(f"{NDR}/{device_id}", json={"status": "ACCEPTED"})
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "ACCEPTED"


def test_create_returns_201_location_and_document(admin: httpx.Client) -> None:
    device_id = serial()
    response = admin.post(
        NDR,
        content=b'{"id": "%s"}' % device_id.encode(),
        headers={"Content-Type": VENDOR_NDR, "Accept": VENDOR_NDR},
    )
    assert response.status_code == 201
    assert response.headers["content-type"].startswith(VENDOR_NDR)
    body = response.json()
    assert response.headers["location"] == body["self"] == f"{admin.base_url}{NDR}/{device_id}"
    assert body == {
        "id": device_id,
        "self": body["self"],
        "status": "WAITING_FOR_CONNECTION",
        "creationTime": body["creationTime"],
        "owner": "admin",
    }
    assert admin.get(f"{NDR}/{device_id}").json() == body
    # The id is unique: a second request for it conflicts.
    assert_error(admin.post(NDR, json={"id": device_id}), 409, "devicecontrol/Conflict")
    numeric = admin.post(NDR, json={"id": 4711_0000 + next(_serials)})
    assert numeric.status_code == 201 and isinstance(numeric.json()["id"], str)


def test_list_paging_and_delete(admin: httpx.Client) -> None:
    ids = [serial("list") for _ in range(3)]
    for device_id in ids:
        request_device(admin, device_id)
    everything = admin.get(NDR, params={"pageSize": 2000, "withTotalElements": "true"}).json()
    listed = [r["id"] for r in everything["newDeviceRequests"]]
    assert listed[-3:] == ids and everything["statistics"]["totalElements"] == len(listed)
    assert everything["self"].startswith(f"{admin.base_url}{NDR}")
    first = admin.get(NDR, params={"pageSize": 1}).json()
    assert len(first["newDeviceRequests"]) == 1 and "next" in first
    assert first["statistics"] == {"currentPage": 1, "pageSize": 1}

    assert admin.delete(f"{NDR}/{ids[0]}").status_code == 204
    assert_error(admin.delete(f"{NDR}/{ids[0]}"), 404, "devicecontrol/Not Found")
    assert_error(admin.get(f"{NDR}/{ids[0]}"), 404, "devicecontrol/Not Found")
    assert_error(admin.put(f"{NDR}/{ids[0]}", json={"status": "ACCEPTED"}), 404, "devicecontrol/Not Found")
    assert ids[0] not in [
        r["id"] for r in admin.get(NDR, params={"pageSize": 2000}).json()["newDeviceRequests"]
    ]


def test_full_bootstrap_flow_over_http(
    admin: httpx.Client, bootstrap: httpx.Client, server: ServerThread
) -> None:
    device_id = serial("flow")
    # Unknown id: 404 with an error body.
    assert_error(bootstrap.post(CREDENTIALS, json={"id": device_id}), 404, "devicecontrol/Not Found")

    request_device(admin, device_id)
    # Accepting before the device has called is refused, like Cumulocity does.
    assert_error(
        admin.put(f"{NDR}/{device_id}", json={"status": "ACCEPTED"}),
        422,
        "devicecontrol/Unprocessable Entity",
    )
    assert status_of(admin, device_id) == "WAITING_FOR_CONNECTION"

    # The device's first call: 404, and the request now awaits acceptance.
    assert_error(bootstrap.post(CREDENTIALS, json={"id": device_id}), 404, "devicecontrol/Not Found")
    assert status_of(admin, device_id) == "PENDING_ACCEPTANCE"
    assert_error(bootstrap.post(CREDENTIALS, json={"id": device_id}), 404, "devicecontrol/Not Found")
    assert status_of(admin, device_id) == "PENDING_ACCEPTANCE"

    accept(admin, device_id)
    accept(admin, device_id)  # repeating the status changes nothing
    response = bootstrap.post(
        CREDENTIALS,
        content=b'{"id": "%s"}' % device_id.encode(),
        headers={"Content-Type": VENDOR_CREDENTIALS, "Accept": VENDOR_CREDENTIALS},
    )
    assert response.status_code == 201, response.text
    assert response.headers["content-type"].startswith(VENDOR_CREDENTIALS)
    assert response.headers["cache-control"] == "no-store"
    credentials = response.json()
    password = credentials["password"]
    assert credentials == {
        "id": device_id,
        "self": f"{admin.base_url}{CREDENTIALS}/{device_id}",
        "tenantId": "t1",
        "username": f"device_{device_id}",
        "password": password,
    }
    assert isinstance(password, str) and len(password) >= 20
    # Issued once: the request is gone and a second call finds nothing.
    assert_error(bootstrap.post(CREDENTIALS, json={"id": device_id}), 404, "devicecontrol/Not Found")
    assert_error(admin.get(f"{NDR}/{device_id}"), 404, "devicecontrol/Not Found")

    # The password is stored only as a hash.
    user = server.call(server.platform.services.tenants.get_user("t1", f"device_{device_id}"))
    assert user.roles == frozenset({Role.DEVICE}) and password not in user.password_hash

    auth = (f"t1/device_{device_id}", password)
    with httpx.Client(base_url=server.url, auth=auth) as device:
        me = device.get("/user/currentUser")
        assert me.status_code == 200 and me.json()["userName"] == f"device_{device_id}"
        mo = device.post(
            "/inventory/managedObjects",
            json={"name": f"Device {device_id}", "c8y_IsDevice": {}, "com_cumulocity_model_Agent": {}},
        ).json()
        assert mo["owner"] == f"device_{device_id}"
        op = admin.post("/devicecontrol/operations", json={"deviceId": mo["id"], "c8y_Restart": {}}).json()
        pending = device.get("/devicecontrol/operations", params={"agentId": mo["id"], "status": "PENDING"})
        assert [o["id"] for o in pending.json()["operations"]] == [op["id"]]
        for status in ("EXECUTING", "SUCCESSFUL"):
            assert (
                device.put(f"/devicecontrol/operations/{op['id']}", json={"status": status}).status_code
                == 200
            )
    assert admin.get(f"/devicecontrol/operations/{op['id']}").json()["status"] == "SUCCESSFUL"
    wrong = httpx.get(f"{server.url}/user/currentUser", auth=(f"t1/device_{device_id}", password + "x"))
    assert wrong.status_code == 401


def test_concurrent_calls_issue_credentials_once(
    admin: httpx.Client, bootstrap: httpx.Client, server: ServerThread
) -> None:
    device_id = serial("race")
    request_device(admin, device_id)
    bootstrap.post(CREDENTIALS, json={"id": device_id})
    accept(admin, device_id)

    def ask() -> httpx.Response:
        return httpx.post(f"{server.url}{CREDENTIALS}", json={"id": device_id}, auth=BOOTSTRAP, timeout=60)

    with ThreadPoolExecutor(max_workers=8) as pool:
        responses = list(pool.map(lambda _: ask(), range(8)))
    issued = [r for r in responses if r.status_code == 201]
    assert len(issued) == 1, [r.status_code for r in responses]
    assert all(r.status_code == 404 for r in responses if r is not issued[0])
    password = issued[0].json()["password"]
    me = httpx.get(f"{server.url}/user/currentUser", auth=(f"t1/device_{device_id}", password))
    assert me.status_code == 200


def test_an_existing_device_user_is_a_conflict_and_keeps_the_request(
    admin: httpx.Client, bootstrap: httpx.Client, server: ServerThread
) -> None:
    device_id = serial("taken")
    request_device(admin, device_id)
    bootstrap.post(CREDENTIALS, json={"id": device_id})
    accept(admin, device_id)
    # The user appears between the acceptance and the hand-over (accepting while it exists is refused:
    # tests/api/test_device_retirement.py).
    server.call(
        server.platform.services.tenants.create_user("t1", f"device_{device_id}", "old-secret", {Role.DEVICE})
    )
    assert_error(bootstrap.post(CREDENTIALS, json={"id": device_id}), 409, "devicecontrol/Conflict")
    assert status_of(admin, device_id) == "ACCEPTED"  # the operator still sees it and can remove it
    old = httpx.get(f"{server.url}/user/currentUser", auth=(f"t1/device_{device_id}", "old-secret"))
    assert old.status_code == 200


def test_roles(admin: httpx.Client, bootstrap: httpx.Client, server: ServerThread) -> None:
    device_id = serial("roles")
    request_device(admin, device_id)
    server.call(
        server.platform.services.tenants.create_user("t1", "device_roles", "roles-secret", {Role.DEVICE})
    )
    with httpx.Client(base_url=server.url, auth=("t1/device_roles", "roles-secret")) as device:
        for client in (bootstrap, device):
            assert_error(client.get(NDR), 403, "security/Forbidden")
            assert_error(client.get(f"{NDR}/{device_id}"), 403, "security/Forbidden")
            assert_error(client.post(NDR, json={"id": serial()}), 403, "security/Forbidden")
            assert_error(
                client.put(f"{NDR}/{device_id}", json={"status": "ACCEPTED"}), 403, "security/Forbidden"
            )
            assert_error(client.delete(f"{NDR}/{device_id}"), 403, "security/Forbidden")
        for client in (admin, device):
            assert_error(client.post(CREDENTIALS, json={"id": device_id}), 403, "security/Forbidden")
    assert httpx.post(f"{server.url}{CREDENTIALS}", json={"id": device_id}).status_code == 401
    assert status_of(admin, device_id) == "WAITING_FOR_CONNECTION"  # none of that touched the request


def test_tenants_never_see_each_others_requests(admin: httpx.Client, server: ServerThread) -> None:
    tenants = server.platform.services.tenants
    server.call(tenants.create_tenant("t4"))
    server.call(tenants.create_user("t4", "admin", "t4-secret", {Role.ADMIN}))
    device_id = serial("iso")
    request_device(admin, device_id)
    with httpx.Client(base_url=server.url, auth=("t4/admin", "t4-secret")) as t4:
        assert_error(t4.get(f"{NDR}/{device_id}"), 404, "devicecontrol/Not Found")
        assert_error(
            t4.put(f"{NDR}/{device_id}", json={"status": "ACCEPTED"}), 404, "devicecontrol/Not Found"
        )
        assert_error(t4.delete(f"{NDR}/{device_id}"), 404, "devicecontrol/Not Found")
        assert device_id not in [
            r["id"] for r in t4.get(NDR, params={"pageSize": 2000}).json()["newDeviceRequests"]
        ]
    assert status_of(admin, device_id) == "WAITING_FOR_CONNECTION"


@pytest.mark.parametrize(
    ("content", "status", "error"),
    [
        (b'{"id": "x"', 400, "devicecontrol/Bad Request"),
        (b"", 400, "devicecontrol/Bad Request"),
        (b'["x"]', 422, "devicecontrol/Unprocessable Entity"),
        (b"{}", 422, "devicecontrol/Unprocessable Entity"),
        (b'{"id": ""}', 422, "devicecontrol/Unprocessable Entity"),
        (b'{"id": null}', 422, "devicecontrol/Unprocessable Entity"),
        (b'{"id": true}', 422, "devicecontrol/Unprocessable Entity"),
        (b'{"id": {"a": 1}}', 422, "devicecontrol/Unprocessable Entity"),
        (b'{"id": "a/b"}', 422, "devicecontrol/Unprocessable Entity"),
        (b'{"id": "a:b"}', 422, "devicecontrol/Unprocessable Entity"),
        (b'{"id": "a b"}', 422, "devicecontrol/Unprocessable Entity"),
        (b'{"id": "a\\u0000b"}', 422, "devicecontrol/Unprocessable Entity"),
        (b'{"id": "' + b"x" * 201 + b'"}', 422, "devicecontrol/Unprocessable Entity"),
    ],
)
def test_bad_bodies_store_nothing(
    admin: httpx.Client, bootstrap: httpx.Client, content: bytes, status: int, error: str
) -> None:
    def count() -> int:
        stats = admin.get(NDR, params={"pageSize": 1, "withTotalElements": "true"}).json()["statistics"]
        total: int = stats["totalElements"]
        return total

    before = count()
    headers = {"Content-Type": "application/json"}
    assert_error(admin.post(NDR, content=content, headers=headers), status, error)
    assert_error(bootstrap.post(CREDENTIALS, content=content, headers=headers), status, error)
    assert count() == before


@pytest.mark.parametrize("bad", ["WAITING_FOR_CONNECTION", "accepted", "DONE", "", 1, None, ["ACCEPTED"]])
def test_bad_status_updates_are_422(admin: httpx.Client, bootstrap: httpx.Client, bad: Any) -> None:
    device_id = serial("bad")
    request_device(admin, device_id)
    bootstrap.post(CREDENTIALS, json={"id": device_id})
    assert_error(
        admin.put(f"{NDR}/{device_id}", json={"status": bad}), 422, "devicecontrol/Unprocessable Entity"
    )
    assert status_of(admin, device_id) == "PENDING_ACCEPTANCE"


def test_deleted_request_issues_nothing(admin: httpx.Client, bootstrap: httpx.Client) -> None:
    device_id = serial("deleted")
    request_device(admin, device_id)
    bootstrap.post(CREDENTIALS, json={"id": device_id})
    accept(admin, device_id)
    assert admin.delete(f"{NDR}/{device_id}").status_code == 204
    assert_error(bootstrap.post(CREDENTIALS, json={"id": device_id}), 404, "devicecontrol/Not Found")


def test_c8y_api_device_registry(admin: httpx.Client, server: ServerThread) -> None:
    """The official client polls with the bootstrap user while the operator accepts over HTTP."""
    device_id = serial("c8y")
    request_device(admin, device_id)
    registry = CumulocityDeviceRegistry(server.url, "management", "devicebootstrap", BOOTSTRAP_PASSWORD)
    outcome: dict[str, Any] = {}

    def wait_for_credentials() -> None:
        try:
            # A pause in "ms" does not parse in this client version; whole seconds do.
            outcome["credentials"] = registry.await_credentials(device_id, timeout="10m", pause="1s")
        except BaseException as exc:
            outcome["error"] = exc

    worker = threading.Thread(target=wait_for_credentials, daemon=True)
    worker.start()
    # The device's polling moves the request to PENDING_ACCEPTANCE; then the operator accepts it.
    while status_of(admin, device_id) != "PENDING_ACCEPTANCE":
        assert worker.is_alive(), outcome
        threading.Event().wait(0.05)
    accept(admin, device_id)
    worker.join()
    assert "error" not in outcome, outcome
    credentials = outcome["credentials"]
    assert credentials.tenant_id == "t1" and credentials.username == f"device_{device_id}"

    c8y = CumulocityApi(server.url, credentials.tenant_id, credentials.username, credentials.password)
    device = Device(c8y, type="c8y_Linux", name=f"RaspPi {device_id}", com_cumulocity_model_Agent={}).create()
    assert device.owner == credentials.username
    c8y.identity.create(f"raspi-{device_id}", "c8y_Serial", device.id)
    assert c8y.identity.get_id(f"raspi-{device_id}", "c8y_Serial") == device.id
    op = Operation(c8y, device_id=device.id, c8y_Restart={}).create()
    executing = c8y.operations.get(op.id)
    executing.status = Operation.Status.EXECUTING
    executing.update()
    assert [o.id for o in c8y.operations.select(agent_id=device.id, status="EXECUTING")] == [op.id]
