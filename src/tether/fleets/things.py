"""Things on the one model (see :mod:`tether.fleets.models`): create, adopt, find, rename, delete, and the
lookups the MQTT adapter and the login hooks make on every message and CONNECT (cached in memory, forgotten
on the inventory's change events)."""

from __future__ import annotations

import contextlib
import logging
import uuid
from collections.abc import Iterable

from tether.core.errors import Conflict, DomainError, Forbidden, InvalidInput, Missing, NotFound
from tether.core.events import DomainEvent, EventBus
from tether.core.paging import Page, PageRequest
from tether.fleets.catalog import Catalog
from tether.fleets.models import (
    CLIENT_ID,
    DEVICE_USER_PREFIX,
    GROUP_FRAGMENT,
    THING_FRAGMENT,
    THING_ID,
    THING_NAME,
    Json,
    R,
    Thing,
    ThingChange,
    ThingDraft,
    ThingFilter,
    ThingGroup,
)
from tether.identity.service import IdentityService
from tether.inventory.models import (
    ChildKind,
    InventoryCriteria,
    ManagedObject,
    ManagedObjectChange,
    NewManagedObject,
)
from tether.inventory.query import And, ByGroupId, Compare, Expr, Has, Not, Or, Query
from tether.inventory.service import InventoryService
from tether.tenants.models import Principal, Role
from tether.tenants.passwords import generate_password
from tether.tenants.service import TenantService

log = logging.getLogger(__name__)
_CACHE_LIMIT = 100_000
#: Parent ids asked per inventory query when naming a page of things' groups.
_GROUP_BATCH = 500
#: Cumulocity's connection fragment, which the Fleets adapter keeps on a thing (online/offline).
CONNECTION = "c8y_Connection"
#: Cumulocity's external id type of a device's serial number.
SERIAL = "c8y_Serial"


def system(tenant_id: str) -> Principal:
    """Whom the Fleets platform acts as inside a tenant (for lookups that are not a caller's request)."""
    return Principal(tenant_id, "fleets", frozenset({Role.ADMIN}))


def thing_of(mo: ManagedObject) -> Thing | None:
    """The thing a managed object is, if it has the fragment."""
    fragment = mo.fragments.get(THING_FRAGMENT)
    if not isinstance(fragment, dict):
        return None
    name, thing_id, client = fragment.get("name"), fragment.get("id"), fragment.get("clientId")
    if not (isinstance(name, str) and isinstance(thing_id, str) and isinstance(client, str)):
        return None
    thing_type = fragment.get("thingType")
    attributes = fragment.get("attributes")
    return Thing(
        id=thing_id,
        tenant_id=mo.tenant_id,
        mo_id=mo.id,
        name=name,
        client_id=client,
        owner=mo.owner,
        thing_type=thing_type if isinstance(thing_type, str) else None,
        attributes=attributes if isinstance(attributes, dict) else {},
        creation_time=mo.creation_time,
        last_updated=mo.last_updated,
    )


def status_of(mo: ManagedObject) -> str:
    connection = mo.fragments.get(CONNECTION)
    online = isinstance(connection, dict) and connection.get("status") == "CONNECTED"
    return "online" if online else "offline"


def _default_client_id(mo: ManagedObject, name: str) -> str:
    """A device of another family keeps the client id it logs in with: a device user's serial, a Xyte id."""
    for prefix in (DEVICE_USER_PREFIX, "xyte_"):
        if mo.owner.startswith(prefix) and len(mo.owner) > len(prefix):
            return mo.owner[len(prefix) :]
    return name


class ThingService:
    def __init__(
        self,
        inventory: InventoryService,
        identity: IdentityService,
        tenants: TenantService,
        catalog: Catalog,
        events: EventBus,
    ) -> None:
        self._inventory = inventory
        self._identity = identity
        self._tenants = tenants
        self.catalog = catalog
        self._by_name: dict[tuple[str, str], Thing] = {}
        self._names_of_mo: dict[tuple[str, int], str] = {}
        #: tenant -> owner -> the names of its things (per tenant: no key tuple per device user), and how
        #: many owners that is in all.
        self._owned: dict[str, dict[str, tuple[str, ...]]] = {}
        self._owned_count = 0
        events.subscribe(self._forget, resources={"managedobjects"}, cluster=True)  # a cache: every node's

    # -- operators ------------------------------------------------------------------------------------

    async def create(self, who: Principal, draft: ThingDraft) -> Thing:
        """A new thing: a new device, or (`draft.device_id`) an existing device of any family named."""
        _require_admin(who)
        thing_type = None
        if draft.thing_type is not None:
            thing_type = await self.catalog.type_by_name(who, draft.thing_type)
        groups = [await self.catalog.group_by_name(who, name) for name in draft.groups]
        if thing_type is not None:
            groups.append(await self.catalog.default_group_of(who, thing_type.name))
        if draft.device_id is not None:
            mo = await self._inventory.get(who, draft.device_id)
            if thing_of(mo) is not None:
                raise Conflict(f"Device '{mo.id}' is a thing already", resource=R)
            if not mo.is_device:
                raise InvalidInput(f"Managed object '{mo.id}' is not a device", resource=R)
            created = False
            client = draft.client_id or _default_client_id(mo, draft.name)
        else:
            client = draft.client_id or draft.name
            fragments: Json = {"c8y_IsDevice": {}}
            new = NewManagedObject(DEVICE_USER_PREFIX + client, draft.name, draft.thing_type, fragments)
            mo = await self._inventory.create(who, new)
            created = True
        thing = Thing(
            id=str(uuid.uuid4()),
            tenant_id=who.tenant_id,
            mo_id=mo.id,
            name=draft.name,
            client_id=client,
            owner=mo.owner,
            thing_type=draft.thing_type,
            attributes=dict(draft.attributes),
        )
        registered: list[tuple[str, str]] = []
        try:
            claims = [(THING_NAME, thing.name), (CLIENT_ID, client), (THING_ID, thing.id)]
            if created:
                # A new device is known by its serial as every Cumulocity device is (SmartREST, presence):
                # its client id, which no other device of the tenant may have as its serial.
                claims.append((SERIAL, client))
            for kind, value in claims:
                await self._register(who, mo.id, kind, value)
                registered.append((kind, value))
            mo = await self._inventory.update(
                who, mo.id, ManagedObjectChange(fragments={THING_FRAGMENT: thing.fragment()})
            )
            for group in groups:
                await self._inventory.add_child(who, group.mo_id, ChildKind.ASSET, mo.id)
        except BaseException:
            # A duplicate name or client id (or a failed write): nothing of the thing stays behind.
            with contextlib.suppress(Exception):
                if created:
                    await self._inventory.delete(who, mo.id)
                else:
                    for kind, value in registered:
                        await self._identity.delete(who, kind, value)
            raise
        log.info("tenant %s: thing %s (%s) is device %s", who.tenant_id, thing.name, thing.id, mo.id)
        found = thing_of(mo)
        assert found is not None
        return found

    async def _register(self, who: Principal, mo_id: int, kind: str, value: str) -> None:
        try:
            await self._identity.register(who, mo_id, kind, value)
        except Conflict:
            if kind == SERIAL:
                raise Conflict(
                    f"Client id '{value}' is the serial of another device: make that device a thing "
                    "(deviceId) or choose another client id",
                    resource=R,
                ) from None
            what = {THING_NAME: "Thing name", CLIENT_ID: "Client id", THING_ID: "Thing id"}[kind]
            raise Conflict(f"{what} '{value}' already exists", resource=R) from None

    async def get(self, who: Principal, thing_id: str) -> tuple[Thing, ManagedObject]:
        """The thing with this id (the UUID of API paths) and its managed object."""
        _require_admin(who)
        try:
            xid = await self._identity.resolve(who, THING_ID, thing_id)
            mo = await self._inventory.get(who, xid.mo_id)
        except (NotFound, InvalidInput):
            raise NotFound(missing=Missing.of("thing", thing_id), resource=R) from None
        thing = thing_of(mo)
        if thing is None:
            raise NotFound(missing=Missing.of("thing", thing_id), resource=R)
        return thing, mo

    async def find(self, who: Principal, where: ThingFilter, page: PageRequest) -> Page[ManagedObject]:
        """Things (their managed objects, in creation order) that meet every filter."""
        _require_admin(who)
        terms: list[Expr] = []
        if where.name is not None:
            terms.append(Compare((THING_FRAGMENT, "name"), "eq", where.name))
        if where.thing_type is not None:
            terms.append(Compare((THING_FRAGMENT, "thingType"), "eq", where.thing_type))
        online: Expr = Compare((CONNECTION, "status"), "eq", "CONNECTED")
        if where.status == "online":
            terms.append(online)
        elif where.status == "offline":
            terms.append(Or((Not(Has((CONNECTION,))), Not(online))))
        if where.group is not None:
            group: ThingGroup | None
            try:
                group = await self.catalog.group_by_name(who, where.group)
            except InvalidInput:
                group = None
            if group is None:
                return Page([], page, 0 if page.with_total else None)
            terms.append(ByGroupId(str(group.mo_id)))  # the group's members, in the query
        query = Query(And(tuple(terms))) if terms else None
        criteria = InventoryCriteria(fragment_type=THING_FRAGMENT, query=query)
        return await self._inventory.find(who, criteria, page)

    async def groups_of(self, who: Principal, mo_ids: Iterable[int]) -> dict[int, list[str]]:
        """The names of the thing groups each object is in: only thing groups, so a thing's `groups` can be
        sent back in a PUT (an object may also be a childAsset of plain Cumulocity groups and assets)."""
        relations = await self._inventory.relations(who, list(mo_ids))
        parents = sorted({p.id for r in relations.values() for p in r.parents.get(ChildKind.ASSET, [])})
        groups: set[int] = set()
        for start in range(0, len(parents), _GROUP_BATCH):
            batch = tuple(parents[start : start + _GROUP_BATCH])
            criteria = InventoryCriteria(fragment_type=GROUP_FRAGMENT, ids=batch)
            found = await self._inventory.find(who, criteria, PageRequest(page_size=len(batch)))
            groups.update(mo.id for mo in found.items)
        out: dict[int, list[str]] = {}
        for mo_id, relation in relations.items():
            references = relation.parents.get(ChildKind.ASSET, [])
            out[mo_id] = [p.name for p in references if p.name is not None and p.id in groups]
        return out

    async def members(self, who: Principal, group_id: str, page: PageRequest) -> Page[ManagedObject]:
        """The things of a thing group (its childAssets that are things; other members are not counted)."""
        group = await self.catalog.get_group(who, group_id)
        criteria = InventoryCriteria(fragment_type=THING_FRAGMENT, query=Query(ByGroupId(str(group.mo_id))))
        return await self._inventory.find(who, criteria, page)

    async def update(self, who: Principal, thing_id: str, change: ThingChange) -> Thing:
        thing, mo = await self.get(who, thing_id)
        renamed = change.name is not None and change.name != thing.name
        if renamed:
            assert change.name is not None
            await self._register(who, mo.id, THING_NAME, change.name)
        new_type = None if change.clear_type else (change.thing_type or thing.thing_type)
        try:
            groups = None
            if change.groups is not None:
                groups = [await self.catalog.group_by_name(who, name) for name in change.groups]
            if new_type is not None and new_type != thing.thing_type:
                await self.catalog.type_by_name(who, new_type)
                default = await self.catalog.default_group_of(who, new_type)
                groups = (groups if groups is not None else []) + [default]
        except DomainError:
            if renamed:
                assert change.name is not None
                await self._identity.delete(who, THING_NAME, change.name)
            raise
        updated = Thing(
            id=thing.id,
            tenant_id=thing.tenant_id,
            mo_id=thing.mo_id,
            name=change.name or thing.name,
            client_id=thing.client_id,
            owner=thing.owner,
            thing_type=new_type,
            attributes=thing.attributes if change.attributes is None else dict(change.attributes),
        )
        mo = await self._inventory.update(
            who, mo.id, ManagedObjectChange(fragments={THING_FRAGMENT: updated.fragment()})
        )
        if renamed:
            with contextlib.suppress(NotFound):
                await self._identity.delete(who, THING_NAME, thing.name)
        if groups is not None:
            await self._set_groups(who, mo.id, groups, keep_current=change.groups is None)
        found = thing_of(mo)
        assert found is not None
        return found

    async def _set_groups(
        self, who: Principal, mo_id: int, groups: list[ThingGroup], *, keep_current: bool
    ) -> None:
        wanted = {g.mo_id for g in groups}
        relations = (await self._inventory.relations(who, [mo_id])).get(mo_id)
        parents = relations.parents.get(ChildKind.ASSET, []) if relations is not None else []
        current = {p.id for p in parents}
        for group in groups:
            if group.mo_id not in current:
                await self._inventory.add_child(who, group.mo_id, ChildKind.ASSET, mo_id)
        if keep_current:
            return
        for parent in current - wanted:
            with contextlib.suppress(NotFound):
                if await self.catalog.is_group(who, parent):
                    await self._inventory.remove_child(who, parent, ChildKind.ASSET, mo_id)

    async def delete(self, who: Principal, thing_id: str) -> None:
        """A thing is its device: deleting it deletes the managed object (its external ids, shadow and all
        data recorded against it go with it)."""
        _, mo = await self.get(who, thing_id)
        await self._inventory.delete(who, mo.id)

    async def issue_credential(self, who: Principal, thing_id: str) -> tuple[str, str, str]:
        """A device credential bound to the thing: the device user `device_<clientId>` (the owner of a thing
        made from nothing). Returns (user name with tenant, password shown once, client id)."""
        thing, _ = await self.get(who, thing_id)
        username = DEVICE_USER_PREFIX + thing.client_id
        if thing.owner != username:
            raise Conflict(
                f"Thing '{thing.name}' is a device of another family: it logs in with that family's "
                "credential",
                resource=R,
            )
        if await self._tenants.get_user(who.tenant_id, username) is not None:
            raise Conflict(f"Thing '{thing.name}' has a credential already", resource=R)
        password = generate_password()
        await self._tenants.create_user(who.tenant_id, username, password, {Role.DEVICE}, generated=True)
        return f"{who.tenant_id}/{username}", password, thing.client_id

    async def revoke_credential(self, who: Principal, thing_id: str) -> None:
        thing, _ = await self.get(who, thing_id)
        username = DEVICE_USER_PREFIX + thing.client_id
        if thing.owner != username or await self._tenants.delete_user(who.tenant_id, username) is None:
            raise NotFound(f"Thing '{thing.name}' has no credential", resource=R)

    async def has_credential(self, who: Principal, thing: Thing) -> bool:
        username = DEVICE_USER_PREFIX + thing.client_id
        return thing.owner == username and await self._tenants.get_user(who.tenant_id, username) is not None

    # -- the platform (MQTT adapter, login hooks) -----------------------------------------------------

    async def by_name(self, tenant_id: str, name: str) -> Thing | None:
        """The tenant's thing of this name, or None."""
        key = (tenant_id, name)
        cached = self._by_name.get(key)
        if cached is not None:
            return cached
        who = system(tenant_id)
        try:
            xid = await self._identity.resolve(who, THING_NAME, name)
            mo = await self._inventory.get(who, xid.mo_id)
        except (NotFound, InvalidInput):
            return None
        thing = thing_of(mo)
        if thing is None or thing.name != name:
            return None
        if len(self._by_name) >= _CACHE_LIMIT:
            self._by_name.clear()
            self._names_of_mo.clear()
        self._by_name[key] = thing
        self._names_of_mo[(tenant_id, thing.mo_id)] = name
        return thing

    def prime(self, thing: Thing) -> None:
        """Remember a thing just read from its managed object (a job's targets), for :meth:`by_name`."""
        if len(self._by_name) >= _CACHE_LIMIT:
            self._by_name.clear()
            self._names_of_mo.clear()
        self._by_name[(thing.tenant_id, thing.name)] = thing
        self._names_of_mo[(thing.tenant_id, thing.mo_id)] = thing.name

    async def by_device(self, tenant_id: str, mo_id: int) -> Thing | None:
        """The thing a managed object is, or None."""
        try:
            return thing_of(await self._inventory.get(system(tenant_id), mo_id))
        except NotFound:
            return None

    def cached_names_owned(self, tenant_id: str, owner: str) -> tuple[str, ...] | None:
        """The names of the things the user `owner` acts as (owns), if known without I/O."""
        owners = self._owned.get(tenant_id)
        return owners.get(owner) if owners is not None else None

    async def names_owned(self, tenant_id: str, owner: str) -> tuple[str, ...]:
        """The names of the things whose managed object `owner` owns: the `$emqx/things/<name>` namespaces
        of a device logged in as `owner` (adapters/access.py)."""
        known = self.cached_names_owned(tenant_id, owner)
        if known is not None:
            return known
        criteria = InventoryCriteria(fragment_type=THING_FRAGMENT, owner=owner)
        page = await self._inventory.find(system(tenant_id), criteria, PageRequest(page_size=100))
        names = tuple(t.name for t in map(thing_of, page.items) if t is not None)
        if self._owned_count >= _CACHE_LIMIT:
            self._owned.clear()
            self._owned_count = 0
        owners = self._owned.setdefault(tenant_id, {})
        if owner not in owners:
            self._owned_count += 1
        owners[owner] = names
        return names

    def _forget(self, event: DomainEvent) -> None:
        if event.id is None:
            return
        name = self._names_of_mo.pop((event.tenant_id, event.id), None)
        mo = event.payload
        if name is not None:
            cached = self._by_name.pop((event.tenant_id, name), None)
            if cached is not None and event.action == "UPDATE" and isinstance(mo, ManagedObject):
                thing = thing_of(mo)
                if thing is not None and thing.name == name:
                    # The same thing under the same name (e.g. presence wrote its c8y_Connection): still
                    # known, so a connect storm does not send every thing's next request to the database.
                    self._by_name[(event.tenant_id, name)] = thing
                    self._names_of_mo[(event.tenant_id, event.id)] = name
        if isinstance(mo, ManagedObject):
            owners = self._owned.get(event.tenant_id)
            if owners is not None and owners.pop(mo.owner, None) is not None:
                self._owned_count -= 1


def _require_admin(who: Principal) -> None:
    if not who.is_admin:
        raise Forbidden("Access is denied", resource="security")
