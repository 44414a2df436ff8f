"""Rules of each tenant (EMQX 5's /api/v5/rules): checked and compiled once when saved, kept compiled in
memory with their metrics (loaded at start), written through to the store. The engine that runs them on
messages and events (adapters/rules.py) reads `enabled()` and is told of every change."""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from tether.core.clock import now_ms
from tether.core.errors import BadRequest, Conflict, Forbidden, NotFound
from tether.core.text import checked
from tether.mqtt.topics import matches
from tether.tenants.models import Principal

from .compiler import CompiledRule, compile_rule
from .errors import RuleRuntimeError, RuleSyntaxError
from .metrics import RuleMetrics
from .models import MAX_SQL, MAX_TEXT, R_RULES, Action, Rule, RuleDraft, validate_id
from .store import RuleStore
from .syntax import Foreach

__all__ = ["LoadedRule", "RuleService", "TestResult", "compile_checked"]

log = logging.getLogger(__name__)


@dataclass(slots=True)
class LoadedRule:
    rule: Rule
    compiled: CompiledRule
    metrics: RuleMetrics = field(default_factory=RuleMetrics)


@dataclass(frozen=True, slots=True)
class TestResult:
    """POST /rule_test: the outputs, or None when the rule did not take the input or did not pass."""

    outputs: list[dict[str, Any]] | None
    foreach: bool  # FOREACH gives a list of outputs, SELECT one


def compile_checked(sql: object) -> CompiledRule:
    """Compile an operator's SQL; BadRequest naming the line and column of a syntax error."""
    if not isinstance(sql, str) or not sql.strip():
        raise BadRequest("'sql' is required", resource=R_RULES)
    checked(sql, "sql", resource=R_RULES, max_length=MAX_SQL)
    try:
        return compile_rule(sql)
    except RuleSyntaxError as exc:
        raise BadRequest(f"Invalid SQL: {exc}", resource=R_RULES) from None


def _require_admin(who: Principal) -> None:
    if not who.is_admin:
        raise Forbidden("Access is denied", resource=R_RULES)


def _check_text(name: str, value: str) -> str:
    return checked(value, name, resource=R_RULES, max_length=MAX_TEXT)


Listener = Callable[[str], None]


class RuleService:
    def __init__(self, store: RuleStore) -> None:
        self.store = store
        self._rules: dict[str, dict[str, LoadedRule]] = {}
        #: Called with a tenant id after any change to its rules (the engine drops what it derived).
        self.listeners: list[Listener] = []
        #: Told the tenant of each change made through this service (in a cluster the other nodes then
        #: :meth:`reload` it: cluster/invalidation.py).
        self.changed: Listener = lambda tenant_id: None

    async def load(self) -> None:
        rules: dict[str, dict[str, LoadedRule]] = {}
        for rule in await self.store.all():
            try:
                compiled = compile_rule(rule.sql)
            except RuleSyntaxError as exc:  # saved by a version that took it: kept in the store, not run
                log.error("rule %s of tenant %s is not loaded: %s", rule.id, rule.tenant_id, exc)
                continue
            rules.setdefault(rule.tenant_id, {})[rule.id] = LoadedRule(rule, compiled)
        self._rules = rules
        for tenant_id in rules:
            self._changed(tenant_id)

    def _changed(self, tenant_id: str) -> None:
        for listener in list(self.listeners):
            listener(tenant_id)

    def _edited(self, tenant_id: str) -> None:
        self._changed(tenant_id)
        self.changed(tenant_id)

    async def reload(self, tenant_id: str) -> None:
        """Read the tenant's rules again (another node of a cluster changed them); a rule whose SQL did not
        change keeps its compiled form and its metrics, which are this node's."""
        old = self._rules.get(tenant_id, {})
        fresh: dict[str, LoadedRule] = {}
        for rule in await self.store.all():
            if rule.tenant_id != tenant_id:
                continue
            kept = old.get(rule.id)
            if kept is not None and kept.rule.sql == rule.sql:
                kept.rule = rule
                fresh[rule.id] = kept
                continue
            try:
                compiled = compile_rule(rule.sql)
            except RuleSyntaxError as exc:
                log.error("rule %s of tenant %s is not loaded: %s", rule.id, tenant_id, exc)
                continue
            fresh[rule.id] = LoadedRule(rule, compiled, kept.metrics if kept is not None else RuleMetrics())
        if fresh:
            self._rules[tenant_id] = fresh
        else:
            self._rules.pop(tenant_id, None)
        self._changed(tenant_id)

    # ------------------------------------------------------------------------------------------ the engine

    def enabled(self, tenant_id: str) -> list[LoadedRule]:
        """The tenant's enabled rules, oldest first (no storage access)."""
        return [r for r in self._rules.get(tenant_id, {}).values() if r.rule.enable]

    def all_of(self, tenant_id: str) -> list[LoadedRule]:
        """The tenant's rules, enabled or not (no check of the caller: for other services)."""
        return list(self._rules.get(tenant_id, {}).values())

    def every(self) -> list[LoadedRule]:
        """Every tenant's rules (the platform operator's Prometheus figures)."""
        return [loaded for rules in self._rules.values() for loaded in rules.values()]

    def tenants(self) -> list[str]:
        return [tenant for tenant, rules in self._rules.items() if any(r.rule.enable for r in rules.values())]

    # ------------------------------------------------------------------------------------------ operators

    def list(self, who: Principal) -> list[LoadedRule]:
        _require_admin(who)
        return sorted(
            self._rules.get(who.tenant_id, {}).values(), key=lambda r: (r.rule.created_at, r.rule.id)
        )

    def get(self, who: Principal, rule_id: str) -> LoadedRule:
        _require_admin(who)
        loaded = self._rules.get(who.tenant_id, {}).get(rule_id)
        if loaded is None:
            raise NotFound(f"Rule Id Not Found: {rule_id}", resource=R_RULES)
        return loaded

    async def create(self, who: Principal, draft: RuleDraft) -> LoadedRule:
        _require_admin(who)
        compiled = compile_checked(draft.sql)
        tenant_rules = self._rules.setdefault(who.tenant_id, {})
        if draft.id is not None:
            rule_id = validate_id(draft.id)
            if rule_id in tenant_rules:
                raise Conflict(f"rule {rule_id!r} exists already", resource=R_RULES)
        else:
            rule_id = "rule_" + secrets.token_hex(8)
            while rule_id in tenant_rules:  # pragma: no cover - 64 random bits
                rule_id = "rule_" + secrets.token_hex(8)
        now = now_ms()
        rule = Rule(
            tenant_id=who.tenant_id,
            id=rule_id,
            name=_check_text("name", draft.name),
            sql=draft.sql,
            actions=draft.actions,
            enable=draft.enable,
            description=_check_text("description", draft.description),
            metadata=draft.metadata,
            created_at=now,
            updated_at=now,
        )
        await self.store.create(rule)
        loaded = tenant_rules[rule_id] = LoadedRule(rule, compiled)
        self._edited(who.tenant_id)
        return loaded

    async def update(
        self,
        who: Principal,
        rule_id: str,
        *,
        name: str | None = None,
        sql: str | None = None,
        actions: tuple[Action, ...] | None = None,
        enable: bool | None = None,
        description: str | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> LoadedRule:
        """PUT: the fields given replace the rule's; the metrics stay."""
        loaded = self.get(who, rule_id)
        compiled = loaded.compiled if sql is None else compile_checked(sql)
        rule = loaded.rule
        changed = replace(
            rule,
            name=rule.name if name is None else _check_text("name", name),
            sql=rule.sql if sql is None else sql,
            actions=rule.actions if actions is None else actions,
            enable=rule.enable if enable is None else enable,
            description=rule.description if description is None else _check_text("description", description),
            metadata=rule.metadata if metadata is None else metadata,
            updated_at=max(now_ms(), rule.updated_at),
        )
        if not await self.store.update(changed):
            raise NotFound(f"Rule Id Not Found: {rule_id}", resource=R_RULES)
        loaded.rule = changed
        loaded.compiled = compiled
        self._edited(who.tenant_id)
        return loaded

    async def delete(self, who: Principal, rule_id: str) -> None:
        self.get(who, rule_id)
        await self.store.delete(who.tenant_id, rule_id)
        rules = self._rules.get(who.tenant_id, {})
        rules.pop(rule_id, None)
        if not rules:
            self._rules.pop(who.tenant_id, None)
        self._edited(who.tenant_id)

    def reset_metrics(self, who: Principal, rule_id: str) -> None:
        self.get(who, rule_id).metrics.reset()

    def test(self, who: Principal, sql: object, source: str, columns: dict[str, Any]) -> TestResult:
        """Run SQL once (POST /rule_test) on an input from `source` (a message's topic or `$events/...`) with
        the given columns; BadRequest if the SQL is invalid or fails on them."""
        _require_admin(who)
        return _run_once(compile_checked(sql), source, columns)

    def test_stored(self, who: Principal, rule_id: str, source: str, columns: dict[str, Any]) -> TestResult:
        """POST /rules/{id}/test: a stored rule's compiled SQL once on the columns (no actions, no metrics);
        NotFound for an unknown id."""
        return _run_once(self.get(who, rule_id).compiled, source, columns)


def _run_once(compiled: CompiledRule, source: str, columns: dict[str, Any]) -> TestResult:
    foreach = isinstance(compiled.statement, Foreach)
    if not any(s == source or matches(s, source) for s in compiled.sources):
        return TestResult(None, foreach)
    try:
        outputs = compiled.run({k: v for k, v in columns.items() if v is not None})
    except RuleRuntimeError as exc:
        raise BadRequest(f"SQL failed on the context: {exc}", resource=R_RULES) from None
    return TestResult(outputs, foreach)
