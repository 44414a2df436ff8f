"""The stores of API keys, MQTT users, authorization rules, trusted certificates and bans.
Implementations: storage/sql (SQLite, PostgreSQL).

Every method that reads or writes a tenant's data takes the tenant id first: no store answers across tenants.
"""

from __future__ import annotations

from typing import Protocol

from tether.core.paging import Page, PageRequest
from tether.credentials.bans import Ban, BanKind
from tether.credentials.models import ApiKey, MqttUser, RuleScope, RuleSet, TrustedCertificate


class ApiKeyStore(Protocol):
    """API keys; `name` is unique per tenant, `api_key` platform-wide."""

    async def create(self, key: ApiKey) -> None:
        """Raises Conflict when the tenant has a key of that name."""
        ...

    async def get(self, tenant_id: str, name: str) -> ApiKey | None: ...
    async def by_key(self, api_key: str) -> ApiKey | None: ...
    async def list(self, tenant_id: str) -> list[ApiKey]: ...
    async def replace(self, key: ApiKey) -> bool:
        """Store the key's enable, expired_at and desc; False when it no longer exists."""
        ...

    async def delete(self, tenant_id: str, name: str) -> bool: ...


class MqttUserStore(Protocol):
    async def create(self, user: MqttUser) -> None:
        """Raises Conflict when the tenant has a user of that id."""
        ...

    async def get(self, tenant_id: str, user_id: str) -> MqttUser | None: ...
    async def find(
        self, tenant_id: str, page: PageRequest, *, like: str | None = None, is_superuser: bool | None = None
    ) -> Page[MqttUser]:
        """Ordered by user id; `like` keeps the ids containing it."""
        ...

    async def replace(self, user: MqttUser) -> bool:
        """Store the user's password hash and superuser flag; False when it no longer exists."""
        ...

    async def delete(self, tenant_id: str, user_id: str) -> bool: ...


class AclRuleStore(Protocol):
    """Authorization rule sets, one per (tenant, scope, who); `who` is "" for the scope `all`."""

    async def get(self, tenant_id: str, scope: RuleScope, who: str) -> RuleSet | None: ...
    async def find(
        self, tenant_id: str, scope: RuleScope, page: PageRequest, *, like: str | None = None
    ) -> Page[RuleSet]: ...
    async def for_tenant(self, tenant_id: str) -> list[RuleSet]: ...
    async def create_many(self, rule_sets: list[RuleSet]) -> list[str]:
        """Insert all, or none when any exists already: then the `who` of those that exist."""
        ...

    async def put(self, rule_set: RuleSet) -> None:
        """Insert or replace."""
        ...

    async def delete(self, tenant_id: str, scope: RuleScope, who: str) -> bool: ...


class TrustedCertificateStore(Protocol):
    """Trusted CA certificates; the fingerprint is unique platform-wide."""

    async def create(self, certificate: TrustedCertificate) -> None:
        """Raises Conflict when the fingerprint is taken (in any tenant)."""
        ...

    async def get(self, tenant_id: str, fingerprint: str) -> TrustedCertificate | None: ...
    async def find(self, tenant_id: str, page: PageRequest) -> Page[TrustedCertificate]: ...
    async def all(self) -> list[TrustedCertificate]:
        """Every tenant's (the TLS listener trusts them all; the issuer tells the tenant)."""
        ...

    async def replace(self, certificate: TrustedCertificate) -> bool:
        """Store name, status and auto-registration; False when it no longer exists."""
        ...

    async def delete(self, tenant_id: str, fingerprint: str) -> bool: ...


class BanStore(Protocol):
    """Bans, one per (tenant, kind, who) (credentials/bans.py)."""

    async def create(self, ban: Ban) -> None:
        """Raises Conflict when the tenant has this ban already."""
        ...

    async def all(self) -> list[Ban]:
        """Every tenant's (the broker checks them in memory)."""
        ...

    async def delete(self, tenant_id: str, kind: BanKind, who: str) -> bool: ...
    async def clear(self, tenant_id: str) -> int:
        """Delete every ban of the tenant; how many there were."""
        ...
