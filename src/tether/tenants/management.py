"""Tenant administration (Cumulocity /tenant/tenants): the management tenant creates, lists, changes,
suspends and deletes the other tenants.

The management tenant is Tether's default tenant (setting `tenant`, the one first start creates with its
administrator): only its users with ROLE_TENANT_MANAGEMENT_READ (reading) or _ADMIN (changing) reach these
calls; every other tenant gets Forbidden (the spec: "the current tenant is its parent OR is the management
tenant"; Tether has no sub-tenants of sub-tenants). Suspending a tenant refuses every login of its users and
devices and ends their sessions (TenantService.deactivated); deleting it removes all its data (the store's
`purge`, the files of its binaries) and keeps its id from being issued again.
"""

from __future__ import annotations

import dataclasses
import re
import secrets
from collections.abc import Mapping
from typing import Protocol

from tether.audit.models import NewAuditRecord
from tether.audit.port import AuditTrail
from tether.core.clock import now_ms
from tether.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from tether.core.paging import Page, PageRequest
from tether.tenants.directory import check_password
from tether.tenants.models import Principal, Role, Tenant, TenantStatus
from tether.tenants.service import BOOTSTRAP_TENANT, TenantService
from tether.tenants.store import TenantStore, UserStore

R = "tenant"
FAMILY = "TENANT_MANAGEMENT"
#: A tenant id becomes a path component and a broker mountpoint: letters, digits, '-' and '_'.
_TENANT_ID = re.compile(r"[a-z][a-z0-9_-]{1,31}")
#: Cumulocity: "alphanumeric characters separated by dots and hyphens".
_DOMAIN = re.compile(
    r"(?=.{1,256}$)[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*"
)
_USERNAME = re.compile(r"[^\s/\\+:$]{1,50}")
#: Body field -> (Tenant field, maximum length): what PUT may change besides `status`.
TEXT_FIELDS = {
    "company": ("company", 256),
    "contactName": ("contact_name", 256),
    "contactPhone": ("contact_phone", 64),
    "adminEmail": ("admin_email", 255),
}


class TenantFiles(Protocol):
    """What deleting a tenant asks of the binaries' file store (binaries/store.py BinaryStore)."""

    async def delete(self, tenant_id: str, key: tuple[str, ...]) -> None: ...


def _text(document: Mapping[str, object], key: str, limit: int, required: bool = False) -> str | None:
    value = document.get(key)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value.strip() or len(value) > limit or "\x00" in value:
        raise InvalidInput(f"'{key}' must be a text of 1 to {limit} characters", resource=R)
    return value


class TenantAdministration:
    def __init__(
        self,
        tenants: TenantService,
        store: TenantStore,
        users: UserStore,
        management_tenant: str,
        files: TenantFiles | None = None,
        audit: AuditTrail | None = None,
    ) -> None:
        self._tenants = tenants
        self._store = store
        self._users = users
        self.management_tenant = management_tenant
        self._files = files
        self._audit = audit

    def _check(self, who: Principal, write: bool) -> None:
        if who.tenant_id != self.management_tenant or not who.may(FAMILY, write):
            raise Forbidden("Access is denied", resource="security")

    def _record(self, who: Principal, tenant_id: str, activity: str, text: str) -> None:
        if self._audit is not None:
            self._audit.record(
                NewAuditRecord(who.tenant_id, "Tenant", activity, text, user=who.username, source=tenant_id)
            )

    async def find(self, who: Principal, page: PageRequest) -> Page[Tenant]:
        self._check(who, False)
        return await self._store.find(page)

    async def get(self, who: Principal, tenant_id: str) -> Tenant:
        self._check(who, False)
        tenant = None if "\x00" in tenant_id else await self._store.get(tenant_id)
        if tenant is None or tenant.status is TenantStatus.DELETED:
            raise NotFound(f"Tenant {tenant_id} not found", resource=R)
        return tenant

    async def create(self, who: Principal, document: Mapping[str, object]) -> Tenant:
        """A tenant with Cumulocity's default groups and its first administrator (`adminName`,
        `adminPass`, `adminEmail`); `id` is generated (`t` and 8 digits) unless the body names one."""
        self._check(who, True)
        domain = _text(document, "domain", 256, required=True)
        assert domain is not None
        if not _DOMAIN.fullmatch(domain):
            raise InvalidInput("'domain' takes letters, digits, '-' and '.' only", resource=R)
        admin = _text(document, "adminName", 50, required=True)
        assert admin is not None
        if not _USERNAME.fullmatch(admin) or admin.startswith("device_"):
            raise InvalidInput("'adminName' is a user name (no whitespace, '/', '+', ':', '$')", resource=R)
        password = check_password(document.get("adminPass"))
        fields = {name: _text(document, key, limit) for key, (name, limit) in TEXT_FIELDS.items()}
        company = fields["company"] or domain
        requested = document.get("id")
        if requested is not None and (not isinstance(requested, str) or not _TENANT_ID.fullmatch(requested)):
            raise InvalidInput("'id' is 2 to 32 lower-case letters, digits, '-' or '_'", resource=R)
        base = Tenant(
            id="",
            domain=domain,
            creation_time=now_ms(),
            contact_name=fields["contact_name"],
            contact_phone=fields["contact_phone"],
            admin_email=fields["admin_email"],
            company=company,
            admin_name=admin,
            parent=self.management_tenant,
        )
        tenant = await self._insert(base, requested)
        await self._tenants.default_groups(tenant.id)
        user = await self._tenants.create_user(tenant.id, admin, password, {Role.ADMIN})
        if tenant.admin_email:
            await self._users.update(dataclasses.replace(user, email=tenant.admin_email))
        self._record(who, tenant.id, "Tenant created", f"Tenant {tenant.id} ({tenant.domain}) created")
        return tenant

    async def _insert(self, base: Tenant, requested: str | None) -> Tenant:
        if requested is not None:
            tenant = dataclasses.replace(base, id=requested)
            await self._store.create(tenant)  # Conflict: taken (also by a deleted tenant: ids are not reused)
            return tenant
        for _ in range(20):
            tenant = dataclasses.replace(base, id=f"t{secrets.randbelow(10**8):08d}")
            try:
                await self._store.create(tenant)
            except Conflict:
                continue
            return tenant
        raise Conflict("No free tenant id was found; try again", resource=R)

    async def update(self, who: Principal, tenant_id: str, document: Mapping[str, object]) -> Tenant:
        """Change the contact fields, the domain and the status (ACTIVE, SUSPENDED)."""
        self._check(who, True)
        tenant = await self.get(who, tenant_id)
        changes: dict[str, object] = {}
        for key, (name, limit) in TEXT_FIELDS.items():
            if key in document:
                changes[name] = _text(document, key, limit)
        if "domain" in document:
            domain = _text(document, "domain", 256, required=True)
            if domain is None or not _DOMAIN.fullmatch(domain):
                raise InvalidInput("'domain' takes letters, digits, '-' and '.' only", resource=R)
            changes["domain"] = domain
        status = tenant.status
        if "status" in document:
            if document["status"] not in (TenantStatus.ACTIVE.value, TenantStatus.SUSPENDED.value):
                raise InvalidInput("'status' is ACTIVE or SUSPENDED", resource=R)
            status = TenantStatus(str(document["status"]))
            if status is TenantStatus.SUSPENDED:
                self._keeps(tenant_id, "suspended")
            changes["status"] = status
        changed = dataclasses.replace(tenant, **changes)  # type: ignore[arg-type]
        if not await self._store.update(changed):
            raise NotFound(f"Tenant {tenant_id} not found", resource=R)
        if status is not tenant.status:
            if status is TenantStatus.SUSPENDED:
                self._tenants.deactivated(tenant_id)
                self._record(who, tenant_id, "Tenant suspended", f"Tenant {tenant_id} suspended")
            else:
                self._tenants.reactivated(tenant_id)
                self._record(who, tenant_id, "Tenant activated", f"Tenant {tenant_id} activated")
        elif changes:
            self._record(who, tenant_id, "Tenant updated", f"Tenant {tenant_id} updated: {sorted(changes)}")
        return changed

    def _keeps(self, tenant_id: str, what: str) -> None:
        if tenant_id in (self.management_tenant, BOOTSTRAP_TENANT):
            raise InvalidInput(f"The management tenant {tenant_id} cannot be {what}", resource=R)

    async def delete(self, who: Principal, tenant_id: str) -> None:
        """Remove the tenant and everything of it (rows of every table, files of its binaries); its users
        and devices are logged out at once. Cannot be undone (Cumulocity: only the management tenant
        deletes tenants)."""
        self._check(who, True)
        tenant = await self.get(who, tenant_id)
        self._keeps(tenant_id, "deleted")
        # Suspended first (stored, so every server's status poll agrees): no login from now on, sessions end.
        await self._store.update(dataclasses.replace(tenant, status=TenantStatus.SUSPENDED))
        self._tenants.deactivated(tenant_id, deleted=True)
        await self._store.purge(tenant_id)
        if self._files is not None:
            await self._files.delete(tenant_id, ())
        self._record(who, tenant_id, "Tenant deleted", f"Tenant {tenant_id} deleted with all its data")
