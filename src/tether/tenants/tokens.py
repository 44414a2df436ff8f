"""Operator bearer tokens (EMQX 5 `POST /api/v5/login`): a JSON Web Token (RFC 7519, HS256 by PyJWT) for a
person (no device, no bootstrap user) who logged in with user name and password, accepted as
`Authorization: Bearer <token>` until it expires (EMQX's default: 60 minutes) or is logged out. The token
carries no rights: each request sees the user's principal of now (its roles and its groups' roles, as HTTP
Basic does), so an administrator's token acts on every /api/v5 endpoint and a reader's only reads what the
REST gate (api/permissions.py) lets its roles read.

The signing key is made once and stored (OperatorTokenStore), as are the ids of tokens logged out before they
expire: tokens outlive a restart, logouts too. A token names its user and a fingerprint of the password hash
it was issued under; a user deleted, disabled or whose password changed loses its tokens, and a change of
its roles or groups takes effect, within CACHE_SECONDS.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass

import jwt

from tether.tenants.models import Principal, Role, User
from tether.tenants.service import TenantService
from tether.tenants.store import OperatorTokenStore

__all__ = ["OperatorTokens", "TokenRefused"]

_ALGORITHM = "HS256"


class TokenRefused(Exception):
    """A bearer token that cannot be used; `code` is EMQX's (BAD_TOKEN, TOKEN_TIME_OUT)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True, slots=True)
class Issued:
    token: str
    expires_at: int  # seconds since the epoch


def _fingerprint(user: User) -> str:
    return hashlib.sha256(user.password_hash.encode()).hexdigest()[:16]


class OperatorTokens:
    LIFETIME_SECONDS = 3600
    #: How long a verified user record is reused (a token is checked on every request).
    CACHE_SECONDS = 5.0

    def __init__(
        self, tenants: TenantService, store: OperatorTokenStore, lifetime: int = LIFETIME_SECONDS
    ) -> None:
        self._tenants = tenants
        self._store = store
        self._key = b""  # load() reads it
        self.lifetime = lifetime
        self._users: dict[tuple[str, str], tuple[float, User | None, Principal | None]] = {}
        #: Logged-out token ids, until their tokens expire.
        self._revoked: dict[str, int] = {}
        #: Told the id of a token logged out here (the other nodes read the logouts again).
        self.changed: Callable[[str], None] = lambda jti: None

    async def load(self) -> None:
        """The stored signing key (made on the first start) and the logouts still in force."""
        self._key = await self._store.signing_key(secrets.token_bytes(32))
        self._revoked = await self._store.revoked(int(time.time()))

    @staticmethod
    def may_log_in(principal: Principal) -> bool:
        """Persons only: a device or the bootstrap user has no business with an operator's token."""
        return not principal.roles & {Role.DEVICE, Role.BOOTSTRAP}

    def issue(self, user: User) -> Issued:
        now = int(time.time())
        expires_at = now + self.lifetime
        claims = {
            "sub": user.username,
            "tid": user.tenant_id,
            "pwd": _fingerprint(user),
            "iat": now,
            "exp": expires_at,
            "jti": secrets.token_hex(8),
        }
        return Issued(jwt.encode(claims, self._key, algorithm=_ALGORITHM), expires_at)

    async def verify(self, token: str) -> Principal:
        """The principal of the person the token was issued to, as of now; TokenRefused otherwise."""
        try:
            claims = jwt.decode(
                token, self._key, algorithms=[_ALGORITHM], options={"require": ["exp", "sub", "tid", "jti"]}
            )
        except jwt.ExpiredSignatureError:
            raise TokenRefused("TOKEN_TIME_OUT", "Token expired, get new token by POST /login") from None
        except jwt.InvalidTokenError:
            raise TokenRefused("BAD_TOKEN", "Get a token by POST /login") from None
        if claims["jti"] in self._revoked:
            raise TokenRefused("BAD_TOKEN", "Logged out: get a new token by POST /login")
        if not self._tenants.is_active(str(claims["tid"])):
            raise TokenRefused("BAD_TOKEN", "The token's tenant is suspended")
        user, principal = await self._user(str(claims["tid"]), str(claims["sub"]))
        if user is None or principal is None or _fingerprint(user) != claims.get("pwd"):
            raise TokenRefused("BAD_TOKEN", "The token's user or password changed: POST /login again")
        if not user.enabled:
            raise TokenRefused("BAD_TOKEN", "The token's user is disabled")
        if not self.may_log_in(principal):
            raise TokenRefused("BAD_TOKEN", "The token's user is no person")
        return principal

    async def revoke(self, token: str) -> None:
        """Log a token out (it is already verified); stored before this returns."""
        claims = jwt.decode(token, self._key, algorithms=[_ALGORITHM], options={"verify_exp": False})
        now = int(time.time())
        jti, expires_at = str(claims["jti"]), int(claims["exp"])
        await self._store.revoke(jti, expires_at)
        self._revoked = {j: exp for j, exp in self._revoked.items() if exp > now}
        self._revoked[jti] = expires_at
        self.changed(jti)

    async def reload_revoked(self) -> None:
        """Read the logouts again (a token was logged out on another node)."""
        self._revoked = await self._store.revoked(int(time.time()))

    def forget(self, tenant_id: str, username: str | None = None) -> None:
        """Drop the cached records of a user (or of every user of the tenant) whose credential changed."""
        for key in [k for k in self._users if k[0] == tenant_id and (username is None or k[1] == username)]:
            del self._users[key]

    async def _user(self, tenant_id: str, username: str) -> tuple[User | None, Principal | None]:
        """The stored user and its principal (its groups' roles included), reused for CACHE_SECONDS."""
        now = time.monotonic()
        key = (tenant_id, username)
        hit = self._users.get(key)
        if hit is not None and hit[0] > now:
            return hit[1], hit[2]
        user = await self._tenants.get_user(tenant_id, username)
        principal = await self._tenants.principal_of(user) if user is not None else None
        if len(self._users) > 10_000:
            self._users.clear()
        self._users[key] = (now + self.CACHE_SECONDS, user, principal)
        return user, principal
