"""Devices of an MQTT connection: the device of the ClientId and its children, found or created through
the inventory and identity services (docs/protocols.md sections 1 and 4).

Publishing on a static topic creates the device when it is missing (external id `c8y_Serial` = the ClientId's
device identifier, owned by the device user), and first-level children on `s/us/<childId>`; deeper
children are created with 101 on their parent's topic. A connection keeps what it resolved, so the hot
path never asks the database who a device is.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Mapping
from typing import Any

from tether.adapters.smartrest.context import DeviceRef
from tether.c8y import documents
from tether.core.errors import Conflict, NotFound
from tether.core.paging import PageRequest
from tether.inventory.models import ChildKind
from tether.operations.models import AGENT_FRAGMENT
from tether.services import Services
from tether.tenants.models import Principal

__all__ = ["SERIAL", "Devices"]

log = logging.getLogger("tether.smartrest")

SERIAL = "c8y_Serial"
ROOT_TYPE = "c8y_MQTTDevice"
CHILD_TYPE = "c8y_MQTTChildDevice"


class Devices:
    def __init__(self, services: Services) -> None:
        self.services = services

    async def find(self, who: Principal, xid: str) -> int | None:
        """The managed object with external id c8y_Serial = xid that `who` may see, or None."""
        try:
            return (await self.services.identity.resolve(who, SERIAL, xid)).mo_id
        except NotFound:
            return None

    async def ref(self, who: Principal, mo_id: int, xid: str, *, is_root: bool = False) -> DeviceRef:
        grant = await self.services.measurements.grant(who, mo_id)
        return DeviceRef(mo_id, xid, grant, is_root)

    async def create(
        self,
        who: Principal,
        xid: str,
        document: Mapping[str, Any],
        *,
        parent: int | None = None,
        kind: ChildKind = ChildKind.DEVICE,
    ) -> tuple[int, bool]:
        """The object for `xid`, created from `document` (and linked below `parent`) when missing; returns
        its id and whether it was created. Two connections racing to create one device: one external id
        wins (the storage refuses the second), the loser's object is removed."""
        existing = await self.find(who, xid)
        if existing is not None:
            return existing, False
        services = self.services
        mo = await services.inventory.create(who, documents.managed_object(document))
        try:
            await services.identity.register(who, mo.id, SERIAL, xid)
        except Conflict:
            with contextlib.suppress(NotFound):
                await services.inventory.delete(who, mo.id)
            existing = await self.find(who, xid)
            if existing is None:
                # The external id belongs to an object this user may not see (another device user's).
                raise Conflict(
                    f"External id {SERIAL} '{xid}' belongs to another device", resource="identity"
                ) from None
            return existing, False
        if parent is not None:
            await services.inventory.add_child(who, parent, kind, mo.id)
        log.info("created %s %s (%s) for %s/%s", mo.type, xid, mo.id, who.tenant_id, who.username)
        return mo.id, True

    @staticmethod
    def root_document(serial: str, name: str | None = None, type_: str | None = None) -> dict[str, Any]:
        """Template 100 and automatic creation: an agent, so that the operations of its children are
        routed to its connection (operations/service.py route)."""
        return {
            "name": name or f"MQTT Device {serial}",
            "type": type_ or ROOT_TYPE,
            "c8y_IsDevice": {},
            AGENT_FRAGMENT: {},
        }

    @staticmethod
    def child_document(
        xid: str, name: str | None = None, type_: str | None = None, marker: bool = True
    ) -> dict[str, Any]:
        document: dict[str, Any] = {"name": name or f"MQTT Device {xid}", "type": type_ or CHILD_TYPE}
        if marker:
            document["c8y_IsDevice"] = {}
        return document

    async def external_id(self, who: Principal, mo_id: int) -> str:
        """How a device is named on s/ds (field 2): its c8y_Serial, else another external id, else its id."""
        try:
            page = await self.services.identity.list_for(who, mo_id, PageRequest(page_size=100))
        except NotFound:
            return str(mo_id)
        for xid in page.items:
            if xid.type == SERIAL:
                return xid.value
        return page.items[0].value if page.items else str(mo_id)

    async def children(self, who: Principal, mo_id: int) -> list[int]:
        page = await self.services.inventory.children(
            who, mo_id, ChildKind.DEVICE, PageRequest(page_size=2000)
        )
        return [mo.id for mo in page.items]
