"""The store of connection history and device presence. Implementation: storage/sql/presence.py."""

from __future__ import annotations

from typing import Protocol

from tether.core.paging import Page, PageRequest
from tether.presence.models import ConnectionRecord, DevicePresence, HistoryCriteria


class PresenceStore(Protocol):
    async def record(self, inserts: list[ConnectionRecord], closes: list[tuple[str, int, str]]) -> None:
        """In one transaction: insert history rows (open or already closed), then set (disconnected_at,
        reason) of the rows with the ids of `closes`: (id, at, reason)."""
        ...

    async def set_device(self, record_id: str, mo_id: int) -> None: ...
    async def close_open(self, at: int, reason: str, node: str | None = None) -> list[ConnectionRecord]:
        """End every row still open (left by a process that stopped), or only those of cluster node `node`;
        returns them, closed."""
        ...

    async def open_nodes(self) -> set[str]:
        """The nodes with open rows ("" for a process outside a cluster)."""
        ...

    async def open_connections(self, tenant_id: str, mo_id: int) -> int:
        """How many open rows a device has, whichever node they are on."""
        ...

    async def find(
        self, tenant_id: str, criteria: HistoryCriteria, page: PageRequest
    ) -> Page[ConnectionRecord]:
        """Newest connection first."""
        ...

    async def purge(self, before: int) -> int:
        """Delete rows that ended before `before` (ms); returns how many."""
        ...

    async def devices(self) -> list[DevicePresence]: ...
    async def save_devices(self, states: list[DevicePresence]) -> None:
        """Insert or replace."""
        ...

    async def forget_device(self, tenant_id: str, mo_id: int) -> None: ...
