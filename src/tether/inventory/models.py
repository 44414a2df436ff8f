"""Managed objects: documents of arbitrary fragments with parent/child references."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from tether.inventory.query import Query

Json = dict[str, Any]


class ChildKind(StrEnum):
    """The three kinds of parent/child reference (Cumulocity inventory)."""

    DEVICE = "childDevices"
    ASSET = "childAssets"
    ADDITION = "childAdditions"


@dataclass(frozen=True, slots=True)
class ManagedObject:
    id: int
    tenant_id: str
    owner: str
    creation_time: int
    last_updated: int
    name: str | None = None
    type: str | None = None
    fragments: Json = field(default_factory=dict)

    @property
    def is_device(self) -> bool:
        return "c8y_IsDevice" in self.fragments


@dataclass(frozen=True, slots=True)
class NewManagedObject:
    owner: str
    name: str | None
    type: str | None
    fragments: Json


@dataclass(frozen=True, slots=True)
class Reference:
    """One edge of the object graph, as seen from one end; `name` is the other end's name."""

    kind: ChildKind
    id: int
    name: str | None


@dataclass(frozen=True, slots=True)
class Relations:
    """The references of one object: its children by kind and its parents by kind."""

    children: dict[ChildKind, list[Reference]] = field(default_factory=dict)
    parents: dict[ChildKind, list[Reference]] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class InventoryCriteria:
    """Filters of GET /inventory/managedObjects; all given ones must hold."""

    type: str | None = None
    fragment_type: str | None = None
    owner: str | None = None
    text: str | None = None
    ids: tuple[int, ...] | None = None
    child_device_id: int | None = None
    only_roots: bool = False
    query: Query | None = None
