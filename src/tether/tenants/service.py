"""Tenants and users: first-start provisioning and authentication of callers."""

from __future__ import annotations

import contextlib
import dataclasses
import hmac
import time
from collections.abc import Callable
from dataclasses import dataclass

from tether.audit.models import NewAuditRecord
from tether.audit.port import AuditTrail
from tether.core.clock import now_ms
from tether.core.errors import Conflict
from tether.core.events import Action, DomainEvent, EventBus
from tether.tenants.inventory_roles import InventoryRoleService
from tether.tenants.models import Principal, Role, Tenant, User
from tether.tenants.passwords import (
    generate_password,
    hash_secret,
    hash_slowly,
    verify_password,
    verify_slowly,
)
from tether.tenants.permissions import DEFAULT_GROUPS, principal_of
from tether.tenants.store import GroupStore, TenantStore, UserStore
from tether.tenants.verified import VerifiedCache

BOOTSTRAP_TENANT = "management"
BOOTSTRAP_USER = "devicebootstrap"


@dataclass(frozen=True, slots=True)
class Provisioned:
    """What first start created; a generated password is shown once and never stored in clear."""

    tenant_id: str
    admin_user: str
    admin_password: str | None
    bootstrap_password: str | None
    # A password given for a user that exists with another one: it is not applied (`tether admin
    # set-password` changes it).
    admin_password_ignored: bool = False
    bootstrap_password_ignored: bool = False


class TenantService:
    # argon2 costs tens of milliseconds by design; a verified credential is remembered (as a keyed
    # digest, never in clear) for a short while so that HTTP Basic on every request stays cheap.
    CACHE_SECONDS = 60.0
    CACHE_SIZE = 50_000

    #: How long a deleted user's password hash is refused by `verify` (a login that read the user before
    #: the deletion must not succeed after it); far longer than any login takes.
    RETIRED_SECONDS = 600.0

    def __init__(
        self,
        tenants: TenantStore,
        users: UserStore,
        events: EventBus | None = None,
        groups: GroupStore | None = None,
        audit: AuditTrail | None = None,
        inventory_roles: InventoryRoleService | None = None,
    ) -> None:
        """`groups`: the user groups, whose roles a person's principal carries (without it, only the
        user's own roles count)."""
        self._tenants = tenants
        self._users = users
        self._groups = groups
        self._inventory_roles = inventory_roles
        if inventory_roles is not None:
            inventory_roles.changed = self.forget  # assignments live in the principal: recompute it
        self._events = events
        self._audit = audit
        self._cache_key = generate_password(32).encode()
        self._verified = VerifiedCache(self.CACHE_SECONDS, self.CACHE_SIZE)
        self._retired: dict[str, float] = {}  # password hash of a deleted user -> until
        self._decoy: str | None = None
        self._fast_decoy = hash_secret(generate_password())
        #: Tenants whose users and devices may not log in (SUSPENDED or DELETED): checked in memory at every
        #: login, loaded at start and kept current by `refresh_status` (every server polls it).
        self._inactive: set[str] = set()
        #: Told of every change made here that other processes must hear of at once (a cluster's nodes,
        #: cluster/invalidation.py): `credentials_changed(tenant, user or None for all, revoked)` and
        #: `status_changed(tenant, deleted)`. Keys only; set by the composition root.
        self.credentials_changed: Callable[[str, str | None, bool], None] = lambda t, u, revoked: None
        self.status_changed: Callable[[str, bool], None] = lambda tenant_id, deleted: None

    # ------------------------------------------------------------------------------------ tenant status

    def is_active(self, tenant_id: str) -> bool:
        return tenant_id not in self._inactive

    @property
    def has_inactive(self) -> bool:
        return bool(self._inactive)

    async def refresh_status(self) -> None:
        """Read which tenants are not ACTIVE (at start, after a change, and by every server's poll); a tenant
        that became inactive since the last read loses its sessions (`deactivated`)."""
        inactive = await self._tenants.inactive()
        became = inactive - self._inactive
        self._inactive = inactive - became  # those reactivated leave; deactivated_here adds the others
        for tenant_id in sorted(became):
            self.deactivated_here(tenant_id)

    def deactivated(self, tenant_id: str, deleted: bool = False) -> None:
        """End what a suspended or deleted tenant's credentials hold now: cached verifications, and through
        the `tenants` event (UPDATE, or DELETE when its data is being deleted; payload: the tenant id) its
        MQTT connections and real-time clients (and, on DELETE, whatever would still write rows of it)."""
        self.deactivated_here(tenant_id, deleted)
        self.status_changed(tenant_id, deleted)

    def deactivated_here(self, tenant_id: str, deleted: bool = False) -> None:
        """:meth:`deactivated` in this process only (another one changed the status and says so)."""
        if deleted or tenant_id not in self._inactive:
            self._inactive.add(tenant_id)
            self._drop(tenant_id)
            if self._events is not None:
                action: Action = "DELETE" if deleted else "UPDATE"
                self._events.publish(DomainEvent(tenant_id, "tenants", action, None, None, tenant_id))

    def reactivated(self, tenant_id: str) -> None:
        self._inactive.discard(tenant_id)
        self.status_changed(tenant_id, False)

    async def _decoy_hash(self) -> str:
        if self._decoy is None:
            self._decoy = await hash_slowly(generate_password())
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
        admin = await self._users.get(tenant_id, admin_user)
        if admin is None:
            if admin_password is None:
                admin_password = shown_admin = generate_password(20)
            await self.create_user(tenant_id, admin_user, admin_password, {Role.ADMIN})
        if await self._tenants.get(BOOTSTRAP_TENANT) is None:
            await self.create_tenant(BOOTSTRAP_TENANT)
        bootstrap = await self._users.get(BOOTSTRAP_TENANT, BOOTSTRAP_USER)
        if bootstrap is None:
            if bootstrap_password is None:
                bootstrap_password = shown_bootstrap = generate_password(20)
            await self.create_user(BOOTSTRAP_TENANT, BOOTSTRAP_USER, bootstrap_password, {Role.BOOTSTRAP})
        return Provisioned(
            tenant_id,
            admin_user,
            shown_admin,
            shown_bootstrap,
            admin_password_ignored=await _differs(admin, admin_password),
            bootstrap_password_ignored=await _differs(bootstrap, bootstrap_password),
        )

    async def set_password(self, tenant_id: str, username: str, password: str) -> bool:
        """Replace a user's password (argon2: a person chooses it); False if there is no such user."""
        user = await self._users.get(tenant_id, username)
        if user is None:
            return False
        changed = await self._users.set_password(tenant_id, username, await hash_slowly(password), now_ms())
        self.forget(tenant_id, username)
        return changed

    def forget(self, tenant_id: str, username: str | None = None) -> None:
        """Drop the cached verifications of a user's credentials (its password, roles or groups changed), or
        of every user of the tenant (a group's roles changed), here and (credentials_changed) elsewhere."""
        self._drop(tenant_id, username)
        self.credentials_changed(tenant_id, username, False)

    def forget_here(self, tenant_id: str, username: str | None = None) -> None:
        """:meth:`forget` in this process only (the change was made elsewhere)."""
        self._drop(tenant_id, username)

    def revoked_here(self, tenant_id: str, username: str) -> None:
        """A user deleted or disabled by another process: what :meth:`revoke` ends, in this process (the
        `users` DELETE event closes its connections here)."""
        self._drop(tenant_id, username)
        if self._events is not None:
            principal = Principal(tenant_id=tenant_id, username=username, roles=frozenset())
            self._events.publish(DomainEvent(tenant_id, "users", "DELETE", None, None, principal))

    def _drop(self, tenant_id: str, username: str | None = None) -> None:
        self._verified.forget(
            lambda p: p.tenant_id == tenant_id and (username is None or p.username == username)
        )

    def revoke(self, user: User) -> None:
        """End what a user's credential holds now (it was disabled): cached verifications, and through the
        `users` DELETE event its MQTT connections and real-time clients."""
        self._drop(user.tenant_id, user.username)
        if self._events is not None:
            principal = Principal(tenant_id=user.tenant_id, username=user.username, roles=user.roles)
            self._events.publish(DomainEvent(user.tenant_id, "users", "DELETE", None, None, principal))
        self.credentials_changed(user.tenant_id, user.username, True)

    async def create_tenant(self, tenant_id: str, domain: str | None = None) -> Tenant:
        """The tenant (created if missing) with Cumulocity's default groups."""
        tenant = Tenant(id=tenant_id, domain=domain or tenant_id, creation_time=now_ms())
        with contextlib.suppress(Conflict):
            await self._tenants.create(tenant)
        await self.default_groups(tenant_id)
        return tenant

    async def tenant_ids(self) -> list[str]:
        return await self._tenants.ids()

    async def get_tenant(self, tenant_id: str) -> Tenant | None:
        return await self._tenants.get(tenant_id)

    async def default_groups(self, tenant_id: str) -> None:
        """Cumulocity's default groups of a tenant, those it lacks."""
        if self._groups is not None:
            for name, (description, roles) in DEFAULT_GROUPS.items():
                if await self._groups.by_name(tenant_id, name) is None:
                    with contextlib.suppress(Conflict):
                        await self._groups.create(tenant_id, name, description, roles)
        if self._inventory_roles is not None:
            await self._inventory_roles.provision(tenant_id)  # Cumulocity's default inventory roles

    async def create_user(
        self, tenant_id: str, username: str, password: str, roles: set[Role], *, generated: bool = False
    ) -> User:
        """`generated`: the password is a high-entropy secret from generate_password() (device users), stored
        as a fast hash; people's passwords get argon2."""
        if generated:
            password_hash = hash_secret(password)
        else:
            password_hash = await hash_slowly(password)
        user = User(tenant_id, username, password_hash, frozenset(roles), now_ms())
        await self._users.create(user)
        await self._join_default_group(user)
        return user

    async def create_person(self, user: User, password: str) -> User:
        """A user of the users API (no Tether role: its rights are its roles and its groups')."""
        stored = dataclasses.replace(user, password_hash=await hash_slowly(password), creation_time=now_ms())
        await self._users.create(stored)
        return stored

    async def _join_default_group(self, user: User) -> None:
        """Administrators join `admins`, device users `devices` (as Cumulocity lists them)."""
        name = "admins" if Role.ADMIN in user.roles else "devices" if user.roles == {Role.DEVICE} else None
        if self._groups is None or name is None:
            return
        group = await self._groups.by_name(user.tenant_id, name)
        if group is not None:
            await self._groups.add_member(user.tenant_id, group.id, user.username)

    async def get_user(self, tenant_id: str, username: str) -> User | None:
        return await self._users.get(tenant_id, username)

    async def delete_user(self, tenant_id: str, username: str) -> User | None:
        """Delete a user and revoke its credential at once: the verified-credential cache forgets it, a login
        that read it before is refused, and a `users` DELETE event tells whoever holds sessions of it (the
        MQTT broker closes its connections, real-time notifications forget its clients). The deleted
        user, or None if there was none."""
        user = await self._users.get(tenant_id, username)
        if user is None or not await self._users.delete(tenant_id, username):
            return None
        now = time.monotonic()
        self._retired = {h: until for h, until in self._retired.items() if until > now}
        self._retired[user.password_hash] = now + self.RETIRED_SECONDS
        self._verified.forget(lambda p: p.tenant_id == tenant_id and p.username == username)
        if self._events is not None:
            principal = Principal(tenant_id=tenant_id, username=username, roles=user.roles)
            self._events.publish(DomainEvent(tenant_id, "users", "DELETE", None, None, principal))
        self.credentials_changed(tenant_id, username, True)
        return user

    async def authenticate(self, tenant_id: str, username: str, password: str) -> Principal | None:
        """The caller's principal, or None for unknown tenant, user or wrong password (indistinguishable)."""
        principal = self.cached(tenant_id, username, password)
        if principal is not None:
            return principal
        user = await self._users.get(tenant_id, username)
        if user is None:
            await self.reject_unknown(username, password)
            return None
        return await self.verify(user, password)

    def _digest(self, tenant_id: str, username: str, password: str) -> bytes:
        # hmac.digest: the one-shot C implementation (a connect storm computes one per CONNECT). Its first
        # 128 bits are the key: a truncated HMAC-SHA256 (RFC 2104 section 5), 16 bytes less per entry.
        key = f"{tenant_id}\0{username}\0{password}".encode()
        return hmac.digest(self._cache_key, key, "sha256")[:16]

    def cached(self, tenant_id: str, username: str, password: str) -> Principal | None:
        """The principal of a credential verified within CACHE_SECONDS, without touching storage."""
        hit = self._verified.get(self._digest(tenant_id, username, password))
        if hit is not None and tenant_id not in self._inactive:
            return hit
        return None

    async def verify(self, user: User, password: str, channel: str = "REST") -> Principal | None:
        """Check a stored user's password (and remember it when right). A generated secret's fast hash is
        checked on the loop (microseconds); only argon2 goes to a thread (tens of milliseconds), queued.
        A refused login of a known user is audited (`channel`: REST or MQTT)."""
        ok = await verify_slowly(user.password_hash, password)
        if not ok or user.password_hash in self._retired:  # deleted while (or since) it was read
            self._login_failed(user, channel, "wrong password" if not ok else "deleted user")
            return None
        if not user.enabled or user.tenant_id in self._inactive:
            reason = "user disabled" if not user.enabled else "tenant suspended"
            self._login_failed(user, channel, reason)
            return None
        principal = await self.principal_of(user)
        self._remember(self._digest(user.tenant_id, user.username, password), principal)
        return principal

    def _login_failed(self, user: User, channel: str, reason: str) -> None:
        if self._audit is not None and user.tenant_id not in self._inactive:
            self._audit.record(
                NewAuditRecord(
                    user.tenant_id,
                    "UserAuthentication",
                    "Login failed",
                    f"Login of {user.username} over {channel} failed: {reason}",
                    user=user.username,
                    source=user.username,
                    severity="WARNING",
                    fragments={"channel": channel},
                )
            )

    async def principal_of(self, user: User) -> Principal:
        """A user's rights now: its own roles and its groups' (devices and administrators need no lookup)."""
        if self._groups is None or user.roles:
            return principal_of(user, ())
        principal = principal_of(user, await self._groups.of_user(user.tenant_id, user.username))
        if self._inventory_roles is not None and not principal.roles:
            grants = await self._inventory_roles.grants(user.tenant_id, user.username)
            principal = dataclasses.replace(principal, inventory=grants)
        return principal

    async def reject_unknown(self, username: str, password: str) -> None:
        """Spend what checking a known user's password would, so timing does not tell which users exist:
        device users (`device_<id>`, generated secrets) cost a fast hash, everyone else argon2."""
        if username.startswith("device_"):  # registration.models.DEVICE_USER_PREFIX
            verify_password(self._fast_decoy, password)
        else:
            await verify_slowly(await self._decoy_hash(), password)

    def _remember(self, digest: bytes, principal: Principal) -> None:
        self._verified.put(digest, principal)


async def _differs(user: User | None, password: str | None) -> bool:
    """True when a password was given for an existing user whose stored password is another."""
    if user is None or password is None:
        return False
    return not await verify_slowly(user.password_hash, password)
