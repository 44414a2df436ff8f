"""EMQX Fleets devices over MQTT (docs/protocols.md section 10): the broker handler for `$emqx/...` topics,
the shadow's answers and notifications, and a thing's online status.

Shadow topics, as the device sees them inside its tenant's mountpoint (AWS IoT's, under `$emqx/things`):

* `$emqx/things/<name>/shadow/update` (device -> platform): `{"state": {"reported"|"desired": {...}},
  "clientToken"?, "version"?}`. Answered on `.../update/accepted` or `.../update/rejected`; every accepted
  change (also one made over HTTP) is published on `.../update/documents` and, when the request's desired
  state differs from reported, on `.../update/delta`. A desired change made over HTTP is published on
  `.../shadow/update` too, as the device would have received it from the cloud.
* `$emqx/things/<name>/shadow/get` -> `.../get/accepted` (with `state.delta`) | `.../get/rejected`.
* `$emqx/things/<name>/shadow/delete` -> `.../delete/accepted` | `.../delete/rejected`.

Answers and notifications are published at QoS 1 to every subscriber of the thing's topics in the tenant
(a persistent session that is offline receives them when it resumes, [MQTT-3.1.2-23]). The PUBACK of a
request waits until the change is committed and its answer published; a malformed request is answered on
`.../rejected` with AWS's code and message (the PUBACK is a success: the request was received).

Who may use a thing's topics is decided at CONNECT (adapters/access.py, adapters/policy.py): a device
credential gets the `$emqx/things/<name>/...` and `$emqx/commands/things/<name>/...` of the things whose
managed object it owns, operators any. The handler checks it a second time: a message about a thing the
client is not (or no longer) is refused 0x87. Renaming or deleting a thing closes the connections whose
login had its name (0x98). Other `$emqx` topics are routed to subscribers only.

Commands (fleets/commands.py; each is an operation of the thing's device): a new one is published at QoS 1
on `$emqx/commands/things/<name>/executions/<executionId>/request` as `{"commandId", "action", "params",
"timestamp", "ttl"}`, with the ttl as its Message Expiry Interval and the response topic as its MQTT 5
Response Topic; the device answers `{"status": SUCCEEDED|FAILED|REJECTED, "result"}` on
`.../executions/<executionId>/response` (MQTT 5 reason codes: 0x99 for a malformed answer, 0x83 for an
unknown or finished command; MQTT 3.1.1: acknowledged and dropped). A timer per command times it out when
its ttl passes unanswered. A Cumulocity operation for a thing that has no agent is delivered as a command
too.

Jobs: `$emqx/things/<name>/jobs/...` is served by adapters/fleets_jobs.py (AWS IoT's device jobs API).

Events: a JSON object on `$emqx/things/<name>/events/<type>` (QoS 1) is stored as a Cumulocity event of
that type on the thing (fleets/events.py), recorded as the publishing client; the PUBACK follows the commit
(MQTT 5: 0x99 for a payload that is no JSON object, 0x83 for an unknown thing; MQTT 3.1.1: acknowledged and
dropped).

A thing's status (Fleets' online/offline) is its device's Cumulocity `c8y_Connection`, kept by the presence
service (tether.presence) from the connections of the device's login, as for every device.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Literal

import orjson

from tether.adapters.fleets_jobs import FleetsJobsAdapter
from tether.adapters.login import Login, login_of
from tether.adapters.namespaces import tenant_mountpoint
from tether.broker import Broker, ClientInfo, Message
from tether.core.clock import now_ms
from tether.core.errors import BadRequest, Conflict, DomainError, ErrorMap, InvalidInput, NotFound
from tether.core.events import DomainEvent, EventBus
from tether.fleets import commands as fleets_commands
from tether.fleets import events as fleets_events
from tether.fleets import shadow
from tether.fleets.commands import Command, CommandService
from tether.fleets.models import Json, Thing
from tether.fleets.shadows import ShadowChange, ShadowService, now_s
from tether.fleets.things import ThingService, thing_of
from tether.inventory.models import ManagedObject
from tether.mqtt.properties import Properties
from tether.mqtt.reason_codes import ReasonCode
from tether.operations.models import Operation
from tether.services import Services
from tether.telemetry.events import EventService

__all__ = ["CODES", "ROOT", "FleetsAdapter", "install"]

log = logging.getLogger(__name__)

ROOT = "$emqx"
Ack = asyncio.Future[ReasonCode | None]
ShadowAction = Literal["update", "get", "delete"]
_OPERATIONS: dict[str, ShadowAction] = {"update": "update", "get": "get", "delete": "delete"}
_JSON = Properties(payload_format_indicator=1, content_type="application/json")

#: Domain error -> the AWS code of a `.../rejected` answer (device-shadow-error-messages): a malformed
#: request 400, a missing shadow 404, a version conflict 409, the rest 500.
CODES: ErrorMap[int] = ErrorMap(
    {
        InvalidInput: 400,
        NotFound: 404,
        Conflict: 409,
        DomainError: 500,
    }
)


def shadow_topic(name: str, suffix: str) -> str:
    return f"$emqx/things/{name}/shadow/{suffix}"


def execution_topic(name: str, execution_id: str, suffix: str) -> str:
    return f"$emqx/commands/things/{name}/executions/{execution_id}/{suffix}"


#: Domain error -> the reason code of the PUBACK of a command answer the platform refused (MQTT 5).
ANSWER_REASONS: ErrorMap[ReasonCode] = ErrorMap(
    {
        InvalidInput: ReasonCode.PAYLOAD_FORMAT_INVALID,
        BadRequest: ReasonCode.PAYLOAD_FORMAT_INVALID,
        DomainError: ReasonCode.IMPLEMENTATION_SPECIFIC_ERROR,
    }
)


@dataclass(slots=True)
class _Request:
    tenant_id: str
    name: str
    operation: ShadowAction
    payload: bytes
    ack: Ack
    acting: str | None  # the user the client acts as (None: an operator, who may act on any thing)


@dataclass(slots=True)
class _Answer:
    tenant_id: str
    name: str
    execution_id: str
    payload: bytes
    ack: Ack
    v5: bool  # MQTT 5 (the PUBACK can say why an answer was refused)
    acting: str | None


@dataclass(slots=True)
class _Event:
    login: Login  # who publishes (the event is recorded as them)
    name: str
    type: str
    payload: bytes
    ack: Ack
    v5: bool

    @property
    def tenant_id(self) -> str:
        return self.login.principal.tenant_id


@dataclass(frozen=True, slots=True)
class _Expire:
    tenant_id: str
    execution_id: str


def _settle(ack: Ack, code: ReasonCode | None) -> None:
    if not ack.done():
        ack.set_result(code)


def _may_use(login: Login, name: str) -> bool:
    """The first lock, from the login record (what the client was at CONNECT)."""
    return login.superuser or name in login.things


def _acts_as(acting: str | None, thing: Thing | None) -> bool:
    """The second lock, on the thing as it is now: its managed object is the client's own (a name that was
    the client's thing at CONNECT may belong to another thing since)."""
    return acting is None or thing is None or thing.owner == acting


class FleetsAdapter:
    """The `$emqx` handler and the publisher of shadow answers. Create it on the broker's event loop."""

    def __init__(
        self,
        broker: Broker,
        things: ThingService,
        shadows: ShadowService,
        commands: CommandService,
        device_events: EventService,
        events: EventBus,
        jobs: FleetsJobsAdapter | None = None,
    ) -> None:
        self._broker = broker
        self.jobs = jobs  # $emqx/things/<name>/jobs/... (adapters/fleets_jobs.py)
        self._loop = broker.loop
        self._things = things
        self._shadows = shadows
        self._commands = commands
        self._device_events = device_events
        # Requests per thing, each thing's in order; one worker per thing with work (never per message),
        # so things are served concurrently (the database commits their writes together).
        self._inboxes: dict[tuple[str, str], deque[_Request | _Answer | _Event]] = {}
        self._outbox: deque[Operation | _Expire] = deque()
        self._workers: dict[str | tuple[str, str], asyncio.Task[None]] = {}
        self._timers: dict[tuple[str, str], asyncio.TimerHandle] = {}
        self._unwatch: list[Callable[[], None]] = [
            shadows.watch(self._on_change),
            events.subscribe(self._on_operation, resources={"operations"}),
            events.subscribe(self._on_thing_changed, resources={"managedobjects"}),
        ]

    def start_timers(self, tenant_ids: Callable[[], Awaitable[list[str]]]) -> None:
        """The jobs' timeout tick, and the command timers restored in the background (the broker accepts
        connections meanwhile). A command this process sends gets its timer anyway; a command timed out
        twice (two nodes) is finished once (CommandService: a compare-and-set)."""
        if self.jobs is not None:
            self.jobs.start()
        self.start(tenant_ids)

    def stop_timers(self) -> None:
        """Stop the jobs' tick (the command timers already set fire: finishing one is a compare-and-set)."""
        if self.jobs is not None:
            self.jobs.stop()

    def start(self, tenant_ids: Callable[[], Awaitable[list[str]]]) -> None:
        """Restore the command timers in the background (the broker accepts connections meanwhile)."""

        async def restore() -> None:
            try:
                await self.restore_timers(await tenant_ids())
            except Exception:
                log.exception("Fleets command timers not restored")

        self._kick("restore", restore)

    async def restore_timers(self, tenant_ids: list[str]) -> None:
        """At start: a timer for every command still SENT (its ttl counts from its creation, so one whose
        ttl passed while the server was down times out now)."""
        now = now_ms()
        for command in await self._commands.pending(tenant_ids):
            key = (command.tenant_id, command.execution_id)
            if key not in self._timers:
                delay = max(0.0, (command.expires_at - now) / 1000)
                self._timers[key] = self._loop.call_later(delay, self._expire, key)

    def close(self) -> None:
        if self.jobs is not None:
            self.jobs.close()
        for unwatch in self._unwatch:
            unwatch()
        self._unwatch = []
        for task in self._workers.values():
            task.cancel()
        for timer in self._timers.values():
            timer.cancel()
        self._timers.clear()

    # -- device -> platform ------------------------------------------------------------------------

    def handle(self, client: ClientInfo, topic: str, message: Message) -> Ack | None:
        """The broker's handler for `$emqx/...` (Broker.add_handler)."""
        levels = topic.split("/")
        operation: ShadowAction | None = None
        detail = ""  # the execution id of an answer, the type of an event
        if len(levels) == 7 and levels[1:3] == ["commands", "things"] and levels[4] == "executions":
            if levels[6] != "response":
                return None
            name, detail = levels[3], levels[5]
        elif len(levels) == 5 and levels[1] == "things" and levels[3] == "events":
            name, detail = levels[2], levels[4]
        elif len(levels) >= 5 and levels[1] == "things" and levels[3] == "jobs":
            return self.jobs.handle(client, topic, levels, message) if self.jobs is not None else None
        elif len(levels) == 5 and levels[1] == "things" and levels[3] == "shadow":
            name, operation = levels[2], _OPERATIONS.get(levels[4])
            if operation is None:
                return None
        else:
            return None  # not a request the platform answers: routed to subscribers only
        login = login_of(client)
        if login is None or not _may_use(login, name):
            log.info("MQTT client %r may not act as thing %r", client.client_id, name)
            ack: Ack = self._loop.create_future()
            ack.set_result(ReasonCode.NOT_AUTHORIZED)
            return ack
        ack = self._loop.create_future()
        tenant_id = login.principal.tenant_id
        payload = bytes(message.payload)
        v5 = client.protocol_version == 5
        acting = None if login.superuser else login.principal.username
        item: _Request | _Answer | _Event
        if operation is not None:
            item = _Request(tenant_id, name, operation, payload, ack, acting)
        elif levels[1] == "commands":
            item = _Answer(tenant_id, name, detail, payload, ack, v5, acting)
        else:
            item = _Event(login, name, detail, payload, ack, v5)
        key = (tenant_id, name)
        inbox = self._inboxes.get(key)
        if inbox is None:
            inbox = self._inboxes[key] = deque()
        inbox.append(item)
        self._kick(key, lambda: self._drain_inbox(key))
        return ack

    def _kick(self, name: str | tuple[str, str], drain: Callable[[], Awaitable[None]]) -> None:
        """One worker per queue, alive while the queue has work (never a task per message)."""
        if name not in self._workers:
            self._workers[name] = self._loop.create_task(self._work(name, drain))

    async def _work(self, name: str | tuple[str, str], drain: Callable[[], Awaitable[None]]) -> None:
        try:
            await drain()
        finally:
            self._workers.pop(name, None)

    async def _drain_inbox(self, key: tuple[str, str]) -> None:
        while True:
            inbox = self._inboxes.get(key)
            if not inbox:
                # No await from here to the worker's end (_work): a request queued later finds no worker
                # and starts one.
                self._inboxes.pop(key, None)
                return
            request = inbox.popleft()
            try:
                if isinstance(request, _Answer):
                    await self._answer_command(request)
                elif isinstance(request, _Event):
                    await self._record_event(request)
                else:
                    await self._process(request)
            except Exception as exc:  # e.g. the database is down: not acknowledged, not answered
                log.exception("request on thing %s not processed", request.name)
                if not request.ack.done():
                    request.ack.set_exception(exc)

    async def _process(self, request: _Request) -> None:
        thing = await self._things.by_name(request.tenant_id, request.name)
        if not _acts_as(request.acting, thing):
            _settle(request.ack, ReasonCode.NOT_AUTHORIZED)
            return
        document: Any = None
        if request.payload:
            try:
                document = orjson.loads(request.payload)
            except orjson.JSONDecodeError:
                document = _INVALID
        token = shadow.client_token(document)
        try:
            if thing is None:
                raise NotFound("Thing not found", resource="fleets")
            written = await self._answer(thing, request.operation, document, token)
        except DomainError as exc:
            if not isinstance(exc, InvalidInput | NotFound | Conflict):
                raise
            self._reject(request, exc, token)
        else:
            if written is not None:
                # An update: answered (accepted, documents, delta: _on_change) and acknowledged once its
                # batch is committed; this thing's next request need not wait for it (ShadowService).
                written.add_done_callback(lambda done: self._written(request, token, done))
                return
        _settle(request.ack, None)

    def _written(self, request: _Request, token: str | None, done: asyncio.Future[Any]) -> None:
        exc = None if done.cancelled() else done.exception()
        if exc is None and not done.cancelled():
            _settle(request.ack, None)
        elif isinstance(exc, InvalidInput | NotFound | Conflict):
            self._reject(request, exc, token)
            _settle(request.ack, None)
        else:  # e.g. the database is down: not acknowledged, not answered
            log.error("update of thing %s not stored: %s", request.name, exc)
            if not request.ack.done():
                request.ack.set_exception(exc or asyncio.CancelledError())

    def _reject(self, request: _Request, exc: DomainError, token: str | None) -> None:
        answer = shadow.error(CODES(exc), exc.message, now_s(), token)
        self._publish(request.tenant_id, shadow_topic(request.name, f"{request.operation}/rejected"), answer)

    async def _answer(
        self, thing: Thing, operation: ShadowAction, document: Any, token: str | None
    ) -> asyncio.Future[Any] | None:
        """The answer of a get or delete; an update is queued: its future."""
        if document is _INVALID:
            raise shadow.ShadowRejected("Invalid JSON", resource="fleets")
        if operation == "update":
            return await self._shadows.submit(thing, shadow.parse_update(document), "mqtt")
        body: Json = {} if document is None else document
        if not isinstance(body, dict):
            raise shadow.ShadowRejected("Invalid JSON", resource="fleets")
        token = shadow.parse_token(body)
        if operation == "get":
            answer = await self._shadows.get(thing, token)
            self._publish(thing.tenant_id, shadow_topic(thing.name, "get/accepted"), answer)
        else:
            version = shadow.parse_version(body)
            await self._shadows.delete(thing, version, token, "mqtt")
        return None

    async def _answer_command(self, answer: _Answer) -> None:
        try:
            try:
                document = orjson.loads(answer.payload)
            except orjson.JSONDecodeError:
                raise InvalidInput("Invalid JSON", resource="fleets") from None
            status, result = fleets_commands.parse_answer(document)
            thing = await self._things.by_name(answer.tenant_id, answer.name)
            if thing is None:
                raise NotFound("Thing not found", resource="fleets")
            if not _acts_as(answer.acting, thing):
                _settle(answer.ack, ReasonCode.NOT_AUTHORIZED)
                return
            command = await self._commands.answer(thing, answer.execution_id, status, result)
        except DomainError as exc:
            if not isinstance(exc, InvalidInput | NotFound | Conflict):
                raise
            log.info("answer of thing %s to command %s refused: %s", answer.name, answer.execution_id, exc)
            # MQTT 3.1.1 cannot refuse a message: an answer that can never be taken is acknowledged and
            # dropped (an error would close the connection and the device would send it again, forever).
            _settle(answer.ack, ANSWER_REASONS(exc) if answer.v5 else None)
            return
        self._forget_timer(answer.tenant_id, command.execution_id)
        _settle(answer.ack, None)

    async def _record_event(self, event: _Event) -> None:
        try:
            try:
                document = orjson.loads(event.payload)
            except orjson.JSONDecodeError:
                raise InvalidInput("Invalid JSON", resource="fleets") from None
            thing = await self._things.by_name(event.tenant_id, event.name)
            if thing is None:
                raise NotFound("Thing not found", resource="fleets")
            if not _acts_as(None if event.login.superuser else event.login.principal.username, thing):
                _settle(event.ack, ReasonCode.NOT_AUTHORIZED)
                return
            draft = fleets_events.draft(thing, event.type, document, now_ms())
            await self._device_events.create(event.login.principal, draft)
        except DomainError as exc:
            if not isinstance(exc, InvalidInput | BadRequest | NotFound):
                raise
            log.info("event %r of thing %s refused: %s", event.type, event.name, exc)
            _settle(event.ack, ANSWER_REASONS(exc) if event.v5 else None)
            return
        _settle(event.ack, None)

    # -- platform -> device ------------------------------------------------------------------------

    def _on_operation(self, event: DomainEvent) -> None:
        """EventBus handler (must not block): new operations, some of which are commands."""
        if event.action == "CREATE" and isinstance(event.payload, Operation):
            self._outbox.append(event.payload)
            self._kick("outbox", self._drain_outbox)

    async def _drain_outbox(self) -> None:
        while self._outbox:
            item = self._outbox.popleft()
            try:
                if isinstance(item, _Expire):
                    self._timers.pop((item.tenant_id, item.execution_id), None)
                    await self._commands.expire(item.tenant_id, item.execution_id)
                    continue
                command = fleets_commands.command_of(item) or await self._commands.adopt(item)
                if command is not None:
                    self._send(command)
            except Exception:
                log.exception("Fleets command not delivered or expired")

    def _send(self, command: Command) -> None:
        properties = Properties(
            payload_format_indicator=1,
            content_type="application/json",
            message_expiry_interval=command.ttl,
            response_topic=execution_topic(command.thing_name, command.execution_id, "response"),
        )
        self._broker.publish(
            execution_topic(command.thing_name, command.execution_id, "request"),
            orjson.dumps(fleets_commands.request_document(command)),
            qos=1,
            mountpoint=tenant_mountpoint(command.tenant_id),
            properties=properties,
        )
        key = (command.tenant_id, command.execution_id)
        self._timers[key] = self._loop.call_later(command.ttl, self._expire, key)

    def _expire(self, key: tuple[str, str]) -> None:
        self._outbox.append(_Expire(*key))
        self._kick("outbox", self._drain_outbox)

    def _forget_timer(self, tenant_id: str, execution_id: str) -> None:
        timer = self._timers.pop((tenant_id, execution_id), None)
        if timer is not None:
            timer.cancel()

    def _on_change(self, change: ShadowChange) -> None:
        """ShadowService watcher: publish what AWS publishes for a committed change."""
        thing = change.thing
        tenant_id, name = thing.tenant_id, thing.name
        if change.updated is None:
            if change.deleted is not None:
                self._publish(tenant_id, shadow_topic(name, "delete/accepted"), change.deleted)
            return
        updated = change.updated
        if change.origin == "http" and change.request is not None:
            # The cloud's change, as a device subscribed to .../shadow/update sees it (Fleets).
            cloud: Json = {"state": change.request.state, "version": updated.current.version}
            cloud["timestamp"] = updated.current.timestamp
            if change.request.client_token is not None:
                cloud["clientToken"] = change.request.client_token
            self._publish(tenant_id, shadow_topic(name, "update"), cloud)
        self._publish(tenant_id, shadow_topic(name, "update/accepted"), updated.accepted)
        self._publish(tenant_id, shadow_topic(name, "update/documents"), updated.documents)
        if updated.delta is not None:
            self._publish(tenant_id, shadow_topic(name, "update/delta"), updated.delta)

    def _publish(self, tenant_id: str, topic: str, document: Json) -> None:
        self._broker.publish(
            topic,
            orjson.dumps(document),
            qos=1,
            mountpoint=tenant_mountpoint(tenant_id),
            properties=_JSON,
        )

    # -- rights that changed ------------------------------------------------------------------------

    def _on_thing_changed(self, event: DomainEvent) -> None:
        """EventBus handler: a thing deleted or renamed takes its namespaces from the connections that had
        them at CONNECT (their login records): they are closed (MQTT 5: DISCONNECT 0x98 Administrative
        action; their sessions end) and get the thing's current namespaces when they connect again."""
        mo = event.payload
        if not isinstance(mo, ManagedObject) or event.action == "CREATE":
            return
        thing = thing_of(mo)
        if thing is None:
            return
        tenant_id, name = event.tenant_id, thing.name

        def stale(client: ClientInfo) -> bool:
            login = login_of(client)
            if login is None or not login.things or login.principal.tenant_id != tenant_id:
                return False
            if event.action == "DELETE":
                return name in login.things
            return login.principal.username == mo.owner and name not in login.things

        closed = self._broker.disconnect_clients(stale, ReasonCode.ADMINISTRATIVE_ACTION)
        if closed:
            log.info("thing %s/%s changed: %d MQTT connection(s) closed", tenant_id, name, closed)


_INVALID = object()


def install(broker: Broker, services: Services, timers: bool = True) -> FleetsAdapter:
    """Attach the Fleets adapter to a running broker (on its event loop). Call its close() before the broker
    stops. `timers`: start the jobs' timeout tick and restore the command timers now (in a cluster the
    leader does, bootstrap.fleets_duty)."""
    jobs = FleetsJobsAdapter(broker, services.things, services.jobs)
    adapter = FleetsAdapter(
        broker,
        services.things,
        services.shadows,
        services.commands,
        services.device_events,
        services.events,
        jobs,
    )
    broker.add_handler(ROOT, adapter.handle)
    if timers:
        adapter.start_timers(services.tenants.tenant_ids)
    return adapter
