"""In-memory RuleStore (tether.rules.store)."""

from __future__ import annotations

from tether.core.errors import Conflict
from tether.rules.models import R_RULES, Rule


class FakeRuleStore:
    def __init__(self) -> None:
        self.rules: dict[tuple[str, str], Rule] = {}

    async def all(self) -> list[Rule]:
        return sorted(self.rules.values(), key=lambda r: (r.tenant_id, r.created_at))

    async def create(self, rule: Rule) -> None:
        if (rule.tenant_id, rule.id) in self.rules:
            raise Conflict(f"rule {rule.id!r} exists already", resource=R_RULES)
        self.rules[(rule.tenant_id, rule.id)] = rule

    async def update(self, rule: Rule) -> bool:
        if (rule.tenant_id, rule.id) not in self.rules:
            return False
        self.rules[(rule.tenant_id, rule.id)] = rule
        return True

    async def delete(self, tenant_id: str, rule_id: str) -> bool:
        return self.rules.pop((tenant_id, rule_id), None) is not None
