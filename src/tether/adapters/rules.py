"""The rule engine: runs each tenant's rules (rules/service.py, compiled by tether.rules) on its messages and
events, after they are accepted, never in the publisher's acknowledgement path.

Sources, all per tenant:
* messages: while a tenant has a rule on topics, the broker shows every routed message to a tap
  (`Broker.add_tap`), which only puts it in a bounded queue when its tenant has one; the worker (`_drain`)
  matches the topic as the tenant's clients see it (mountpoint and private prefix removed) against each
  rule's FROM (spec 4.7 topic matching) and runs the rules that take it through one function generated for
  them (adapters/rule_fused.py);
* platform events `$events/tether/...`: the domain's EventBus (measurements, events, alarms, operations,
  devices), so a measurement from SmartREST, Xyte or REST is the same event; the bus is told which tenants
  want them, so writers build no events nobody reads;
* client events: `$events/client_connected` and `client_disconnected` from the presence service's connection
  facts on the EventBus (the one source of them, tether.presence); the others (`client_connack`,
  `session_subscribed`, `message_delivered`, ...) from the broker's hooks and delivery listeners
  (adapters/rule_sources.py), through :meth:`RuleEngine.emit` (tenant, event topic, EMQX's columns), and
  `$events/tether/shadow_updated` from the Fleets shadow service's changes on the EventBus.

When the queue is full new inputs are dropped and counted (`dropped`, logged), never waited for: a slow rule
must not slow the broker. Actions: `republish` (into the rule's tenant), `console` (the log) and the sinks
(`"http:name"`, ...), handed to their buffers in tether.connectors, which never wait on a server here.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from tether.adapters.namespaces import tenant_mountpoint
from tether.adapters.rule_columns import MessageColumns, Need, need_of
from tether.adapters.rule_fused import Fusion, Runner, Steps
from tether.adapters.rule_republish import ActionFailed, RepublishPlan
from tether.adapters.rule_sources import ClientEvents, shadow_columns
from tether.broker import Broker
from tether.broker.message import Message
from tether.broker.mountpoints import PRIVATE_LEVEL
from tether.c8y import render
from tether.connectors.manager import SinkManager
from tether.core.clock import now_ms
from tether.core.events import DomainEvent, EventBus
from tether.fleets.shadows import RESOURCE as SHADOWS
from tether.mqtt.topics import matches
from tether.presence.models import ConnectionRecord
from tether.presence.service import RESOURCE as PRESENCE_RESOURCE
from tether.rules.events import event_name
from tether.rules.models import Action, Console, Republish, Sink
from tether.rules.service import LoadedRule, RuleService
from tether.rules.values import to_json
from tether.telemetry.models import AlarmStatus

if TYPE_CHECKING:
    from tether.adapters.access import PlatformHooks

__all__ = ["RuleEngine"]

log = logging.getLogger(__name__)

_time_ns = time.time_ns
#: `_republishing` while the copy being routed is for no rule (the tap returns at once).
_NOBODY = "\x00nobody"
_TENANT = "$tenant/"
_EVENTS = "$events/"
_PRIVATE = PRIVATE_LEVEL + "/"
#: The longest the worker runs before it lets the broker run (seconds). Under a flood of messages one turn of
#: the event loop reads and routes a great many of them (libuv reads up to 32 x 64 kB per connection and
#: turn), so the worker takes everything that arrived since its last turn, up to this; longer turns keep up
#: better with a flood but starve the HTTP API (bench/README.md, rules.py).
_TURN = 0.1
_PLATFORM_RESOURCES = frozenset(
    {"measurements", "events", "alarms", "operations", "managedobjects", PRESENCE_RESOURCE, SHADOWS}
)

#: By the broker's topic: the topic as the clients see it, the rules, the columns they read, the rules with
#: their steps, and what runs them on a message (adapters/rule_fused.py).
_ForTopic = tuple[str, list[LoadedRule], Need | None, list[tuple[LoadedRule, Steps]], Runner]

# Queue items: (kind, tenant, data, origin rule id, received at: in ms, and for a message in ns).
_MESSAGE = 0
_EVENT = 1
_DOMAIN = 2


class RuleEngine:
    def __init__(self, rules: RuleService, events: EventBus, *, node: str, base_url: str = "",
                 max_queue: int = 100_000, sinks: SinkManager | None = None) -> None:  # fmt: skip
        self.rules = rules
        self.sinks = sinks
        self.events = events
        self.node = node
        self.base_url = base_url
        self.max_queue = max_queue
        self.dropped = 0
        self.broker: Broker | None = None
        self._queue: deque[tuple[int, str, Any, str | None, int]] = deque()
        #: The worker (`_drain`) is idle: the next input schedules it (a test less per input than asking
        #: whether it is scheduled). False until installed and once closed.
        self._idle = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._scheduled: asyncio.Handle | None = None
        #: Tenants with an enabled rule on topics / on $events, and the rules that match (tenant, topic).
        self._message_tenants: set[str] = set()
        self._event_tenants: set[str] = set()
        self._matching: dict[tuple[str, str], list[LoadedRule]] = {}
        #: By the broker's topic: its tenant if that has rules on topics, else "" (the tap's lookup).
        self._tap_tenants: dict[str, str] = {}
        #: By the broker's topic: the topic as the tenant's clients see it, its rules, the columns they read.
        self._by_broker_topic: dict[str, _ForTopic] = {}
        self._columns = MessageColumns(node, self._connection)
        #: The rule whose republish is being routed now (a rule never sees its own republished message).
        self._republishing: str | None = None
        self._closers: list[Callable[[], None]] = []
        #: Removes the broker tap; None while no tenant has a rule on topics (no tap: nothing per message).
        self._tap_remover: Callable[[], None] | None = None
        #: By id() of a loaded rule: it, and its actions each with its republish plan (or None).
        self._steps: dict[int, tuple[LoadedRule, Steps]] = {}
        #: By the ids of a set of loaded rules (kept alive by `_by_broker_topic`'s runs): its fused code.
        self._fusions: dict[tuple[int, ...], Fusion] = {}
        self._client_events = ClientEvents(self)

    # ------------------------------------------------------------------------------------------ life

    def install(
        self, broker: Broker, hooks: PlatformHooks | None = None
    ) -> Callable[[], Awaitable[None] | None]:
        """Follow the broker, its hooks and the event bus (and start the sinks); returns what stops them."""
        self.broker = broker
        self._client_events.install(broker, hooks)
        if self.sinks is not None:
            self.sinks.start()
        self._closers.append(self._untap)
        self._closers.append(
            self.events.subscribe(
                self._on_domain_event, resources=_PLATFORM_RESOURCES, wants=self._wants_events
            )
        )
        self.rules.listeners.append(self._rules_changed)
        self._closers.append(lambda: self.rules.listeners.remove(self._rules_changed))
        for tenant_id in self.rules.tenants():
            self._rules_changed(tenant_id)
        self._loop = asyncio.get_running_loop()
        if self._queue:
            self._wake_worker()
        else:
            self._idle = True
        return self.close

    def close(self) -> Awaitable[None] | None:
        """Stop; what it returns (the sinks closing their clients) is awaited by the caller."""
        for closer in self._closers:
            closer()
        self._closers.clear()
        self._client_events.close()
        self._idle, self._loop = False, None
        if self._scheduled is not None:
            self._scheduled.cancel()
            self._scheduled = None
        self.broker = None
        return self.sinks.stop() if self.sinks is not None else None

    def _rules_changed(self, tenant_id: str) -> None:
        enabled = self.rules.enabled(tenant_id)
        on_topics = any(not s.startswith(_EVENTS) for r in enabled for s in r.compiled.sources)
        on_events = any(s.startswith(_EVENTS) for r in enabled for s in r.compiled.sources)
        (self._message_tenants.add if on_topics else self._message_tenants.discard)(tenant_id)
        (self._event_tenants.add if on_events else self._event_tenants.discard)(tenant_id)
        event_sources = [s for r in enabled for s in r.compiled.sources if s.startswith(_EVENTS)]
        self._client_events.wanted(
            lambda _, topic: any(matches(source, topic) for source in event_sources), {tenant_id}
        )
        self._matching = {key: rules for key, rules in self._matching.items() if key[0] != tenant_id}
        self._by_broker_topic.clear()
        self._steps.clear()
        self._fusions.clear()
        self._tap_tenants.clear()
        if self._message_tenants and self._tap_remover is None and self.broker is not None:
            self._tap_remover = self.broker.add_tap(self._tap)
        elif not self._message_tenants:
            self._untap()

    def _untap(self) -> None:
        if self._tap_remover is not None:
            self._tap_remover()
            self._tap_remover = None

    @property
    def queued(self) -> int:
        """Inputs waiting for the worker."""
        return len(self._queue)

    def _wants_events(self, tenant_id: str) -> bool:
        return tenant_id in self._event_tenants

    # ------------------------------------------------------------------------------------------ sources

    def _put(self, item: tuple[int, str, Any, str | None, int]) -> None:
        if len(self._queue) >= self.max_queue:
            self._drop(item)
            return
        self._queue.append(item)
        if self._idle:
            self._wake_worker()

    def _drop(self, item: tuple[int, str, Any, str | None, int]) -> None:
        """An input the full queue cannot take: counted in the engine's total and in the metrics of each rule
        that would have taken it (`matched` and `failed.dropped`), and logged at 1, 2, 4, 8, ... drops."""
        self.dropped += 1
        if self.dropped & (self.dropped - 1) == 0:
            log.warning("rule engine queue full (%d): %d inputs dropped so far", self.max_queue, self.dropped)
        kind, tenant_id, data, origin = item[0], item[1], item[2], item[3]
        if kind == _MESSAGE:
            rules = self._for_message(tenant_id, data.topic)[1]
        elif kind == _EVENT:
            rules = self._rules_for(tenant_id, data[0])
        else:
            name = _platform_name(data)
            rules = self._rules_for(tenant_id, _EVENTS + "tether/" + name) if name is not None else []
        for loaded in rules:
            if loaded.rule.id != origin:
                metrics = loaded.metrics
                metrics.matched += 1
                metrics.failed_dropped += 1

    def _tap(self, message: Message) -> None:
        """Every routed message (on the broker's path: what `_put` does, inline). The item holds the time
        in ns (the runner makes it ms when a column needs it)."""
        origin = self._republishing
        if origin is _NOBODY:
            return  # a rule's republish that no rule takes
        topic = message.topic
        tenant_id = self._tap_tenants.get(topic)
        if tenant_id is None:
            tenant_id = self._tap_tenant(topic)
        if tenant_id:
            item = (_MESSAGE, tenant_id, message, origin, _time_ns())
            queue = self._queue
            if len(queue) >= self.max_queue:
                self._drop(item)
                return
            queue.append(item)
            if self._idle:
                self._wake_worker()

    def _tap_tenant(self, topic: str) -> str:
        """The tenant of a broker's topic when it has rules on topics, else "" (kept by topic)."""
        tenant_id = topic[8 : topic.find("/", 8)] if topic.startswith(_TENANT) else ""
        if tenant_id not in self._message_tenants:
            tenant_id = ""
        if len(self._tap_tenants) >= 10_000:
            self._tap_tenants.clear()
        self._tap_tenants[topic] = tenant_id
        return tenant_id

    def emit(
        self, tenant_id: str, event_topic: str, columns: dict[str, Any] | Callable[[], dict[str, Any]]
    ) -> None:
        """An event of a tenant's clients (`$events/client_connected`, ...) with EMQX's columns (or what
        builds them, called on the worker); `event`, `timestamp` and `node` are added when missing. Returns
        at once: rules run on the worker."""
        if tenant_id in self._event_tenants:
            self._put((_EVENT, tenant_id, (event_topic, columns), None, now_ms()))

    def _on_domain_event(self, event: DomainEvent) -> None:
        tenant_id = event.tenant_id
        if tenant_id not in self._event_tenants:
            return
        if event.resource == PRESENCE_RESOURCE:
            record = event.payload
            if isinstance(record, ConnectionRecord):
                self._put((_EVENT, tenant_id, _connection_event(event.action, record), None, now_ms()))
            return
        self._put((_DOMAIN, tenant_id, event, None, now_ms()))

    # ------------------------------------------------------------------------------------------ worker

    def _drain(self) -> None:
        """One turn of the worker, a callback of the event loop: handles what arrived since the last turn (so
        the engine keeps pace with the broker, which reads many messages per turn), for at most `_TURN`
        seconds (so the loop stays responsive), then comes again after what is ready to run, or goes idle
        (the next input schedules it: a callback costs much less than waking a task, which at a moderate
        rate the worker would do every few messages)."""
        self._scheduled = None
        queue = self._queue
        clock = time.perf_counter
        handle = self._handle
        by_topic = self._by_broker_topic  # (cleared, never replaced)
        for_message = self._for_message
        deadline = clock() + _TURN
        try:
            for i in range(len(queue)):
                item = queue.popleft()
                try:
                    if item[0] == _MESSAGE:  # what `_handle` does, inline (a call less a message)
                        message = item[2]
                        found = by_topic.get(message.topic) or for_message(item[1], message.topic)
                        found[4](message, item[4], item[3])
                    else:
                        handle(item)
                except Exception:  # one bad input must not stop the engine
                    log.exception("rule engine failed on an input of tenant %s", item[1])
                if i & 255 == 255 and clock() > deadline:
                    break
        finally:
            if not queue:
                self._idle = True
            elif self._loop is not None:
                self._scheduled = self._loop.call_soon(self._drain)

    def _wake_worker(self) -> None:
        """The first input since the worker went idle."""
        self._idle = False
        if self._loop is not None:
            self._scheduled = self._loop.call_soon(self._drain)

    def _handle(self, item: tuple[int, str, Any, str | None, int]) -> None:
        kind, tenant_id, data, origin, received_at = item
        if kind == _MESSAGE:
            message: Message = data
            found = self._by_broker_topic.get(message.topic) or self._for_message(tenant_id, message.topic)
            found[4](message, received_at, origin)
            return
        if kind == _EVENT:
            event_topic, given = data
            rules = self._rules_for(tenant_id, event_topic)
            if rules:
                if callable(given):
                    given = given()
                columns = {"event": event_name(event_topic), "timestamp": received_at, "node": self.node}
                columns.update({k: v for k, v in given.items() if v is not None})
                for loaded in rules:
                    self._apply(tenant_id, loaded, columns)
            return
        platform = self._platform_event(data, received_at)
        if platform is not None:
            event_topic, columns = platform
            for loaded in self._rules_for(tenant_id, event_topic):
                self._apply(tenant_id, loaded, columns)

    def _for_message(self, tenant_id: str, broker_topic: str) -> _ForTopic:
        """The topic as the tenant's clients see it, the rules that take it, the columns they read (None:
        all) and the rules with their actions made ready, by the broker's topic."""
        found = self._by_broker_topic.get(broker_topic)
        if found is None:
            topic = _client_topic(broker_topic, tenant_id)
            rules = self._rules_for(tenant_id, topic)
            runs = [(loaded, self._steps_of(tenant_id, loaded)) for loaded in rules]
            need = need_of(rules)
            runner: Runner = _no_rule
            if rules:
                key = tuple(id(loaded) for loaded in rules)
                fusion = self._fusions.get(key)
                if fusion is None:
                    if len(self._fusions) >= 1_000:
                        self._fusions.clear()
                    fusion = self._fusions[key] = Fusion(self, tenant_id, runs, need)
                runner = fusion.runner(topic)
            found = (topic, rules, need, runs, runner)
            if len(self._by_broker_topic) >= 10_000:
                self._by_broker_topic.clear()
            self._by_broker_topic[broker_topic] = found
        return found

    def _rules_for(self, tenant_id: str, topic: str) -> list[LoadedRule]:
        key = (tenant_id, topic)
        found = self._matching.get(key)
        if found is None:
            found = [
                loaded
                for loaded in self.rules.enabled(tenant_id)
                if any(matches(source, topic) for source in loaded.compiled.sources)
            ]
            if len(self._matching) >= 10_000:
                self._matching.clear()
            self._matching[key] = found
        return found

    # ------------------------------------------------------------------------------------------ columns

    def message_fields(self, tenant_id: str, message: Message) -> dict[str, Any]:
        """A message's columns for the message events (its publisher's clientid, username and peerhost)."""
        topic = _client_topic(message.topic, tenant_id)
        columns = self._columns.build(tenant_id, message, topic, now_ms())
        del columns["event"], columns["timestamp"]
        return columns

    def sender_columns(self, tenant_id: str, session_key: str) -> dict[str, Any]:
        """clientid, username and peerhost of the client of a session key."""
        return self._columns.sender(tenant_id, session_key)

    def _connection(self, sender: str) -> object:
        broker = self.broker
        return broker.connection_of(sender) if broker is not None else None

    def _platform_event(self, event: DomainEvent, received_at: int) -> tuple[str, dict[str, Any]] | None:
        """A domain change as `$events/tether/...` and its columns: the object as REST shows it (its fields
        as columns, the whole document as `payload`)."""
        name = _platform_name(event)
        if name is None:
            return None
        obj, base = event.payload, self.base_url
        if name == "shadow_updated":
            found = shadow_columns(obj)[1]
            found.update(
                event="tether." + name, timestamp=received_at, node=self.node, tenant=event.tenant_id
            )
            return _EVENTS + "tether/" + name, {k: v for k, v in found.items() if v is not None}
        document: dict[str, Any] = _RENDER[event.resource](base, obj)
        columns: dict[str, Any] = {k: v for k, v in document.items() if v is not None}
        columns.update(
            {
                "payload": document,
                "event": "tether." + name,
                "timestamp": received_at,
                "node": self.node,
                "tenant": event.tenant_id,
            }
        )
        return _EVENTS + "tether/" + name, columns

    # ------------------------------------------------------------------------------------------ rules

    def _apply(
        self, tenant_id: str, loaded: LoadedRule, columns: dict[str, Any], steps: Steps | None = None
    ) -> None:
        metrics = loaded.metrics
        metrics.matched += 1
        try:
            outputs = loaded.compiled.function(columns)
        except Exception as exc:  # RuleRuntimeError, or what a function raised (CompiledRule.run's cases)
            metrics.failed_exception += 1
            self._rule_failed(tenant_id, loaded, exc)
            return
        if not outputs:
            metrics.failed_no_result += 1
            return
        metrics.passed += 1
        if steps is None:
            steps = self._steps_of(tenant_id, loaded)
        act = self._act
        for output in outputs:
            for action, plan in steps:
                act(tenant_id, loaded, action, plan, output, columns)

    def _act(self, tenant_id: str, loaded: LoadedRule, action: Action, plan: RepublishPlan | None,
             output: dict[str, Any], columns: dict[str, Any]) -> None:  # fmt: skip
        """One action on one output of a rule, counted in its metrics."""
        metrics = loaded.metrics
        try:
            if plan is not None:
                self._republish(tenant_id, loaded.rule.id, plan, output)
            elif type(action) is Sink:
                sinks = self.sinks
                if sinks is None or not sinks.offer(tenant_id, action.id, output, columns.get("clientid")):
                    metrics.actions_failed_out_of_service += 1
                    raise ActionFailed("out of service (no such action, stopped, or its buffer full)")
            else:
                assert isinstance(action, Console)
                log.info("rule %s of tenant %s: %s", loaded.rule.id, tenant_id, to_json(output))
        except ActionFailed as exc:
            metrics.actions_failed += 1
            self._action_failed(tenant_id, loaded, action, exc)
        except Exception:
            metrics.actions_failed += 1
            self._action_failed(tenant_id, loaded, action, None)
        else:
            metrics.actions_success += 1

    @staticmethod
    def _rule_failed(tenant_id: str, loaded: LoadedRule, exc: Exception) -> None:
        log.debug("rule %s of tenant %s failed: %s", loaded.rule.id, tenant_id, exc)

    @staticmethod
    def _action_failed(tenant_id: str, loaded: LoadedRule, action: Action, exc: ActionFailed | None) -> None:
        """Logs an action's failure (`exc` None: an unexpected one, logged with its traceback; a sink's is
        counted and logged by the sink, once per change of its state)."""
        if exc is None:
            log.exception("rule %s of tenant %s: action %s failed", loaded.rule.id, tenant_id,
                          action.function)  # fmt: skip
        elif type(action) is not Sink:
            log.info("rule %s of tenant %s: action %s failed: %s", loaded.rule.id, tenant_id,
                     action.function, exc)  # fmt: skip

    def _steps_of(self, tenant_id: str, loaded: LoadedRule) -> Steps:
        """The rule's actions, each with its republish plan (or None), made once per loaded rule."""
        found = self._steps.get(id(loaded))
        if found is None or found[0] is not loaded:
            mountpoint = tenant_mountpoint(tenant_id)
            steps = [
                (action, RepublishPlan(action, mountpoint) if type(action) is Republish else None)
                for action in loaded.rule.actions
            ]
            found = self._steps[id(loaded)] = (loaded, steps)
        return found[1]

    def _republish(self, tenant_id: str, rule_id: str, plan: RepublishPlan, output: dict[str, Any]) -> None:
        """Route the output as a message of the rule's tenant (what `Broker.publish` does, with the tenant's
        mountpoint worked out once). The copy is shown to the other rules that take its topic."""
        broker = self.broker
        if broker is None:
            raise ActionFailed("the broker is not running")
        topic, payload, qos, retain, properties = plan(output)
        expiry = properties.message_expiry_interval
        expires_at = None if expiry is None else broker.loop.time() + expiry
        found = self._by_broker_topic.get(topic) or self._for_message(tenant_id, topic)
        self._republishing = rule_id if found[1] else _NOBODY
        try:
            broker.route(Message(topic, payload, qos, retain, properties, expires_at, None))
        finally:
            self._republishing = None

    def _route_of(
        self, tenant_id: str, plan: RepublishPlan, rule_id: str, output: dict[str, Any], value: object
    ) -> tuple[str, str]:
        """For the fused path: the broker's topic of a republish (a one-placeholder topic) and what
        `_republishing` is while it is routed (the rule, or nobody when no rule takes the topic), kept in
        the plan for the value of its key."""
        topic = plan._topic(output, value)
        found = self._by_broker_topic.get(topic) or self._for_message(tenant_id, topic)
        route = (topic, rule_id if found[1] else _NOBODY)
        if type(value) is str:
            if len(plan.routes) >= 10_000:
                plan.routes.clear()
            plan.routes[value] = route
        return route


def _no_rule(message: Message, received_ns: int, origin: str | None) -> None:
    """The runner of a topic no rule takes."""


def _connection_event(action: str, record: ConnectionRecord) -> tuple[str, dict[str, Any]]:
    """A connection fact of the presence service (the one source of them) as EMQX's client_connected or
    client_disconnected columns."""
    columns: dict[str, Any] = {
        "clientid": record.client_id,
        "username": record.username,
        "peername": record.ip_address,
        "peerhost": record.ip_address,
        "proto_name": "MQTT",
        "proto_ver": record.proto_ver,
        "keepalive": record.keepalive,
        "clean_start": record.clean_start,
        "connected_at": record.connected_at,
        "timestamp": record.connected_at,
    }
    if action == "CREATE":
        return "$events/client_connected", columns
    columns["reason"] = record.reason
    columns["disconnected_at"] = record.disconnected_at
    columns["timestamp"] = record.disconnected_at or record.connected_at
    return "$events/client_disconnected", columns


_RENDER: dict[str, Callable[[str, Any], dict[str, Any]]] = {
    "measurements": render.measurement,
    "events": render.event,
    "alarms": render.alarm,
    "operations": render.operation,
    "managedobjects": render.managed_object,
}


def _platform_name(event: DomainEvent) -> str | None:
    """The `$events/tether/<name>` a domain change is, or None when it is none."""
    resource, action, obj = event.resource, event.action, event.payload
    if resource == SHADOWS:
        return "shadow_updated"
    if resource == "measurements" and action == "CREATE":
        return "measurement_created"
    if resource == "events" and action == "CREATE":
        return "event_created"
    if resource == "alarms" and action in ("CREATE", "UPDATE"):
        if getattr(obj, "status", None) is AlarmStatus.CLEARED:
            return "alarm_cleared"
        if action == "CREATE" or getattr(obj, "count", 1) > 1:
            return "alarm_raised"
        return None
    if resource == "operations" and action in ("CREATE", "UPDATE"):
        return "operation_changed"
    if resource == "managedobjects" and action in ("CREATE", "DELETE") and getattr(obj, "is_device", False):
        return "device_created" if action == "CREATE" else "device_deleted"
    return None


def _client_topic(topic: str, tenant_id: str) -> str:
    """The broker's topic -> as the tenant's clients see it (a private `s/us` as its client sends it)."""
    rest = topic[len(_TENANT) + len(tenant_id) + 1 :]
    if rest.startswith(_PRIVATE):
        parts = rest.split("/", 2)
        return parts[2] if len(parts) == 3 else ""
    return rest


def _event_name(topic: str) -> str:
    name = topic.removeprefix(_EVENTS)
    return (
        "tether." + name.removeprefix("tether/") if name.startswith("tether/") else name.replace("_", ".", 1)
    )
