"""The rule engine: runs each tenant's rules (rules/service.py, compiled by tether.rules) on its messages and
events, after they are accepted, never in the publisher's acknowledgement path.

Sources, all per tenant:
* messages: the broker shows every routed message to a tap (`Broker.add_tap`), which only puts it in a
  bounded queue when its tenant has a rule on topics; the worker task matches the topic as the tenant's
  clients see it (mountpoint and private prefix removed) against each rule's FROM (spec 4.7 topic matching);
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
from tether.adapters.rule_sources import ClientEvents, shadow_columns
from tether.broker import Broker
from tether.broker.message import Message
from tether.broker.mountpoints import PRIVATE_LEVEL
from tether.c8y import render
from tether.connectors.manager import SinkManager
from tether.core.clock import now_ms
from tether.core.events import DomainEvent, EventBus
from tether.fleets.shadows import RESOURCE as SHADOWS
from tether.mqtt.properties import EMPTY_PROPERTIES, Properties
from tether.mqtt.topics import matches, topic_name_problem
from tether.presence.models import ConnectionRecord
from tether.presence.service import RESOURCE as PRESENCE_RESOURCE
from tether.rules.events import event_name
from tether.rules.models import MQTT_PROPERTIES, Console, Republish, Sink
from tether.rules.service import LoadedRule, RuleService
from tether.rules.values import to_json, to_str
from tether.telemetry.models import AlarmStatus

if TYPE_CHECKING:
    from tether.adapters.access import PlatformHooks

__all__ = ["RuleEngine"]

log = logging.getLogger(__name__)

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

_RETAINED = {"retain": True, "dup": False}
_NOT_RETAINED = {"retain": False, "dup": False}

# Queue items: (kind, tenant, data, origin rule id, received at ms).
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
        self._wake: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None
        #: Tenants with an enabled rule on topics / on $events, and the rules that match (tenant, topic).
        self._message_tenants: set[str] = set()
        self._event_tenants: set[str] = set()
        self._matching: dict[tuple[str, str], list[LoadedRule]] = {}
        self._by_broker_topic: dict[str, tuple[str, list[LoadedRule]]] = {}
        #: Per publisher (its session key): its connection and the columns read from it.
        self._senders: dict[str, tuple[object, dict[str, Any]]] = {}
        #: The columns a message shares with the others of its publisher and topic (copied per message).
        self._bases: dict[tuple[str | None, str], dict[str, Any]] = {}
        #: The rule whose republish is being routed now (a rule never sees its own republished message).
        self._republishing: str | None = None
        self._seq = 0
        self._id_ms, self._id_prefix = -1, ""
        self._closers: list[Callable[[], None]] = []
        self._plans: dict[int, _RepublishPlan] = {}
        self._mountpoints: dict[str, str] = {}  # by id() of the action (the plan holds the action)
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
        self._wake = asyncio.Event()
        self._closers.append(broker.add_tap(self._tap))
        self._closers.append(
            self.events.subscribe(
                self._on_domain_event, resources=_PLATFORM_RESOURCES, wants=self._wants_events
            )
        )
        self.rules.listeners.append(self._rules_changed)
        self._closers.append(lambda: self.rules.listeners.remove(self._rules_changed))
        for tenant_id in self.rules.tenants():
            self._rules_changed(tenant_id)
        self._task = asyncio.get_running_loop().create_task(self._run(), name="rule-engine")
        return self.close

    def close(self) -> Awaitable[None] | None:
        """Stop; what it returns (the sinks closing their clients) is awaited by the caller."""
        for closer in self._closers:
            closer()
        self._closers.clear()
        self._client_events.close()
        if self._task is not None:
            self._task.cancel()
            self._task = None
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
        wake = self._wake
        if wake is not None and not wake.is_set():
            wake.set()

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
        topic = message.topic
        if not topic.startswith(_TENANT):
            return
        end = topic.find("/", 8)
        tenant_id = topic[8:end]
        if tenant_id in self._message_tenants:
            origin = self._republishing
            if origin is not None and not self._for_message(tenant_id, topic)[1]:
                return  # a rule's republish that no rule takes (checked here: it costs a cache lookup)
            self._put((_MESSAGE, tenant_id, message, origin, now_ms()))

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

    async def _run(self) -> None:
        """Each turn handles what arrived since the last one (so the engine keeps pace with the broker, which
        reads many messages per turn), for at most `_TURN` seconds (so the loop stays responsive)."""
        wake = self._wake
        assert wake is not None
        queue = self._queue
        clock = time.perf_counter
        while True:
            await wake.wait()
            wake.clear()
            while queue:
                deadline = clock() + _TURN
                for i in range(len(queue)):
                    item = queue.popleft()
                    try:
                        self._handle(item)
                    except Exception:  # one bad input must not stop the engine
                        log.exception("rule engine failed on an input of tenant %s", item[1])
                    if i & 255 == 255 and clock() > deadline:
                        break
                if queue:
                    await asyncio.sleep(0)

    def _handle(self, item: tuple[int, str, Any, str | None, int]) -> None:
        kind, tenant_id, data, origin, received_at = item
        if kind == _MESSAGE:
            message: Message = data
            topic, rules = self._for_message(tenant_id, message.topic)
            if rules:
                columns = self._message_columns(tenant_id, message, topic, received_at)
                for loaded in rules:
                    if loaded.rule.id != origin:
                        self._apply(tenant_id, loaded, columns)
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

    def _for_message(self, tenant_id: str, broker_topic: str) -> tuple[str, list[LoadedRule]]:
        """The topic as the tenant's clients see it and the rules that take it, by the broker's topic."""
        found = self._by_broker_topic.get(broker_topic)
        if found is None:
            topic = _client_topic(broker_topic, tenant_id)
            found = (topic, self._rules_for(tenant_id, topic))
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

    def _message_columns(
        self, tenant_id: str, message: Message, topic: str, received_at: int
    ) -> dict[str, Any]:
        """The columns of a message (EMQX's `message.publish` fields; absent ones left out)."""
        raw = bytes(message.payload)
        try:
            payload: str | bytes = raw.decode()
        except UnicodeDecodeError:
            payload = raw
        sender = message.sender
        key = (sender, topic)
        base = self._bases.get(key)
        if base is None:
            base = {"topic": topic, "node": self.node, "event": "message.publish"}
            if sender is not None:
                base.update(self._sender_columns(tenant_id, sender))
            if len(self._bases) >= 10_000:
                self._bases.clear()
            self._bases[key] = base
        elif sender is not None:
            cached = self._senders.get(sender)
            if cached is None or cached[0] is not self._connection(sender):
                self._bases.pop(key)  # the publisher reconnected: read its connection again
                return self._message_columns(tenant_id, message, topic, received_at)
        self._seq = seq = self._seq + 1
        columns = base.copy()
        if received_at != self._id_ms:  # the id's first half changes once a millisecond
            self._id_ms, self._id_prefix = received_at, f"{received_at:016X}"
        columns["id"] = self._id_prefix + f"{seq:016X}"
        columns["payload"] = payload
        columns["qos"] = message.qos
        columns["flags"] = _RETAINED if message.retain else _NOT_RETAINED  # shared: rules never change them
        columns["timestamp"] = columns["publish_received_at"] = received_at
        properties = message.properties
        if properties is not EMPTY_PROPERTIES:
            props = _pub_props(properties)
            if props:
                columns["pub_props"] = props
        return columns

    def message_fields(self, tenant_id: str, message: Message) -> dict[str, Any]:
        """A message's columns for the message events (its publisher's clientid, username and peerhost)."""
        columns = self._message_columns(tenant_id, message, _client_topic(message.topic, tenant_id), now_ms())
        del columns["event"], columns["timestamp"]
        return columns

    def sender_columns(self, tenant_id: str, session_key: str) -> dict[str, Any]:
        """clientid, username and peerhost of the client of a session key."""
        return self._sender_columns(tenant_id, session_key)

    def _connection(self, sender: str) -> object:
        broker = self.broker
        return broker.connection_of(sender) if broker is not None else None

    def _sender_columns(self, tenant_id: str, sender: str) -> dict[str, Any]:
        """clientid, username and peerhost of a publisher (its connection read once while it lasts)."""
        connection = self.broker.connection_of(sender) if self.broker is not None else None
        cached = self._senders.get(sender)
        if cached is not None and cached[0] is connection:
            return cached[1]
        found: dict[str, Any] = {"clientid": sender.removeprefix(tenant_mountpoint(tenant_id))}
        client = connection.client if connection is not None else None
        if client is not None:
            if client.username is not None:
                found["username"] = client.username
            if client.peer is not None:
                found["peerhost"] = client.peer.rpartition(":")[0] or client.peer
        if len(self._senders) >= 100_000:
            self._senders.clear()
        self._senders[sender] = (connection, found)
        return found

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

    def _apply(self, tenant_id: str, loaded: LoadedRule, columns: dict[str, Any]) -> None:
        metrics = loaded.metrics
        metrics.matched += 1
        try:
            outputs = loaded.compiled.function(columns)
        except Exception as exc:  # RuleRuntimeError, or what a function raised (CompiledRule.run's cases)
            metrics.failed_exception += 1
            log.debug("rule %s of tenant %s failed: %s", loaded.rule.id, tenant_id, exc)
            return
        if not outputs:
            metrics.failed_no_result += 1
            return
        metrics.passed += 1
        actions = loaded.rule.actions
        for output in outputs:
            for action in actions:
                try:
                    if type(action) is Republish:
                        self._republish(tenant_id, loaded.rule.id, action, output)
                    elif type(action) is Sink:
                        sinks = self.sinks
                        if sinks is None or not sinks.offer(
                            tenant_id, action.id, output, columns.get("clientid")
                        ):
                            metrics.actions_failed_out_of_service += 1
                            raise ActionFailed("out of service (no such action, stopped, or its buffer full)")
                    else:
                        assert isinstance(action, Console)
                        log.info("rule %s of tenant %s: %s", loaded.rule.id, tenant_id, to_json(output))
                except ActionFailed as exc:
                    metrics.actions_failed += 1
                    if type(action) is Sink:  # counted and logged by the action (once per state change)
                        continue
                    log.info("rule %s of tenant %s: action %s failed: %s", loaded.rule.id, tenant_id,
                             action.function, exc)  # fmt: skip
                except Exception:
                    metrics.actions_failed += 1
                    log.exception("rule %s of tenant %s: action %s failed", loaded.rule.id, tenant_id,
                                  action.function)  # fmt: skip
                else:
                    metrics.actions_success += 1

    def _republish(self, tenant_id: str, rule_id: str, action: Republish, output: dict[str, Any]) -> None:
        """Route the output as a message of the rule's tenant (what `Broker.publish` does, with the tenant's
        mountpoint worked out once)."""
        broker = self.broker
        if broker is None:
            raise ActionFailed("the broker is not running")
        plan = self._plans.get(id(action))
        if plan is None or plan.action is not action:
            plan = self._plans[id(action)] = _RepublishPlan(action)
        topic, payload, qos, retain, properties = plan(output)
        mountpoint = self._mountpoints.get(tenant_id)
        if mountpoint is None:
            mountpoint = self._mountpoints[tenant_id] = tenant_mountpoint(tenant_id)
        expiry = properties.message_expiry_interval
        expires_at = None if expiry is None else broker.loop.time() + expiry
        self._republishing = rule_id
        try:
            broker.route(Message(mountpoint + topic, payload, qos, retain, properties, expires_at, None))
        finally:
            self._republishing = None


class _RepublishPlan:
    """One republish action made ready once: what is constant in its templates is worked out here, so an
    output costs only the parts that depend on it."""

    __slots__ = ("action", "payload_key", "qos", "retain", "topic", "topic_key", "topics", "user_key")

    def __init__(self, action: Republish) -> None:
        self.action = action
        self.topic = _check_topic(action.topic.render({})) if action.topic.is_constant else None
        # A topic of one placeholder `${key}` among text: rendered and checked once per value of the key.
        keys = [p[0] for p in action.topic.parts if isinstance(p, tuple)]
        single = len(keys) == 1 and all(isinstance(p, str) or len(p) == 1 for p in action.topic.parts)
        self.topic_key = keys[0] if single else None
        self.topics: dict[object, str] = {}
        self.qos = _qos(action.qos.render({})) if action.qos.is_constant else None
        self.retain = _flag(action.retain.render({})) if action.retain.is_constant else None
        # No MQTT properties and user properties of one key (`${user_properties}` by default): the output
        # without that key needs no properties (EMPTY_PROPERTIES), checked with one lookup.
        user = action.user_properties.parts
        one_key = len(user) == 1 and isinstance(user[0], tuple) and len(user[0]) == 1
        self.user_key = user[0][0] if one_key and not action.mqtt_properties else None
        parts = action.payload.parts
        self.payload_key = (
            parts[0][0] if len(parts) == 1 and isinstance(parts[0], tuple) and len(parts[0]) == 1 else None
        )

    def __call__(self, output: dict[str, Any]) -> tuple[str, bytes, int, bool, Properties]:
        action = self.action
        topic = self.topic
        if topic is None:
            key = self.topic_key
            if key is not None:
                value = output.get(key)
                topic = self.topics.get(value) if type(value) is str else None
                if topic is None:
                    topic = _check_topic(action.topic.render(output))
                    if type(value) is str:
                        if len(self.topics) >= 10_000:
                            self.topics.clear()
                        self.topics[value] = topic
            else:
                topic = _check_topic(action.topic.render(output))
        qos = self.qos if self.qos is not None else _qos(action.qos.value(output))
        retain = self.retain if self.retain is not None else _flag(action.retain.value(output))
        key = self.payload_key
        value = (
            output.get(key)
            if key is not None
            else action.payload.value(output)
            if action.payload.parts
            else None
        )
        if value is None and not action.payload.parts:
            payload = to_json(output).encode()
        elif type(value) is bytes:
            payload = value
        elif type(value) is str:
            payload = value.encode()
        else:
            payload = to_str(value).encode()
        user_key = self.user_key
        if user_key is not None and output.get(user_key) is None:
            properties = EMPTY_PROPERTIES
        else:
            properties = _properties(action, output)
        return topic, payload, qos, retain, properties


def _check_topic(topic: str) -> str:
    problem = topic_name_problem(topic)
    if problem is not None or topic.startswith("$"):
        raise ActionFailed(f"invalid topic {topic!r}: {problem or 'topics starting with $ are reserved'}")
    return topic


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


class ActionFailed(Exception):
    """An action could not be done with this output (e.g. its topic template gave an invalid topic)."""


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


def _pub_props(properties: Properties) -> dict[str, Any]:
    """A PUBLISH's properties under EMQX's names (`pub_props.'User-Property'.key`)."""
    props: dict[str, Any] = {}
    for name, attribute in MQTT_PROPERTIES.items():
        value = getattr(properties, attribute)
        if value is not None:
            props[name] = value.decode("utf-8", "replace") if isinstance(value, bytes) else value
    if properties.user_properties:
        props["User-Property"] = dict(properties.user_properties)
        props["User-Property-Pairs"] = [{"key": k, "value": v} for k, v in properties.user_properties]
    return props


def _qos(value: object) -> int:
    if isinstance(value, str) and value.strip() in ("0", "1", "2"):
        return int(value)
    if isinstance(value, int) and not isinstance(value, bool) and value in (0, 1, 2):
        return value
    raise ActionFailed(f"qos must be 0, 1 or 2, not {value!r}")


def _flag(value: object) -> bool:
    if value in (True, "true", 1, "1"):
        return True
    if value in (False, "false", 0, "0", None):
        return False
    raise ActionFailed(f"retain must be true or false, not {value!r}")


def _properties(action: Republish, output: dict[str, Any]) -> Properties:
    values: dict[str, Any] = {}
    user = action.user_properties.value(output)
    if user is None and not action.mqtt_properties:
        return EMPTY_PROPERTIES
    if isinstance(user, dict):
        values["user_properties"] = tuple((str(k), to_str(v)) for k, v in user.items())
    elif isinstance(user, list):
        pairs = []
        for item in user:
            if isinstance(item, dict) and "key" in item and "value" in item:
                pairs.append((to_str(item["key"]), to_str(item["value"])))
        values["user_properties"] = tuple(pairs)
    for name, template in action.mqtt_properties:
        value = template.value(output)
        if value is None or value == "":
            continue
        attribute = MQTT_PROPERTIES[name]
        if attribute in ("payload_format_indicator", "message_expiry_interval"):
            try:
                number = int(to_str(value))
            except ValueError:
                raise ActionFailed(f"{name} must be a number, not {value!r}") from None
            limit = 1 if attribute == "payload_format_indicator" else 0xFFFFFFFF
            if not 0 <= number <= limit:
                raise ActionFailed(f"{name} out of range: {number}")
            values[attribute] = number
        elif attribute == "correlation_data":
            values[attribute] = value if isinstance(value, bytes) else to_str(value).encode()
        else:
            values[attribute] = to_str(value)
    try:
        return Properties(**values)
    except (TypeError, ValueError) as exc:
        raise ActionFailed(f"invalid MQTT properties: {exc}") from exc
