"""Thing types and thing groups as managed objects (see :mod:`tether.fleets.models`): a group is a Cumulocity
device group, its things are its childAssets."""

from __future__ import annotations

import contextlib
import uuid

from tether.core.errors import Conflict, Forbidden, InvalidInput, Missing, NotFound
from tether.core.paging import Page, PageRequest
from tether.fleets.models import (
    GROUP_FRAGMENT,
    GROUP_ID,
    GROUP_MO_TYPE,
    GROUP_NAME,
    THING_FRAGMENT,
    TYPE_FRAGMENT,
    TYPE_ID,
    TYPE_MO_TYPE,
    TYPE_NAME,
    Json,
    R,
    ThingGroup,
    ThingType,
    TypeDraft,
    default_group,
)
from tether.identity.service import IdentityService
from tether.inventory.models import (
    ChildKind,
    InventoryCriteria,
    ManagedObject,
    ManagedObjectChange,
    NewManagedObject,
)
from tether.inventory.query import Compare, Query
from tether.inventory.service import InventoryService
from tether.tenants.models import Principal


def type_of(mo: ManagedObject) -> ThingType | None:
    fragment = mo.fragments.get(TYPE_FRAGMENT)
    if not isinstance(fragment, dict) or not isinstance(fragment.get("id"), str) or mo.name is None:
        return None
    description = fragment.get("description")
    return ThingType(
        id=fragment["id"],
        tenant_id=mo.tenant_id,
        mo_id=mo.id,
        name=mo.name,
        description=description if isinstance(description, str) else None,
        properties=list(fragment.get("properties") or []),
        events=list(fragment.get("events") or []),
        commands=list(fragment.get("commands") or []),
        creation_time=mo.creation_time,
    )


def group_of(mo: ManagedObject) -> ThingGroup | None:
    fragment = mo.fragments.get(GROUP_FRAGMENT)
    if not isinstance(fragment, dict) or not isinstance(fragment.get("id"), str) or mo.name is None:
        return None
    description = fragment.get("description")
    return ThingGroup(
        id=fragment["id"],
        tenant_id=mo.tenant_id,
        mo_id=mo.id,
        name=mo.name,
        description=description if isinstance(description, str) else None,
        creation_time=mo.creation_time,
    )


def _type_fragment(type_id: str, draft: TypeDraft) -> Json:
    return {
        "id": type_id,
        "description": draft.description,
        "properties": draft.properties,
        "events": draft.events,
        "commands": draft.commands,
    }


class Catalog:
    def __init__(self, inventory: InventoryService, identity: IdentityService) -> None:
        self._inventory = inventory
        self._identity = identity

    async def _named(self, who: Principal, kind: str, value: str) -> ManagedObject | None:
        try:
            xid = await self._identity.resolve(who, kind, value)
            return await self._inventory.get(who, xid.mo_id)
        except (NotFound, InvalidInput):
            return None

    async def _claim(self, who: Principal, mo_id: int, kind: str, value: str, what: str) -> None:
        try:
            await self._identity.register(who, mo_id, kind, value)
        except Conflict:
            raise Conflict(f"{what} '{value}' already exists", resource=R) from None

    async def _new(self, who: Principal, draft: NewManagedObject, claims: list[tuple[str, str, str]]) -> int:
        """Create the object and claim its names; nothing stays behind if a name is taken."""
        mo = await self._inventory.create(who, draft)
        try:
            for kind, value, what in claims:
                await self._claim(who, mo.id, kind, value, what)
        except BaseException:
            with contextlib.suppress(Exception):
                await self._inventory.delete(who, mo.id)
            raise
        return mo.id

    # -- thing types ----------------------------------------------------------------------------------

    async def create_type(self, who: Principal, draft: TypeDraft) -> ThingType:
        """A new type, and its group "<type> (default)" (made unless a group of that name exists)."""
        _require_admin(who)
        type_id = str(uuid.uuid4())
        fragments: Json = {TYPE_FRAGMENT: _type_fragment(type_id, draft)}
        new = NewManagedObject(None, draft.name, TYPE_MO_TYPE, fragments)
        mo_id = await self._new(
            who, new, [(TYPE_NAME, draft.name, "Thing type"), (TYPE_ID, type_id, "Thing type id")]
        )
        await self.default_group_of(who, draft.name)
        return await self._type(who, mo_id)

    async def _type(self, who: Principal, mo_id: int) -> ThingType:
        found = type_of(await self._inventory.get(who, mo_id))
        assert found is not None
        return found

    async def get_type(self, who: Principal, type_id: str) -> ThingType:
        _require_admin(who)
        mo = await self._named(who, TYPE_ID, type_id)
        found = None if mo is None else type_of(mo)
        if found is None:
            raise NotFound(missing=Missing.of("thing type", type_id), resource=R)
        return found

    async def type_by_name(self, who: Principal, name: str) -> ThingType:
        """The type a request body names: an unknown one is the body's fault (400)."""
        mo = await self._named(who, TYPE_NAME, name)
        found = None if mo is None else type_of(mo)
        if found is None:
            raise InvalidInput(f"Unknown thing type '{name}'", resource=R)
        return found

    async def list_types(self, who: Principal, page: PageRequest) -> Page[ManagedObject]:
        _require_admin(who)
        return await self._inventory.find(who, InventoryCriteria(fragment_type=TYPE_FRAGMENT), page)

    async def update_type(self, who: Principal, type_id: str, draft: TypeDraft) -> ThingType:
        """Replace a type's description and declarations; its name is fixed (things and the default group
        carry it)."""
        current = await self.get_type(who, type_id)
        if draft.name != current.name:
            raise InvalidInput("The name of a thing type cannot be changed", resource=R)
        change = ManagedObjectChange(fragments={TYPE_FRAGMENT: _type_fragment(type_id, draft)})
        await self._inventory.update(who, current.mo_id, change)
        return await self._type(who, current.mo_id)

    async def delete_type(self, who: Principal, type_id: str) -> None:
        """Refused (409) while things have the type; its default group stays (it may hold other things)."""
        current = await self.get_type(who, type_id)
        query = Query(Compare((THING_FRAGMENT, "thingType"), "eq", current.name))
        criteria = InventoryCriteria(fragment_type=THING_FRAGMENT, query=query)
        if (await self._inventory.find(who, criteria, PageRequest(page_size=1))).items:
            raise Conflict(f"Thing type '{current.name}' is in use", resource=R)
        await self._inventory.delete(who, current.mo_id)

    # -- thing groups ---------------------------------------------------------------------------------

    async def create_group(self, who: Principal, name: str, description: str | None) -> ThingGroup:
        _require_admin(who)
        group_id = str(uuid.uuid4())
        fragments: Json = {
            "c8y_IsDeviceGroup": {},
            GROUP_FRAGMENT: {"id": group_id, "description": description},
        }
        new = NewManagedObject(None, name, GROUP_MO_TYPE, fragments)
        mo_id = await self._new(
            who, new, [(GROUP_NAME, name, "Thing group"), (GROUP_ID, group_id, "Thing group id")]
        )
        return await self._group(who, mo_id)

    async def _group(self, who: Principal, mo_id: int) -> ThingGroup:
        found = group_of(await self._inventory.get(who, mo_id))
        assert found is not None
        return found

    async def get_group(self, who: Principal, group_id: str) -> ThingGroup:
        _require_admin(who)
        mo = await self._named(who, GROUP_ID, group_id)
        found = None if mo is None else group_of(mo)
        if found is None:
            raise NotFound(missing=Missing.of("thing group", group_id), resource=R)
        return found

    async def group_by_name(self, who: Principal, name: str) -> ThingGroup:
        """The group a request body names: an unknown one is the body's fault (400)."""
        mo = await self._named(who, GROUP_NAME, name)
        found = None if mo is None else group_of(mo)
        if found is None:
            raise InvalidInput(f"Unknown thing group '{name}'", resource=R)
        return found

    async def default_group_of(self, who: Principal, type_name: str) -> ThingGroup:
        name = default_group(type_name)
        try:
            return await self.group_by_name(who, name)
        except InvalidInput:
            pass
        try:
            return await self.create_group(who, name, f"The things of type {type_name}")
        except Conflict:  # made meanwhile
            return await self.group_by_name(who, name)

    async def is_group(self, who: Principal, mo_id: int) -> bool:
        return group_of(await self._inventory.get(who, mo_id)) is not None

    async def list_groups(self, who: Principal, page: PageRequest) -> Page[ManagedObject]:
        _require_admin(who)
        return await self._inventory.find(who, InventoryCriteria(fragment_type=GROUP_FRAGMENT), page)

    async def update_group(
        self, who: Principal, group_id: str, name: str | None, description: str | None
    ) -> ThingGroup:
        current = await self.get_group(who, group_id)
        columns: dict[str, str | None] = {}
        if name is not None and name != current.name:
            await self._claim(who, current.mo_id, GROUP_NAME, name, "Thing group")
            columns["name"] = name
        fragment = {
            "id": current.id,
            "description": current.description if description is None else description,
        }
        await self._inventory.update(
            who,
            current.mo_id,
            ManagedObjectChange(
                columns={"name": name} if columns else {}, fragments={GROUP_FRAGMENT: fragment}
            ),
        )
        if columns:
            with contextlib.suppress(NotFound):
                await self._identity.delete(who, GROUP_NAME, current.name)
        return await self._group(who, current.mo_id)

    async def delete_group(self, who: Principal, group_id: str) -> None:
        """The group goes; its things stay (they were its childAssets, not its children devices)."""
        current = await self.get_group(who, group_id)
        await self._inventory.delete(who, current.mo_id)

    async def add_member(self, who: Principal, group_id: str, mo_id: int) -> None:
        group = await self.get_group(who, group_id)
        await self._inventory.add_child(who, group.mo_id, ChildKind.ASSET, mo_id)

    async def remove_member(self, who: Principal, group_id: str, mo_id: int) -> None:
        group = await self.get_group(who, group_id)
        await self._inventory.remove_child(who, group.mo_id, ChildKind.ASSET, mo_id)


def _require_admin(who: Principal) -> None:
    if not who.is_admin:
        raise Forbidden("Access is denied", resource="security")
