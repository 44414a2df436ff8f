"""Identity rules: an external id names exactly one object of the caller's tenant."""

from __future__ import annotations

from tether.core.errors import InvalidInput, Missing, NotFound
from tether.core.paging import Page, PageRequest
from tether.core.text import checked
from tether.identity.models import ExternalId
from tether.identity.store import ExternalIdStore
from tether.inventory.access import ReadableObjects
from tether.tenants.models import Principal

R = "identity"


MAX_VALUE_LENGTH = 1024  # the width of the value column; the type's is MAX_KEY_LENGTH


def _check(type_: str, value: str) -> None:
    checked(type_, "type", resource=R)
    checked(value, "externalId", resource=R, max_length=MAX_VALUE_LENGTH)


class IdentityService:
    def __init__(self, store: ExternalIdStore, inventory: ReadableObjects) -> None:
        self._store = store
        self._inventory = inventory

    async def register(self, who: Principal, mo_id: int, type_: str, value: str) -> ExternalId:
        if not type_ or not value:
            raise InvalidInput("Both 'type' and 'externalId' are required", resource="identity")
        _check(type_, value)
        await self._inventory.get(who, mo_id)  # the object must exist and be the caller's to see
        xid = ExternalId(type=type_, value=value, mo_id=mo_id)
        await self._store.create(who.tenant_id, xid)
        return xid

    async def resolve(self, who: Principal, type_: str, value: str) -> ExternalId:
        _check(type_, value)
        xid = await self._store.get(who.tenant_id, type_, value)
        if xid is None:
            raise NotFound(missing=Missing.of("external id", type_, value), resource="identity")
        await self._visible(who, xid)
        return xid

    async def resolve_all(self, tenant_id: str, type_: str, values: list[str]) -> dict[str, int]:
        """For the platform itself (no caller to check): the object ids of those of `values` that exist."""
        return await self._store.get_many(tenant_id, type_, values)

    async def list_for(self, who: Principal, mo_id: int, page: PageRequest) -> Page[ExternalId]:
        await self._inventory.get(who, mo_id)
        return await self._store.list_for(who.tenant_id, mo_id, page)

    async def delete(self, who: Principal, type_: str, value: str) -> None:
        await self.resolve(who, type_, value)
        await self._store.delete(who.tenant_id, type_, value)

    async def _visible(self, who: Principal, xid: ExternalId) -> None:
        try:
            await self._inventory.get(who, xid.mo_id)
        except NotFound:
            raise NotFound(
                missing=Missing.of("external id", xid.type, xid.value), resource="identity"
            ) from None
