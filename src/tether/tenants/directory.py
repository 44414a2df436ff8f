"""User management of a tenant (Cumulocity /user): users, groups, and the global roles of both.

Reading takes ROLE_USER_MANAGEMENT_READ, changing ROLE_USER_MANAGEMENT_ADMIN; a manager who is no
administrator grants only roles it holds itself (no one raises its own rights). Every change of roles or
membership drops the cached verifications of whom it concerns, so the next request carries the new rights.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable, Mapping

from tether.audit.models import NewAuditRecord
from tether.audit.port import AuditTrail
from tether.core.errors import Forbidden, InvalidInput, NotFound
from tether.core.paging import Page, PageRequest
from tether.tenants.models import Group, Principal, Role, User, UserCriteria
from tether.tenants.passwords import verify_slowly
from tether.tenants.permissions import GLOBAL_ROLES, is_role
from tether.tenants.service import TenantService
from tether.tenants.store import GroupStore, UserStore

R = "user"
USERS = "USER_MANAGEMENT"
#: Cumulocity: a user name holds no whitespace, slashes, `+`, `:` or `$` (the login is tenant/user:pw).
_USERNAME = re.compile(r"[^\s/\\+:$]{1,255}")
DEVICE_USER_PREFIX = "device_"  # registration.models.DEVICE_USER_PREFIX: reserved for device users
MIN_PASSWORD, MAX_PASSWORD = 8, 128

#: Fields of a user that the users API changes (Cumulocity's names -> ours).
USER_FIELDS = {
    "email": "email",
    "firstName": "first_name",
    "lastName": "last_name",
    "phone": "phone",
    "displayName": "display_name",
}


def check_password(password: object) -> str:
    if not isinstance(password, str) or not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
        raise InvalidInput(f"A password has {MIN_PASSWORD} to {MAX_PASSWORD} characters", resource=R)
    if "\x00" in password:
        raise InvalidInput("A password holds no NUL character", resource=R)
    return password


def user_fields(document: Mapping[str, object]) -> dict[str, object]:
    """The changes a user document asks for (email, names, phone, enabled), validated."""
    changes: dict[str, object] = {}
    for key, name in USER_FIELDS.items():
        if key in document:
            value = document[key]
            if value is not None and (not isinstance(value, str) or len(value) > 255 or "\x00" in value):
                raise InvalidInput(f"'{key}' must be a text of at most 255 characters", resource=R)
            changes[name] = value or None
    if "enabled" in document:
        if not isinstance(document["enabled"], bool):
            raise InvalidInput("'enabled' must be true or false", resource=R)
        changes["enabled"] = document["enabled"]
    return changes


class UserDirectory:
    def __init__(
        self, tenants: TenantService, users: UserStore, groups: GroupStore, audit: AuditTrail | None = None
    ) -> None:
        self._tenants = tenants
        self._users = users
        self._groups = groups
        self._audit = audit

    def _record(self, who: Principal, kind: str, activity: str, text: str, source: str) -> None:
        """An audit record of a change of users, groups or roles (type User or Group)."""
        if self._audit is not None:
            self._audit.record(
                NewAuditRecord(who.tenant_id, kind, activity, text, user=who.username, source=source)
            )

    # ------------------------------------------------------------------------------------------ checks

    @staticmethod
    def _check(who: Principal, tenant_id: str, write: bool) -> None:
        if tenant_id != who.tenant_id:  # a tenant's users are its own
            raise Forbidden(f"Access is denied to the users of tenant {tenant_id}", resource="security")
        if not who.may(USERS, write):
            raise Forbidden("Access is denied", resource="security")

    @staticmethod
    def _may_grant(who: Principal, roles: Iterable[str]) -> None:
        missing = sorted(set(roles) - who.grants) if not who.is_admin else []
        if missing:
            raise Forbidden(f"Access is denied: you do not hold {', '.join(missing)}", resource="security")

    # ------------------------------------------------------------------------------------------- users

    async def find(
        self, who: Principal, tenant_id: str, criteria: UserCriteria, page: PageRequest
    ) -> Page[User]:
        self._check(who, tenant_id, False)
        return await self._users.find(tenant_id, criteria, page)

    async def get(self, who: Principal, tenant_id: str, username: str) -> User:
        if who.tenant_id != tenant_id or who.username != username:  # one's own entry takes no role
            self._check(who, tenant_id, False)
        user = await self._users.get(tenant_id, username)
        if user is None:
            raise NotFound(f"User with id = {username} not found", resource=R)
        return user

    async def groups_of(self, tenant_id: str, username: str) -> list[Group]:
        return await self._groups.of_user(tenant_id, username)

    async def create(
        self, who: Principal, tenant_id: str, username: object, password: object, fields: dict[str, object]
    ) -> User:
        self._check(who, tenant_id, True)
        if not isinstance(username, str) or not _USERNAME.fullmatch(username):
            raise InvalidInput(
                "'userName' is 1 to 255 characters without whitespace, '/', '\\', '+', ':' or '$'", resource=R
            )
        if username.startswith(DEVICE_USER_PREFIX):
            raise InvalidInput(f"User names starting with {DEVICE_USER_PREFIX} are device users", resource=R)
        user = dataclasses.replace(
            User(tenant_id, username, "", frozenset(), 0),
            **fields,  # type: ignore[arg-type]
        )
        created = await self._tenants.create_person(user, check_password(password))
        self._record(who, "User", "User created", f"User {username} created", username)
        return created

    async def update(self, who: Principal, tenant_id: str, username: str, fields: dict[str, object]) -> User:
        self._check(who, tenant_id, True)
        user = await self.get(who, tenant_id, username)
        if fields.get("enabled") is False and username == who.username:
            raise Forbidden("Access is denied: you cannot disable yourself", resource="security")
        changed = await self._store(user, fields)
        self._record(who, "User", "User updated", f"User {username} updated: {sorted(fields)}", username)
        return changed

    async def _store(self, user: User, fields: dict[str, object]) -> User:
        changed = dataclasses.replace(user, **fields)  # type: ignore[arg-type]
        if not await self._users.update(changed):
            raise NotFound(f"User with id = {user.username} not found", resource=R)
        if user.enabled and not changed.enabled:
            self._tenants.revoke(changed)  # a disabled user's sessions end now
        return changed

    async def update_own(self, who: Principal, fields: dict[str, object]) -> User:
        """PUT /user/currentUser: names, email and phone of the caller (not its enabled flag)."""
        fields = {k: v for k, v in fields.items() if k != "enabled"}
        return await self._store(await self.get(who, who.tenant_id, who.username), fields)

    async def set_password(self, who: Principal, tenant_id: str, username: str, password: object) -> None:
        if who.tenant_id != tenant_id or who.username != username:
            self._check(who, tenant_id, True)
        await self.get(who, tenant_id, username)
        await self._tenants.set_password(tenant_id, username, check_password(password))
        self._record(who, "User", "Password changed", f"Password of user {username} changed", username)

    async def change_own_password(self, who: Principal, current: object, new: object) -> None:
        """PUT /user/currentUser/password: the current password proves it is the user itself."""
        user = await self.get(who, who.tenant_id, who.username)
        if not isinstance(current, str) or not await verify_slowly(user.password_hash, current):
            raise InvalidInput("The current password is wrong", resource=R)
        await self._tenants.set_password(who.tenant_id, who.username, check_password(new))

    async def deletable(self, who: Principal, tenant_id: str, username: str) -> User:
        """The user `who` may delete (not itself, not the bootstrap user)."""
        self._check(who, tenant_id, True)
        user = await self.get(who, tenant_id, username)
        if username == who.username:
            raise Forbidden("Access is denied: you cannot delete yourself", resource="security")
        if Role.BOOTSTRAP in user.roles:
            raise Forbidden("Access is denied: the bootstrap user is kept", resource="security")
        if Role.ADMIN in user.roles and not who.is_admin:
            raise Forbidden("Access is denied: deleting an administrator takes one", resource="security")
        return user

    async def delete(self, who: Principal, tenant_id: str, username: str) -> None:
        await self.deletable(who, tenant_id, username)
        await self._tenants.delete_user(tenant_id, username)
        self._record(who, "User", "User deleted", f"User {username} deleted", username)

    async def assign_role(self, who: Principal, tenant_id: str, username: str, role: str) -> User:
        self._check(who, tenant_id, True)
        self._known(role)
        self._may_grant(who, [role])
        user = await self.get(who, tenant_id, username)
        changed = await self._store(user, {"global_roles": user.global_roles | {role}})
        self._tenants.forget(tenant_id, username)
        self._record(who, "User", "Role assigned", f"Role {role} assigned to user {username}", username)
        return changed

    async def unassign_role(self, who: Principal, tenant_id: str, username: str, role: str) -> None:
        self._check(who, tenant_id, True)
        user = await self.get(who, tenant_id, username)
        if role not in user.global_roles:
            raise NotFound(f"Role {role} is not assigned to user {username}", resource=R)
        await self._store(user, {"global_roles": user.global_roles - {role}})
        self._tenants.forget(tenant_id, username)
        self._record(who, "User", "Role unassigned", f"Role {role} removed from user {username}", username)

    # ------------------------------------------------------------------------------------------ groups

    @staticmethod
    def _known(role: str) -> None:
        if not is_role(role):
            raise NotFound(f"Role {role} not found", resource=R)

    async def groups(self, who: Principal, tenant_id: str, page: PageRequest) -> Page[Group]:
        self._check(who, tenant_id, False)
        return await self._groups.find(tenant_id, page)

    async def group(self, who: Principal, tenant_id: str, group_id: int) -> Group:
        self._check(who, tenant_id, False)
        group = await self._groups.get(tenant_id, group_id)
        if group is None:
            raise NotFound(f"Group with id = {group_id} not found", resource=R)
        return group

    async def group_by_name(self, who: Principal, tenant_id: str, name: str) -> Group:
        self._check(who, tenant_id, False)
        group = await self._groups.by_name(tenant_id, name)
        if group is None:
            raise NotFound(f"Group with name = {name} not found", resource=R)
        return group

    @staticmethod
    def _group_text(document: Mapping[str, object], key: str, required: bool) -> str | None:
        value = document.get(key)
        if value is None and not required:
            return None
        if not isinstance(value, str) or not value.strip() or len(value) > 255 or "\x00" in value:
            raise InvalidInput(f"'{key}' must be a text of 1 to 255 characters", resource=R)
        return value

    async def create_group(self, who: Principal, tenant_id: str, document: Mapping[str, object]) -> Group:
        self._check(who, tenant_id, True)
        name = self._group_text(document, "name", True)
        assert name is not None
        description = self._group_text(document, "description", False)
        group = await self._groups.create(tenant_id, name, description, frozenset())
        self._record(who, "Group", "Group created", f"Group {name} created", str(group.id))
        return group

    async def update_group(
        self, who: Principal, tenant_id: str, group_id: int, document: Mapping[str, object]
    ) -> Group:
        group = await self.group(who, tenant_id, group_id)
        self._check(who, tenant_id, True)
        changed = dataclasses.replace(
            group,
            name=self._group_text(document, "name", False) or group.name,
            description=self._group_text(document, "description", False) or group.description,
        )
        if not await self._groups.update(changed):
            raise NotFound(f"Group with id = {group_id} not found", resource=R)
        return changed

    async def delete_group(self, who: Principal, tenant_id: str, group_id: int) -> None:
        await self.group(who, tenant_id, group_id)
        self._check(who, tenant_id, True)
        await self._groups.delete(tenant_id, group_id)
        self._tenants.forget(tenant_id)
        self._record(who, "Group", "Group deleted", f"Group {group_id} deleted", str(group_id))

    async def add_group_role(self, who: Principal, tenant_id: str, group_id: int, role: str) -> Group:
        group = await self.group(who, tenant_id, group_id)
        self._check(who, tenant_id, True)
        self._known(role)
        self._may_grant(who, [role])
        changed = dataclasses.replace(group, roles=group.roles | {role})
        await self._groups.update(changed)
        self._tenants.forget(tenant_id)
        self._record(
            who, "Group", "Role assigned", f"Role {role} assigned to group {group.name}", str(group_id)
        )
        return changed

    async def remove_group_role(self, who: Principal, tenant_id: str, group_id: int, role: str) -> None:
        group = await self.group(who, tenant_id, group_id)
        self._check(who, tenant_id, True)
        if role not in group.roles:
            raise NotFound(f"Role {role} is not assigned to group {group_id}", resource=R)
        await self._groups.update(dataclasses.replace(group, roles=group.roles - {role}))
        self._tenants.forget(tenant_id)
        self._record(
            who, "Group", "Role unassigned", f"Role {role} removed from group {group.name}", str(group_id)
        )

    async def members(self, who: Principal, tenant_id: str, group_id: int, page: PageRequest) -> Page[User]:
        await self.group(who, tenant_id, group_id)
        return await self._groups.members(tenant_id, group_id, page)

    async def add_member(self, who: Principal, tenant_id: str, group_id: int, username: str) -> User:
        group = await self.group(who, tenant_id, group_id)
        self._check(who, tenant_id, True)
        self._may_grant(who, group.roles)
        user = await self.get(who, tenant_id, username)
        await self._groups.add_member(tenant_id, group_id, username)
        self._tenants.forget(tenant_id, username)
        self._record(
            who, "Group", "Member added", f"User {username} added to group {group.name}", str(group_id)
        )
        return user

    async def remove_member(self, who: Principal, tenant_id: str, group_id: int, username: str) -> None:
        await self.group(who, tenant_id, group_id)
        self._check(who, tenant_id, True)
        if not await self._groups.remove_member(tenant_id, group_id, username):
            raise NotFound(f"User {username} is not a member of group {group_id}", resource=R)
        self._tenants.forget(tenant_id, username)
        self._record(
            who, "Group", "Member removed", f"User {username} removed from group {group_id}", str(group_id)
        )


def role_names(page: PageRequest) -> Page[str]:
    """`/user/roles`: every global role Tether knows, by name."""
    names = sorted(GLOBAL_ROLES)
    return Page(names[page.offset : page.offset + page.page_size], page, len(names))
