"""Device bootstrap rules at the service level, over real storage: the request lifecycle, roles and
credentials that are issued exactly once, also under concurrent calls."""

from __future__ import annotations

import asyncio

import pytest
from tests.operations.helpers import Services

from tether.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from tether.core.paging import PageRequest
from tether.registration.models import DEVICE_TRANSITIONS, OPERATOR_TRANSITIONS, RequestStatus
from tether.registration.service import validate_request_id
from tether.tenants.models import Principal, Role

pytestmark = pytest.mark.anyio
R = RequestStatus
ADMIN = Principal("t1", "admin", frozenset({Role.ADMIN}))
T2_ADMIN = Principal("t2", "admin", frozenset({Role.ADMIN}))
DEVICE = Principal("t1", "device_x", frozenset({Role.DEVICE}))
BOOTSTRAP = Principal("management", "devicebootstrap", frozenset({Role.BOOTSTRAP}))


def test_transition_tables() -> None:
    operator = {(a, b) for a, following in OPERATOR_TRANSITIONS.items() for b in following}
    device = {(a, b) for a, following in DEVICE_TRANSITIONS.items() for b in following}
    assert operator == {(R.PENDING_ACCEPTANCE, R.ACCEPTED)}
    assert device == {(R.WAITING_FOR_CONNECTION, R.PENDING_ACCEPTANCE)}


@pytest.mark.parametrize("bad", ["", "a/b", "a:b", "a b", "tab\there", "x\x00", "é\u200b", "x" * 201])
def test_request_ids_are_validated(bad: str) -> None:
    with pytest.raises(InvalidInput):
        validate_request_id(bad)


def test_reasonable_ids_pass() -> None:
    for good in ("0000000017b769d5", "861145013087177", "raspi-1_2.3", "x" * 200, "Gerät-7"):
        assert validate_request_id(good) == good


async def test_lifecycle_and_single_issue(services: Services) -> None:
    reg = services.registration
    created = await reg.create_request(ADMIN, "dev-1")
    assert (created.status, created.tenant_id, created.owner) == (R.WAITING_FOR_CONNECTION, "t1", "admin")
    with pytest.raises(Conflict):
        await reg.create_request(T2_ADMIN, "dev-1")
    with pytest.raises(InvalidInput):
        await reg.update_request(ADMIN, "dev-1", R.ACCEPTED)  # the device has not called yet
    with pytest.raises(NotFound):
        await reg.device_credentials(BOOTSTRAP, "dev-1")
    assert (await reg.get_request(ADMIN, "dev-1")).status is R.PENDING_ACCEPTANCE
    with pytest.raises(InvalidInput):
        await reg.update_request(ADMIN, "dev-1", R.WAITING_FOR_CONNECTION)
    accepted = await reg.update_request(ADMIN, "dev-1", R.ACCEPTED)
    assert accepted.status is R.ACCEPTED and accepted.last_updated >= created.last_updated

    credentials = await reg.device_credentials(BOOTSTRAP, "dev-1")
    assert (credentials.id, credentials.tenant_id, credentials.username) == ("dev-1", "t1", "device_dev-1")
    assert len(credentials.password) == 24 and credentials.password.isalnum()
    principal = await services.tenants.authenticate("t1", "device_dev-1", credentials.password)
    assert principal is not None and principal.roles == frozenset({Role.DEVICE})
    user = await services.tenants.get_user("t1", "device_dev-1")
    assert user is not None and credentials.password not in user.password_hash
    with pytest.raises(NotFound):
        await reg.device_credentials(BOOTSTRAP, "dev-1")
    with pytest.raises(NotFound):
        await reg.get_request(ADMIN, "dev-1")


async def test_roles_and_tenants(services: Services) -> None:
    reg = services.registration
    await reg.create_request(ADMIN, "dev-2")
    for who in (DEVICE, BOOTSTRAP):
        with pytest.raises(Forbidden):
            await reg.create_request(who, "dev-3")
        with pytest.raises(Forbidden):
            await reg.list_requests(who, PageRequest())
        with pytest.raises(Forbidden):
            await reg.update_request(who, "dev-2", R.ACCEPTED)
        with pytest.raises(Forbidden):
            await reg.delete_request(who, "dev-2")
    for who in (ADMIN, DEVICE):
        with pytest.raises(Forbidden):
            await reg.device_credentials(who, "dev-2")
    with pytest.raises(NotFound):
        await reg.get_request(T2_ADMIN, "dev-2")
    with pytest.raises(NotFound):
        await reg.delete_request(T2_ADMIN, "dev-2")
    assert (await reg.list_requests(T2_ADMIN, PageRequest())).items == []
    assert [r.id for r in (await reg.list_requests(ADMIN, PageRequest())).items] == ["dev-2"]
    assert (await reg.get_request(ADMIN, "dev-2")).status is R.WAITING_FOR_CONNECTION


async def test_concurrent_credential_calls_create_one_user(services: Services) -> None:
    reg = services.registration
    await reg.create_request(ADMIN, "dev-race")
    with pytest.raises(NotFound):
        await reg.device_credentials(BOOTSTRAP, "dev-race")
    await reg.update_request(ADMIN, "dev-race", R.ACCEPTED)
    results = await asyncio.gather(
        *(reg.device_credentials(BOOTSTRAP, "dev-race") for _ in range(10)), return_exceptions=True
    )
    issued = [r for r in results if not isinstance(r, BaseException)]
    assert len(issued) == 1
    assert all(isinstance(r, NotFound) for r in results if isinstance(r, BaseException))
    assert await services.tenants.authenticate("t1", "device_dev-race", issued[0].password) is not None


async def test_existing_user_conflict_gives_the_request_back(services: Services) -> None:
    reg = services.registration
    await reg.create_request(ADMIN, "dev-taken")
    with pytest.raises(NotFound):
        await reg.device_credentials(BOOTSTRAP, "dev-taken")
    await reg.update_request(ADMIN, "dev-taken", R.ACCEPTED)
    # The user appears after the acceptance (accepting while it exists is refused: the next test).
    await services.tenants.create_user("t1", "device_dev-taken", "old", {Role.DEVICE})
    with pytest.raises(Conflict):
        await reg.device_credentials(BOOTSTRAP, "dev-taken")
    assert (await reg.get_request(ADMIN, "dev-taken")).status is R.ACCEPTED
    assert await services.tenants.authenticate("t1", "device_dev-taken", "old") is not None


async def test_accepting_while_the_device_user_exists_is_refused(services: Services) -> None:
    reg = services.registration
    await services.tenants.create_user("t1", "device_dev-there", "old", {Role.DEVICE})
    await reg.create_request(ADMIN, "dev-there")
    with pytest.raises(NotFound):
        await reg.device_credentials(BOOTSTRAP, "dev-there")
    with pytest.raises(Conflict) as refused:
        await reg.update_request(ADMIN, "dev-there", R.ACCEPTED)
    assert "device_dev-there" in refused.value.message and "withDeviceUser=true" in refused.value.message
    assert (await reg.get_request(ADMIN, "dev-there")).status is R.PENDING_ACCEPTANCE
    # Retired (the user deleted), the device is accepted and gets new credentials.
    assert await services.tenants.delete_user("t1", "device_dev-there") is not None
    assert await services.tenants.authenticate("t1", "device_dev-there", "old") is None
    await reg.update_request(ADMIN, "dev-there", R.ACCEPTED)
    issued = await reg.device_credentials(BOOTSTRAP, "dev-there")
    assert await services.tenants.authenticate("t1", issued.username, issued.password) is not None


async def test_a_login_that_read_the_user_before_its_deletion_is_refused(services: Services) -> None:
    """TenantService.delete_user revokes at once: the verified-credential cache forgets the user, and a
    password check that read the user before the deletion (a login in flight) does not succeed after it."""
    tenants = services.tenants
    await tenants.create_user("t1", "device_inflight", "pw-1", {Role.DEVICE}, generated=True)
    assert await tenants.authenticate("t1", "device_inflight", "pw-1") is not None
    assert tenants.cached("t1", "device_inflight", "pw-1") is not None
    read = await tenants.get_user("t1", "device_inflight")
    assert read is not None
    await tenants.delete_user("t1", "device_inflight")
    assert tenants.cached("t1", "device_inflight", "pw-1") is None
    assert await tenants.verify(read, "pw-1") is None
    assert await tenants.delete_user("t1", "device_inflight") is None
    # The same name registered again logs in with its new password.
    await tenants.create_user("t1", "device_inflight", "pw-2", {Role.DEVICE}, generated=True)
    assert await tenants.authenticate("t1", "device_inflight", "pw-2") is not None
