"""The SmartREST 2.0 adapter bound to the broker: topics s/, t/, q/, c/ in, s/ds, s/e, s/dc, s/dt out.

Topics (docs/protocols.md section 2): `<s|t|q|c>/us[/<child>]` static templates, `<..>/uc/<X-ID>` and
`<..>/ud` custom templates, `s/ut/<X-ID>` template registration, `s/ucr` device bootstrap (handed to the
bootstrap handler), and `t|q|c/<api>/<resource>/<action>` JSON via MQTT in a processing mode. The first level
picks the processing mode: s persistent, t transient, q quiescent, c CEP (as the REST API's
X-Cumulocity-Processing-Mode, it applies to measurements, events and alarms).

Acknowledgement: the broker holds a message's PUBACK/PUBREC on the future `handle` returns; it resolves
once every row is processed and its measurements are durably stored. Problems go to s/e, one line per row;
MQTT 5 clients also get a reason code >= 0x80 in the acknowledgement (3.1.1 has none).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from typing import Any

from tether.adapters.c8y_json import JsonViaMqtt
from tether.adapters.login import login_of
from tether.adapters.smartrest.context import (
    DeviceRef,
    Fields,
    RowContext,
    parse_number,
    parse_time,
)
from tether.adapters.smartrest.csv import parse_rows_lenient
from tether.adapters.smartrest.custom import CustomTemplates
from tether.adapters.smartrest.devices import Devices
from tether.adapters.smartrest.dispatch import OperationDispatcher
from tether.adapters.smartrest.errors import (
    MAX_MESSAGE_SIZE,
    Code,
    SmartRestError,
    from_domain,
    reason_for,
    unknown_template,
)
from tether.adapters.smartrest.ingest import IngestBatcher, Rejected
from tether.adapters.smartrest.session import DeviceSession
from tether.adapters.smartrest.static import MEASUREMENT_TEMPLATES, STATIC
from tether.broker import Broker, ClientInfo, Message
from tether.core.clock import now_ms
from tether.core.errors import DomainError
from tether.core.processing import ProcessingMode
from tether.inventory.models import ChildKind
from tether.mqtt.reason_codes import ReasonCode
from tether.services import Services
from tether.telemetry.measurements import IngestRow, series_row

__all__ = ["MODES", "SmartRestAdapter"]

log = logging.getLogger("tether.smartrest")

MODES = {
    "s": ProcessingMode.PERSISTENT,
    "t": ProcessingMode.TRANSIENT,
    "q": ProcessingMode.QUIESCENT,
    "c": ProcessingMode.CEP,
}
#: Platform handler of another helper (device_bootstrap.py) for s/ucr of the bootstrap user.
BootstrapHandler = Callable[[ClientInfo, str, Message], "asyncio.Future[ReasonCode | None] | None"]


def _packet_size(topic: str, message: Message) -> int:
    """The PUBLISH packet's size as the client sent it (fixed header, topic, packet id, payload)."""
    remaining = 2 + len(topic.encode()) + (2 if message.qos else 0) + len(message.payload)
    header = 1 + (1 if remaining < 128 else 2 if remaining < 16384 else 3 if remaining < 2097152 else 4)
    return header + remaining


class SmartRestAdapter:
    """The broker binding. It builds its collaborators and hands them what they use explicitly: the
    domain services, itself as their `Connections` port (ports.py: publish, report, result, root,
    target, store_measurements), the custom templates to the dispatcher as its `ResponseTemplates`."""

    def __init__(
        self,
        broker: Broker,
        services: Services,
        *,
        templates: Any = None,
        bootstrap: BootstrapHandler | None = None,
        max_batch_rows: int = 500,
        writes_in_flight: int = 1,
    ) -> None:
        self.broker = broker
        self.services = services
        self.events = services.events
        self.devices = Devices(services)
        self.batcher = IngestBatcher(
            services.measurements,
            on_gone=self._gone,
            on_rejected=self._rejected,
            max_rows=max_batch_rows,
            max_in_flight=writes_in_flight,
        )
        self.custom = CustomTemplates(services, self, templates)
        self.dispatcher = OperationDispatcher(services, self, self.devices, self.custom, self.spawn)
        self.json = JsonViaMqtt(services, self)
        self.bootstrap = bootstrap
        #: mountpoint -> client id -> the connection's session (no key tuple per connection).
        self.sessions: dict[str, dict[str, DeviceSession]] = {}
        self._unsubscribe: Callable[[], None] | None = None
        self._tasks: set[asyncio.Task[Any]] = set()

    # ------------------------------------------------------------------------------------ binding

    def install(self) -> None:
        """Register the platform handlers with the broker and listen for operations."""
        for root in MODES:
            self.broker.add_handler(root, self.handle)
        for root in self.json.ROOTS:
            self.broker.add_handler(root, self.handle_json)
        # Deleted objects too: connections forget them (dispatch.py deleted). In a cluster the other nodes'
        # operations too: the device may be connected here while the operation was made on another node.
        self._unsubscribe = self.events.subscribe(
            self.dispatcher.on_event, resources={"operations", "managedobjects"}, cluster=True
        )

    def detach(self) -> None:
        """Stop following operations and cancel background work (before the broker stops)."""
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        for task in list(self._tasks):
            task.cancel()

    async def close(self) -> None:
        """detach(), after writing what the ingest batch still holds."""
        await self.batcher.drain()
        self.detach()

    def spawn(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("SmartREST background work failed", exc_info=task.exception())

    # ------------------------------------------------------------------------------------ sessions

    def session(self, client: ClientInfo, *, live: bool = True) -> DeviceSession | None:
        """The connection's session (a new connection with the same ClientId gets a new one). `live` False:
        for a will published after the connection ended, a session of its own that is not remembered
        (the ClientId may be connected again by then)."""
        sessions = self.sessions.get(client.mountpoint)
        session = sessions.get(client.client_id) if sessions is not None else None
        if session is not None and session.client is client:
            return session
        # The platform's hooks decided which device the credential is (adapters/login.py): no serial for a
        # client that is no device, whose s/... topics the adapter leaves alone.
        login = login_of(client)
        if login is None or not login.serial:
            return None
        session = DeviceSession(client)
        if not live:
            session.closed = True
            return session
        if sessions is None:
            sessions = self.sessions[client.mountpoint] = {}
        previous = sessions.get(client.client_id)
        if previous is not None:
            self.dispatcher.forget(previous)
        sessions[client.client_id] = session
        return session

    def _host(self, session: DeviceSession) -> SessionHost:
        """The session's Host, made at its first message (an idle connection has none)."""
        host = session.host
        if host is None:
            host = session.host = SessionHost(self.devices, self.dispatcher, session)
        return host  # type: ignore[no-any-return]

    def on_subscribed(self, client: ClientInfo, topic_filter: str, qos: int | None = None) -> None:
        """From the platform's Hooks.on_subscribed: a device that subscribes receives the operations that
        were not forwarded to it yet (JSON via MQTT: "initially upon subscription...")."""
        session = self.session(client)
        if session is None:
            return
        session.subscribed(topic_filter)
        self.custom.subscribed(session, topic_filter)
        if self.dispatcher.wants_operations(topic_filter):
            self.spawn(self.dispatcher.subscribed(session))

    def on_disconnected(self, client: ClientInfo, reason: object = None) -> None:
        """From the platform's Hooks.on_disconnected: forget the connection (not a newer one of the
        same ClientId)."""
        sessions = self.sessions.get(client.mountpoint)
        session = sessions.get(client.client_id) if sessions is not None else None
        if sessions is not None and session is not None and session.client is client:
            session.closed = True
            del sessions[client.client_id]
            if not sessions:
                del self.sessions[client.mountpoint]
            self.dispatcher.forget(session)

    # ------------------------------------------------------------------------------------ output

    def publish(self, session: DeviceSession, topic: str, payload: str | bytes) -> int:
        """Publish on one of the client's own topics (s/ds, s/e, ...): QoS 2 so that the subscriber's
        granted QoS decides (docs/protocols.md section 1)."""
        data = payload.encode() if isinstance(payload, str) else payload
        client = session.client
        return self.broker.publish(
            topic, data, qos=2, mountpoint=client.mountpoint, client_id=client.client_id
        )

    def report(self, session: DeviceSession, error: SmartRestError, topic: str = "s/e") -> None:
        line = error.line()
        log.info("SmartREST %s: %s", session, line)
        self.publish(session, topic, line)

    def result(self, session: DeviceSession, worst: Code | None) -> ReasonCode | None:
        if worst is None or session.client.protocol_version != 5:
            return None
        code = reason_for(worst)
        return None if code is ReasonCode.SUCCESS else code

    # ------------------------------------------------------------------------------------ input

    def handle(
        self, client: ClientInfo, topic: str, message: Message
    ) -> asyncio.Future[ReasonCode | None] | None:
        root, _, rest = topic.partition("/")
        login = login_of(client)
        if rest == "ucr" and login is not None and login.kind == "bootstrap":
            return self.bootstrap(client, topic, message) if self.bootstrap is not None else None
        # Wills (and the platform's own publishes) have no sender; a will may come after the disconnection.
        session = self.session(client, live=message.sender is not None)
        if session is None:
            return None
        mode = MODES[root]
        kind, _, tail = rest.partition("/")
        payload = message.payload
        if (
            len(payload) + 4 * len(topic) + 9 > MAX_MESSAGE_SIZE
            and _packet_size(topic, message) > MAX_MESSAGE_SIZE
        ):
            return self._too_large(session, topic, message, "error" if kind not in _SMARTREST else "s/e")
        if kind == "us":
            if not session.queue:
                fast = self._fast(session, mode, tail, payload)
                if fast is not None:
                    return fast
            data = bytes(payload)
            return session.enqueue(lambda: self._static(session, mode, tail, data))
        if kind in ("uc", "ud", "ut"):
            data = bytes(payload)
            return session.enqueue(lambda: self.custom.handle(session, mode, kind, tail, data))
        if root != "s" and kind in self.json.ROOTS:
            data = bytes(payload)
            pid = message.packet_id
            return session.enqueue(lambda: self.json.handle(session, mode, rest, data, pid))
        return None  # downstream topics (s/ds, s/e, ...) published by a client are only routed

    def handle_json(
        self, client: ClientInfo, topic: str, message: Message
    ) -> asyncio.Future[ReasonCode | None] | None:
        session = self.session(client, live=message.sender is not None)
        if session is None:
            return None
        if _packet_size(topic, message) > MAX_MESSAGE_SIZE:
            return self._too_large(session, topic, message, "error")
        data = bytes(message.payload)
        pid = message.packet_id
        mode = ProcessingMode.PERSISTENT
        return session.enqueue(lambda: self.json.handle(session, mode, topic, data, pid))

    def _too_large(
        self, session: DeviceSession, topic: str, message: Message, error_topic: str
    ) -> asyncio.Future[ReasonCode | None]:
        size = _packet_size(topic, message)
        head = bytes(message.payload[:8]).split(b",", 1)[0]
        template = head.decode() if head.isdigit() else ""
        text = f"Message too long: {size} bytes; the limit is {MAX_MESSAGE_SIZE} bytes"
        if error_topic == "error":
            self.json.error(session, "validationError", text, message_id=message.packet_id)
        else:
            self.report(session, SmartRestError(Code.MALFORMED, text, template))
        future: asyncio.Future[ReasonCode | None] = asyncio.get_running_loop().create_future()
        future.set_result(
            ReasonCode.IMPLEMENTATION_SPECIFIC_ERROR if session.client.protocol_version == 5 else None
        )
        return future

    def _fast(
        self, session: DeviceSession, mode: ProcessingMode, child: str, payload: Any
    ) -> asyncio.Future[ReasonCode | None] | None:
        """Measurement-only messages of a known device without quotes: parsed here and handed to the
        ingest batch: no task, no database read. None: take the ordinary path (which reports problems)."""
        target = session.root if not child else session.devices.get(child)
        if target is None or not mode.stores:
            return None
        try:
            text = payload.decode() if isinstance(payload, bytes) else bytes(payload).decode()
        except UnicodeDecodeError:
            return None
        if '"' in text:
            return None
        if "\r" in text:
            text = text.replace("\r\n", "\n")
            if "\r" in text:  # a lone CR ends a row as LF does: the ordinary parser knows
                return None
        entries: list[Any] = []
        grant = target.grant
        ctx: RowContext | None = None
        now = 0
        try:
            for line in text.split("\n") if "\n" in text else (text,):
                fields = line.split(",")
                if " " in line or "\t" in line:
                    fields = [field.strip(" \t") for field in fields]
                if fields[0] == "200" and 4 <= len(fields) <= 6 and fields[1] and fields[2] and fields[3]:
                    # The common case, inline: 200,fragment,series,value[,unit[,time]].
                    value = parse_number(fields[3], "value", "200")
                    unit = (fields[4] or None) if len(fields) > 4 else None
                    if len(fields) > 5 and fields[5]:
                        time = parse_time(fields[5], "200")
                    else:
                        time = now = now or now_ms()
                    entries.append(series_row(grant, fields[1], fields[2], value, unit, time))
                    continue
                if not line.strip(" \t"):
                    continue
                measure = MEASUREMENT_TEMPLATES.get(fields[0])
                if measure is None:
                    return None
                if ctx is None:
                    host = self._host(session)
                    ctx = RowContext("", session.who, self.services, host, mode, _no_reply, target)
                    ctx.measurements = entries
                measure(ctx, Fields(fields[0], fields[1:]))
        except (SmartRestError, DomainError):  # the ordinary path reports it, row by row
            return None
        if not entries:
            return None
        return self.batcher.add(entries, mode, session)

    def _gone(self, session: Any, text: str) -> ReasonCode | None:
        self.report(session, SmartRestError(Code.SERVER_ERROR, text, ""))
        session.forget_all()
        return self.result(session, Code.SERVER_ERROR)

    def _rejected(self, session: Any, text: str) -> ReasonCode | None:
        """A measurement the store refused although it passed the checks (ingest.py retried it alone):
        45 on s/e; MQTT 5: 0x99, MQTT 3.1.1: acknowledged all the same (a resent poison message would
        be refused forever)."""
        self.report(session, SmartRestError(Code.INVALID_ARGUMENTS, text, ""))
        return self.result(session, Code.INVALID_ARGUMENTS)

    async def _static(
        self, session: DeviceSession, mode: ProcessingMode, child: str, data: bytes
    ) -> ReasonCode | None:
        try:
            text = data.decode()
        except UnicodeDecodeError:
            self.report(session, SmartRestError(Code.MALFORMED, "Message is not UTF-8 text"))
            return self.result(session, Code.MALFORMED)
        measurements: list[Any] = []
        worst: Code | None = None
        reply = self._replier(session)
        for row, problem in parse_rows_lenient(text):
            template = row[0]
            error: SmartRestError | None = None
            if problem is not None:
                error = SmartRestError(Code.MALFORMED, f"Malformed line: {problem}", template)
            elif (spec := STATIC.get(template)) is None:
                error = unknown_template(template)
            else:
                try:
                    target = await self.target(session, child, create=spec.needs_device)
                    host = self._host(session)
                    ctx = RowContext(template, session.who, self.services, host, mode, reply, target)
                    ctx.measurements = measurements
                    fields = Fields(template, row[1:])
                    if spec.measure is not None:
                        spec.measure(ctx, fields)
                    elif spec.run is not None:
                        await spec.run(ctx, fields)
                except SmartRestError as exc:
                    error = exc
                    error.template = template
                except DomainError as exc:
                    error = from_domain(exc, template)
                except Exception:
                    log.exception("SmartREST template %s failed for %s", template, session)
                    error = SmartRestError(Code.SERVER_ERROR, "Server error", template)
            if error is not None:
                self.report(session, error)
                if error.code is not Code.CREATION_ERROR and (worst is None or error.code > worst):
                    worst = error.code
        if measurements:
            outcome = await self.store_measurements(session, measurements, mode)
            if outcome is not None:
                return outcome
        return self.result(session, worst)

    async def store_measurements(
        self,
        session: DeviceSession,
        measurements: Sequence[IngestRow],
        mode: ProcessingMode,
        rejected: Rejected | None = None,
    ) -> ReasonCode | None:
        """`rejected(text)`: how to answer when the store refuses a row of this message (default: 45 on
        s/e). A storage failure propagates: the broker refuses the message (3.1.1: closes,
        unacknowledged, so that it is sent again)."""
        if mode.stores:
            return await self.batcher.add(measurements, mode, session, rejected)
        await self.services.measurements.ingest(measurements, mode)
        return None

    def _replier(self, session: DeviceSession) -> Callable[[str], None]:
        def reply(line: str) -> None:
            self.publish(session, "s/ds", line)

        return reply

    # ------------------------------------------------------------------------------------ devices

    async def root(self, session: DeviceSession, *, create: bool = True) -> DeviceRef | None:
        """The ClientId's device: resolved once per connection, created when missing (`create`)."""
        if session.root is not None:
            return session.root
        who = session.who
        mo_id = await self.devices.find(who, session.serial)
        if mo_id is None:
            if not create:
                return None
            mo_id, _ = await self.devices.create(who, session.serial, Devices.root_document(session.serial))
        ref = await self.devices.ref(who, mo_id, session.serial, is_root=True)
        session.remember(ref)
        self.dispatcher.index(session, ref)
        return ref

    async def target(self, session: DeviceSession, child: str, *, create: bool = True) -> DeviceRef | None:
        """The device a topic names: the root, or the child `s/us/<child>` (a first-level child of the root
        when it has to be created)."""
        if not child:
            return await self.root(session, create=create)
        ref = session.devices.get(child)
        if ref is not None:
            return ref
        root = await self.root(session)
        assert root is not None
        who = session.who
        mo_id = await self.devices.find(who, child)
        if mo_id is None:
            document = Devices.child_document(child)
            mo_id, _ = await self.devices.create(who, child, document, parent=root.mo_id)
        ref = await self.devices.ref(who, mo_id, child)
        session.remember(ref)
        self.dispatcher.index(session, ref)
        return ref


_SMARTREST = frozenset({"us", "uc", "ud", "ut", "ucr"})


def _no_reply(line: str) -> None:
    raise RuntimeError("measurement templates do not reply")


class SessionHost:
    """The Host (context.py) of one connection: device creation, children, pending operations."""

    __slots__ = ("devices", "dispatcher", "session")

    def __init__(self, devices: Devices, dispatcher: OperationDispatcher, session: DeviceSession) -> None:
        self.devices = devices
        self.dispatcher = dispatcher
        self.session = session

    async def create_root(self, name: str | None, type_: str | None) -> bool:
        devices, session = self.devices, self.session
        document = Devices.root_document(session.serial, name, type_)
        mo_id, created = await devices.create(session.who, session.serial, document)
        ref = await devices.ref(session.who, mo_id, session.serial, is_root=True)
        session.remember(ref)
        self.dispatcher.index(session, ref)
        return created

    async def create_child(
        self, parent: DeviceRef, xid: str, document: dict[str, Any], kind: ChildKind = ChildKind.DEVICE
    ) -> tuple[int, bool]:
        devices, session = self.devices, self.session
        mo_id, created = await devices.create(session.who, xid, document, parent=parent.mo_id, kind=kind)
        if kind is ChildKind.DEVICE:
            ref = await devices.ref(session.who, mo_id, xid)
            session.remember(ref)
            self.dispatcher.index(session, ref)
        return mo_id, created

    async def child_xids(self, parent: DeviceRef) -> list[str]:
        devices, who = self.devices, self.session.who
        xids = []
        for mo_id in await devices.children(who, parent.mo_id):
            known = self.session.by_id.get(mo_id)
            xids.append(known.xid if known is not None else await devices.external_id(who, mo_id))
        return xids

    async def resend_pending(self, target: DeviceRef) -> None:
        await self.dispatcher.send_pending(self.session, everything=True)

    def owns_operation(self, device_id: int, agent_id: int | None) -> bool:
        session = self.session
        if device_id in session.by_id:
            return True
        root = session.root
        return root is not None and agent_id == root.mo_id
