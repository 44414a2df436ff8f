"""Tenants and users: first-start provisioning and authentication of callers."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import time
from dataclasses import dataclass

from tether.core.clock import now_ms
from tether.core.errors import Conflict
from tether.storage.base import TenantStore, UserStore
from tether.tenants.models import Principal, Role, Tenant, User
from tether.tenants.passwords import generate_password, hash_password, verify_password

BOOTSTRAP_TENANT = "management"
BOOTSTRAP_USER = "devicebootstrap"


@dataclass(frozen=True, slots=True)
class Provisioned:
    """What first start created; a generated password is shown once and never stored in clear."""

    tenant_id: str
    admin_user: str
    admin_password: str | None
    bootstrap_password: str | None


class TenantService:
    # argon2 costs tens of milliseconds by design; a verified credential is remembered (as a keyed
    # digest, never in clear) for a short while so that HTTP Basic on every request stays cheap.
    CACHE_SECONDS = 60.0

    def __init__(self, tenants: TenantStore, users: UserStore) -> None:
        self._tenants = tenants
        self._users = users
        self._cache_key = generate_password(32).encode()
        self._verified: dict[bytes, tuple[float, Principal]] = {}
        self._decoy: str | None = None

    async def _decoy_hash(self) -> str:
        if self._decoy is None:
            self._decoy = await asyncio.to_thread(hash_password, generate_password())
        return self._decoy

    async def provision(
        self,
        tenant_id: str,
        admin_user: str,
        admin_password: str | None,
        bootstrap_password: str | None,
    ) -> Provisioned:
        """Create the default tenant, its admin and the bootstrap user if missing (first start)."""
        shown_admin = shown_bootstrap = None
        if await self._tenants.get(tenant_id) is None:
            await self.create_tenant(tenant_id)
        if await self._users.get(tenant_id, admin_user) is None:
            if admin_password is None:
                admin_password = shown_admin = generate_password(20)
            await self.create_user(tenant_id, admin_user, admin_password, {Role.ADMIN})
        if await self._tenants.get(BOOTSTRAP_TENANT) is None:
            await self.create_tenant(BOOTSTRAP_TENANT)
        if await self._users.get(BOOTSTRAP_TENANT, BOOTSTRAP_USER) is None:
            if bootstrap_password is None:
                bootstrap_password = shown_bootstrap = generate_password(20)
            await self.create_user(BOOTSTRAP_TENANT, BOOTSTRAP_USER, bootstrap_password, {Role.BOOTSTRAP})
        return Provisioned(tenant_id, admin_user, shown_admin, shown_bootstrap)

    async def create_tenant(self, tenant_id: str, domain: str | None = None) -> Tenant:
        tenant = Tenant(id=tenant_id, domain=domain or tenant_id, creation_time=now_ms())
        with contextlib.suppress(Conflict):
            await self._tenants.create(tenant)
        return tenant

    async def get_tenant(self, tenant_id: str) -> Tenant | None:
        return await self._tenants.get(tenant_id)

    async def create_user(self, tenant_id: str, username: str, password: str, roles: set[Role]) -> User:
        password_hash = await asyncio.to_thread(hash_password, password)
        user = User(tenant_id, username, password_hash, frozenset(roles), now_ms())
        await self._users.create(user)
        return user

    async def get_user(self, tenant_id: str, username: str) -> User | None:
        return await self._users.get(tenant_id, username)

    async def authenticate(self, tenant_id: str, username: str, password: str) -> Principal | None:
        """The caller's principal, or None for unknown tenant, user or wrong password (indistinguishable)."""
        digest = hmac.new(
            self._cache_key, f"{tenant_id}\0{username}\0{password}".encode(), hashlib.sha256
        ).digest()
        hit = self._verified.get(digest)
        now = time.monotonic()
        if hit is not None and hit[0] > now:
            return hit[1]
        user = await self._users.get(tenant_id, username)
        # An unknown user costs the same hash as a known one, so timing does not tell which users exist.
        stored = user.password_hash if user is not None else await self._decoy_hash()
        if not await asyncio.to_thread(verify_password, stored, password) or user is None:
            return None
        principal = Principal(tenant_id=tenant_id, username=username, roles=user.roles)
        if len(self._verified) > 10_000:
            self._verified = {k: v for k, v in self._verified.items() if v[0] > now}
        self._verified[digest] = (now + self.CACHE_SECONDS, principal)
        return principal
