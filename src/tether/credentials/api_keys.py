"""API keys for HTTPS clients (EMQX 5 `/api_key`): created by a tenant's administrator, the secret shown once
and stored as a fast hash (it is generated, so it cannot be guessed); a key acts as an administrator of its
tenant while it is enabled and not expired (a viewer key: one that may only read, api/auth.py)."""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable

from tether.core.clock import now_ms
from tether.core.errors import BadRequest, NotFound
from tether.credentials.models import (
    API_KEY_NAME,
    API_KEY_PREFIX,
    R_API_KEY,
    ApiKey,
    ApiKeyRole,
    NewApiKey,
    require_admin,
)
from tether.credentials.store import ApiKeyStore
from tether.tenants.models import Principal, Role
from tether.tenants.passwords import generate_password, hash_secret, verify_password


def api_key_principal(key: ApiKey) -> Principal:
    """Whom a key acts as: an administrator of its tenant, named after the key."""
    return Principal(tenant_id=key.tenant_id, username=f"apikey:{key.name}", roles=frozenset({Role.ADMIN}))


def looks_like_api_key(login: str) -> bool:
    return login.startswith(API_KEY_PREFIX) and "/" not in login


class ApiKeyService:
    # Keys are looked up on every HTTPS request that uses one; only this process changes them, and it
    # forgets a key the moment it is updated or deleted.
    CACHE_SECONDS = 60.0

    def __init__(self, store: ApiKeyStore) -> None:
        self._store = store
        self._by_key: dict[str, tuple[float, ApiKey | None]] = {}
        #: Told the key of one changed or deleted here (cluster/invalidation.py).
        self.changed: Callable[[str], None] = lambda api_key: None
        self._fast_decoy = hash_secret(generate_password())

    async def create(
        self,
        who: Principal,
        name: str,
        *,
        desc: str = "",
        enable: bool = True,
        expired_at: int | None = None,
        role: ApiKeyRole = ApiKeyRole.ADMINISTRATOR,
    ) -> NewApiKey:
        require_admin(who)
        if not API_KEY_NAME.fullmatch(name):
            raise BadRequest(
                "Name should be ^[A-Za-z]+[A-Za-z0-9-_]*$ (1 to 256 characters)", resource=R_API_KEY
            )
        secret = generate_password(40)
        key = ApiKey(
            tenant_id=who.tenant_id,
            name=name,
            api_key=API_KEY_PREFIX + secrets.token_hex(8),
            secret_hash=hash_secret(secret),
            created_at=now_ms(),
            expired_at=expired_at,
            desc=desc,
            enable=enable,
            role=role,
        )
        await self._store.create(key)
        return NewApiKey(key, secret)

    async def list_keys(self, who: Principal) -> list[ApiKey]:
        require_admin(who)
        return await self._store.list(who.tenant_id)

    async def get(self, who: Principal, name: str) -> ApiKey:
        require_admin(who)
        key = await self._store.get(who.tenant_id, name)
        if key is None:
            raise NotFound("Name NOT FOUND", resource=R_API_KEY)
        return key

    async def update(
        self,
        who: Principal,
        name: str,
        *,
        enable: bool | None = None,
        desc: str | None = None,
        set_expiry: bool = False,
        expired_at: int | None = None,
        role: ApiKeyRole | None = None,
    ) -> ApiKey:
        """Change what is given; with `set_expiry`, `expired_at` (None: never expires)."""
        key = await self.get(who, name)
        changed = ApiKey(
            tenant_id=key.tenant_id,
            name=key.name,
            api_key=key.api_key,
            secret_hash=key.secret_hash,
            created_at=key.created_at,
            expired_at=expired_at if set_expiry else key.expired_at,
            desc=key.desc if desc is None else desc,
            enable=key.enable if enable is None else enable,
            role=key.role if role is None else role,
        )
        self._by_key.pop(key.api_key, None)
        replaced = await self._store.replace(changed)
        self.changed(key.api_key)  # stored first: the other nodes read the new one
        if not replaced:
            raise NotFound("Name NOT FOUND", resource=R_API_KEY)
        return changed

    async def delete(self, who: Principal, name: str) -> None:
        key = await self.get(who, name)
        self._by_key.pop(key.api_key, None)
        deleted = await self._store.delete(who.tenant_id, name)
        self.changed(key.api_key)
        if not deleted:
            raise NotFound("Name NOT FOUND", resource=R_API_KEY)

    def forget(self, api_key: str) -> None:
        """Drop a cached key (changed or deleted elsewhere)."""
        self._by_key.pop(api_key, None)

    async def lookup(self, api_key: str) -> ApiKey | None:
        """The key (enabled or not), from a short-lived cache."""
        now = time.monotonic()
        hit = self._by_key.get(api_key)
        if hit is not None and hit[0] > now:
            return hit[1]
        key = await self._store.by_key(api_key)
        if len(self._by_key) > 10_000:
            self._by_key.clear()
        self._by_key[api_key] = (now + self.CACHE_SECONDS, key)
        return key

    async def authenticate(self, api_key: str, secret: str) -> ApiKey | None:
        """The key when the secret is right and the key usable (enabled, not expired); else None.
        The secret is compared in constant time, and an unknown key costs the same hash."""
        key = await self.lookup(api_key)
        ok = verify_password(key.secret_hash if key is not None else self._fast_decoy, secret)
        if key is None or not ok or not key.usable(now_ms()):
            return None
        return key
