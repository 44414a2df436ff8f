"""Each tenant's connectors and sink actions (EMQX 5's /api/v5/connectors and /api/v5/actions): checked when
saved, kept in memory with their templates parsed (loaded at start), written through to the store. The sinks
that run them (tether/connectors/) read `action()` and are told of every change."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from tether.core.clock import now_ms
from tether.core.errors import BadRequest, Forbidden, NotFound
from tether.core.text import checked
from tether.tenants.models import Principal

from .connector_store import ConnectorStore
from .connectors import (
    R_ACTIONS,
    R_CONNECTORS,
    Connector,
    SinkAction,
    check_action,
    check_connector,
    check_name,
    duration_ms,
    sink_id,
    split_id,
)
from .errors import RuleSyntaxError
from .models import Sink
from .service import RuleService
from .sink_templates import CommandTemplate, HttpTemplate, MqttTemplate, SqlTemplate

__all__ = ["ConnectorService", "LoadedAction", "SinkTemplate", "prepare"]

log = logging.getLogger(__name__)

SinkTemplate = HttpTemplate | SqlTemplate | CommandTemplate | MqttTemplate
Listener = Callable[[str], None]


@dataclass(frozen=True, slots=True)
class LoadedAction:
    action: SinkAction
    template: SinkTemplate


def prepare(action: SinkAction) -> SinkTemplate:
    """The action's templates, parsed (BadRequest naming the template that does not parse)."""
    p = action.parameters
    try:
        if action.type == "http":
            timeout = duration_ms(p["request_timeout"], "request_timeout", R_ACTIONS) or 15_000
            return HttpTemplate.parse(
                p["method"], p["path"], p["headers"], p["body"], p["max_retries"], timeout
            )
        if action.type == "pgsql":
            return SqlTemplate.parse(p["sql"], "numeric")
        if action.type == "mysql":
            return SqlTemplate.parse(p["sql"], "format")
        if action.type == "redis":
            return CommandTemplate.parse(p["command_template"])
        return MqttTemplate.parse(p["remote"])
    except RuleSyntaxError as exc:
        raise BadRequest(f"invalid template: {exc}", resource=R_ACTIONS) from None


def _require_admin(who: Principal, resource: str) -> None:
    if not who.is_admin:
        raise Forbidden("Access is denied", resource=resource)


class ConnectorService:
    def __init__(self, store: ConnectorStore, rules: RuleService) -> None:
        self.store = store
        self.rules = rules
        self._connectors: dict[str, dict[str, Connector]] = {}
        self._actions: dict[str, dict[str, LoadedAction]] = {}
        #: Called with a tenant id after any change to its connectors or actions.
        self.listeners: list[Listener] = []
        #: Told the tenant of each change made through this service (in a cluster the other nodes then
        #: :meth:`reload` it: cluster/invalidation.py).
        self.changed: Listener = lambda tenant_id: None

    async def load(self) -> None:
        for connector in await self.store.all_connectors():
            self._connectors.setdefault(connector.tenant_id, {})[connector.id] = connector
        for action in await self.store.all_actions():
            try:
                template = prepare(action)
            except BadRequest as exc:  # saved by a version that took it: kept in the store, not run
                log.error("action %s of tenant %s is not loaded: %s", action.id, action.tenant_id, exc)
                continue
            self._actions.setdefault(action.tenant_id, {})[action.id] = LoadedAction(action, template)
        for tenant_id in {*self._connectors, *self._actions}:
            self._changed(tenant_id)

    def _changed(self, tenant_id: str) -> None:
        for listener in list(self.listeners):
            listener(tenant_id)

    def _edited(self, tenant_id: str) -> None:
        self._changed(tenant_id)
        self.changed(tenant_id)

    async def reload(self, tenant_id: str) -> None:
        """Read the tenant's connectors and actions again (another node of a cluster changed them); the
        sinks follow through the listeners."""
        connectors = {c.id: c for c in await self.store.all_connectors() if c.tenant_id == tenant_id}
        actions: dict[str, LoadedAction] = {}
        for action in await self.store.all_actions():
            if action.tenant_id != tenant_id:
                continue
            try:
                actions[action.id] = LoadedAction(action, prepare(action))
            except BadRequest as exc:
                log.error("action %s of tenant %s is not loaded: %s", action.id, tenant_id, exc)
        self._connectors.pop(tenant_id, None)
        self._actions.pop(tenant_id, None)
        if connectors:
            self._connectors[tenant_id] = connectors
        if actions:
            self._actions[tenant_id] = actions
        self._changed(tenant_id)

    # ------------------------------------------------------------------------------------------ the sinks

    def tenants(self) -> list[str]:
        return list({*self._connectors, *self._actions})

    def connectors_of(self, tenant_id: str) -> dict[str, Connector]:
        return dict(self._connectors.get(tenant_id, {}))

    def actions_of(self, tenant_id: str) -> dict[str, LoadedAction]:
        return dict(self._actions.get(tenant_id, {}))

    def connector_of(self, action: SinkAction) -> Connector | None:
        return self._connectors.get(action.tenant_id, {}).get(sink_id(action.type, action.connector))

    # ------------------------------------------------------------------------------------------ connectors

    def list_connectors(self, who: Principal) -> list[Connector]:
        _require_admin(who, R_CONNECTORS)
        return sorted(self._connectors.get(who.tenant_id, {}).values(), key=lambda c: (c.created_at, c.id))

    def get_connector(self, who: Principal, connector_id: str) -> Connector:
        _require_admin(who, R_CONNECTORS)
        split_id(connector_id, R_CONNECTORS)
        found = self._connectors.get(who.tenant_id, {}).get(connector_id)
        if found is None:
            raise NotFound(f"Connector Id Not Found: {connector_id}", resource=R_CONNECTORS)
        return found

    async def create_connector(
        self,
        who: Principal,
        kind: object,
        name: object,
        config: dict[str, Any],
        enable: bool = True,
        description: str = "",
    ) -> Connector:
        _require_admin(who, R_CONNECTORS)
        if not isinstance(kind, str):
            raise BadRequest("Missing required parameter: type", resource=R_CONNECTORS)
        split_id(f"{kind}:x", R_CONNECTORS)
        name = check_name(name, R_CONNECTORS)
        now = now_ms()
        connector = Connector(
            who.tenant_id,
            kind,
            name,
            check_connector(kind, config),
            enable,
            checked(description, "description", resource=R_CONNECTORS, max_length=4096),
            now,
            now,
        )
        if connector.id in self._connectors.get(who.tenant_id, {}):
            raise BadRequest(f"connector {connector.id} already exists", resource=R_CONNECTORS)
        await self.store.save_connector(connector, new=True)
        self._connectors.setdefault(who.tenant_id, {})[connector.id] = connector
        self._edited(who.tenant_id)
        return connector

    async def update_connector(
        self,
        who: Principal,
        connector_id: str,
        config: dict[str, Any],
        enable: bool | None = None,
        description: str | None = None,
    ) -> Connector:
        """PUT: the configuration is replaced (a secret sent as ****** keeps the stored one)."""
        old = self.get_connector(who, connector_id)
        connector = replace(
            old,
            config=check_connector(old.type, config, old.config),
            enable=old.enable if enable is None else enable,
            description=old.description
            if description is None
            else checked(description, "description", resource=R_CONNECTORS, max_length=4096),
            updated_at=max(now_ms(), old.updated_at),
        )
        if not await self.store.save_connector(connector, new=False):
            raise NotFound(f"Connector Id Not Found: {connector_id}", resource=R_CONNECTORS)
        self._connectors[who.tenant_id][connector_id] = connector
        self._edited(who.tenant_id)
        return connector

    async def delete_connector(self, who: Principal, connector_id: str) -> None:
        connector = self.get_connector(who, connector_id)
        users = [a.action.id for a in self.actions_using(connector)]
        if users:
            raise BadRequest(
                "Cannot delete connector while there are active channels defined for this connector: "
                + ", ".join(users),
                resource=R_CONNECTORS,
            )
        await self.store.delete_connector(who.tenant_id, connector.type, connector.name)
        self._connectors[who.tenant_id].pop(connector_id, None)
        self._edited(who.tenant_id)

    def actions_using(self, connector: Connector) -> list[LoadedAction]:
        return [
            a
            for a in self._actions.get(connector.tenant_id, {}).values()
            if a.action.type == connector.type and a.action.connector == connector.name
        ]

    # ------------------------------------------------------------------------------------------ actions

    def list_actions(self, who: Principal) -> list[LoadedAction]:
        _require_admin(who, R_ACTIONS)
        return sorted(
            self._actions.get(who.tenant_id, {}).values(), key=lambda a: (a.action.created_at, a.action.id)
        )

    def get_action(self, who: Principal, action_id: str) -> LoadedAction:
        _require_admin(who, R_ACTIONS)
        split_id(action_id, R_ACTIONS)
        found = self._actions.get(who.tenant_id, {}).get(action_id)
        if found is None:
            raise NotFound(f"Action Id Not Found: {action_id}", resource=R_ACTIONS)
        return found

    def _connector_for(self, who: Principal, kind: str, connector: object) -> str:
        if not isinstance(connector, str):
            raise BadRequest("Missing required parameter: connector", resource=R_ACTIONS)
        if sink_id(kind, connector) not in self._connectors.get(who.tenant_id, {}):
            raise BadRequest(f"connector {sink_id(kind, connector)} not found", resource=R_ACTIONS)
        return connector

    async def create_action(
        self,
        who: Principal,
        kind: object,
        name: object,
        connector: object,
        parameters: dict[str, Any],
        resource_opts: dict[str, Any],
        enable: bool = True,
        description: str = "",
    ) -> LoadedAction:
        _require_admin(who, R_ACTIONS)
        if not isinstance(kind, str):
            raise BadRequest("Missing required parameter: type", resource=R_ACTIONS)
        split_id(f"{kind}:x", R_ACTIONS)
        name = check_name(name, R_ACTIONS)
        if sink_id(kind, name) in self._actions.get(who.tenant_id, {}):
            raise BadRequest(f"action {sink_id(kind, name)} already exists", resource=R_ACTIONS)
        params, opts = check_action(kind, parameters, resource_opts)
        now = now_ms()
        action = SinkAction(
            who.tenant_id,
            kind,
            name,
            self._connector_for(who, kind, connector),
            params,
            opts,
            enable,
            checked(description, "description", resource=R_ACTIONS, max_length=4096),
            now,
            now,
        )
        loaded = LoadedAction(action, prepare(action))
        await self.store.save_action(action, new=True)
        self._actions.setdefault(who.tenant_id, {})[action.id] = loaded
        self._edited(who.tenant_id)
        return loaded

    async def update_action(
        self,
        who: Principal,
        action_id: str,
        connector: object,
        parameters: dict[str, Any],
        resource_opts: dict[str, Any],
        enable: bool | None = None,
        description: str | None = None,
    ) -> LoadedAction:
        old = self.get_action(who, action_id).action
        params, opts = check_action(old.type, parameters, resource_opts)
        action = replace(
            old,
            connector=self._connector_for(who, old.type, connector),
            parameters=params,
            resource_opts=opts,
            enable=old.enable if enable is None else enable,
            description=old.description
            if description is None
            else checked(description, "description", resource=R_ACTIONS, max_length=4096),
            updated_at=max(now_ms(), old.updated_at),
        )
        loaded = LoadedAction(action, prepare(action))
        if not await self.store.save_action(action, new=False):
            raise NotFound(f"Action Id Not Found: {action_id}", resource=R_ACTIONS)
        self._actions[who.tenant_id][action_id] = loaded
        self._edited(who.tenant_id)
        return loaded

    async def delete_action(self, who: Principal, action_id: str) -> None:
        loaded = self.get_action(who, action_id)
        rules = self.rules_using(who.tenant_id, action_id)
        if rules:
            raise BadRequest(
                f"Cannot delete action while active rules are defined for this action: {', '.join(rules)}",
                resource=R_ACTIONS,
            )
        await self.store.delete_action(who.tenant_id, loaded.action.type, loaded.action.name)
        self._actions[who.tenant_id].pop(action_id, None)
        self._edited(who.tenant_id)

    def rules_using(self, tenant_id: str, action_id: str) -> list[str]:
        return [
            loaded.rule.id
            for loaded in self.rules.all_of(tenant_id)
            if any(isinstance(a, Sink) and a.id == action_id for a in loaded.rule.actions)
        ]

    def check_sinks(self, who: Principal, actions: tuple[Any, ...]) -> None:
        """A rule may name only its tenant's actions (400 otherwise, as EMQX answers)."""
        known = self._actions.get(who.tenant_id, {})
        for action in actions:
            if isinstance(action, Sink) and action.id not in known:
                raise BadRequest(f"action {action.id} not found", resource="rules")
