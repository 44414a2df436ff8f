"""In-memory ApiKeyStore, MqttUserStore, AclRuleStore, TrustedCertificateStore (tether.credentials.store)."""

from __future__ import annotations

import builtins

from tests.fakes.paging import contains, page_of

from tether.core.errors import Conflict
from tether.core.paging import Page, PageRequest
from tether.credentials.models import (
    R_ACL,
    R_API_KEY,
    R_CERT,
    R_MQTT_USER,
    ApiKey,
    MqttUser,
    RuleScope,
    RuleSet,
    TrustedCertificate,
)


class FakeApiKeyStore:
    def __init__(self) -> None:
        self.keys: dict[tuple[str, str], ApiKey] = {}

    async def create(self, key: ApiKey) -> None:
        if (key.tenant_id, key.name) in self.keys or await self.by_key(key.api_key) is not None:
            raise Conflict(f"API key '{key.name}' already exists", resource=R_API_KEY)
        self.keys[(key.tenant_id, key.name)] = key

    async def get(self, tenant_id: str, name: str) -> ApiKey | None:
        return self.keys.get((tenant_id, name))

    async def by_key(self, api_key: str) -> ApiKey | None:
        return next((k for k in self.keys.values() if k.api_key == api_key), None)

    async def list(self, tenant_id: str) -> builtins.list[ApiKey]:
        return sorted((k for k in self.keys.values() if k.tenant_id == tenant_id), key=lambda k: k.created_at)

    async def replace(self, key: ApiKey) -> bool:
        if (key.tenant_id, key.name) not in self.keys:
            return False
        self.keys[(key.tenant_id, key.name)] = key
        return True

    async def delete(self, tenant_id: str, name: str) -> bool:
        return self.keys.pop((tenant_id, name), None) is not None


class FakeMqttUserStore:
    def __init__(self) -> None:
        self.users: dict[tuple[str, str], MqttUser] = {}

    async def create(self, user: MqttUser) -> None:
        if (user.tenant_id, user.user_id) in self.users:
            raise Conflict("User already exists", resource=R_MQTT_USER)
        self.users[(user.tenant_id, user.user_id)] = user

    async def get(self, tenant_id: str, user_id: str) -> MqttUser | None:
        return self.users.get((tenant_id, user_id))

    async def find(
        self, tenant_id: str, page: PageRequest, *, like: str | None = None, is_superuser: bool | None = None
    ) -> Page[MqttUser]:
        found = sorted(
            (
                u
                for u in self.users.values()
                if u.tenant_id == tenant_id
                and contains(u.user_id, like)
                and (is_superuser is None or u.is_superuser is is_superuser)
            ),
            key=lambda u: u.user_id,
        )
        return page_of(found, page)

    async def replace(self, user: MqttUser) -> bool:
        if (user.tenant_id, user.user_id) not in self.users:
            return False
        self.users[(user.tenant_id, user.user_id)] = user
        return True

    async def delete(self, tenant_id: str, user_id: str) -> bool:
        return self.users.pop((tenant_id, user_id), None) is not None


class FakeAclRuleStore:
    def __init__(self) -> None:
        self.rule_sets: dict[tuple[str, RuleScope, str], RuleSet] = {}
        self.loads = 0  # how often for_tenant was asked (the service keeps a tenant's rules in memory)

    async def get(self, tenant_id: str, scope: RuleScope, who: str) -> RuleSet | None:
        return self.rule_sets.get((tenant_id, scope, who))

    async def find(
        self, tenant_id: str, scope: RuleScope, page: PageRequest, *, like: str | None = None
    ) -> Page[RuleSet]:
        found = sorted(
            (
                r
                for (t, s, who), r in self.rule_sets.items()
                if t == tenant_id and s is scope and contains(who, like)
            ),
            key=lambda r: r.who,
        )
        return page_of(found, page)

    async def for_tenant(self, tenant_id: str) -> list[RuleSet]:
        self.loads += 1
        return [r for (t, _, _), r in self.rule_sets.items() if t == tenant_id]

    async def create_many(self, rule_sets: list[RuleSet]) -> list[str]:
        existing = [r.who for r in rule_sets if (r.tenant_id, r.scope, r.who) in self.rule_sets]
        if existing:
            return existing
        keys = {(r.tenant_id, r.scope, r.who) for r in rule_sets}
        if len(keys) != len(rule_sets):
            raise Conflict("Rules for some of these already exist", resource=R_ACL)
        for r in rule_sets:
            self.rule_sets[(r.tenant_id, r.scope, r.who)] = r
        return []

    async def put(self, rule_set: RuleSet) -> None:
        self.rule_sets[(rule_set.tenant_id, rule_set.scope, rule_set.who)] = rule_set

    async def delete(self, tenant_id: str, scope: RuleScope, who: str) -> bool:
        return self.rule_sets.pop((tenant_id, scope, who), None) is not None


class FakeTrustedCertificateStore:
    """Fingerprints are unique platform-wide: `get` of another tenant's certificate finds nothing."""

    def __init__(self) -> None:
        self.certificates: dict[str, TrustedCertificate] = {}

    async def create(self, certificate: TrustedCertificate) -> None:
        if certificate.fingerprint in self.certificates:
            raise Conflict(f"Certificate {certificate.fingerprint} is trusted already", resource=R_CERT)
        self.certificates[certificate.fingerprint] = certificate

    async def get(self, tenant_id: str, fingerprint: str) -> TrustedCertificate | None:
        cert = self.certificates.get(fingerprint)
        return cert if cert is not None and cert.tenant_id == tenant_id else None

    async def find(self, tenant_id: str, page: PageRequest) -> Page[TrustedCertificate]:
        found = sorted(
            (c for c in self.certificates.values() if c.tenant_id == tenant_id),
            key=lambda c: (c.created_at, c.fingerprint),
        )
        return page_of(found, page)

    async def all(self) -> list[TrustedCertificate]:
        return list(self.certificates.values())

    async def replace(self, certificate: TrustedCertificate) -> bool:
        if await self.get(certificate.tenant_id, certificate.fingerprint) is None:
            return False
        self.certificates[certificate.fingerprint] = certificate
        return True

    async def delete(self, tenant_id: str, fingerprint: str) -> bool:
        if await self.get(tenant_id, fingerprint) is None:
            return False
        del self.certificates[fingerprint]
        return True
