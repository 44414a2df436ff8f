"""Inventory roles (Cumulocity /user/inventoryroles) and their assignment to users on managed objects,
usually device groups (/user/{tenant}/users/{user}/roles/inventory).

A role is a named set of permissions (level READ, ADMIN or `*`; scope ALARM, AUDIT, EVENT, MANAGED_OBJECT,
MEASUREMENT, OPERATION or `*`; a type). An assignment gives one user some roles on one managed object: the
user then reaches that object and its descendants in the scopes the roles name (inventory/access.py applies
it; the REST gate api/permissions.py admits the user by it). Reading roles and assignments takes
ROLE_USER_MANAGEMENT_READ, changing them _ADMIN (a user reads its own assignments without a role).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from tether.core.errors import Conflict, Forbidden, InvalidInput, Missing, NotFound
from tether.core.paging import Page, PageRequest
from tether.tenants.models import (
    INVENTORY_LEVELS,
    INVENTORY_SCOPES,
    InventoryGrant,
    InventoryPermission,
    Principal,
)

R = "user"
USERS = "USER_MANAGEMENT"
MAX_PERMISSIONS = 100


@dataclass(frozen=True, slots=True)
class InventoryRole:
    id: int
    tenant_id: str
    name: str
    description: str | None
    permissions: tuple[InventoryPermission, ...]


@dataclass(frozen=True, slots=True)
class RoleDraft:
    name: str
    description: str | None
    permissions: tuple[InventoryPermission, ...]


@dataclass(frozen=True, slots=True)
class Assignment:
    id: int
    tenant_id: str
    username: str
    mo_id: int
    role_ids: tuple[int, ...]


#: The inventory roles every tenant starts with, as Cumulocity ships them: name -> (description, permissions).
DEFAULT_ROLES: dict[str, tuple[str, tuple[InventoryPermission, ...]]] = {
    "Manager": ("Can read and write all data of the assigned objects", (InventoryPermission("*", "*"),)),
    "Reader": ("Can read all data of the assigned objects", (InventoryPermission("READ", "*"),)),
    "Operations: All": (
        "Can send every operation to the assigned devices",
        (InventoryPermission("ADMIN", "OPERATION"),),
    ),
    "Operations: Restart Device": (
        "Can restart the assigned devices",
        (InventoryPermission("ADMIN", "OPERATION", "c8y_Restart"),),
    ),
}


class InventoryRoleStore(Protocol):
    """Implementation: storage/sql/inventory_roles.py."""

    async def create(self, tenant_id: str, draft: RoleDraft) -> InventoryRole:
        """Conflict when the tenant has a role of that name."""
        ...

    async def get(self, tenant_id: str, role_id: int) -> InventoryRole | None: ...
    async def by_ids(self, tenant_id: str, role_ids: list[int]) -> list[InventoryRole]: ...
    async def by_name(self, tenant_id: str, name: str) -> InventoryRole | None: ...
    async def find(self, tenant_id: str, page: PageRequest) -> Page[InventoryRole]: ...
    async def update(self, tenant_id: str, role_id: int, draft: RoleDraft) -> bool: ...
    async def delete(self, tenant_id: str, role_id: int) -> bool:
        """The role, and it from every assignment."""
        ...

    async def assign(self, tenant_id: str, username: str, mo_id: int, role_ids: list[int]) -> Assignment: ...
    async def assignment(self, tenant_id: str, username: str, assignment_id: int) -> Assignment | None: ...
    async def assignments(self, tenant_id: str, username: str) -> list[Assignment]: ...
    async def reassign(
        self, tenant_id: str, username: str, assignment_id: int, role_ids: list[int]
    ) -> bool: ...
    async def unassign(self, tenant_id: str, username: str, assignment_id: int) -> bool: ...
    async def user_exists(self, tenant_id: str, username: str) -> bool: ...
    async def object_exists(self, tenant_id: str, mo_id: int) -> bool: ...


def check_draft(draft: RoleDraft) -> RoleDraft:
    if not draft.name or len(draft.name) > 255 or "\x00" in draft.name:
        raise InvalidInput("'name' must be 1 to 255 characters without NUL", resource=R)
    if draft.description is not None and (len(draft.description) > 10_000 or "\x00" in draft.description):
        raise InvalidInput("'description' must be at most 10000 characters without NUL", resource=R)
    if len(draft.permissions) > MAX_PERMISSIONS:
        raise InvalidInput(f"An inventory role has at most {MAX_PERMISSIONS} permissions", resource=R)
    for p in draft.permissions:
        if p.permission not in INVENTORY_LEVELS:
            raise InvalidInput(f"'permission' must be one of {', '.join(INVENTORY_LEVELS)}", resource=R)
        if p.scope not in INVENTORY_SCOPES:
            raise InvalidInput(f"'scope' must be one of {', '.join(INVENTORY_SCOPES)}", resource=R)
        if not p.type or len(p.type) > 255 or "\x00" in p.type:
            raise InvalidInput("'type' must be 1 to 255 characters without NUL", resource=R)
    return draft


class InventoryRoleService:
    def __init__(self, store: InventoryRoleStore) -> None:
        self._store = store
        #: Told (tenant, user; None: every user) when what a principal carries changed, so that cached
        #: verified credentials are dropped (TenantService.forget sets itself here).
        self.changed: Callable[[str, str | None], None] = lambda tenant_id, username: None

    @staticmethod
    def _check(who: Principal, write: bool, tenant_id: str | None = None) -> None:
        if tenant_id is not None and tenant_id != who.tenant_id:
            raise Forbidden(f"Access is denied to the users of tenant {tenant_id}", resource="security")
        if not who.may(USERS, write):
            raise Forbidden("Access is denied", resource="security")

    # -- roles

    async def provision(self, tenant_id: str) -> None:
        """The default roles a tenant lacks (by name)."""
        for name, (description, permissions) in DEFAULT_ROLES.items():
            if await self._store.by_name(tenant_id, name) is None:
                with contextlib.suppress(Conflict):  # another server made it meanwhile
                    await self._store.create(tenant_id, RoleDraft(name, description, permissions))

    async def create(self, who: Principal, draft: RoleDraft) -> InventoryRole:
        self._check(who, True)
        return await self._store.create(who.tenant_id, check_draft(draft))

    async def get(self, who: Principal, role_id: int) -> InventoryRole:
        self._check(who, False)
        role = await self._store.get(who.tenant_id, role_id)
        if role is None:
            raise NotFound(missing=Missing.of("inventory role", role_id), resource=R)
        return role

    async def find(self, who: Principal, page: PageRequest) -> Page[InventoryRole]:
        self._check(who, False)
        return await self._store.find(who.tenant_id, page)

    async def update(self, who: Principal, role_id: int, draft: RoleDraft) -> InventoryRole:
        self._check(who, True)
        if not await self._store.update(who.tenant_id, role_id, check_draft(draft)):
            raise NotFound(missing=Missing.of("inventory role", role_id), resource=R)
        self.changed(who.tenant_id, None)
        return await self.get(who, role_id)

    async def delete(self, who: Principal, role_id: int) -> None:
        self._check(who, True)
        if not await self._store.delete(who.tenant_id, role_id):
            raise NotFound(missing=Missing.of("inventory role", role_id), resource=R)
        self.changed(who.tenant_id, None)

    # -- assignments

    async def _roles(self, tenant_id: str, role_ids: list[int]) -> list[InventoryRole]:
        roles = await self._store.by_ids(tenant_id, role_ids)
        missing = sorted(set(role_ids) - {r.id for r in roles})
        if missing:
            raise NotFound(missing=Missing.of("inventory role", missing[0]), resource=R)
        return roles

    async def _user(self, who: Principal, tenant_id: str, username: str, write: bool) -> None:
        if write or who.tenant_id != tenant_id or who.username != username:  # one's own, read: no role
            self._check(who, write, tenant_id)
        if "\x00" in username or not await self._store.user_exists(tenant_id, username):
            raise NotFound(f"User with id = {username} not found", resource=R)

    async def assign(
        self, who: Principal, tenant_id: str, username: str, mo_id: int, role_ids: list[int]
    ) -> tuple[Assignment, list[InventoryRole]]:
        await self._user(who, tenant_id, username, True)
        if not role_ids:
            raise InvalidInput("An assignment names at least one inventory role", resource=R)
        if not await self._store.object_exists(tenant_id, mo_id):
            raise NotFound(missing=Missing.of("managed object", mo_id), resource=R)
        roles = await self._roles(tenant_id, role_ids)
        made = await self._store.assign(tenant_id, username, mo_id, sorted(set(role_ids)))
        self.changed(tenant_id, username)
        return made, roles

    async def assignments(
        self, who: Principal, tenant_id: str, username: str
    ) -> list[tuple[Assignment, list[InventoryRole]]]:
        await self._user(who, tenant_id, username, False)
        found = await self._store.assignments(tenant_id, username)
        roles = {
            r.id: r
            for r in await self._store.by_ids(tenant_id, sorted({i for a in found for i in a.role_ids}))
        }
        return [(a, [roles[i] for i in a.role_ids if i in roles]) for a in found]

    async def assignment(
        self, who: Principal, tenant_id: str, username: str, assignment_id: int
    ) -> tuple[Assignment, list[InventoryRole]]:
        await self._user(who, tenant_id, username, False)
        found = await self._store.assignment(tenant_id, username, assignment_id)
        if found is None:
            raise NotFound(missing=Missing.of("inventory assignment", assignment_id), resource=R)
        return found, await self._store.by_ids(tenant_id, list(found.role_ids))

    async def reassign(
        self, who: Principal, tenant_id: str, username: str, assignment_id: int, role_ids: list[int]
    ) -> tuple[Assignment, list[InventoryRole]]:
        await self._user(who, tenant_id, username, True)
        if not role_ids:
            raise InvalidInput("An assignment names at least one inventory role", resource=R)
        await self._roles(tenant_id, role_ids)
        if not await self._store.reassign(tenant_id, username, assignment_id, sorted(set(role_ids))):
            raise NotFound(missing=Missing.of("inventory assignment", assignment_id), resource=R)
        self.changed(tenant_id, username)
        return await self.assignment(who, tenant_id, username, assignment_id)

    async def unassign(self, who: Principal, tenant_id: str, username: str, assignment_id: int) -> None:
        await self._user(who, tenant_id, username, True)
        if not await self._store.unassign(tenant_id, username, assignment_id):
            raise NotFound(missing=Missing.of("inventory assignment", assignment_id), resource=R)
        self.changed(tenant_id, username)

    # -- what a principal carries

    async def grants(self, tenant_id: str, username: str) -> tuple[InventoryGrant, ...]:
        """The user's assignments as grants (one per assigned object; its roles' permissions together)."""
        found = await self._store.assignments(tenant_id, username)
        if not found:
            return ()
        roles = {
            r.id: r
            for r in await self._store.by_ids(tenant_id, sorted({i for a in found for i in a.role_ids}))
        }
        return tuple(
            InventoryGrant(a.mo_id, tuple(p for i in a.role_ids if i in roles for p in roles[i].permissions))
            for a in found
        )
