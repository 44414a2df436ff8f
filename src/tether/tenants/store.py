"""The stores of tenants and their users. Implementations: storage/sql (SQLite, PostgreSQL).

Every method that reads or writes a tenant's data takes the tenant id first: no store answers across tenants.
"""

from __future__ import annotations

from typing import Protocol

from tether.core.paging import Page, PageRequest
from tether.tenants.models import Group, Tenant, User, UserCriteria


class TenantStore(Protocol):
    async def get(self, tenant_id: str) -> Tenant | None:
        """The tenant, a DELETED one included (its id stays taken)."""
        ...

    async def create(self, tenant: Tenant) -> None:
        """Conflict if the id is taken (by a deleted tenant too)."""
        ...

    async def ids(self) -> list[str]:
        """Every live tenant's id (for the platform's own work across tenants, e.g. timers to restore)."""
        ...

    async def find(self, page: PageRequest) -> Page[Tenant]:
        """The tenants that are not DELETED, by creation time."""
        ...

    async def update(self, tenant: Tenant) -> bool:
        """Store every field but id and creation time; False if there is no such tenant."""
        ...

    async def inactive(self) -> set[str]:
        """The ids of the tenants whose status is not ACTIVE (SUSPENDED or DELETED)."""
        ...

    async def purge(self, tenant_id: str) -> None:
        """Delete every row of the tenant's data in every table (users, devices and their data, options,
        credentials, rules, audit records, broker sessions and retained messages under its mountpoint) and
        mark the tenant DELETED, in one transaction."""
        ...


class UserStore(Protocol):
    async def get(self, tenant_id: str, username: str) -> User | None: ...
    async def create(self, user: User) -> None: ...
    async def set_password(self, tenant_id: str, username: str, password_hash: str, changed: int) -> bool:
        """Store a new hash and when it changed (ms); False if there is no such user."""
        ...

    async def last_password_change(self) -> int:
        """The latest `changed` of any user (0: none)."""
        ...

    async def password_changes(self, since: int) -> list[tuple[str, str, int]]:
        """(tenant id, user name, changed) of every user whose password changed after `since`."""
        ...

    async def delete(self, tenant_id: str, username: str) -> bool:
        """Whether the user existed (and is gone now)."""
        ...

    async def find(self, tenant_id: str, criteria: UserCriteria, page: PageRequest) -> Page[User]:
        """The tenant's users by name, ordered by user name."""
        ...

    async def update(self, user: User) -> bool:
        """Store a user's fields (not its password or roles of Tether); False if there is no such user."""
        ...


class GroupStore(Protocol):
    async def create(
        self, tenant_id: str, name: str, description: str | None, roles: frozenset[str]
    ) -> Group:
        """A new group with a never reused id; Conflict if the tenant has a group of that name."""
        ...

    async def get(self, tenant_id: str, group_id: int) -> Group | None: ...
    async def by_name(self, tenant_id: str, name: str) -> Group | None: ...
    async def find(self, tenant_id: str, page: PageRequest) -> Page[Group]: ...
    async def update(self, group: Group) -> bool:
        """Store name, description and roles; Conflict if the name is another group's."""
        ...

    async def delete(self, tenant_id: str, group_id: int) -> bool: ...
    async def add_member(self, tenant_id: str, group_id: int, username: str) -> None:
        """Idempotent; the group and the user must exist."""
        ...

    async def remove_member(self, tenant_id: str, group_id: int, username: str) -> bool: ...
    async def members(self, tenant_id: str, group_id: int, page: PageRequest) -> Page[User]: ...
    async def of_user(self, tenant_id: str, username: str) -> list[Group]:
        """The groups a user belongs to, by id."""
        ...


class OperatorTokenStore(Protocol):
    """What makes operator bearer tokens (tenants/tokens.py) outlive the process: the signing key and the
    tokens logged out before they expire."""

    async def signing_key(self, candidate: bytes) -> bytes:
        """The stored key; `candidate` is stored and returned when there is none yet."""
        ...

    async def revoke(self, token_id: str, expires_at: int) -> None: ...
    async def revoked(self, now: int) -> dict[str, int]:
        """Token id -> expiry (s) of the logged-out tokens not yet expired; the expired ones are forgotten."""
        ...
