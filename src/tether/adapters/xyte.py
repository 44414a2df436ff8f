"""Xyte devices over MQTT 5 (docs/protocols.md section 9): the broker handler for
topics under ``v1``.

A device connects with username = client id = its Xyte id and password = its access key (the platform's
authenticate hook, adapters/access.py, calls :meth:`XyteService.authenticate` and attaches the device).
Topics, as the device sees them inside its tenant's mountpoint (``v1`` is not a private root):

* ``v1/device/<id>/telemetry`` (device -> platform): Send Telemetry. Stored as one measurement
  (``xyte_Telemetry``; numeric values are series of the fragment ``xyte_Telemetry``, the status and every
  other value the fragment ``xyte_State``: see :mod:`tether.adapters.xyte_format`). The PUBACK is held until
  the measurement is committed; messages arriving meanwhile (from any device) are stored together in one
  write per tenant by a single worker task, and a batch that fails is retried message by message, so one
  bad message never costs the others.
* ``v1/device/<id>/commands/update`` (device -> platform; ``command/update`` accepted too):
  ``{"id", "status": in_progress | done | error, "message"}`` moves the operation along its lifecycle
  (in_progress -> EXECUTING, done -> SUCCESSFUL, error -> FAILED with the message as failure reason).
* ``v1/device/<id>/command`` (platform -> device): every operation created for the device (routed to it,
  i.e. the device executes it) is published there at QoS 1 as a Xyte command ``{"id", "device_id",
  "status", "name", "parameters"}`` with the MQTT 5 Response Topic ``v1/device/<id>/commands/update``.
  A device that was offline gets its pending and in-progress commands when it subscribes to a filter that
  matches its command topic (:meth:`XyteAdapter.on_subscribed`, forwarded from ``Hooks.on_subscribed``), or
  when it resumes a session that is subscribed already.

  Each command is told once per connection. A persistent session (MQTT 5 Session Expiry Interval > 0, 3.1.1
  Clean Session 0) holds the commands created while the device was away, and the broker delivers them when
  it comes back ([MQTT-3.1.2-23], in-flight ones again with DUP [MQTT-4.4.0-1]); sending every pending
  command again on its SUBSCRIBE as well told it twice. So the adapter keeps, per connection of a device,
  the commands that connection has been told: what its session held at CONNACK, what routing delivered to
  it and what was sent again; only the rest is sent again on a subscription.

Identity: the device is the authenticated client (``client.login``), never the topic. A message for
another device id, or from a client that is not a Xyte device, is refused with 0x87 Not authorized (the ACL
refuses it before; this is the second lock). So is every message of a device whose managed object was
deleted while it stayed connected: its registration went with the object, the connection keeps it online
but nothing it sends is stored (MQTT 3.1.1: acknowledged and dropped), and it gets no commands; when it
reconnects, its access key is refused. A refused message's reason code comes from :data:`REASONS`:
malformed payloads get 0x99 Payload format invalid, commands that do not exist or cannot make that
transition 0x83 Implementation specific error; each is logged once.
Other ``v1`` topics are left to the broker (routed to subscribers, acknowledged at once).
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal, Protocol

import orjson

from tether.adapters import xyte_format
from tether.adapters.login import login_of
from tether.adapters.namespaces import tenant_mountpoint
from tether.broker import Broker, ClientInfo, Message
from tether.core.errors import DomainError, ErrorMap, InvalidInput, NotFound
from tether.core.events import DomainEvent, EventBus
from tether.mqtt.properties import Properties
from tether.mqtt.reason_codes import ReasonCode
from tether.mqtt.topics import matches
from tether.operations.models import InvalidTransition, Operation
from tether.registration.xyte import XyteService
from tether.registration.xyte_models import XyteDevice
from tether.services import Services
from tether.telemetry.measurements import IngestRow, MeasurementService, SourceGrant, ingest_row

__all__ = ["REASONS", "ROOT", "ConnectionEvents", "XyteAdapter", "install"]

log = logging.getLogger(__name__)

ROOT = "v1"
Ack = asyncio.Future[ReasonCode | None]
Kind = Literal["telemetry", "command_update"]
_ACTIONS: Mapping[str, Kind] = {
    "telemetry": "telemetry",
    "commands/update": "command_update",
    "command/update": "command_update",
}


def command_topic(device_id: str) -> str:
    return f"v1/device/{device_id}/command"


def update_topic(device_id: str) -> str:
    return f"v1/device/{device_id}/commands/update"


@dataclass(frozen=True, slots=True)
class Caller:
    """Who published, from the login record of the authenticate hook (adapters/login.py): the tenant, the
    managed object and, when the hook attached it, the Xyte device record."""

    tenant_id: str
    mo_id: int
    device: XyteDevice | None

    @classmethod
    def of(cls, client: ClientInfo) -> Caller | None:
        login = login_of(client)
        if login is None:
            return None
        if login.xyte is not None:
            return cls(login.xyte.tenant_id, login.xyte.mo_id, login.xyte)
        if login.kind != "xyte" or login.mo_id is None:
            return None
        return cls(login.principal.tenant_id, login.mo_id, None)


@dataclass(slots=True)
class _Inbound:
    kind: Kind
    caller: Caller
    topic_id: str  # the device id in the topic
    payload: Any
    ack: Ack


#: Domain error -> the reason code of the PUBACK/PUBREC of a message the platform refused (MQTT 5, spec
#: 3.4.2.1; an MQTT 3.1.1 device gets its plain acknowledgement): what it sent is malformed 0x99; the
#: command it names cannot make that transition, or what it names is gone, 0x83, as is everything else.
REASONS: ErrorMap[ReasonCode] = ErrorMap(
    {
        InvalidInput: ReasonCode.PAYLOAD_FORMAT_INVALID,
        InvalidTransition: ReasonCode.IMPLEMENTATION_SPECIFIC_ERROR,
        NotFound: ReasonCode.IMPLEMENTATION_SPECIFIC_ERROR,
        DomainError: ReasonCode.IMPLEMENTATION_SPECIFIC_ERROR,
    }
)


def _refused(loop: asyncio.AbstractEventLoop, code: ReasonCode) -> Ack:
    future: Ack = loop.create_future()
    future.set_result(code)
    return future


def _settle(ack: Ack, code: ReasonCode | None) -> None:
    if not ack.done():
        ack.set_result(code)


@dataclass(slots=True)
class _Told:
    """The commands one connection of a device has been (or is being) told."""

    client: ClientInfo  # the connection (ClientInfo identity): a newer one of the same session replaces it
    caller: Caller
    ids: set[int]


@dataclass(frozen=True, slots=True)
class _Resend:
    """Send the device its pending commands (those its connection was not told), after a subscription to
    `topic_filter`, or (None) on a resumed session that is subscribed already."""

    client: ClientInfo
    topic_filter: str | None


def _session_key(client: ClientInfo) -> str:
    return client.mountpoint + client.client_id  # as the broker keys sessions (broker/client.py _accept)


def _command_id(message: Message, mountpoint: str) -> int | None:
    """The command id of a message on some device's command topic (as the adapter publishes them)."""
    if not message.topic.startswith(mountpoint):
        return None
    levels = message.topic[len(mountpoint) :].split("/")
    if len(levels) != 4 or levels[0] != ROOT or levels[1] != "device" or levels[3] != "command":
        return None
    try:
        raw = orjson.loads(bytes(message.payload)).get("id")
    except (orjson.JSONDecodeError, AttributeError):
        return None
    return int(raw) if isinstance(raw, str | int) and str(raw).isdigit() else None


class XyteAdapter:
    """The ``v1`` handler, the delivery of operations to ``v1/device/<id>/command`` and the re-delivery of
    pending commands on subscribe, once per connection. Create it on the broker's event loop."""

    def __init__(
        self, broker: Broker, xyte: XyteService, measurements: MeasurementService, events: EventBus
    ) -> None:
        self._broker = broker
        self._loop = broker.loop
        self._xyte = xyte
        self._measurements = measurements
        self._inbox: deque[_Inbound] = deque()
        self._outbox: deque[Operation | _Resend] = deque()
        self._workers: dict[str, asyncio.Task[None]] = {}
        #: Live connections of devices by session key, and the session keys of each device (tenant, object).
        self._told: dict[str, _Told] = {}
        self._sessions_of: dict[tuple[str, int], set[str]] = {}
        self._unsubscribe: Callable[[], None] | None = events.subscribe(
            self._on_event, resources={"operations"}
        )

    def close(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        for task in self._workers.values():
            task.cancel()

    # -- device -> platform ------------------------------------------------------------------------

    def handle(self, client: ClientInfo, topic: str, message: Message) -> Ack | None:
        """The broker's handler for ``v1/...`` (Broker.add_handler)."""
        _, _, rest = topic.partition("/")
        level, _, rest = rest.partition("/")
        topic_id, _, action = rest.partition("/")
        kind = _ACTIONS.get(action) if level == "device" else None
        if kind is None:
            return None  # a topic the platform does not consume: routed to subscribers only
        caller = Caller.of(client)
        if caller is None or (caller.device is not None and caller.device.id != topic_id):
            log.info("MQTT client %r may not publish to %s", client.client_id, topic)
            return _refused(self._loop, ReasonCode.NOT_AUTHORIZED)
        try:
            payload = orjson.loads(bytes(message.payload))
        except orjson.JSONDecodeError as exc:
            log.info("Xyte device %s sent malformed JSON on %s: %s", topic_id, topic, exc)
            return _refused(self._loop, ReasonCode.PAYLOAD_FORMAT_INVALID)
        ack: Ack = self._loop.create_future()
        self._inbox.append(_Inbound(kind, caller, topic_id, payload, ack))
        self._kick("inbox", self._drain_inbox)
        return ack

    def _kick(self, name: str, drain: Callable[[], Awaitable[None]]) -> None:
        """One worker per queue, alive while the queue has work (never a task per message)."""
        if name not in self._workers:
            self._workers[name] = self._loop.create_task(self._work(name, drain))

    async def _work(self, name: str, drain: Callable[[], Awaitable[None]]) -> None:
        try:
            await drain()
        finally:
            # No await between the drain finding its queue empty and this: a message queued after it
            # finds no worker and starts one.
            self._workers.pop(name, None)

    async def _drain_inbox(self) -> None:
        while self._inbox:
            batch = list(self._inbox)
            self._inbox.clear()
            try:
                await self._process(batch)
            except Exception as exc:  # an unexpected failure: nothing of this batch is acknowledged
                log.exception("Xyte messages not processed")
                for item in batch:
                    if not item.ack.done():
                        item.ack.set_exception(exc)

    async def _registered(self, caller: Caller) -> XyteDevice | None:
        """The caller's device as registered now. The connection's record (from its CONNECT) is only a
        hint: once the managed object is deleted the registration is gone with it (XyteService forgets it
        on the DELETE event), and the connection must not write to or receive for any object."""
        if caller.device is None:
            return await self._xyte.device_for_object(caller.tenant_id, caller.mo_id)
        device = await self._xyte.get_device(caller.device.id)
        return device if device is not None and device.mo_id == caller.mo_id else None

    async def _device(self, caller: Caller, topic_id: str) -> XyteDevice | None:
        device = await self._registered(caller)
        return device if device is not None and device.id == topic_id else None

    async def _process(self, batch: list[_Inbound]) -> None:
        telemetry: dict[str, list[tuple[IngestRow, _Inbound]]] = {}
        updates: list[tuple[XyteDevice, _Inbound]] = []
        grants: dict[str, SourceGrant] = {}  # per device of this batch
        for item in batch:
            device = await self._device(item.caller, item.topic_id)
            if device is None:
                log.info(
                    "MQTT client of object %s may not publish for device %s", item.caller.mo_id, item.topic_id
                )
                _settle(item.ack, ReasonCode.NOT_AUTHORIZED)
            elif item.kind == "telemetry":
                try:
                    # Recorded by the device itself (its own principal); checked (ingest_row: core/values.py,
                    # times) before it joins the batch shared with other devices.
                    draft = xyte_format.measurement(device, item.payload)
                    grant = grants.get(device.id)
                    if grant is None:
                        grant = await self._measurements.grant(device.principal, draft.source_id)
                        grants[device.id] = grant
                    row = ingest_row(grant, draft.type, draft.time, draft.fragments)
                except DomainError as exc:  # bad telemetry, or its object is gone
                    log.info("telemetry of Xyte device %s refused: %s", device.id, exc.message)
                    _settle(item.ack, REASONS(exc))
                    continue
                telemetry.setdefault(device.tenant_id, []).append((row, item))
            else:
                updates.append((device, item))
        for tenant_id, entries in telemetry.items():
            await self._store(tenant_id, entries)
        for device, item in updates:
            await self._update(device, item)

    async def _store(self, tenant_id: str, entries: list[tuple[IngestRow, _Inbound]]) -> None:
        """One write for the whole batch; if it fails, each message alone, so only the bad one fails. A
        message refused alone gets 0x99 (its content) or 0x83; a store failure that is not about the
        message (the database is down) leaves it unacknowledged (raised to _drain_inbox)."""
        try:
            await self._measurements.ingest([row for row, _ in entries])
        except Exception as exc:
            if len(entries) > 1:
                log.warning("writing %d Xyte messages failed (%s); one by one now", len(entries), exc)
                for entry in entries:
                    await self._store(tenant_id, [entry])
                return
            if not isinstance(exc, DomainError):
                raise
            item = entries[0][1]
            log.info("telemetry of Xyte device %s not stored: %s", item.topic_id, exc.message)
            _settle(item.ack, REASONS(exc))
            return
        for _, item in entries:
            _settle(item.ack, None)

    async def _update(self, device: XyteDevice, item: _Inbound) -> None:
        try:
            update = xyte_format.command_update(item.payload)
        except InvalidInput as exc:
            log.info("Xyte device %s sent a bad command update: %s", device.id, exc.message)
            _settle(item.ack, REASONS(exc))
            return
        try:
            await self._xyte.update_command(device, update.op_id, update.status, update.message)
        except DomainError as exc:  # no such command for it, or not that transition (the update is valid)
            log.info("command update of Xyte device %s refused: %s", device.id, exc.message)
            _settle(item.ack, REASONS(exc))
            return
        _settle(item.ack, None)

    # -- platform -> device ------------------------------------------------------------------------

    def _on_event(self, event: DomainEvent) -> None:
        """EventBus handler (synchronous, must not block): queue new operations for delivery."""
        if (
            event.resource == "operations"
            and event.action == "CREATE"
            and isinstance(event.payload, Operation)
        ):
            self._outbox.append(event.payload)
            self._kick("outbox", self._drain_outbox)

    def on_connected(self, client: ClientInfo, session_present: bool) -> None:
        """Forward ``Hooks.on_connected`` here (before the broker sends what the session holds): a device's
        connection starts out told what its resumed session will deliver; a resumed session that is
        subscribed to the command topic gets the rest of the pending commands at once."""
        caller = Caller.of(client)
        if caller is None:
            return
        key = _session_key(client)
        held = self._broker.held_messages(client.mountpoint, client.client_id) if session_present else []
        told = {i for i in (_command_id(m, client.mountpoint) for m in held) if i is not None}
        self._told[key] = _Told(client, caller, told)
        self._sessions_of.setdefault((caller.tenant_id, caller.mo_id), set()).add(key)
        if session_present:
            self._outbox.append(_Resend(client, None))
            self._kick("outbox", self._drain_outbox)

    def on_disconnected(self, client: ClientInfo, reason: ReasonCode) -> None:
        """Forward ``Hooks.on_disconnected`` here."""
        key = _session_key(client)
        entry = self._told.get(key)
        if entry is None or entry.client is not client:
            return  # not a device, or a newer connection took the session over
        del self._told[key]
        device = (entry.caller.tenant_id, entry.caller.mo_id)
        keys = self._sessions_of.get(device)
        if keys is not None:
            keys.discard(key)
            if not keys:
                del self._sessions_of[device]

    def on_subscribed(self, client: ClientInfo, topic_filter: str, qos: int) -> None:
        """Forward ``Hooks.on_subscribed`` here: a Xyte device subscribing to (a filter matching) its command
        topic gets every command it has yet to execute and this connection was not told."""
        if Caller.of(client) is not None and topic_filter.startswith(("v1/", "+/", "#")):
            self._outbox.append(_Resend(client, topic_filter))
            self._kick("outbox", self._drain_outbox)

    async def _drain_outbox(self) -> None:
        while self._outbox:
            item = self._outbox.popleft()
            try:
                if isinstance(item, Operation):
                    await self._deliver_new(item)
                else:
                    await self._resend(item)
            except Exception:
                log.exception("Xyte commands not delivered")

    async def _deliver_new(self, op: Operation) -> None:
        """A new operation, published on the device's command topic (to every subscriber of it)."""
        device = await self._xyte.device_for_object(op.tenant_id, op.delivered_to)
        if device is None:
            return
        connections = [self._told[key] for key in self._sessions_of.get((device.tenant_id, device.mo_id), ())]
        if any(op.id in entry.ids for entry in connections):
            # Sent already by a re-send whose read found it before its creation was announced.
            return
        self._publish(device, op)
        topic = command_topic(device.id)
        for entry in connections:
            if self._broker.reaches(entry.client.mountpoint, entry.client.client_id, topic):
                entry.ids.add(op.id)

    async def _resend(self, item: _Resend) -> None:
        client = item.client
        entry = self._told.get(_session_key(client))
        if entry is None or entry.client is not client:
            return  # that connection is gone: the next one gets them
        caller = entry.caller
        device = await self._registered(caller)  # the registration now, not at CONNECT
        if device is None:
            return
        topic = command_topic(device.id)
        if item.topic_filter is None:
            if not self._broker.reaches(client.mountpoint, client.client_id, topic):
                return
        elif not matches(item.topic_filter, topic):
            return
        pending = await self._xyte.pending_commands(device)
        if self._told.get(_session_key(client)) is not entry:
            return  # the connection ended while the commands were read
        for op in pending:
            if op.id not in entry.ids:
                entry.ids.add(op.id)
                self._publish(device, op)

    def _publish(self, device: XyteDevice, op: Operation) -> None:
        payload = orjson.dumps(xyte_format.command(device, op))
        properties = Properties(
            payload_format_indicator=1,
            content_type="application/json",
            response_topic=update_topic(device.id),
        )
        reached = self._broker.publish(
            command_topic(device.id),
            payload,
            qos=1,
            mountpoint=tenant_mountpoint(device.tenant_id),
            properties=properties,
        )
        log.debug("command %s for Xyte device %s reached %d sessions", op.id, device.id, reached)


class ConnectionEvents(Protocol):
    """What the platform hooks offer adapters (adapters/access.py PlatformHooks.listen)."""

    def listen(
        self,
        *,
        on_connected: Callable[[ClientInfo, bool], None] | None = None,
        on_disconnected: Callable[[ClientInfo, ReasonCode], None] | None = None,
        on_subscribed: Callable[[ClientInfo, str, int], None] | None = None,
    ) -> None: ...


def install(broker: Broker, services: Services, hooks: ConnectionEvents | None = None) -> XyteAdapter:
    """Attach the Xyte adapter to a running broker; call it on the broker's event loop. With `hooks` (the
    platform hooks), connections and subscriptions are forwarded to the adapter (its on_connected,
    on_disconnected and on_subscribed), which delivers the commands a device has yet to execute; without,
    forward those ``Hooks`` events yourself. Call the adapter's close() before the broker stops."""
    adapter = XyteAdapter(broker, services.xyte, services.measurements, services.events)
    broker.add_handler(ROOT, adapter.handle)
    if hooks is not None:
        hooks.listen(
            on_connected=adapter.on_connected,
            on_disconnected=adapter.on_disconnected,
            on_subscribed=adapter.on_subscribed,
        )
    return adapter
