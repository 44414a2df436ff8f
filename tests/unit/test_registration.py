"""RegistrationService over fake stores: the new-device request lifecycle and the one-time hand-over of a
device's credentials to the bootstrap user."""

from __future__ import annotations

import pytest
from tests.unit.conftest import ADMIN, BOOTSTRAP, OTHER_ADMIN, World, device_user

from tether.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from tether.core.paging import PageRequest
from tether.registration.models import RequestStatus
from tether.tenants.models import Role

pytestmark = pytest.mark.anyio
S = RequestStatus


async def test_request_lifecycle_and_credentials_handed_over_once(world: World) -> None:
    request = await world.registration.create_request(ADMIN, "SN-1")
    assert (request.status, request.owner, request.tenant_id) == (S.WAITING_FOR_CONNECTION, "admin", "t1")
    with pytest.raises(InvalidInput, match="has not asked for credentials"):
        await world.registration.update_request(ADMIN, "SN-1", S.ACCEPTED)

    with pytest.raises(NotFound):  # the device's first call: not accepted yet, but now pending
        await world.registration.device_credentials(BOOTSTRAP, "SN-1")
    assert (await world.registration.get_request(ADMIN, "SN-1")).status is S.PENDING_ACCEPTANCE
    with pytest.raises(NotFound):  # polling again changes nothing
        await world.registration.device_credentials(BOOTSTRAP, "SN-1")

    accepted = await world.registration.update_request(ADMIN, "SN-1", S.ACCEPTED)
    assert accepted.status is S.ACCEPTED
    assert (await world.registration.update_request(ADMIN, "SN-1", S.ACCEPTED)).status is S.ACCEPTED
    with pytest.raises(InvalidInput):
        await world.registration.update_request(ADMIN, "SN-1", S.PENDING_ACCEPTANCE)

    credentials = await world.registration.device_credentials(BOOTSTRAP, "SN-1")
    assert (credentials.tenant_id, credentials.username) == ("t1", "device_SN-1")
    principal = await world.tenants.authenticate("t1", "device_SN-1", credentials.password)
    assert principal is not None and principal.roles == {Role.DEVICE}
    assert world.requests.requests == {}  # the request is gone with the hand-over
    with pytest.raises(NotFound):
        await world.registration.device_credentials(BOOTSTRAP, "SN-1")


async def test_request_ids_are_unique_platform_wide_and_scoped_for_operators(world: World) -> None:
    await world.registration.create_request(ADMIN, "SN-1")
    with pytest.raises(Conflict):
        await world.registration.create_request(OTHER_ADMIN, "SN-1")
    with pytest.raises(NotFound):
        await world.registration.get_request(OTHER_ADMIN, "SN-1")
    with pytest.raises(NotFound):
        await world.registration.delete_request(OTHER_ADMIN, "SN-1")
    for i in range(2, 5):
        await world.registration.create_request(ADMIN, f"SN-{i}")
    page = await world.registration.list_requests(ADMIN, PageRequest(page_size=3, with_total=True))
    assert [r.id for r in page.items] == ["SN-1", "SN-2", "SN-3"] and page.total_pages == 2
    assert (await world.registration.list_requests(OTHER_ADMIN, PageRequest())).items == []
    await world.registration.delete_request(ADMIN, "SN-1")
    with pytest.raises(NotFound):
        await world.registration.get_request(ADMIN, "SN-1")


async def test_only_admins_manage_requests_and_only_the_bootstrap_user_takes_credentials(
    world: World,
) -> None:
    await world.registration.create_request(ADMIN, "SN-1")
    for who in (device_user("device_a"), BOOTSTRAP):
        with pytest.raises(Forbidden):
            await world.registration.create_request(who, "SN-2")
        with pytest.raises(Forbidden):
            await world.registration.get_request(who, "SN-1")
    with pytest.raises(Forbidden):
        await world.registration.device_credentials(ADMIN, "SN-1")


@pytest.mark.parametrize("request_id", ["", "a/b", "a:b", "a b", "x" * 201, "tab\there"])
async def test_bad_request_ids_are_refused(world: World, request_id: str) -> None:
    with pytest.raises(InvalidInput):
        await world.registration.create_request(ADMIN, request_id)
    with pytest.raises(InvalidInput):
        await world.registration.device_credentials(BOOTSTRAP, request_id)


async def test_a_registered_device_is_not_accepted_again(world: World) -> None:
    await world.tenants.create_user("t1", "device_SN-1", "secret", {Role.DEVICE}, generated=True)
    await world.registration.create_request(ADMIN, "SN-1")
    with pytest.raises(NotFound):
        await world.registration.device_credentials(BOOTSTRAP, "SN-1")
    with pytest.raises(Conflict, match="retire it first"):
        await world.registration.update_request(ADMIN, "SN-1", S.ACCEPTED)
    assert (await world.registration.get_request(ADMIN, "SN-1")).status is S.PENDING_ACCEPTANCE


async def test_a_hand_over_that_cannot_create_the_user_gives_the_request_back(world: World) -> None:
    await world.registration.create_request(ADMIN, "SN-1")
    with pytest.raises(NotFound):
        await world.registration.device_credentials(BOOTSTRAP, "SN-1")
    await world.registration.update_request(ADMIN, "SN-1", S.ACCEPTED)
    # the device user appears between the acceptance and the hand-over
    await world.tenants.create_user("t1", "device_SN-1", "secret", {Role.DEVICE}, generated=True)
    with pytest.raises(Conflict):
        await world.registration.device_credentials(BOOTSTRAP, "SN-1")
    assert (await world.registration.get_request(ADMIN, "SN-1")).status is S.ACCEPTED
