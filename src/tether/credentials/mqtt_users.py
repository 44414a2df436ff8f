"""Users of the EMQX built-in database authenticator (`password_based:built_in_database`): MQTT-only logins
an operator creates with a password of their choosing (argon2) and an optional superuser flag.

A verified credential is remembered for a while (as a keyed digest, never in clear), like
TenantService.authenticate, so that a device reconnecting does not pay argon2 again; changing or deleting the
user forgets it at once.
"""

from __future__ import annotations

import hmac
import time
from collections.abc import Callable

from tether.core.clock import now_ms
from tether.core.errors import BadRequest, NotFound
from tether.core.paging import Page, PageRequest
from tether.credentials.models import MAX_USER_ID_LENGTH, R_MQTT_USER, MqttUser, require_admin
from tether.credentials.store import MqttUserStore
from tether.tenants.models import Principal
from tether.tenants.passwords import generate_password, hash_slowly, verify_slowly

_USER_NOT_FOUND = "User not found"


def validate_user_id(user_id: str) -> str:
    if not user_id or len(user_id) > MAX_USER_ID_LENGTH:
        raise BadRequest(f"'user_id' must be 1 to {MAX_USER_ID_LENGTH} characters long", resource=R_MQTT_USER)
    if "/" in user_id or any(not c.isprintable() for c in user_id):
        # `tenant/user` is how MQTT clients name a tenant, so a user id cannot hold a slash.
        raise BadRequest("'user_id' must not contain '/' or control characters", resource=R_MQTT_USER)
    return user_id


def validate_password(password: str) -> str:
    if not password or len(password) > 1024:
        raise BadRequest("'password' must be 1 to 1024 characters long", resource=R_MQTT_USER)
    return password


class MqttUserService:
    CACHE_SECONDS = 60.0

    def __init__(self, store: MqttUserStore) -> None:
        self._store = store
        self._cache_key = generate_password(32).encode()
        # (tenant, user id) -> (digest of the verified password, until, user)
        self._verified: dict[tuple[str, str], tuple[bytes, float, MqttUser]] = {}
        #: Told (tenant, user id) of a user changed or deleted here (cluster/invalidation.py).
        self.changed: Callable[[str, str], None] = lambda tenant_id, user_id: None

    # -- management ------------------------------------------------------------------------------

    async def create(
        self, who: Principal, user_id: str, password: str, is_superuser: bool = False
    ) -> MqttUser:
        require_admin(who)
        validate_user_id(user_id)
        password_hash = await hash_slowly(validate_password(password))
        user = MqttUser(who.tenant_id, user_id, password_hash, is_superuser, now_ms())
        await self._store.create(user)
        return user

    async def list_users(
        self, who: Principal, page: PageRequest, *, like: str | None = None, is_superuser: bool | None = None
    ) -> Page[MqttUser]:
        require_admin(who)
        return await self._store.find(who.tenant_id, page, like=like, is_superuser=is_superuser)

    async def get(self, who: Principal, user_id: str) -> MqttUser:
        require_admin(who)
        user = await self._store.get(who.tenant_id, user_id)
        if user is None:
            raise NotFound(_USER_NOT_FOUND, resource=R_MQTT_USER)
        return user

    async def update(
        self, who: Principal, user_id: str, *, password: str | None = None, is_superuser: bool | None = None
    ) -> MqttUser:
        if password is None and is_superuser is None:
            raise BadRequest("Give 'password' or 'is_superuser'", resource=R_MQTT_USER)
        user = await self.get(who, user_id)
        password_hash = user.password_hash
        if password is not None:
            password_hash = await hash_slowly(validate_password(password))
        changed = MqttUser(
            user.tenant_id,
            user.user_id,
            password_hash,
            user.is_superuser if is_superuser is None else is_superuser,
            user.created_at,
        )
        self._verified.pop((user.tenant_id, user_id), None)
        replaced = await self._store.replace(changed)
        self._verified.pop((user.tenant_id, user_id), None)  # a login verified meanwhile used the old one
        self.changed(user.tenant_id, user_id)
        if not replaced:
            raise NotFound(_USER_NOT_FOUND, resource=R_MQTT_USER)
        return changed

    async def delete(self, who: Principal, user_id: str) -> None:
        require_admin(who)
        self._verified.pop((who.tenant_id, user_id), None)
        deleted = await self._store.delete(who.tenant_id, user_id)
        self._verified.pop((who.tenant_id, user_id), None)
        self.changed(who.tenant_id, user_id)
        if not deleted:
            raise NotFound(_USER_NOT_FOUND, resource=R_MQTT_USER)

    def forget(self, tenant_id: str, user_id: str) -> None:
        """Drop a verified credential (the user changed elsewhere)."""
        self._verified.pop((tenant_id, user_id), None)

    # -- authentication --------------------------------------------------------------------------

    def _digest(self, tenant_id: str, user_id: str, password: str) -> bytes:
        return hmac.digest(self._cache_key, f"{tenant_id}\0{user_id}\0{password}".encode(), "sha256")

    def cached(self, tenant_id: str, user_id: str, password: str) -> MqttUser | None:
        """The user, when this exact credential was verified within CACHE_SECONDS (no storage, no hash)."""
        hit = self._verified.get((tenant_id, user_id))
        if hit is None or hit[1] <= time.monotonic():
            return None
        if not hmac.compare_digest(hit[0], self._digest(tenant_id, user_id, password)):
            return None
        return hit[2]

    async def find(self, tenant_id: str, user_id: str) -> MqttUser | None:
        return await self._store.get(tenant_id, user_id)

    async def verify(self, user: MqttUser, password: str) -> bool:
        """Check the password (argon2, off the loop); remember it when right."""
        if not await verify_slowly(user.password_hash, password):
            return False
        now = time.monotonic()
        if len(self._verified) > 50_000:
            self._verified = {k: v for k, v in self._verified.items() if v[1] > now}
        self._verified[(user.tenant_id, user.user_id)] = (
            self._digest(user.tenant_id, user.user_id, password),
            now + self.CACHE_SECONDS,
            user,
        )
        return True

    async def authenticate(self, tenant_id: str, user_id: str, password: str) -> MqttUser | None:
        user = self.cached(tenant_id, user_id, password)
        if user is not None:
            return user
        user = await self.find(tenant_id, user_id)
        if user is None or not await self.verify(user, password):
            return None
        return user
