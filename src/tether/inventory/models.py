"""Managed objects: documents of arbitrary fragments with parent/child references."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Literal

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
    """A managed object to create. `owner` None is the creating caller; only an administrator names another
    owner (the inventory service decides, and hands its store the draft with the owner resolved)."""

    owner: str | None
    name: str | None
    type: str | None
    fragments: Json


#: The indexed top-level fields of a managed object (the rest are fragments).
Column = Literal["name", "type"]


@dataclass(frozen=True, slots=True)
class ManagedObjectChange:
    """A merge: each field named in `columns` takes its value (None clears it); a fragment given replaces
    the stored one whole, a fragment set to None is removed; what is not named stays."""

    columns: dict[Column, str | None] = field(default_factory=dict)
    fragments: Json = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Reference:
    """One edge of the object graph, as seen from one end; `name` is the other end's name."""

    kind: ChildKind
    id: int
    name: str | None


@dataclass(frozen=True, slots=True)
class ChildChange:
    """A reference added or removed: the payload of the event bus's `references` events (CREATE, DELETE),
    so followers of group membership (CONTINUOUS Fleets jobs) hear of it."""

    parent_id: int
    kind: ChildKind
    child_id: int


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
