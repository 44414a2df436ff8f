"""Connection facts -> history rows, device presence (availability.py) and domain events.

The broker hooks call :meth:`PresenceService.connected` and :meth:`PresenceService.disconnected`
synchronously on the event loop; they only enqueue. One worker task writes the history in batches (a
connect storm costs one INSERT per batch, not per CONNECT) and updates the devices' managed objects.
A timer (:meth:`PresenceService.tick`, every `check_interval` seconds) samples each live connection's
message counter, checks availability and the offline grace, and deletes history past its retention.

In a cluster (`node` given, docs/cluster.md) each history row names its node: a starting node closes only its
own rows left open, the leader closes those of nodes that are gone (:meth:`close_node`, :meth:`sweep`), and
the alarms and the purge of the timer run on the leader only (:attr:`leading`); every node still samples its
own connections and tells the others what changed (availability.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import secrets
from collections.abc import Callable

from tether.core.clock import now_ms
from tether.core.errors import NotFound
from tether.core.events import Action, DomainEvent, EventBus
from tether.core.paging import Page, PageRequest
from tether.identity.service import IdentityService
from tether.inventory.service import InventoryService
from tether.presence.availability import PRESENCE, Availability, Clock, required_interval, system
from tether.presence.models import (
    Activity,
    AvailabilityStatus,
    ConnectionFact,
    ConnectionRecord,
    DeviceAvailability,
    HistoryCriteria,
    PresenceSettings,
)
from tether.presence.store import PresenceStore
from tether.telemetry.alarms import AlarmService
from tether.tenants.models import Principal

__all__ = ["RESOURCE", "PresenceService"]

log = logging.getLogger("tether.presence")

#: The EventBus resource of connection facts (payload: the ConnectionRecord; CREATE at connect, UPDATE at
#: disconnect).
RESOURCE = "connections"
SERIAL = "c8y_Serial"
_PURGE_EVERY_MS = 3_600_000
#: How long a device's managed object id (or its absence) is remembered for reconnects (a connect storm must
#: not cost a lookup per CONNECT): between one and two of these (two generations of answers).
_RESOLVED_MS = 60_000
#: The device unknown (a remembered absence).
_NO_DEVICE = -1
#: Seconds the writer waits after the first fact of a batch.
_BATCH_WINDOW = 0.05


class PresenceService:
    def __init__(
        self,
        store: PresenceStore,
        inventory: InventoryService,
        identity: IdentityService,
        alarms: AlarmService,
        events: EventBus,
        settings: PresenceSettings,
        clock: Clock = now_ms,
        node: str | None = None,
    ) -> None:
        self._store = store
        self._inventory = inventory
        self._identity = identity
        self._events = events
        self.settings = settings
        self.clock = clock
        #: The cluster node this process is (None: a process alone).
        self.node = node
        #: Whether this process raises the availability alarms and purges history: always alone, the
        #: leader's only in a cluster.
        self.leading = node is None
        self.availability = Availability(
            store, inventory, alarms, settings, clock, events if node is not None else None
        )
        #: History id (its number: see _record_id) -> the live connection (its Activity).
        self._live: dict[int, Activity] = {}
        # History ids: random per process, then counted (32 hex digits; cheaper than a uuid4 per CONNECT).
        self._id_prefix = secrets.token_hex(10)
        self._ids = itertools.count()
        self._device_connections: dict[tuple[str, int], int] = {}  # device -> its live connections
        self._counted: dict[int, tuple[str, int]] = {}  # history id (number) -> the device it counts for
        self._queue: asyncio.Queue[tuple[str, ConnectionRecord]] = asyncio.Queue()
        self._worker: asyncio.Task[None] | None = None
        self._timer: asyncio.Task[None] | None = None
        self._purged_at = 0
        # tenant -> serial -> mo id (_NO_DEVICE: none), this generation and the one before. Nested dicts with
        # a shared expiry: no key tuple nor (until, id) tuple per device.
        self._resolved: dict[str, dict[str, int]] = {}
        self._resolved_before: dict[str, dict[str, int]] = {}
        self._resolved_since = 0
        self._unsubscribe = events.subscribe(self.availability.on_inventory, resources={"managedobjects"})
        # Tenants being deleted (TenantAdministration.delete): their facts are no longer written.
        self._gone: set[str] = set()
        self._unsubscribe_tenants = events.subscribe(self._on_tenant, resources={"tenants"})
        self._unsubscribe_remote: Callable[[], None] | None = None
        if node is not None:
            # Device states and deletions of the other nodes (in memory only: cluster subscribers).
            self._unsubscribe()
            self._unsubscribe = events.subscribe(
                self.availability.on_inventory, resources={"managedobjects"}, cluster=True
            )
            self._unsubscribe_tenants()
            self._unsubscribe_tenants = events.subscribe(self._on_tenant, resources={"tenants"}, cluster=True)
            self._unsubscribe_remote = events.subscribe(
                self.availability.on_remote, resources={PRESENCE}, cluster=True
            )

    def _on_tenant(self, event: DomainEvent) -> None:
        if event.action == "DELETE":
            self._gone.add(event.tenant_id)

    # ------------------------------------------------------------------------------- lifecycle

    async def start(self, *, timer: bool = True) -> None:
        """Close what a previous process left open, then run the writer (and the timer)."""
        now = self.clock()
        await self.availability.load()
        # A process alone: every row; a cluster node: those it left open under its name.
        for record in await self._store.close_open(now, "shutdown", self.node):
            if record.mo_id is not None:
                await self.availability.disconnected(record.tenant_id, record.mo_id)
        await self.availability.save()
        self.availability.tell()
        self._worker = asyncio.create_task(self._write_loop(), name="presence-writer")
        if timer:
            self._timer = asyncio.create_task(self._timer_loop(), name="presence-timer")

    async def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._timer
        await self.flush()
        if self._worker is not None:
            self._worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._worker
        await self.availability.save()
        self.availability.tell()
        self._unsubscribe()
        self._unsubscribe_tenants()
        if self._unsubscribe_remote is not None:
            self._unsubscribe_remote()

    # ------------------------------------------------------------------------------- a cluster's leader

    async def close_node(self, node: str, reason: str = "node_down") -> int:
        """End the open connections of a cluster node that is gone (the leader's duty); how many."""
        records = await self._store.close_open(self.clock(), reason, node)
        for record in records:
            if record.mo_id is not None:
                await self.availability.disconnected(record.tenant_id, record.mo_id)
        await self.availability.save()
        self.availability.tell()
        return len(records)

    async def sweep(self, alive: Callable[[str], bool]) -> int:
        """End the open connections of every node that is not `alive` (a new leader: nodes that died
        before it led, or while no node was up); how many."""
        closed = 0
        for node in await self._store.open_nodes():
            if node != self.node and not alive(node):
                closed += await self.close_node(node)
        return closed

    async def flush(self) -> None:
        """Wait until every fact enqueued so far is written."""
        if self._worker is not None and not self._worker.done():
            await self._queue.join()

    # ------------------------------------------------------------------------------- facts (sync)

    def connected(self, fact: ConnectionFact, activity: Activity) -> str:
        """Record a new connection; returns its history id."""
        seq = next(self._ids)
        record = ConnectionRecord.opened(self._record_id(seq), fact, self.node or "")
        activity.seq = seq
        activity.known_mo = fact.mo_id
        activity.seen = activity.messages
        self._live[seq] = activity
        self._queue.put_nowait(("connected", record))
        self._announce("CREATE", record)
        return record.id

    def disconnected(self, fact: ConnectionFact, activity: Activity, reason: str) -> None:
        """The connection of `activity` (the same `fact` as at connect) ended."""
        seq = activity.seq
        if seq is None or self._live.pop(seq, None) is None:
            return
        activity.seq = None
        record = ConnectionRecord.closed(
            self._record_id(seq), fact, activity.known_mo, self.clock(), reason, self.node or ""
        )
        self._queue.put_nowait(("disconnected", record))
        self._announce("UPDATE", record)

    def _record_id(self, seq: int) -> str:
        # Live connections keep the number (an int), not the 32-character id.
        return f"{self._id_prefix}{seq:012x}"

    def _seq(self, record_id: str) -> int:
        """The number of one of this process's history ids."""
        return int(record_id[len(self._id_prefix) :], 16)

    def _announce(self, action: Action, record: ConnectionRecord) -> None:
        if self._events.listens(record.tenant_id, RESOURCE):
            self._events.publish(DomainEvent(record.tenant_id, RESOURCE, action, None, record.mo_id, record))

    # ------------------------------------------------------------------------------- the writer

    async def _write_loop(self) -> None:
        while True:
            batch = [await self._queue.get()]
            # History is not acknowledged to anyone: a short wait lets a connect storm share one transaction
            # (and a connection that ends within it is one row). flush() and close() still wait for it.
            await asyncio.sleep(_BATCH_WINDOW)
            while not self._queue.empty():
                batch.append(self._queue.get_nowait())
            try:
                await self._write(batch)
            except Exception:
                log.exception("connection history not written (%d facts)", len(batch))
            finally:
                for _ in batch:
                    self._queue.task_done()

    async def _write(self, batch: list[tuple[str, ConnectionRecord]]) -> None:
        # A connection that began and ended within one batch is inserted closed.
        inserts: dict[str, ConnectionRecord] = {}
        closes: list[tuple[str, int, str]] = []
        if self._gone:
            batch = [(kind, record) for kind, record in batch if record.tenant_id not in self._gone]
        for kind, record in batch:
            if kind == "connected" or record.id in inserts:
                inserts[record.id] = record
            else:
                assert record.disconnected_at is not None and record.reason is not None
                closes.append((record.id, record.disconnected_at, record.reason))
        # The devices of the batch's new connections, one query per tenant for those not known lately.
        devices = await self._devices_of([r for kind, r in batch if kind == "connected"])
        rows = [
            r if r.mo_id is not None or r.id not in devices else r.of_device(devices[r.id])
            for r in inserts.values()
            if r.tenant_id not in self._gone  # (again: a deletion may have begun while devices were read)
        ]
        await self._store.record(rows, closes)
        for kind, record in batch:
            if kind == "connected":
                if record.id in devices:
                    await self._device_connected(record, devices[record.id])
            elif self._seq(record.id) in self._counted:
                await self._device_disconnected(record)
        self.availability.tell()

    async def _device_connected(self, record: ConnectionRecord, mo_id: int) -> None:
        seq = self._seq(record.id)
        live = self._live.get(seq)
        if live is None:
            return  # over already (within this batch): the device's connection state did not change
        live.known_mo = mo_id
        await self._count_in(seq, record.tenant_id, mo_id)

    async def _device_disconnected(self, record: ConnectionRecord) -> None:
        key = self._counted.pop(self._seq(record.id))
        left = self._device_connections[key] - 1
        if left > 0:
            self._device_connections[key] = left
            return
        del self._device_connections[key]
        await self.availability.disconnected(*key)

    async def _count_in(self, seq: int, tenant_id: str, mo_id: int) -> None:
        key = self._counted[seq] = (tenant_id, mo_id)
        count = self._device_connections.get(key, 0)
        self._device_connections[key] = count + 1
        if count == 0:
            state = self.availability.devices.get(key)
            if state is None:
                await self._learn_interval(tenant_id, mo_id)
            await self.availability.connected(tenant_id, mo_id)

    async def _learn_interval(self, tenant_id: str, mo_id: int) -> None:
        """A device seen for the first time: its c8y_RequiredAvailability (later changes come as events)."""
        try:
            mo = await self._inventory.get(system(tenant_id), mo_id)
        except NotFound:
            return
        interval = required_interval(mo.fragments)
        if interval is not None:
            self.availability.state(tenant_id, mo_id).response_interval = interval

    async def _devices_of(self, records: list[ConnectionRecord]) -> dict[str, int]:
        """History id -> the device's managed object id, for the records whose device has one. Devices
        not looked up lately are looked up together, one query per tenant."""
        now = self.clock()
        found: dict[str, int] = {}
        wanted: dict[str, set[str]] = {}
        for record in records:
            if record.mo_id is not None:
                found[record.id] = record.mo_id
            elif record.device is not None and self._known(record.tenant_id, record.device, now) is None:
                wanted.setdefault(record.tenant_id, set()).add(record.device)
        for tenant_id, serials in wanted.items():
            await self._resolve(tenant_id, sorted(serials))
        now = self.clock()
        for record in records:
            if record.mo_id is None and record.device is not None:
                hit = self._known(record.tenant_id, record.device, now)
                if hit is not None and hit != _NO_DEVICE:
                    found[record.id] = hit
        return found

    def _known(self, tenant_id: str, serial: str, now: int) -> int | None:
        """The remembered answer for a device (_NO_DEVICE: it has none), or None: look it up."""
        self._rotate(now)
        hit = self._resolved.get(tenant_id, {}).get(serial)
        return hit if hit is not None else self._resolved_before.get(tenant_id, {}).get(serial)

    def _rotate(self, now: int) -> None:
        # An answer is kept from its generation's start for one more: at least _RESOLVED_MS.
        age = now - self._resolved_since
        if age >= 2 * _RESOLVED_MS:
            self._resolved, self._resolved_before = {}, {}
            self._resolved_since = now
        elif age >= _RESOLVED_MS:
            self._resolved, self._resolved_before = {}, self._resolved
            self._resolved_since = now

    async def _resolve(self, tenant_id: str, serials: list[str]) -> dict[str, int]:
        """Look the devices up (by c8y_Serial) and remember the answers, found or not, for a while."""
        ids = await self._identity.resolve_all(tenant_id, SERIAL, serials)
        self._rotate(self.clock())
        known = self._resolved.setdefault(tenant_id, {})
        for serial in serials:
            known[serial] = ids.get(serial, _NO_DEVICE)
        return ids

    async def _bind(self, record_id: str, mo_id: int) -> None:
        await self._store.set_device(record_id, mo_id)

    # ------------------------------------------------------------------------------- the timer

    async def _timer_loop(self) -> None:
        while True:
            await asyncio.sleep(self.settings.check_interval)
            try:
                await self.tick()
            except Exception:
                log.exception("presence check failed")

    async def tick(self) -> None:
        """Sample every live connection's message counter; check availability and offline grace; purge
        history past its retention (at most hourly)."""
        await self.flush()
        for live in list(self._live.values()):
            count = live.messages
            if count == live.seen:
                continue
            live.seen = count
            seq = live.seq
            if seq is None:
                continue
            if live.known_mo is None and live.device is not None:
                # A device that did not exist at CONNECT: its first message may have created it.
                mo_id = (await self._resolve(live.tenant_id, [live.device])).get(live.device)
                if mo_id is None or seq not in self._live:
                    continue
                live.known_mo = mo_id
                await self._bind(self._record_id(seq), mo_id)
                await self._count_in(seq, live.tenant_id, mo_id)
            if live.known_mo is not None:
                await self.availability.heard(live.tenant_id, live.known_mo)
        if not self.leading:  # a cluster node that is not the leader: its own states, saved and told
            await self.availability.save()
            self.availability.tell()
            return
        await self.availability.check()
        self.availability.tell()
        now = self.clock()
        if self.settings.history_days > 0 and now - self._purged_at >= _PURGE_EVERY_MS:
            self._purged_at = now
            await self._store.purge(now - self.settings.history_days * 86_400_000)

    # ------------------------------------------------------------------------------- queries

    async def history(
        self, who: Principal, criteria: HistoryCriteria, page: PageRequest
    ) -> Page[ConnectionRecord]:
        """Newest first; the caller's tenant only. Per device: the caller must see the device."""
        if criteria.mo_id is not None:
            await self._inventory.get(who, criteria.mo_id)
        await self.flush()
        return await self._store.find(who.tenant_id, criteria, page)

    async def device_availability(self, who: Principal, mo_id: int) -> DeviceAvailability:
        mo = await self._inventory.get(who, mo_id)
        state = self.availability.devices.get((who.tenant_id, mo_id))
        external_id = None
        connected = self._device_connections.get((who.tenant_id, mo_id), 0) > 0
        if not connected and self.node is not None:  # perhaps through another node
            connected = await self._store.open_connections(who.tenant_id, mo_id) > 0
        for live in self._live.values():
            if live.known_mo == mo_id and live.tenant_id == who.tenant_id:
                external_id = live.device
        interval = required_interval(mo.fragments)
        if interval is None:
            data_status = "NOT_MONITORED"
        elif state is None or state.status is None:
            data_status = AvailabilityStatus.AVAILABLE.value
        else:
            data_status = state.status.value
        return DeviceAvailability(
            mo_id=mo_id,
            external_id=external_id,
            interval=interval,
            data_status=data_status,
            connection_status="CONNECTED" if connected else "DISCONNECTED",
            last_message=state.last_message if state is not None else None,
        )
