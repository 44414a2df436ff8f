"""In-memory RuleStore (tether.rules.store) and ConnectorStore (tether.rules.connector_store)."""

from __future__ import annotations

from tether.core.errors import Conflict
from tether.rules.connectors import R_ACTIONS, R_CONNECTORS, Connector, SinkAction
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


class FakeConnectorStore:
    """In-memory ConnectorStore (tether.rules.connector_store)."""

    def __init__(self) -> None:
        self.connectors: dict[tuple[str, str, str], Connector] = {}
        self.actions: dict[tuple[str, str, str], SinkAction] = {}

    async def all_connectors(self) -> list[Connector]:
        return sorted(self.connectors.values(), key=lambda c: (c.tenant_id, c.created_at))

    async def all_actions(self) -> list[SinkAction]:
        return sorted(self.actions.values(), key=lambda a: (a.tenant_id, a.created_at))

    async def save_connector(self, connector: Connector, *, new: bool) -> bool:
        key = (connector.tenant_id, connector.type, connector.name)
        if new and key in self.connectors:
            raise Conflict(f"{connector.id} exists already", resource=R_CONNECTORS)
        if not new and key not in self.connectors:
            return False
        self.connectors[key] = connector
        return True

    async def delete_connector(self, tenant_id: str, kind: str, name: str) -> bool:
        return self.connectors.pop((tenant_id, kind, name), None) is not None

    async def save_action(self, action: SinkAction, *, new: bool) -> bool:
        key = (action.tenant_id, action.type, action.name)
        if new and key in self.actions:
            raise Conflict(f"{action.id} exists already", resource=R_ACTIONS)
        if not new and key not in self.actions:
            return False
        self.actions[key] = action
        return True

    async def delete_action(self, tenant_id: str, kind: str, name: str) -> bool:
        return self.actions.pop((tenant_id, kind, name), None) is not None
