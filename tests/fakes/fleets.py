"""In-memory ShadowStore (tether.fleets.store)."""

from __future__ import annotations

from collections.abc import Sequence

from tether.fleets.shadow import Shadow
from tether.fleets.store import Outcome, ShadowWrite


class FakeShadowStore:
    """Compare-and-set as the SQL store: insert only when absent, update only at the expected version.
    `interfere` (tenant, object) -> a shadow another writer stores just before the next put (a lost race)."""

    def __init__(self) -> None:
        self.rows: dict[tuple[str, int], Shadow] = {}
        self.interfere: dict[tuple[str, int], Shadow] = {}
        self.gone: set[tuple[str, int]] = set()  # things whose object was deleted
        self.batches: list[int] = []  # the size of every put_many

    async def get(self, tenant_id: str, mo_id: int) -> Shadow | None:
        return self.rows.get((tenant_id, mo_id))

    async def put(self, tenant_id: str, mo_id: int, shadow: Shadow, expected_version: int | None) -> bool:
        key = (tenant_id, mo_id)
        if key in self.gone:
            return False
        other = self.interfere.pop(key, None)
        if other is not None:
            self.rows[key] = other
        stored = self.rows.get(key)
        if (expected_version is None) != (stored is None):
            return False
        if stored is not None and stored.version != expected_version:
            return False
        self.rows[key] = shadow
        return True

    async def put_many(self, writes: Sequence[ShadowWrite]) -> list[Outcome]:
        self.batches.append(len(writes))
        out: list[Outcome] = []
        for w in writes:
            if (w.tenant_id, w.mo_id) in self.gone:
                out.append("gone")
            elif await self.put(w.tenant_id, w.mo_id, w.shadow, w.expected_version):
                out.append("stored")
            else:
                out.append("conflict")
        return out
