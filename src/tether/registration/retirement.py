"""Retiring a device: `DELETE /inventory/managedObjects/{id}?withDeviceUser=true` deletes the device and its
device user, so that its credentials stop working everywhere at once (TenantService.delete_user revokes them:
caches, and through the `users` DELETE event the MQTT connections and real-time clients of that user). A
retired device can be bootstrapped again (a new-device request for its id, accepted, issues new credentials).

The device user is the object's owner, and it is deleted only when it is a device user (role device, not admin
or bootstrap) and the object is that user's device rather than something it created below its device: a
gateway's child devices are owned by the gateway's user, and deleting one must not retire the gateway.
"""

from __future__ import annotations

import contextlib
import logging

from tether.core.errors import Forbidden, NotFound
from tether.core.paging import PageRequest
from tether.inventory.models import ChildKind, InventoryCriteria, ManagedObject
from tether.inventory.service import InventoryService
from tether.tenants.models import Principal, Role, User
from tether.tenants.service import TenantService

log = logging.getLogger(__name__)


def is_device_user(user: User) -> bool:
    return Role.DEVICE in user.roles and not user.roles & {Role.ADMIN, Role.BOOTSTRAP}


class DeviceRetirement:
    def __init__(self, inventory: InventoryService, tenants: TenantService) -> None:
        self._inventory = inventory
        self._tenants = tenants

    async def delete(
        self,
        who: Principal,
        mo_id: int,
        *,
        cascade: bool = False,
        force: bool = False,
        with_device_user: bool = False,
    ) -> User | None:
        """Delete the object (InventoryService.delete) and, with `with_device_user`, its device user first (a
        failure after that leaves the object, and the request can be repeated). Deleting a user takes an
        administrator. Returns the deleted user, if any."""
        if not with_device_user:
            await self._inventory.delete(who, mo_id, cascade=cascade, force=force)
            return None
        if not who.may("USER_MANAGEMENT", True):
            raise Forbidden(
                "Access is denied: deleting the device user takes ROLE_USER_MANAGEMENT_ADMIN",
                resource="security",
            )
        mo = await self._inventory.get(who, mo_id)
        user = await self._device_user(who, mo)
        if user is not None:
            await self._tenants.delete_user(who.tenant_id, user.username)
            log.info("retired device user %s/%s with managed object %s", who.tenant_id, user.username, mo_id)
        await self._inventory.delete(who, mo_id, cascade=cascade, force=force)
        return user

    async def retire_user(self, who: Principal, user: User) -> list[int]:
        """`DELETE /user/{tenant}/users/device_<id>`: the device user goes (its credentials stop working at
        once) and with it its device, the objects it owns that are no child device of another of its
        objects. The ids of the deleted objects."""
        if not who.may("INVENTORY", True):  # the user's rights the users API checked (directory.deletable)
            raise Forbidden(
                "Access is denied: retiring a device takes ROLE_INVENTORY_ADMIN", resource="security"
            )
        devices: list[int] = []
        current = 1
        while True:
            page = await self._inventory.find(
                who, InventoryCriteria(owner=user.username), PageRequest(current_page=current, page_size=500)
            )
            for mo in page.items:
                if await self._device_user(who, mo) is not None:
                    devices.append(mo.id)
            if len(page.items) < 500:
                break
            current += 1
        await self._tenants.delete_user(who.tenant_id, user.username)
        for mo_id in devices:
            with contextlib.suppress(NotFound):  # gone meanwhile
                await self._inventory.delete(who, mo_id, cascade=False)
        log.info("retired device user %s/%s and its devices %s", who.tenant_id, user.username, devices)
        return devices

    async def _device_user(self, who: Principal, mo: ManagedObject) -> User | None:
        user = await self._tenants.get_user(who.tenant_id, mo.owner)
        if user is None or not is_device_user(user):
            return None
        relations = (await self._inventory.relations(who, [mo.id]))[mo.id]
        for parent in relations.parents.get(ChildKind.DEVICE, []):
            owner = (await self._inventory.get(who, parent.id)).owner
            if owner == user.username:
                log.info(
                    "managed object %s is a child device of %s's device %s: %s kept",
                    mo.id,
                    owner,
                    parent.id,
                    owner,
                )
                return None
        return user
