"""Operations to connected devices: on s/ds with the static templates, on s/dc/<X-ID> with the device's
response templates, and as JSON on devicecontrol/notifications when no static template fits
(docs/protocols.md sections 2 and 5).

- An operation created while its agent is connected is published at once, from the EventBus handler
  (the same way the real-time notifications learn about it), without a database read when the device
  is known to the connection.
- One created while the device was offline, or before it subscribed, was not forwarded: it is sent when
  the device subscribes again (JSON via MQTT: "initially upon subscription, all operations which are not
  yet forwarded will be published"), and on `500`, which resends every PENDING operation.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine
from typing import Any

import orjson

from tether.adapters.smartrest.context import DeviceRef
from tether.adapters.smartrest.devices import Devices
from tether.adapters.smartrest.downstream import static_line
from tether.adapters.smartrest.ports import Connections, ResponseTemplates
from tether.adapters.smartrest.session import DeviceSession
from tether.c8y import render
from tether.core.events import DomainEvent
from tether.core.paging import PageRequest
from tether.mqtt.topics import matches
from tether.operations.models import Operation, OperationCriteria, OperationStatus
from tether.services import Services

__all__ = ["NOTIFICATIONS", "OperationDispatcher"]

log = logging.getLogger("tether.smartrest")

NOTIFICATIONS = "devicecontrol/notifications"
_OPERATION_TOPICS = ("s/ds", NOTIFICATIONS, "s/dc/x", "s/dd")


class OperationDispatcher:
    """`connections` publishes and resolves the root device, `devices` looks up external ids,
    `templates` renders the custom response templates, `spawn` runs a delivery that needs a lookup in the
    background (ports.py)."""

    def __init__(
        self,
        services: Services,
        connections: Connections,
        devices: Devices,
        templates: ResponseTemplates,
        spawn: Callable[[Coroutine[Any, Any, None]], None],
    ) -> None:
        self.services = services
        self.connections = connections
        self.devices = devices
        self.templates = templates
        self.spawn = spawn
        #: (tenant, managed-object id) -> the live connections whose device (or child) it is.
        self._index: dict[tuple[str, int], set[DeviceSession]] = {}
        #: (tenant, device id) -> ids of PENDING operations already published to it.
        self._forwarded: dict[tuple[str, int], set[int]] = {}

    # ------------------------------------------------------------------------------------ index

    def index(self, session: DeviceSession, ref: DeviceRef) -> None:
        if session.closed:  # e.g. the session of a will published after the disconnection
            return
        self._index.setdefault((session.tenant_id, ref.mo_id), set()).add(session)

    def forget(self, session: DeviceSession) -> None:
        for mo_id in session.by_id:
            sessions = self._index.get((session.tenant_id, mo_id))
            if sessions is not None:
                sessions.discard(session)
                if not sessions:
                    del self._index[(session.tenant_id, mo_id)]

    def deleted(self, tenant: str, mo_id: int) -> None:
        """A managed object is gone: every connection forgets it (as root or child), so that the device's
        next message resolves its device anew (SmartREST: creates it again) instead of writing to the old
        id, and an operation for that id is never published to it."""
        for session in self._index.pop((tenant, mo_id), ()):
            session.forget(mo_id)
        self._forwarded.pop((tenant, mo_id), None)

    @staticmethod
    def wants_operations(topic_filter: str) -> bool:
        return any(matches(topic_filter, topic) for topic in _OPERATION_TOPICS) or topic_filter.startswith(
            "s/dc/"
        )

    # ------------------------------------------------------------------------------------ events

    def on_event(self, event: DomainEvent) -> None:
        """EventBus handler: runs in the writer's call, must not block."""
        if event.resource == "managedobjects":
            if event.action == "DELETE" and event.id is not None:
                self.deleted(event.tenant_id, event.id)
            return
        if event.resource != "operations":
            return
        op = event.payload
        if not isinstance(op, Operation):
            return
        tenant = event.tenant_id
        if event.action != "CREATE" or op.status is not OperationStatus.PENDING:
            self._settled(tenant, op)
            return
        index = self._index
        sessions = index.get((tenant, op.delivered_to)) or index.get((tenant, op.device_id))
        if not sessions:
            return
        for session in list(sessions):
            if not self._deliver_now(session, op):
                self.spawn(self.deliver(session, op))

    def _settled(self, tenant: str, op: Operation) -> None:
        if op.status is not OperationStatus.PENDING:
            forwarded = self._forwarded.get((tenant, op.delivered_to))
            if forwarded is not None:
                forwarded.discard(op.id)
                if not forwarded:
                    del self._forwarded[(tenant, op.delivered_to)]

    # ------------------------------------------------------------------------------------ delivery

    def _deliver_now(self, session: DeviceSession, op: Operation) -> bool:
        """Publish without waiting when everything needed is known; False when a lookup is needed."""
        ref = session.by_id.get(op.device_id)
        if ref is None or not self.templates.ready(session):
            return False
        self._publish(session, op, ref.xid)
        return True

    async def deliver(self, session: DeviceSession, op: Operation) -> None:
        ref = session.by_id.get(op.device_id)
        xid = ref.xid if ref is not None else await self.devices.external_id(session.who, op.device_id)
        await self.templates.load(session)
        if not session.closed:
            self._publish(session, op, xid)

    def _publish(self, session: DeviceSession, op: Operation, xid: str) -> int:
        adapter = self.connections
        reached = 0
        line = static_line(op, xid)
        if line is not None:
            reached += adapter.publish(session, "s/ds", line)
        for topic, lines in self.templates.operation_lines(session, op, xid):
            for custom in lines:
                reached += adapter.publish(session, topic, custom)
        if line is None:
            reached += adapter.publish(session, NOTIFICATIONS, orjson.dumps(render.device_operation(op, xid)))
        if reached:
            self._forwarded.setdefault((session.tenant_id, op.delivered_to), set()).add(op.id)
        return reached

    async def subscribed(self, session: DeviceSession) -> None:
        """After a subscription to an operation topic: resolve the device (never create it) and send
        what was not forwarded yet."""
        root = await self.connections.root(session, create=False)
        if root is not None:
            await self.send_pending(session, everything=False)

    async def send_pending(self, session: DeviceSession, *, everything: bool) -> None:
        """The PENDING operations of the connection's agent (and of its known children that have no agent),
        oldest first; with `everything` also those already forwarded (template 500)."""
        root = session.root
        if root is None:
            return
        agents = [root.mo_id, *(mo_id for mo_id in session.by_id if mo_id != root.mo_id)]
        await self.templates.load(session)
        services = self.services
        seen: set[int] = set()
        for agent in agents:
            page_number = 1
            while True:
                criteria = OperationCriteria(agent_id=agent, status=OperationStatus.PENDING)
                page = await services.operations.find(
                    session.who, criteria, PageRequest(current_page=page_number, page_size=500)
                )
                for op in page.items:
                    if op.id in seen:
                        continue
                    seen.add(op.id)
                    forwarded = self._forwarded.get((session.tenant_id, op.delivered_to), set())
                    if everything or op.id not in forwarded:
                        await self.deliver(session, op)
                if len(page.items) < 500:
                    break
                page_number += 1
