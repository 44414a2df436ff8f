"""The rule engine's fused path (adapters/rule_fused.py) does what its separate steps do: on random rules,
actions and messages, the copies it republishes and the rules' metrics are those of the step-by-step path
(every column built, the compiled rule's list of outputs, `_apply` with its actions, each republish through
its plan)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.fakes.rules import FakeRuleStore

from tether.adapters.rules import RuleEngine, _client_topic
from tether.broker import Broker
from tether.broker.message import Message
from tether.core.events import EventBus
from tether.mqtt.properties import EMPTY_PROPERTIES, Properties
from tether.rules.models import RuleDraft, parse_actions
from tether.rules.service import RuleService
from tether.tenants.models import Principal, Role

ADMIN = Principal("t1", "admin", frozenset({Role.ADMIN}))

SQL = [
    'SELECT * FROM "t/#" WHERE payload.temp > 30',
    'SELECT * FROM "t/#"',
    'SELECT * FROM "t/a", "t/b/+" WHERE payload.temp <= 30 or qos = 1',
    'SELECT payload.temp AS temp, clientid FROM "t/#" WHERE temp >= 10',
    'SELECT *, payload.temp * 2 AS double FROM "t/#" WHERE payload.temp != 3',
    'SELECT payload.user AS user_properties, payload FROM "t/#"',
    'SELECT qos, topic, flags, timestamp, id, publish_received_at FROM "t/#"',
    "SELECT * FROM \"t/#\" WHERE username = 'u' or clientid = 'dev'",
    'SELECT payload, pub_props FROM "t/+"',
    'SELECT payload.temp / payload.div AS q FROM "t/#"',
    'FOREACH payload.xs AS x DO x.v AS v FROM "t/#"',
    'FOREACH payload.xs AS x FROM "t/#" WHERE qos > 0',
]


def republish(topic: str, payload: str = "${payload}", **more: Any) -> dict[str, Any]:
    return {"function": "republish", "args": {"topic": topic, "payload": payload, **more}}


ACTIONS: list[Any] = [
    republish("alerts/${clientid}"),  # the common shape, inline
    republish("alerts/${temp}", "${temp}"),
    republish("out/fixed"),
    republish("out/whole/${clientid}", ""),  # the whole output as JSON
    republish("out/${clientid}", "${payload}", qos="${qos}", retain=True),
    republish("out/u/${clientid}", user_properties="${pub_props.User-Property}"),
    republish("out/e/${clientid}", mqtt_properties={"Message-Expiry-Interval": "60"}),
    republish("bad/+/${clientid}"),  # an invalid topic: the action fails
    republish("out/q/${clientid}", qos="${payload.temp}"),  # fails unless 0, 1 or 2
    "console",
    "http:missing",  # no sinks: out of service
]

JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-50, 50) | st.floats(allow_nan=False) | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner, max_size=3),
    max_leaves=8,
)
DOCUMENT = st.fixed_dictionaries(
    {},
    optional={
        "temp": JSON,
        "div": st.integers(-2, 2),
        "xs": st.lists(st.fixed_dictionaries({}, optional={"v": JSON}), max_size=3) | JSON,
        "user": st.dictionaries(st.sampled_from(["a", "b"]), JSON, max_size=2) | JSON,
    },
)
PAYLOADS = st.one_of(
    DOCUMENT.map(orjson.dumps),
    st.binary(max_size=8),  # often not UTF-8, seldom JSON
    st.sampled_from([b"", b"30", b"not json", b'{"temp": 31']),
)
PROPERTIES = st.sampled_from(
    [
        EMPTY_PROPERTIES,
        Properties(user_properties=(("a", "1"), ("b", "2"))),
        Properties(content_type="text/plain", message_expiry_interval=30),
    ]
)
MESSAGES = st.lists(
    st.tuples(
        st.sampled_from(["t/a", "t/b/c", "t/a/b/c", "other"]),
        PAYLOADS,
        st.integers(0, 2),
        st.booleans(),
        PROPERTIES,
        st.sampled_from([None, "dev", "d+v", "other"]),
        st.sampled_from([None, None, "r0"]),  # the copy of rule r0
    ),
    min_size=1,
    max_size=6,
)
RULES = st.lists(
    st.tuples(st.sampled_from(SQL), st.lists(st.sampled_from(ACTIONS), min_size=1, max_size=3)),
    min_size=1,
    max_size=3,
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rules=RULES, messages=MESSAGES)
def test_the_fused_path_does_what_the_steps_do(
    rules: list[tuple[str, list[Any]]], messages: list[tuple[Any, ...]]
) -> None:
    fused, stepwise = asyncio.run(run(rules, messages))
    assert fused == stepwise


async def run(rules: list[tuple[str, list[Any]]], messages: list[tuple[Any, ...]]) -> list[Any]:
    results = []
    received = time.time_ns()
    for fused in (True, False):
        service = RuleService(FakeRuleStore())
        engine = RuleEngine(service, EventBus(), node="n1")
        broker = Broker()
        stop = engine.install(broker)
        copies: list[Any] = []
        broker.add_tap(_recorder(copies))
        for i, (sql, actions) in enumerate(rules):
            draft = RuleDraft(id=f"r{i}", name="", sql=sql, actions=parse_actions(actions), enable=True,
                              description="", metadata={})  # fmt: skip
            await service.create(ADMIN, draft)
        for topic, payload, qos, retain, properties, sender, origin in messages:
            message = Message(f"$tenant/t1/{topic}", payload, qos, retain, properties,
                              sender=None if sender is None else f"$tenant/t1/{sender}")  # fmt: skip
            if fused:
                engine._handle((0, "t1", message, origin, received))
            else:
                steps(engine, message, origin, received // 1_000_000)
        metrics = [loaded.metrics.render() for loaded in service.enabled("t1")]
        result = stop()
        if result is not None:
            await result
        results.append((copies, metrics))
    return results


def steps(engine: RuleEngine, message: Message, origin: str | None, received_at: int) -> None:
    """The step-by-step path: every column, then each rule through `_apply`."""
    topic = _client_topic(message.topic, "t1")
    columns = engine._columns.build("t1", message, topic, received_at)
    for loaded in engine._rules_for("t1", topic):
        if loaded.rule.id != origin:
            engine._apply("t1", loaded, columns)


def _recorder(copies: list[Any]) -> Callable[[Message], None]:
    """A tap that keeps what the rules republish."""

    def record(message: Message) -> None:
        if "/t/" not in message.topic:
            copies.append(_copy(message))

    return record


def _copy(message: Message) -> tuple[Any, ...]:
    payload: Any = bytes(message.payload)
    if message.topic.startswith("$tenant/t1/out/whole/"):
        payload = orjson.loads(payload)
        payload.pop("id", None)  # a sequence number: the step-by-step path builds one for every message
    return (
        message.topic,
        payload,
        message.qos,
        message.retain,
        message.properties,
        message.expires_at is None,
    )
