"""In-memory TenantStore and UserStore (tether.tenants.store)."""

from __future__ import annotations

import dataclasses

from tether.core.errors import Conflict
from tether.core.paging import Page, PageRequest
from tether.tenants.models import Role, Tenant, TenantStatus, User, UserCriteria


class FakeTenantStore:
    def __init__(self) -> None:
        self.tenants: dict[str, Tenant] = {}

    async def get(self, tenant_id: str) -> Tenant | None:
        return self.tenants.get(tenant_id)

    async def create(self, tenant: Tenant) -> None:
        if tenant.id in self.tenants:
            raise Conflict(f"Tenant {tenant.id} already exists", resource="tenant")
        self.tenants[tenant.id] = tenant

    async def ids(self) -> list[str]:
        return sorted(t.id for t in self.tenants.values() if t.status is not TenantStatus.DELETED)

    async def find(self, page: PageRequest) -> Page[Tenant]:
        live = sorted(
            (t for t in self.tenants.values() if t.status is not TenantStatus.DELETED),
            key=lambda t: (t.creation_time, t.id),
        )
        items = live[page.offset : page.offset + page.page_size]
        return Page(items, page, len(live) if page.with_total else None)

    async def update(self, tenant: Tenant) -> bool:
        old = self.tenants.get(tenant.id)
        if old is None:
            return False
        self.tenants[tenant.id] = dataclasses.replace(tenant, creation_time=old.creation_time)
        return True

    async def inactive(self) -> set[str]:
        return {t.id for t in self.tenants.values() if t.status is not TenantStatus.ACTIVE}

    async def purge(self, tenant_id: str) -> None:
        """Only this store's part: the tenant is marked DELETED (the other fakes keep their rows)."""
        tenant = self.tenants[tenant_id]
        self.tenants[tenant_id] = dataclasses.replace(tenant, status=TenantStatus.DELETED)


class FakeUserStore:
    def __init__(self) -> None:
        self.users: dict[tuple[str, str], User] = {}
        self.changed: dict[tuple[str, str], int] = {}  # when each password changed (ms); 0: never

    async def get(self, tenant_id: str, username: str) -> User | None:
        return self.users.get((tenant_id, username))

    async def create(self, user: User) -> None:
        key = (user.tenant_id, user.username)
        if key in self.users:
            raise Conflict(f"User {user.username} already exists", resource="user")
        self.users[key] = user
        self.changed[key] = 0

    async def set_password(self, tenant_id: str, username: str, password_hash: str, changed: int) -> bool:
        key = (tenant_id, username)
        user = self.users.get(key)
        if user is None:
            return False
        self.users[key] = dataclasses.replace(user, password_hash=password_hash)
        self.changed[key] = changed
        return True

    async def last_password_change(self) -> int:
        return max(self.changed.values(), default=0)

    async def password_changes(self, since: int) -> list[tuple[str, str, int]]:
        return [(tenant, name, when) for (tenant, name), when in self.changed.items() if when > since]

    async def delete(self, tenant_id: str, username: str) -> bool:
        self.changed.pop((tenant_id, username), None)
        return self.users.pop((tenant_id, username), None) is not None

    async def find(self, tenant_id: str, criteria: UserCriteria, page: PageRequest) -> Page[User]:
        found = sorted(
            (
                u
                for (tenant, name), u in self.users.items()
                if tenant == tenant_id
                and name.startswith(criteria.username or "")
                and (u.roles == {Role.DEVICE}) == criteria.only_devices
            ),
            key=lambda u: u.username,
        )
        return Page(found[page.offset : page.offset + page.page_size], page, len(found))

    async def update(self, user: User) -> bool:
        key = (user.tenant_id, user.username)
        if key not in self.users:
            return False
        self.users[key] = user
        return True
