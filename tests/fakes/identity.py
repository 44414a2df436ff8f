"""In-memory ExternalIdStore (tether.identity.store)."""

from __future__ import annotations

from tests.fakes.inventory import FakeManagedObjectStore
from tests.fakes.paging import page_of

from tether.core.errors import Conflict, NotFound
from tether.core.paging import Page, PageRequest
from tether.identity.models import ExternalId


class FakeExternalIdStore:
    """Like the SQL store, an external id needs its object to exist in the tenant (a foreign key there) and
    goes with it: give the fake managed-object store to have that checked and cascaded."""

    def __init__(self, managed_objects: FakeManagedObjectStore | None = None) -> None:
        self._mos = managed_objects
        self.ids: dict[tuple[str, str, str], ExternalId] = {}
        if managed_objects is not None:
            managed_objects.on_delete.append(self._cascade)

    def _cascade(self, tenant_id: str, mo_id: int) -> None:
        for key in [k for k, x in self.ids.items() if k[0] == tenant_id and x.mo_id == mo_id]:
            del self.ids[key]

    async def create(self, tenant_id: str, xid: ExternalId) -> None:
        if self._mos is not None and await self._mos.get(tenant_id, xid.mo_id) is None:
            raise NotFound(f"No managedObject for id '{xid.mo_id}'!", resource="inventory")
        key = (tenant_id, xid.type, xid.value)
        if key in self.ids:
            raise Conflict(
                f"Found one or more conflicts in external id for ID [type={xid.type}, value={xid.value}]",
                resource="identity",
            )
        self.ids[key] = xid

    async def get(self, tenant_id: str, type_: str, value: str) -> ExternalId | None:
        return self.ids.get((tenant_id, type_, value))

    async def get_many(self, tenant_id: str, type_: str, values: list[str]) -> dict[str, int]:
        return {v: x.mo_id for v in values if (x := self.ids.get((tenant_id, type_, v))) is not None}

    async def list_for(self, tenant_id: str, mo_id: int, page: PageRequest) -> Page[ExternalId]:
        found = sorted(
            (x for (t, _, _), x in self.ids.items() if t == tenant_id and x.mo_id == mo_id),
            key=lambda x: (x.type, x.value),
        )
        return page_of(found, page)

    async def delete(self, tenant_id: str, type_: str, value: str) -> bool:
        return self.ids.pop((tenant_id, type_, value), None) is not None
