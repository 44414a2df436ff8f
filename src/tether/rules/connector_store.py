"""What the connector service needs of storage: each tenant's connectors and sink actions, keyed by
(type, name)."""

from __future__ import annotations

from typing import Protocol

from .connectors import Connector, SinkAction

__all__ = ["ConnectorStore"]


class ConnectorStore(Protocol):
    async def all_connectors(self) -> list[Connector]:
        """Every tenant's connectors (loaded at start), oldest first."""
        ...

    async def all_actions(self) -> list[SinkAction]: ...

    async def save_connector(self, connector: Connector, *, new: bool) -> bool:
        """Insert (`new`: Conflict when (tenant, type, name) exists) or replace; whether it was written."""
        ...

    async def delete_connector(self, tenant_id: str, kind: str, name: str) -> bool: ...

    async def save_action(self, action: SinkAction, *, new: bool) -> bool: ...

    async def delete_action(self, tenant_id: str, kind: str, name: str) -> bool: ...
