"""The rule engine builds only the columns a message's rules read (adapters/rule_columns.py): what the
compiler says a rule reads, and what its actions read of a `SELECT *`. The outputs the actions see must be
the same as with every column; and the inline comparisons of the compiler must say what values.py says."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

import orjson
import pytest
from tests.fakes.rules import FakeRuleStore

from tether.adapters.rule_columns import MessageColumns, Need, need_of
from tether.adapters.rules import RuleEngine
from tether.broker import Broker
from tether.broker.message import Message
from tether.core.events import EventBus
from tether.rules import compile_rule, values
from tether.rules.models import Rule, RuleDraft, parse_actions
from tether.rules.service import LoadedRule, RuleService
from tether.tenants.models import Principal, Role

ADMIN = Principal("t1", "admin", frozenset({Role.ADMIN}))
PAYLOAD = b'{"temp": 35, "note": "x"}'


def test_what_a_rule_reads() -> None:
    rule = compile_rule("SELECT payload.a AS a, clientid FROM \"t\" WHERE a > 1 AND topic =~ 't'")
    assert rule.reads == {"payload", "a", "clientid", "topic"} and not rule.passes_columns
    assert compile_rule('SELECT * FROM "t" WHERE payload.temp > 30').passes_columns
    assert compile_rule('FOREACH payload.xs AS x FROM "t"').passes_columns  # no DO: the columns and x
    foreach = compile_rule('FOREACH payload.xs AS x DO x.v AS v INCASE x.v > qos FROM "t"')
    assert foreach.reads == {"payload", "x", "qos"} and not foreach.passes_columns


def loaded(sql: str, actions: list[Any]) -> LoadedRule:
    rule = Rule("t1", "r", "", sql, tuple(parse_actions(actions)), True, "", {}, 0, 0)
    return LoadedRule(rule, compile_rule(sql))


REPUBLISH = {"function": "republish", "args": {"topic": "a/${clientid}", "payload": "${payload}"}}


def test_what_the_rules_of_a_topic_need() -> None:
    need = need_of([loaded('SELECT * FROM "t" WHERE payload.temp > 30', [REPUBLISH])])
    assert need is not None and need.base == ("clientid",) and need.extra == ("payload",)
    # The default user properties template is `${user_properties}`: a name no message column has.
    assert need.names == {"payload", "clientid", "user_properties"}
    assert need_of([loaded('SELECT * FROM "t"', [{"function": "republish", "args": {"topic": "a"}}])]) is None
    assert need_of([loaded('SELECT * FROM "t"', ["console"])]) is None
    assert need_of([loaded('SELECT * FROM "t"', ["http:hook"])]) is None
    # A rule that names its fields: its actions read only those, whatever they are.
    picked = need_of([loaded('SELECT qos, payload.x AS x FROM "t"', ["http:hook"])])
    assert picked is not None and picked.names == {"qos", "payload"} and picked.extra == ("payload", "qos")
    both = need_of([loaded('SELECT qos FROM "t"', ["console"]), loaded('SELECT * FROM "t"', [REPUBLISH])])
    assert both is not None and both.names >= {"qos", "payload", "clientid"}


@dataclass
class Client:
    username: str | None
    peer: str | None


@dataclass
class Connection:
    client: Client


def test_columns_of_a_need_are_those_of_every_column() -> None:
    connections = {"$tenant/t1/dev": Connection(Client("u1", "10.0.0.1:5000"))}
    columns = MessageColumns("n1", connections.get)
    message = Message("$tenant/t1/t", PAYLOAD, 1, True, sender="$tenant/t1/dev")
    full = columns.build("t1", message, "t", 1000)
    assert full["username"] == "u1" and full["peerhost"] == "10.0.0.1" and full["clientid"] == "dev"
    everything = set(full) | {"pub_props"}
    for names in ({"payload"}, {"clientid", "qos"}, {"username", "timestamp", "flags"}, everything):
        some = columns.build("t1", message, "t", 1000, Need(frozenset(names)))
        expected = {k: v for k, v in full.items() if k in names and k != "id"}
        assert {k: v for k, v in some.items() if k != "id"} == expected
        assert ("id" in some) == ("id" in names)
    # The publisher reconnects as another user: a need that reads the username sees it at once.
    connections["$tenant/t1/dev"] = Connection(Client("u2", "10.0.0.2:5000"))
    assert columns.build("t1", message, "t", 1001, Need(frozenset({"username"}))) == {"username": "u2"}
    assert columns.build("t1", message, "t", 1001, Need(frozenset({"clientid"}))) == {"clientid": "dev"}


def test_republished_outputs_are_the_same_with_the_columns_a_rule_needs() -> None:
    """Two rules on one topic: one republishing `${payload}` (needs payload and clientid), one republishing
    the whole output (needs every column); each copy is what it would be with every column."""

    async def run() -> list[Message]:
        rules = RuleService(FakeRuleStore())
        engine = RuleEngine(rules, EventBus(), node="n1")
        broker = Broker()
        stop = engine.install(broker)
        seen: list[Message] = []
        broker.add_tap(lambda m: seen.append(m) if "/out/" in m.topic else None)
        whole = {"function": "republish", "args": {"topic": "out/whole/${clientid}", "payload": ""}}
        payload_only = {
            "function": "republish",
            "args": {"topic": "out/p/${clientid}", "payload": "${payload}"},
        }
        for rule_id, actions in (("p", [payload_only]), ("w", [whole])):
            sql = 'SELECT * FROM "in/#" WHERE payload.temp > 30'
            draft = RuleDraft(id=rule_id, name="", sql=sql, actions=parse_actions(actions), enable=True,
                              description="", metadata={})  # fmt: skip
            await rules.create(ADMIN, draft)
        broker.route(Message("$tenant/t1/in/a", PAYLOAD, 1, False, sender="$tenant/t1/dev"))
        broker.route(Message("$tenant/t1/in/a", b'{"temp": 3}', 0, False, sender="$tenant/t1/dev"))
        for _ in range(20):
            await asyncio.sleep(0)
        result = stop()
        if result is not None:
            await result
        return seen

    seen = asyncio.run(run())
    by_topic = {m.topic: bytes(m.payload) for m in seen}
    assert set(by_topic) == {"$tenant/t1/out/p/dev", "$tenant/t1/out/whole/dev"}  # the cold one failed WHERE
    assert by_topic["$tenant/t1/out/p/dev"] == PAYLOAD
    whole = orjson.loads(by_topic["$tenant/t1/out/whole/dev"])
    assert whole["payload"] == PAYLOAD.decode() and whole["clientid"] == "dev" and whole["qos"] == 1
    assert set(whole) == {
        "topic", "node", "event", "clientid", "id", "payload", "qos", "flags", "timestamp",
        "publish_received_at",
    }  # fmt: skip


ODD = [
    0,
    1,
    -1,
    1.0,
    1.5,
    2,
    True,
    False,
    None,
    "1",
    "1.5",
    "2",
    "abc",
    "",
    float("nan"),
    [1],
    {"a": 1},
    b"1",
]


@pytest.mark.parametrize("op", ["=", "!=", "<", "<=", ">", ">="])
@pytest.mark.parametrize("literal", ["1", "1.5", "-1"])
def test_inline_comparisons_with_a_number_say_what_values_says(op: str, literal: str) -> None:
    rule = compile_rule(f'SELECT v {op} {literal} AS r FROM "t"')
    right = float(literal) if "." in literal else int(literal)
    name = {"=": "eq", "!=": "ne", "<": "lt", "<=": "le", ">": "gt", ">=": "ge"}[op]
    for value in ODD:
        outputs = rule.run({"v": value} if value is not None else {})
        assert outputs is not None
        assert outputs[0]["r"] is getattr(values, name)(value, right), (value, op, literal)
