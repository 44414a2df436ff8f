from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ExternalId:
    type: str
    value: str
    mo_id: int
