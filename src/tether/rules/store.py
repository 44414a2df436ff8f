"""What the rule service needs of storage: rules per tenant, keyed by their id."""

from __future__ import annotations

from typing import Protocol

from .models import Rule

__all__ = ["RuleStore"]


class RuleStore(Protocol):
    async def all(self) -> list[Rule]:
        """Every tenant's rules (loaded at start), oldest first."""
        ...

    async def create(self, rule: Rule) -> None:
        """Raises Conflict when the tenant has a rule with this id."""
        ...

    async def update(self, rule: Rule) -> bool:
        """Replace the rule of (tenant, id); whether it existed."""
        ...

    async def delete(self, tenant_id: str, rule_id: str) -> bool: ...
