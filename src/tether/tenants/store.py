"""The stores of tenants and their users. Implementations: storage/sql (SQLite, PostgreSQL).

Every method that reads or writes a tenant's data takes the tenant id first: no store answers across tenants.
"""

from __future__ import annotations

from typing import Protocol

from tether.tenants.models import Tenant, User


class TenantStore(Protocol):
    async def get(self, tenant_id: str) -> Tenant | None: ...
    async def create(self, tenant: Tenant) -> None: ...


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
