"""Device presence over time: c8y_Connection and c8y_Availability on the managed object, and the alarms of
devices that went silent (c8y_RequiredAvailability) or whose connection dropped and did not come back.

In a cluster (`shared`, docs/cluster.md) every node keeps the states of all devices: a node that changes a
device's state tells the others (``EventBus.tell_others``, resource ``presence``, a copy of the states) and
follows theirs (:meth:`Availability.on_remote`); the database decides whether a device is still connected
through another node before it is called disconnected; the alarms of :meth:`Availability.check` are raised
by the leader only (PresenceService.leading).

Time comes from an injectable clock (ms since the epoch) and the checks run when :meth:`Availability.check`
is called (the service's timer), so tests use short intervals without sleeping.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from tether.core.clock import to_iso
from tether.core.errors import DomainError
from tether.core.events import DomainEvent, EventBus
from tether.inventory.models import ManagedObject, ManagedObjectChange
from tether.inventory.service import InventoryService
from tether.presence.models import AvailabilityStatus, DevicePresence, PresenceSettings
from tether.presence.store import PresenceStore
from tether.telemetry.alarms import AlarmService
from tether.telemetry.models import AlarmCriteria, AlarmSeverity, AlarmStatus, NewAlarm
from tether.tenants.models import Principal, Role

__all__ = ["OFFLINE_ALARM", "UNAVAILABILITY_ALARM", "Availability", "Clock", "system"]

log = logging.getLogger("tether.presence")

Clock = Callable[[], int]
UNAVAILABILITY_ALARM = "c8y_UnavailabilityAlarm"
OFFLINE_ALARM = "tether_OfflineAlarm"
REQUIRED = "c8y_RequiredAvailability"
#: The EventBus resource of device states told to the other nodes of a cluster (payload: DevicePresence
#: tuple).
PRESENCE = "presence"
#: lastMessage on the managed object is refreshed at most this often (the availability endpoint is exact).
MO_REFRESH_MS = 60_000


def system(tenant_id: str) -> Principal:
    """Whom the inventory and alarm services see when presence writes."""
    return Principal(tenant_id, "presence", frozenset({Role.ADMIN}))


def required_interval(fragments: dict[str, Any]) -> int | None:
    """c8y_RequiredAvailability.responseInterval in minutes; None when absent or not positive."""
    required = fragments.get(REQUIRED)
    if not isinstance(required, dict):
        return None
    value = required.get("responseInterval")
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        return None
    return int(value)


class Availability:
    def __init__(
        self,
        store: PresenceStore,
        inventory: InventoryService,
        alarms: AlarmService,
        settings: PresenceSettings,
        clock: Clock,
        events: EventBus | None = None,
    ) -> None:
        #: In a cluster: the bus that tells the other nodes (None: this process alone).
        self.events = events
        self._told: dict[tuple[str, int], DevicePresence] = {}
        self._store = store
        self._inventory = inventory
        self._alarms = alarms
        self.settings = settings
        self.clock = clock
        self.devices: dict[tuple[str, int], DevicePresence] = {}
        self._dirty: set[tuple[str, int]] = set()
        self._mo_written: dict[tuple[str, int], int] = {}

    async def load(self) -> None:
        """The stored states; every device that was connected when the previous process stopped is
        disconnected from now on (its offline grace starts now)."""
        now = self.clock()
        for state in await self._store.devices():
            self.devices[(state.tenant_id, state.mo_id)] = state
            if state.connected and self.events is None:  # in a cluster: closed per node (PresenceService)
                await self.disconnected(state.tenant_id, state.mo_id)
            elif state.disconnected_at is None and not state.offline_alarm:
                state.since = state.since or now

    def state(self, tenant_id: str, mo_id: int) -> DevicePresence:
        key = (tenant_id, mo_id)
        state = self.devices.get(key)
        if state is None:
            state = self.devices[key] = DevicePresence(tenant_id, mo_id, since=self.clock())
            self._dirty.add(key)
        return state

    # ------------------------------------------------------------------------------- facts

    async def connected(self, tenant_id: str, mo_id: int) -> None:
        state = self.state(tenant_id, mo_id)
        state.connected = True
        state.disconnected_at = None
        self._dirty.add((tenant_id, mo_id))
        self._tell(state)
        await self._update(tenant_id, mo_id, {"c8y_Connection": {"status": "CONNECTED"}})
        if state.offline_alarm:
            state.offline_alarm = False
            await self._clear(tenant_id, mo_id, OFFLINE_ALARM)

    async def disconnected(self, tenant_id: str, mo_id: int) -> None:
        """The device's last connection here ended. In a cluster it may be connected through another node
        (it moved, or its new connection was recorded first): the database's open connections decide,
        before and after DISCONNECTED is written, so whichever order the two nodes write in, a device
        connected anywhere ends CONNECTED."""
        shared = self.events is not None
        if shared and await self._store.open_connections(tenant_id, mo_id):
            return
        state = self.state(tenant_id, mo_id)
        state.connected = False
        state.disconnected_at = self.clock()
        self._dirty.add((tenant_id, mo_id))
        self._tell(state)
        await self._update(tenant_id, mo_id, {"c8y_Connection": {"status": "DISCONNECTED"}})
        if shared and await self._store.open_connections(tenant_id, mo_id):
            await self.connected(tenant_id, mo_id)

    async def heard(self, tenant_id: str, mo_id: int) -> None:
        """The device published since the last check."""
        now = self.clock()
        key = (tenant_id, mo_id)
        state = self.state(tenant_id, mo_id)
        state.last_message = now
        self._dirty.add(key)
        self._tell(state)
        if state.status is not AvailabilityStatus.AVAILABLE:
            state.status = AvailabilityStatus.AVAILABLE
            await self._write_availability(state)
            await self._clear(tenant_id, mo_id, UNAVAILABILITY_ALARM)
        elif now - self._mo_written.get(key, 0) >= MO_REFRESH_MS:
            await self._write_availability(state)

    def on_inventory(self, event: DomainEvent) -> None:
        """Follow c8y_RequiredAvailability of managed objects (EventBus handler: no I/O here)."""
        if event.id is None:
            return
        key = (event.tenant_id, event.id)
        if event.action == "DELETE":
            if self.devices.pop(key, None) is not None:
                self._dirty.add(key)
            return
        mo = event.payload
        if not isinstance(mo, ManagedObject):
            return
        interval = required_interval(mo.fragments)
        state = self.devices.get(key)
        if state is None and interval is None:
            return
        state = self.state(event.tenant_id, event.id)
        if state.response_interval != interval:
            state.response_interval = interval
            state.since = self.clock()
            self._dirty.add(key)

    # ------------------------------------------------------------------------------- the timer

    async def check(self) -> None:
        """One step of the timer: devices silent for longer than their interval become UNAVAILABLE (with
        an ACTIVE c8y_UnavailabilityAlarm); devices disconnected longer than the grace period get the
        offline alarm; changed states are saved."""
        now = self.clock()
        grace_ms = self.settings.offline_grace * 1000
        for state in list(self.devices.values()):
            interval = state.response_interval
            if interval is not None and state.status is not AvailabilityStatus.UNAVAILABLE:
                heard = max(state.last_message or 0, state.since)
                if now - heard >= interval * 60_000:
                    state.status = AvailabilityStatus.UNAVAILABLE
                    self._dirty.add((state.tenant_id, state.mo_id))
                    self._tell(state)
                    await self._write_availability(state)
                    await self._raise(
                        state,
                        UNAVAILABILITY_ALARM,
                        "No data received from the device within the required interval.",
                    )
            if (
                grace_ms > 0
                and not state.connected
                and not state.offline_alarm
                and state.disconnected_at is not None
                and now - state.disconnected_at >= grace_ms
            ):
                shared = self.events is not None
                if shared and await self._store.open_connections(state.tenant_id, state.mo_id):
                    state.connected, state.disconnected_at = True, None  # connected through another node
                    continue
                state.offline_alarm = True
                self._dirty.add((state.tenant_id, state.mo_id))
                self._tell(state)
                await self._raise(
                    state,
                    OFFLINE_ALARM,
                    f"The connection dropped at {to_iso(state.disconnected_at)} and did not come back.",
                )
        await self.save()

    # ------------------------------------------------------------------------------- the other nodes

    def _tell(self, state: DevicePresence) -> None:
        if self.events is not None:
            self._told[(state.tenant_id, state.mo_id)] = state

    def tell(self) -> None:
        """Send the states changed since the last call to the other nodes (one event per tenant)."""
        told, self._told = self._told, {}
        if self.events is None or not told:
            return
        by_tenant: dict[str, list[DevicePresence]] = {}
        for state in told.values():
            by_tenant.setdefault(state.tenant_id, []).append(replace(state))
        for tenant_id, states in by_tenant.items():
            self.events.tell_others(DomainEvent(tenant_id, PRESENCE, "UPDATE", None, None, tuple(states)))

    def on_remote(self, event: DomainEvent) -> None:
        """Another node changed device states (EventBus handler, cluster subscribers only): this node's
        copy follows, without writing (that node saved them)."""
        if event.resource != PRESENCE or not isinstance(event.payload, tuple):
            return
        for theirs in event.payload:
            if not isinstance(theirs, DevicePresence):
                continue
            key = (theirs.tenant_id, theirs.mo_id)
            mine = self.devices.get(key)
            if mine is None:
                self.devices[key] = replace(theirs)
                continue
            mine.connected, mine.disconnected_at = theirs.connected, theirs.disconnected_at
            mine.offline_alarm, mine.status = theirs.offline_alarm, theirs.status
            mine.response_interval, mine.since = theirs.response_interval, theirs.since
            if theirs.last_message is not None and (mine.last_message or 0) < theirs.last_message:
                mine.last_message = theirs.last_message

    async def save(self) -> None:
        dirty, self._dirty = self._dirty, set()
        present = [self.devices[k] for k in dirty if k in self.devices]
        await self._store.save_devices(present)
        for tenant_id, mo_id in dirty - self.devices.keys():
            await self._store.forget_device(tenant_id, mo_id)

    # ------------------------------------------------------------------------------- writes

    async def _write_availability(self, state: DevicePresence) -> None:
        fragment: dict[str, Any] = {"status": (state.status or AvailabilityStatus.AVAILABLE).value}
        if state.last_message is not None:
            fragment["lastMessage"] = to_iso(state.last_message)
        self._mo_written[(state.tenant_id, state.mo_id)] = self.clock()
        await self._update(state.tenant_id, state.mo_id, {"c8y_Availability": fragment})

    async def _update(self, tenant_id: str, mo_id: int, fragments: dict[str, Any]) -> None:
        try:
            await self._inventory.update(system(tenant_id), mo_id, ManagedObjectChange(fragments=fragments))
        except DomainError as exc:  # the object was deleted meanwhile
            log.debug("presence of %s/%s not written: %s", tenant_id, mo_id, exc)

    async def _raise(self, state: DevicePresence, type_: str, text: str) -> None:
        alarm = NewAlarm(
            source_id=state.mo_id,
            type=type_,
            text=text,
            severity=AlarmSeverity.MAJOR,
            status=AlarmStatus.ACTIVE,
            time=self.clock(),
            fragments={},
        )
        try:
            await self._alarms.create(system(state.tenant_id), alarm)
        except DomainError as exc:
            log.debug("alarm %s of %s/%s not raised: %s", type_, state.tenant_id, state.mo_id, exc)

    async def _clear(self, tenant_id: str, mo_id: int, type_: str) -> None:
        criteria = AlarmCriteria(
            source_id=mo_id, types=(type_,), statuses=(AlarmStatus.ACTIVE, AlarmStatus.ACKNOWLEDGED)
        )
        try:
            await self._alarms.update_matching(system(tenant_id), criteria, AlarmStatus.CLEARED)
        except DomainError as exc:
            log.debug("alarm %s of %s/%s not cleared: %s", type_, tenant_id, mo_id, exc)
