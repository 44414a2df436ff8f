"""Operator-defined authorization rules (EMQX built-in database: per user name, per client id, for all),
managed through the service and kept in memory per tenant, so that a CONNECT finds the rules that apply
to it without a query. Only this process writes them; every write replaces the tenant's cached copy."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field

from tether.core.errors import BadRequest, Conflict, NotFound
from tether.core.paging import Page, PageRequest
from tether.credentials.models import R_ACL, AclRule, RuleScope, RuleSet, require_admin
from tether.credentials.rules import CompiledRule, compile_rules
from tether.credentials.store import AclRuleStore
from tether.tenants.models import Principal

_MAX_WHO = 255


@dataclass
class _TenantRules:
    by_username: dict[str, tuple[AclRule, ...]] = field(default_factory=dict)
    by_clientid: dict[str, tuple[AclRule, ...]] = field(default_factory=dict)
    all: tuple[AclRule, ...] = ()


def _who(scope: RuleScope, who: str) -> str:
    if scope is RuleScope.ALL:
        return ""
    if not who or len(who) > _MAX_WHO:
        raise BadRequest(f"'{scope.value}' must be 1 to {_MAX_WHO} characters long", resource=R_ACL)
    return who


class AclService:
    def __init__(self, store: AclRuleStore) -> None:
        self._store = store
        self._tenants: dict[str, _TenantRules] = {}
        self._loading: dict[str, asyncio.Future[_TenantRules]] = {}
        #: Told the tenant whose rules changed here (another node forgets them: cluster/invalidation.py).
        self.changed: Callable[[str], None] = lambda tenant_id: None

    # -- management ------------------------------------------------------------------------------

    async def list_rules(
        self, who: Principal, scope: RuleScope, page: PageRequest, like: str | None = None
    ) -> Page[RuleSet]:
        require_admin(who)
        return await self._store.find(who.tenant_id, scope, page, like=like)

    async def get(self, who: Principal, scope: RuleScope, subject: str) -> RuleSet:
        require_admin(who)
        found = await self._store.get(who.tenant_id, scope, _who(scope, subject))
        if found is None:
            if scope is RuleScope.ALL:
                return RuleSet(who.tenant_id, scope, "", ())
            raise NotFound("Not Found", resource=R_ACL)
        return found

    async def create(
        self, who: Principal, scope: RuleScope, entries: list[tuple[str, tuple[AclRule, ...]]]
    ) -> None:
        """Rules for several users or clients at once; none is stored when any has rules already."""
        require_admin(who)
        sets = [RuleSet(who.tenant_id, scope, _who(scope, subject), rules) for subject, rules in entries]
        if len({s.who for s in sets}) != len(sets):
            raise BadRequest(f"A {scope.value} appears twice", resource=R_ACL)
        existing = await self._store.create_many(sets)
        self._forget(who.tenant_id)
        if existing:
            kind = "Users" if scope is RuleScope.USERNAME else "Clients"
            raise Conflict(f"{kind} '{','.join(existing)}' already exist", resource=R_ACL)

    async def put(self, who: Principal, scope: RuleScope, subject: str, rules: tuple[AclRule, ...]) -> None:
        require_admin(who)
        await self._store.put(RuleSet(who.tenant_id, scope, _who(scope, subject), rules))
        self._forget(who.tenant_id)

    async def delete(self, who: Principal, scope: RuleScope, subject: str) -> None:
        require_admin(who)
        deleted = await self._store.delete(who.tenant_id, scope, _who(scope, subject))
        self._forget(who.tenant_id)
        if not deleted and scope is not RuleScope.ALL:
            kind = "Username" if scope is RuleScope.USERNAME else "ClientID"
            raise NotFound(f"{kind} Not Found", resource=R_ACL)

    # -- what applies to a connecting client -----------------------------------------------------

    def _forget(self, tenant_id: str) -> None:
        self.forget(tenant_id)
        self.changed(tenant_id)

    def forget(self, tenant_id: str | None = None) -> None:
        """Drop the tenant's rules (None: every tenant's) from memory: the next login reads them again."""
        if tenant_id is None:
            self._tenants.clear()
            self._loading.clear()
            return
        self._tenants.pop(tenant_id, None)
        self._loading.pop(tenant_id, None)

    async def _rules_of(self, tenant_id: str) -> _TenantRules:
        cached = self._tenants.get(tenant_id)
        if cached is not None:
            return cached
        loading = self._loading.get(tenant_id)
        if loading is None:  # one query per tenant however many clients connect at once
            loading = self._loading[tenant_id] = asyncio.get_running_loop().create_future()
            try:
                rule_sets = await self._store.for_tenant(tenant_id)
            except BaseException as exc:
                self._loading.pop(tenant_id, None)
                loading.set_exception(exc)
                loading.exception()  # retrieved: the waiters, if any, see it too
                raise
            rules = _TenantRules()
            for rule_set in rule_sets:
                if rule_set.scope is RuleScope.USERNAME:
                    rules.by_username[rule_set.who] = rule_set.rules
                elif rule_set.scope is RuleScope.CLIENTID:
                    rules.by_clientid[rule_set.who] = rule_set.rules
                else:
                    rules.all = rule_set.rules
            if self._loading.get(tenant_id) is loading:  # not changed meanwhile
                self._tenants[tenant_id] = rules
                del self._loading[tenant_id]
            loading.set_result(rules)
            return rules
        return await asyncio.shield(loading)

    async def rules_for(
        self, tenant_id: str, username: str | None, client_id: str
    ) -> tuple[CompiledRule, ...]:
        """The rules that apply to a client, in EMQX's order (user name, client id, all), placeholders
        filled. `username` is the name within the tenant (without `tenant/`)."""
        return self._chain(await self._rules_of(tenant_id), username, client_id)

    def cached_rules_for(
        self, tenant_id: str, username: str | None, client_id: str
    ) -> tuple[CompiledRule, ...] | None:
        """:meth:`rules_for` without waiting: None when the tenant's rules are not in memory yet."""
        rules = self._tenants.get(tenant_id)
        return None if rules is None else self._chain(rules, username, client_id)

    @staticmethod
    def _chain(rules: _TenantRules, username: str | None, client_id: str) -> tuple[CompiledRule, ...]:
        chain: list[AclRule] = []
        if username is not None:
            chain.extend(rules.by_username.get(username, ()))
        chain.extend(rules.by_clientid.get(client_id, ()))
        chain.extend(rules.all)
        return compile_rules(chain, username, client_id) if chain else ()
