"""In-memory SmartRestTemplateStore (tether.adapters.smartrest.store)."""

from __future__ import annotations

import copy
from typing import Any

from tether.core.errors import Conflict


class FakeSmartRestTemplateStore:
    def __init__(self) -> None:
        self.collections: dict[tuple[str, str], tuple[int, dict[str, Any]]] = {}
        self._next_id = 1

    async def create(self, tenant_id: str, xid: str, owner: str, templates: dict[str, Any], now: int) -> int:
        if (tenant_id, xid) in self.collections:
            raise Conflict(f"Template collection '{xid}' already exists", resource="smartrest")
        new_id = self._next_id
        self._next_id += 1
        self.collections[(tenant_id, xid)] = (new_id, copy.deepcopy(templates))
        return new_id

    async def get(self, tenant_id: str, xid: str) -> tuple[int, dict[str, Any]] | None:
        found = self.collections.get((tenant_id, xid))
        return None if found is None else (found[0], copy.deepcopy(found[1]))
