"""Device bootstrap rules: operators manage new-device requests in their tenant; the bootstrap user
asks for a device's credentials, which are created and handed over exactly once."""

from __future__ import annotations

import contextlib
import logging

from tether.core.clock import now_ms
from tether.core.errors import Conflict, Forbidden, InvalidInput, Missing, NotFound
from tether.core.paging import Page, PageRequest
from tether.registration.models import (
    DEVICE_TRANSITIONS,
    MAX_ID_LENGTH,
    OPERATOR_TRANSITIONS,
    DeviceCredentials,
    DeviceRequest,
    RequestStatus,
    device_username,
)
from tether.registration.store import DeviceRequestStore
from tether.tenants.models import Principal, Role
from tether.tenants.passwords import generate_password
from tether.tenants.service import TenantService

log = logging.getLogger(__name__)
R = "devicecontrol"


def validate_request_id(request_id: str) -> str:
    """A device id becomes part of a user name and of URLs: printable, no `/`, `:` or spaces."""
    if not request_id or len(request_id) > MAX_ID_LENGTH:
        raise InvalidInput(f"'id' must be 1 to {MAX_ID_LENGTH} characters long", resource=R)
    if any(c in "/:\\" or c.isspace() or not c.isprintable() for c in request_id):
        raise InvalidInput("'id' must not contain '/', ':', '\\', spaces or control characters", resource=R)
    return request_id


class RegistrationService:
    def __init__(self, store: DeviceRequestStore, tenants: TenantService) -> None:
        self._store = store
        self._tenants = tenants

    # -- the operator's side ----------------------------------------------------------------------

    async def create_request(self, who: Principal, request_id: str) -> DeviceRequest:
        self._require_admin(who)
        now = now_ms()
        request = DeviceRequest(
            id=validate_request_id(request_id),
            tenant_id=who.tenant_id,
            status=RequestStatus.WAITING_FOR_CONNECTION,
            owner=who.username,
            creation_time=now,
            last_updated=now,
        )
        await self._store.create(request)
        return request

    async def get_request(self, who: Principal, request_id: str) -> DeviceRequest:
        self._require_admin(who)
        request = await self._store.get(who.tenant_id, request_id)
        if request is None:
            raise NotFound(missing=Missing.of("device request", request_id), resource=R)
        return request

    async def list_requests(self, who: Principal, page: PageRequest) -> Page[DeviceRequest]:
        self._require_admin(who)
        return await self._store.find(who.tenant_id, page)

    async def update_request(self, who: Principal, request_id: str, status: RequestStatus) -> DeviceRequest:
        """Accept a request whose device has called (PENDING_ACCEPTANCE -> ACCEPTED); repeating the
        current status changes nothing; anything else is refused with 422, accepting a device whose device
        user exists (registered before, not retired) with 409."""
        while True:
            request = await self.get_request(who, request_id)
            if status is request.status:
                return request
            if status not in OPERATOR_TRANSITIONS[request.status]:
                raise InvalidInput(
                    f"Cannot change newDeviceRequest '{request_id}' from {request.status} to {status}"
                    + (
                        ": the device has not asked for credentials yet"
                        if request.status is RequestStatus.WAITING_FOR_CONNECTION
                        else ""
                    ),
                    resource=R,
                )
            if status is RequestStatus.ACCEPTED:
                await self._refuse_registered(who.tenant_id, request_id)
            updated = await self._store.advance(request_id, request.status, status, now_ms())
            if updated is not None:
                return updated

    async def _refuse_registered(self, tenant_id: str, request_id: str) -> None:
        """Accepting a device whose user exists would issue nothing (the credentials are issued once, with
        the user): the device would poll for ever. Refused with 409, saying how to retire the device."""
        username = device_username(request_id)
        if await self._tenants.get_user(tenant_id, username) is not None:
            raise Conflict(
                f"Device '{request_id}' is registered already: its device user '{username}' exists in "
                f"tenant '{tenant_id}', so no new credentials can be issued. To register the device again "
                "(e.g. after a factory reset), retire it first: DELETE /inventory/managedObjects/<its id>"
                "?withDeviceUser=true deletes the device and its user; then accept the request again.",
                resource=R,
            )

    async def delete_request(self, who: Principal, request_id: str) -> None:
        self._require_admin(who)
        if not await self._store.delete(who.tenant_id, request_id):
            raise NotFound(missing=Missing.of("device request", request_id), resource=R)

    # -- the device's side (as the bootstrap user) -------------------------------------------------

    async def device_credentials(self, who: Principal, request_id: str) -> DeviceCredentials:
        """What a device polls with its id. NotFound until the request is accepted; the first call
        marks a waiting request PENDING_ACCEPTANCE. Once accepted, the device user `device_<id>` is
        created in the request's tenant with a fresh password, the request is removed, and the
        credentials are returned: to exactly one caller, once."""
        if Role.BOOTSTRAP not in who.roles:
            raise Forbidden("Access is denied", resource="security")
        validate_request_id(request_id)
        request = await self._store.lookup(request_id)
        if request is None:
            raise NotFound(missing=Missing.of("device request", request_id), resource=R)
        if request.status is not RequestStatus.ACCEPTED:
            target = RequestStatus.PENDING_ACCEPTANCE
            if target in DEVICE_TRANSITIONS[request.status]:
                await self._store.advance(request_id, request.status, target, now_ms())
            raise NotFound(missing=Missing.of("device request", request_id, role="accepted"), resource=R)
        claimed = await self._store.claim(request_id)
        if claimed is None:  # another call took the credentials (or the request was deleted) meanwhile
            raise NotFound(missing=Missing.of("device request", request_id), resource=R)
        username = device_username(request_id)
        password = generate_password()
        try:
            # A generated secret: a fast hash, so a connect storm of devices is not CPU-bound
            # (bench/README.md, mqtt_connect.py).
            await self._tenants.create_user(
                claimed.tenant_id, username, password, {Role.DEVICE}, generated=True
            )
        except BaseException as exc:
            # Give the request back, so that the operator sees it and the device can try again.
            with contextlib.suppress(Exception):
                await self._store.create(claimed)
            if isinstance(exc, Conflict):
                log.warning(
                    "device user %s/%s exists already; credentials not issued", claimed.tenant_id, username
                )
                raise Conflict(
                    f"Device user '{username}' already exists in tenant '{claimed.tenant_id}'", resource=R
                ) from None
            raise
        log.info("issued credentials for device %s as %s/%s", request_id, claimed.tenant_id, username)
        return DeviceCredentials(request_id, claimed.tenant_id, username, password)

    @staticmethod
    def _require_admin(who: Principal) -> None:
        if not who.is_admin:
            raise Forbidden("Access is denied", resource="security")
