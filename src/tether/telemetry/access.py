"""Who may record and read which data: the same rules as the inventory, applied through the source.

Admins reach everything in their tenant; device users only data whose source (managed object) they own;
other roles (the bootstrap user) nothing. The inventory is the one place that decides visibility.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol, Self, TypeVar

from tether.core.errors import Forbidden, InvalidInput, Missing, NotFound
from tether.core.events import Action, DomainEvent, EventBus
from tether.core.processing import ProcessingMode
from tether.inventory.access import OwnerScope, ReadableObjects, scope_of
from tether.inventory.models import ChildKind, ManagedObject
from tether.tenants.models import Principal

#: The most sources one query of related sources reads (an IN list every backend binds).
MAX_RELATED = 10_000


class RelatedCriteria(Protocol):
    @property
    def source_id(self) -> int | None: ...
    @property
    def with_source_assets(self) -> bool: ...
    @property
    def with_source_devices(self) -> bool: ...
    def with_related(self, ids: tuple[int, ...]) -> Self: ...


C = TypeVar("C", bound=RelatedCriteria)


def require_role(who: Principal) -> None:
    if not (who.is_admin or who.is_device or who.is_scoped):
        raise Forbidden("Access is denied", resource="security")


def owner_scope(who: Principal) -> OwnerScope | None:
    """What a query's sources are limited to: the device user's own objects, a person's readable objects by
    its inventory roles; None for admins (inventory/access.py scope_of)."""
    return scope_of(who)


class Sources:
    def __init__(self, inventory: ReadableObjects, resource: str) -> None:
        self._inventory = inventory
        self._resource = resource

    async def require(self, who: Principal, source_id: int) -> ManagedObject:
        """The source, if it exists in the caller's tenant and the caller may see it; else NotFound
        (in the caller's API family: a 404 of POST /alarm/alarms is an alarm/Not Found)."""
        require_role(who)
        try:
            return await self._inventory.get(who, source_id)
        except NotFound:
            raise NotFound(
                missing=Missing.of("managed object", source_id, role="source"), resource=self._resource
            ) from None

    async def related(self, who: Principal, criteria: C) -> C:
        """`criteria` with its related sources resolved (withSourceAssets / withSourceDevices): the source and
        what is below it through those references. Cumulocity's spec: these need a `source`."""
        kinds = (ChildKind.ASSET,) * criteria.with_source_assets + (
            ChildKind.DEVICE,
        ) * criteria.with_source_devices
        if not kinds:
            return criteria
        if criteria.source_id is None:
            raise InvalidInput(
                "withSourceAssets and withSourceDevices need a 'source'", resource=self._resource
            )
        require_role(who)
        try:
            below = await self._inventory.descendants(who, criteria.source_id, kinds, MAX_RELATED)
        except NotFound:
            return criteria.with_related((criteria.source_id,))  # no such source: nothing matches
        except InvalidInput as exc:
            raise InvalidInput(exc.message, resource=self._resource) from None
        return criteria.with_related((criteria.source_id, *below))

    async def visible(self, who: Principal, source_id: int) -> bool:
        """Whether data about `source_id`, already known to be in the caller's tenant, is the caller's."""
        if who.is_admin:
            return True
        try:
            await self._inventory.get(who, source_id)
        except NotFound:
            return False
        return True


class Recorded(Protocol):
    """A measurement, event or alarm as far as announcing it goes."""

    @property
    def id(self) -> int | None: ...
    @property
    def tenant_id(self) -> str: ...
    @property
    def source_id(self) -> int: ...


class Announcer:
    """Publishes what a telemetry service changed as DomainEvents, unless the mode is QUIESCENT."""

    def __init__(self, events: EventBus, resource: str) -> None:
        self._events = events
        self._resource = resource

    def listens(self, tenant_id: str) -> bool:
        """Whether announcing this resource in `tenant_id` would reach anyone (else skip building it)."""
        return self._events.listens(tenant_id, self._resource)

    def __call__(self, mode: ProcessingMode, action: Action, items: Iterable[Recorded]) -> None:
        if not mode.announces:
            return
        heard: dict[str, bool] = {}
        for item in items:
            tenant = item.tenant_id
            listened = heard.get(tenant)
            if listened is None:  # nobody listening: no event to build (a collection holds hundreds)
                listened = heard[tenant] = self.listens(tenant)
            if not listened:
                continue
            self._events.publish(
                DomainEvent(item.tenant_id, self._resource, action, item.id, item.source_id, item)
            )
