"""Binary rules: the managed object that describes a file (`c8y_IsBinary`, name, type, length, contentType),
the event attachment and its `c8y_IsBinary` fragment, the size limit, and files that go with their owner."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterable, AsyncIterator
from dataclasses import dataclass

from tether.binaries.store import BinaryStore, Key, Staged
from tether.core.errors import Conflict, Forbidden, InvalidInput, Missing, NotFound, PayloadTooLarge
from tether.core.events import DomainEvent, EventBus
from tether.core.paging import Page, PageRequest
from tether.inventory.models import InventoryCriteria, ManagedObject, ManagedObjectChange, NewManagedObject
from tether.inventory.service import InventoryService
from tether.telemetry.events import EventService
from tether.telemetry.models import Event, EventChange
from tether.tenants.models import Principal

log = logging.getLogger(__name__)

R = "inventory"
#: The fragment that marks a managed object as a file, and an event as having an attachment.
IS_BINARY = "c8y_IsBinary"
DEFAULT_TYPE = "application/octet-stream"


@dataclass(frozen=True, slots=True)
class Attachment:
    """What POST/PUT /event/events/{id}/binaries answer (Cumulocity's `eventBinary`)."""

    event_id: int
    name: str
    type: str
    length: int


#: The longest name and content type kept (they come from headers and the `object` part, not checked JSON).
MAX_TEXT = 1024


def _text(value: str, what: str, resource: str) -> str:
    """A name or content type as the stores can keep it: no NUL or other control character (PostgreSQL text
    holds no NUL), at most MAX_TEXT characters."""
    if len(value) > MAX_TEXT or any(ord(c) < 32 or ord(c) == 127 for c in value):
        raise InvalidInput(
            f"The {what} must be at most {MAX_TEXT} characters without control characters", resource=resource
        )
    return value


def _object_key(mo_id: int) -> Key:
    return ("objects", str(mo_id))


def _event_key(source_id: int, event_id: int | None) -> Key:
    # Under the source, so that deleting a device (whose events go by foreign key, unannounced) removes them.
    return ("events", str(source_id)) if event_id is None else ("events", str(source_id), str(event_id))


class BinaryService:
    def __init__(
        self,
        store: BinaryStore,
        inventory: InventoryService,
        device_events: EventService,
        events: EventBus,
        limit: int,
    ) -> None:
        self._store = store
        self._inventory = inventory
        self._events = device_events
        self.limit = limit
        self._cleanup: set[asyncio.Task[None]] = set()
        events.subscribe(self._forget, resources={"managedobjects", "events"})

    # -- uploads: the router stages the bytes first (a multipart body may name the file after sending it)

    async def receive(self, who: Principal, chunks: AsyncIterable[bytes], *, resource: str = R) -> Staged:
        """The bytes, staged; more than the limit is PayloadTooLarge of `resource` (the API it came to)."""
        if not (who.is_admin or who.is_device):
            raise Forbidden("Access is denied", resource="security")
        try:
            return await self._store.stage(who.tenant_id, chunks, self.limit)
        except PayloadTooLarge as exc:
            raise PayloadTooLarge(exc.message, resource=resource) from None

    async def discard(self, staged: Staged) -> None:
        await self._store.discard(staged)

    # -- /inventory/binaries

    async def create(
        self, who: Principal, staged: Staged, name: str, content_type: str, kind: str | None = None
    ) -> ManagedObject:
        """A managed object describing the staged file (its type `kind`, by default the content type), then
        the file under its id; the staged bytes are discarded when either fails."""
        try:
            name, content_type = _text(name, "name", R), _text(content_type, "content type", R)
            kind = content_type if kind is None else _text(kind, "type", R)
            fragments = {IS_BINARY: {}, "length": staged.size, "contentType": content_type}
            mo = await self._inventory.create(who, NewManagedObject(None, name, kind, fragments))
        except BaseException:
            await self._store.discard(staged)
            raise
        try:
            await self._store.publish(staged, _object_key(mo.id))
        except BaseException:
            await self._store.discard(staged)
            await self._inventory.delete(who, mo.id)
            raise
        return mo

    async def get(self, who: Principal, mo_id: int) -> ManagedObject:
        mo = await self._inventory.get(who, mo_id)
        if IS_BINARY not in mo.fragments:
            raise NotFound(missing=Missing.of("binary", mo_id), resource=R)
        return mo

    async def find(
        self, who: Principal, criteria: InventoryCriteria, page: PageRequest
    ) -> Page[ManagedObject]:
        return await self._inventory.find(who, criteria, page)

    async def download(self, who: Principal, mo_id: int) -> tuple[ManagedObject, int, AsyncIterator[bytes]]:
        mo = await self.get(who, mo_id)
        return mo, *await self._open(who, _object_key(mo_id), Missing.of("binary", mo_id))

    async def replace(self, who: Principal, mo_id: int, staged: Staged, content_type: str) -> ManagedObject:
        try:
            _text(content_type, "content type", R)
            await self.get(who, mo_id)
            await self._store.publish(staged, _object_key(mo_id))
        except BaseException:
            await self._store.discard(staged)
            raise
        change = ManagedObjectChange(fragments={"length": staged.size, "contentType": content_type})
        return await self._inventory.update(who, mo_id, change)

    async def delete(self, who: Principal, mo_id: int) -> None:
        await self.get(who, mo_id)
        await self._inventory.delete(who, mo_id)
        await self._store.delete(who.tenant_id, _object_key(mo_id))

    # -- /event/events/{id}/binaries

    async def attach(
        self,
        who: Principal,
        event_id: int,
        staged: Staged,
        name: str | None,
        content_type: str,
        *,
        replace: bool,
    ) -> Attachment:
        """POST (replace=False: 409 when the event has one) and PUT (replace=True: 404 when it has none)."""
        try:
            _text(content_type, "content type", "event")
            if name is not None:
                _text(name, "name", "event")
            event = await self._events.get(who, event_id)
            if not replace and IS_BINARY in event.fragments:
                raise Conflict(f"Event '{event_id}' already has an attachment", resource="event")
            if replace and IS_BINARY not in event.fragments:
                raise NotFound(missing=Missing.of("attachment", event_id), resource="event")
            await self._store.publish(staged, _event_key(event.source_id, event_id))
        except BaseException:
            await self._store.discard(staged)
            raise
        attachment = Attachment(event_id, name or str(event_id), content_type, staged.size)
        info = {"name": attachment.name, "type": attachment.type, "length": attachment.length}
        await self._events.update(who, event_id, EventChange(fragments={IS_BINARY: info}))
        return attachment

    async def read_attachment(self, who: Principal, event_id: int) -> tuple[Event, int, AsyncIterator[bytes]]:
        event = await self._events.get(who, event_id)
        missing = Missing.of("attachment", event_id)
        if IS_BINARY not in event.fragments:
            raise NotFound(missing=missing, resource="event")
        return event, *await self._open(who, _event_key(event.source_id, event_id), missing)

    async def detach(self, who: Principal, event_id: int) -> None:
        event = await self._events.get(who, event_id)
        if IS_BINARY not in event.fragments:
            raise NotFound(missing=Missing.of("attachment", event_id), resource="event")
        await self._store.delete(who.tenant_id, _event_key(event.source_id, event_id))
        await self._events.update(who, event_id, EventChange(fragments={IS_BINARY: None}))

    async def _open(self, who: Principal, key: Key, missing: Missing) -> tuple[int, AsyncIterator[bytes]]:
        size = await self._store.size(who.tenant_id, key)
        if size is None:
            raise NotFound(missing=missing, resource=R)
        return size, self._store.read(who.tenant_id, key)

    async def forget(
        self, tenant_id: str, binaries: tuple[int, ...], attachments: tuple[tuple[int, int], ...]
    ) -> None:
        """The files of binaries and event attachments whose rows the retention job deleted (unannounced)."""
        await self._delete(
            tenant_id, [_object_key(b) for b in binaries] + [_event_key(s, e) for s, e in attachments]
        )

    # -- files go with their owner, however it was deleted (REST, cascade, bulk delete of events)

    def _forget(self, event: DomainEvent) -> None:
        if event.action != "DELETE" or event.id is None:
            return
        if event.resource == "managedobjects":
            keys = [_object_key(event.id), _event_key(event.id, None)]
        elif event.source_id is not None:
            keys = [_event_key(event.source_id, event.id)]
        else:
            return
        task = asyncio.get_running_loop().create_task(self._delete(event.tenant_id, keys))
        self._cleanup.add(task)
        task.add_done_callback(self._cleanup.discard)

    async def _delete(self, tenant_id: str, keys: list[Key]) -> None:
        for key in keys:
            try:
                await self._store.delete(tenant_id, key)
            except OSError:  # left behind for the operator; the deletion itself has happened
                log.exception("could not delete the file of %s in tenant %s", "/".join(key), tenant_id)
