"""The store of shadow documents. Implementations: storage/sql/fleets.py (SQLite, PostgreSQL).

One row per thing (its managed object; deleting the object deletes the row). A deleted shadow keeps its row
with `present` False, so the version of the next one carries on (AWS IoT does so for 48 hours; Tether for
as long as the thing exists).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

from tether.fleets.shadow import Shadow

#: The outcome of one write of `put_many`: stored, lost to another writer (the row is not at the expected
#: version, or exists when it was to be inserted), or the thing's managed object is gone.
Outcome = Literal["stored", "conflict", "gone"]


@dataclass(frozen=True, slots=True)
class ShadowWrite:
    """A compare-and-set of one thing's row: `expected_version` None inserts it (it must not exist)."""

    tenant_id: str
    mo_id: int
    shadow: Shadow
    expected_version: int | None


class ShadowStore(Protocol):
    async def get(self, tenant_id: str, mo_id: int) -> Shadow | None:
        """The stored shadow (None: never written)."""
        ...

    async def put(self, tenant_id: str, mo_id: int, shadow: Shadow, expected_version: int | None) -> bool:
        """Compare-and-set, committed before it returns: with `expected_version` None the row must not exist
        yet (it is inserted), else the stored version must be `expected_version`. False when another writer
        got there first (or the thing's object is gone)."""
        ...

    async def put_many(self, writes: Sequence[ShadowWrite]) -> list[Outcome]:
        """Many compare-and-sets (of different things) in one transaction, committed before it returns; each
        write succeeds or fails alone. The outcomes in the order of `writes`."""
        ...
