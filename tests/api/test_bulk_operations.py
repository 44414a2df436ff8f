"""Bulk operations (/devicecontrol/bulkoperations) with the unmodified `c8y-api` client and raw httpx."""

from __future__ import annotations

import httpx
import pytest
from c8y_api import CumulocityApi
from c8y_api.model import BulkOperation, Device, ManagedObject
from tests.api.users_support import make_user
from tests.management.sink_servers import wait_until
from tests.support import ADMIN_PASSWORD, ServerThread

from tether.tenants.models import Role

BULK = "/devicecontrol/bulkoperations"
OPS = "/devicecontrol/operations"


@pytest.fixture(scope="module")
def c8y(server: ServerThread) -> CumulocityApi:
    return CumulocityApi(base_url=server.url, tenant_id="t1", username="admin", password=ADMIN_PASSWORD)


def group_of(c8y: CumulocityApi, devices: int, name: str) -> tuple[ManagedObject, list[str]]:
    """A device group with `devices` devices: the first directly, the others in a subgroup; and an asset
    that is no device (never a target)."""
    group = ManagedObject(c8y, type="c8y_DeviceGroup", name=name, c8y_IsDeviceGroup={}).create()
    sub = ManagedObject(c8y, type="c8y_DeviceSubgroup", name=f"{name}-sub", c8y_IsDeviceGroup={}).create()
    group.add_child_asset(sub.id)
    group.add_child_asset(ManagedObject(c8y, type="c8y_Room", name="room").create().id)
    ids = []
    for i in range(devices):
        device = Device(c8y, type="c8y_Linux", name=f"{name}-{i}", com_cumulocity_model_Agent={}).create()
        (group if i == 0 else sub).add_child_asset(device.id)
        ids.append(device.id)
    return group, ids


def bulk_ops(admin: httpx.Client, bulk_id: str) -> list[dict]:
    return admin.get(OPS, params={"bulkOperationId": bulk_id, "pageSize": 100}).json()["operations"]


def test_a_group_journey_with_the_client(c8y: CumulocityApi, admin: httpx.Client) -> None:
    """Create for a group (subgroups included), progress and general status as the operations move, a
    failed-only retry, update and cancel."""
    group, devices = group_of(c8y, 3, "bulk-a")
    created = BulkOperation(
        c8y,
        group_id=group.id,
        creation_ramp=0,
        operation_prototype={"description": "Restart", "c8y_Restart": {}},
    ).create()
    assert created.id and created.group_id == group.id and created.status in ("ACTIVE", "IN_PROGRESS")
    wait_until(lambda: c8y.bulk_operations.get(created.id).status == "COMPLETED", "bulk operation completed")
    ops = bulk_ops(admin, created.id)
    assert sorted(o["deviceId"] for o in ops) == sorted(devices)
    assert all(
        o["bulkOperationId"] == created.id and "c8y_Restart" in o and o["status"] == "PENDING" for o in ops
    )
    by_device = {o["deviceId"]: o["id"] for o in ops}
    assert admin.put(f"{OPS}/{by_device[devices[0]]}", json={"status": "EXECUTING"}).status_code == 200
    assert admin.put(f"{OPS}/{by_device[devices[0]]}", json={"status": "SUCCESSFUL"}).status_code == 200
    failed = {"status": "FAILED", "failureReason": "no"}
    assert admin.put(f"{OPS}/{by_device[devices[1]]}", json=failed).status_code == 200
    body = admin.get(f"{BULK}/{created.id}").json()
    assert body["progress"] == {"pending": 1, "failed": 1, "executing": 0, "successful": 1, "all": 3}
    assert body["generalStatus"] == "EXECUTING_WITH_ERRORS"
    assert admin.put(f"{OPS}/{by_device[devices[2]]}", json=failed).status_code == 200
    assert admin.get(f"{BULK}/{created.id}").json()["generalStatus"] == "FAILED"

    retry = BulkOperation(c8y, failed_parent_id=created.id, creation_ramp=0).create()
    wait_until(lambda: c8y.bulk_operations.get(retry.id).status == "COMPLETED", "retry completed")
    again = bulk_ops(admin, retry.id)
    assert sorted(o["deviceId"] for o in again) == sorted(devices[1:])
    assert all("c8y_Restart" in o for o in again)  # the parent's prototype
    assert c8y.bulk_operations.get(retry.id).failed_parent_id == created.id

    # Scheduled for later: changed, then cancelled before it creates anything.
    later = BulkOperation(
        c8y, group_id=group.id, start_time="2999-01-01T00:00:00Z", operation_prototype={"c8y_Restart": {}}
    ).create()
    later.creation_ramp = 5
    assert later.update().creation_ramp == 5
    listed = c8y.bulk_operations.get_all()
    assert {created.id, retry.id, later.id} <= {b.id for b in listed}
    scheduled = c8y.bulk_operations.get(later.id)
    assert scheduled.general_status == "SCHEDULED"  # its group is resolved when it starts
    later.delete()
    cancelled = admin.get(f"{BULK}/{later.id}").json()
    assert (cancelled["status"], cancelled["generalStatus"]) == ("DELETED", "CANCELED")
    assert cancelled["progress"]["all"] == 0 and bulk_ops(admin, later.id) == []
    # A change of a cancelled one is refused; paging works.
    assert admin.put(f"{BULK}/{later.id}", json={"creationRamp": 1}).status_code == 422
    page = admin.get(BULK, params={"pageSize": 1, "currentPage": 2, "withTotalElements": "true"}).json()
    assert len(page["bulkOperations"]) == 1 and page["statistics"]["totalElements"] >= 3


def test_ramp_cancel_roles_isolation_and_bad_input(
    server: ServerThread, c8y: CumulocityApi, admin: httpx.Client
) -> None:
    group, _ = group_of(c8y, 3, "bulk-b")
    prototype = {"description": "Firmware", "c8y_Firmware": {"version": "2"}}
    posted = admin.post(
        BULK, json={"groupId": group.id, "creationRamp": 3600, "operationPrototype": prototype}
    )
    assert posted.status_code == 201, posted.text
    bulk_id = posted.json()["id"]
    # The ramp: the first operation now, the next in an hour.
    wait_until(lambda: len(bulk_ops(admin, bulk_id)) == 1, "first operation created")
    body = admin.get(f"{BULK}/{bulk_id}").json()
    assert body["status"] == "IN_PROGRESS" and body["progress"]["pending"] == 3
    # Cancel: the created one fails, the others are never created.
    assert admin.delete(f"{BULK}/{bulk_id}").status_code == 204
    (op,) = bulk_ops(admin, bulk_id)
    assert (op["status"], op["failureReason"]) == ("FAILED", "Bulk operation cancelled")
    assert admin.get(f"{BULK}/{bulk_id}").json()["progress"] == {
        "pending": 0,
        "failed": 1,
        "executing": 0,
        "successful": 0,
        "all": 1,
    }

    reader = make_user(admin, groups=("readers",))
    with httpx.Client(base_url=server.url, auth=reader, timeout=30) as person:
        assert person.get(f"{BULK}/{bulk_id}").status_code == 200
        assert (
            person.post(BULK, json={"groupId": group.id, "operationPrototype": prototype}).status_code == 403
        )
        assert person.delete(f"{BULK}/{bulk_id}").status_code == 403

    tenants = server.platform.services.tenants
    server.call(tenants.create_tenant("tb2"))
    server.call(tenants.create_user("tb2", "admin", "tb2-secret", {Role.ADMIN}))
    with httpx.Client(base_url=server.url, auth=("tb2/admin", "tb2-secret"), timeout=30) as other:
        assert other.get(f"{BULK}/{bulk_id}").status_code == 404
        assert other.delete(f"{BULK}/{bulk_id}").status_code == 404
        assert other.get(BULK).json()["bulkOperations"] == []
        refused = other.post(BULK, json={"groupId": group.id, "operationPrototype": prototype})
        assert refused.status_code == 422

    for bad in (
        {"operationPrototype": prototype},
        {"groupId": group.id, "failedParentId": bulk_id, "operationPrototype": prototype},
        {"groupId": group.id},
        {"groupId": "x1", "operationPrototype": prototype},
        {"groupId": group.id, "creationRamp": -1, "operationPrototype": prototype},
        {"groupId": group.id, "creationRamp": "1", "operationPrototype": prototype},
        {"groupId": group.id, "startDate": "yesterday", "operationPrototype": prototype},
        {"groupId": group.id, "operationPrototype": []},
        {"failedParentId": "99999999", "operationPrototype": prototype},
    ):
        assert admin.post(BULK, json=bad).status_code in (400, 422), bad
    assert admin.get(f"{BULK}/abc").status_code == 404
    assert admin.get(f"{BULK}/99999999999").status_code == 404
    assert admin.post(BULK, content=b"[1]").status_code == 422
