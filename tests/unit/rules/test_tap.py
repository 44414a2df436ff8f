"""The rule engine taps the broker only while some tenant has an enabled rule on topics: without one, a
routed message costs the engine nothing; with one, every message of that tenant reaches the engine's queue."""

from __future__ import annotations

import asyncio

from tests.fakes.rules import FakeRuleStore

from tether.adapters.rules import RuleEngine
from tether.broker import Broker
from tether.broker.message import Message
from tether.core.events import EventBus
from tether.mqtt.properties import EMPTY_PROPERTIES
from tether.rules.models import RuleDraft, parse_actions
from tether.rules.service import RuleService
from tether.tenants.models import Principal, Role

ADMIN = Principal("t1", "admin", frozenset({Role.ADMIN}))
OTHER = Principal("t2", "admin", frozenset({Role.ADMIN}))


def draft(rule_id: str, sql: str) -> RuleDraft:
    return RuleDraft(id=rule_id, name="", sql=sql, actions=parse_actions([{"function": "console"}]),
                     enable=True, description="", metadata={})  # fmt: skip


def routed(broker: Broker, topic: str) -> None:
    broker.route(Message(topic, b"{}", 0, False, EMPTY_PROPERTIES))


def test_the_tap_is_there_while_a_rule_on_topics_is() -> None:
    async def run() -> None:
        service = RuleService(FakeRuleStore())
        engine = RuleEngine(service, EventBus(), node="n1")
        broker = Broker()
        stop = engine.install(broker)
        assert broker.taps == []
        await service.create(ADMIN, draft("events", 'SELECT * FROM "$events/client_connected"'))
        assert broker.taps == []  # a rule on events only: nothing per message
        await service.create(ADMIN, draft("a", 'SELECT * FROM "t/#"'))
        await service.create(OTHER, draft("b", 'SELECT * FROM "t/#"'))
        assert len(broker.taps) == 1
        engine._idle = False  # keep what the tap queues in the queue, for the test to see
        routed(broker, "$tenant/t1/t/1")
        assert engine.queued == 1
        await service.update(ADMIN, "a", enable=False)
        routed(broker, "$tenant/t1/t/1")
        assert engine.queued == 1 and len(broker.taps) == 1  # t2 still has one: t1's messages not queued
        routed(broker, "$tenant/t2/t/1")
        assert engine.queued == 2
        await service.delete(OTHER, "b")
        assert broker.taps == []
        await service.update(ADMIN, "a", enable=True)
        assert len(broker.taps) == 1
        routed(broker, "$tenant/t1/t/1")
        assert engine.queued == 3
        result = stop()
        if result is not None:
            await result
        assert broker.taps == []

    asyncio.run(run())
