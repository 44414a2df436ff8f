"""The rule engine's message path fused per topic (adapters/rules.py): for the rules that take a topic, one
generated Python function builds the columns they read, runs each rule, counts its metrics and does its
actions, so a message costs one call and straight-line code rather than a call per step.

The function is generated once per set of rules (`Fusion`, the source kept for reading) and made per topic
(`Fusion.runner`: the topic as the clients see it and the publishers' columns of that topic, cached). What it
does is what the engine's separate steps do, to the letter:

* columns: those the rules read (rule_columns.Need), built inline when they come from the message alone;
  when a rule reads the publisher's connection (username, peerhost: checked against the live connection)
  or every column (a sink, the console, a republish of the whole output), `MessageColumns.build` builds them;
* each rule: skipped for its own republished copy; `matched`, then the compiled rule (a SELECT's one output
  through `CompiledRule.one`), `failed.exception` / `failed.no_result` / `passed`;
* actions: a republish of the common shape (a topic of one `${key}`, a payload of one `${key}`, constant QoS
  and retain, no MQTT properties) inline, the payload being the message's own bytes when it is the message's
  decoded payload passed through, and the copy's topic with whether any rule takes it cached per value of the
  key; every other action through `RuleEngine._act`, the generic path.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from tether.broker.message import Message
from tether.mqtt.properties import EMPTY_PROPERTIES
from tether.rules.models import Republish
from tether.rules.service import LoadedRule
from tether.rules.syntax import Select, Star
from tether.rules.values import to_str

from .rule_columns import COLUMNS, NOT_RETAINED, RETAINED, MessageColumns, Need, pub_props
from .rule_republish import ActionFailed, RepublishPlan, properties_of

__all__ = ["Engine", "Fusion", "Runner", "Steps"]

#: run(message, received at (time.time_ns()), the rule whose republished copy it is or None).
Runner = Callable[[Message, int, "str | None"], None]
#: A rule's actions, each with its republish plan (None for the others).
Steps = list[tuple[Any, RepublishPlan | None]]

#: The most publishers whose columns a runner keeps for its topic (then it starts again).
_SENDERS = 1_000
_NO = object()  # the decoded payload when the columns were not built here


class Engine(Protocol):
    """What the generated code uses of the engine (adapters/rules.py's RuleEngine)."""

    broker: Any
    _republishing: str | None
    _columns: MessageColumns

    def _act(self, tenant_id: str, loaded: LoadedRule, action: Any, plan: RepublishPlan | None,
             output: dict[str, Any], columns: dict[str, Any]) -> None: ...  # fmt: skip

    @staticmethod
    def _rule_failed(tenant_id: str, loaded: LoadedRule, exc: Exception) -> None: ...

    @staticmethod
    def _action_failed(tenant_id: str, loaded: LoadedRule, action: Any, exc: ActionFailed | None) -> None: ...

    def _route_of(self, tenant_id: str, plan: RepublishPlan, rule_id: str, output: dict[str, Any],
                  value: object) -> tuple[str, str]: ...  # fmt: skip


class Fusion:
    """The generated function of one set of rules of a tenant (`runs`: each rule with its actions made
    ready), made into a runner per topic by :meth:`runner`."""

    def __init__(self, engine: Engine, tenant_id: str, runs: list[tuple[LoadedRule, Steps]],
                 need: Need | None) -> None:  # fmt: skip
        self.engine = engine
        self.tenant_id = tenant_id
        self.need = need
        self.inline = need is not None and not need.connection
        space: dict[str, Any] = {
            "_e": engine, "_T": tenant_id, "_need": need, "_NO": _NO, "_Message": Message,
            "_EMPTY": EMPTY_PROPERTIES, "_ActionFailed": ActionFailed, "_to_str": to_str,
            "_properties": properties_of, "_RETAINED": RETAINED, "_NOT_RETAINED": NOT_RETAINED,
            "_pub_props": pub_props, "_build": engine._columns.build, "_new_id": engine._columns.new_id,
            "_act": engine._act, "_rule_failed": engine._rule_failed, "_action_failed": engine._action_failed,
            "_route_of": engine._route_of,
        }  # fmt: skip
        lines = ["def _make(topic, bases, base_of):", "    def _run(message, received_ns, origin):"]
        lines += ["        " + line for line in self._columns()]
        for i, (loaded, steps) in enumerate(runs):
            lines += ["        " + line for line in _rule(i, loaded, steps, space)]
        lines += ["    return _run"]
        self.source = "\n".join(lines) + "\n"
        exec(compile(self.source, f"<rules of tenant {tenant_id}>", "exec"), space)
        self._make: Callable[..., Runner] = space["_make"]

    def runner(self, topic: str) -> Runner:
        """The function that runs these rules on a message of `topic` (as the tenant's clients see it)."""
        bases: dict[str | None, dict[str, Any]] = {}
        need, columns, tenant_id = self.need, self.engine._columns, self.tenant_id

        def base_of(sender: str | None) -> dict[str, Any]:
            """The publisher's columns of the topic that the rules read (not the connection's: see need)."""
            assert need is not None
            base = columns.base(tenant_id, sender, topic)
            found = {name: base[name] for name in need.base if base.get(name) is not None}
            if len(bases) >= _SENDERS:
                bases.clear()
            bases[sender] = found
            return found

        return self._make(topic, bases, base_of)

    def _columns(self) -> list[str]:
        need = self.need
        if need is None or not self.inline:
            return [
                "c = _build(_T, message, topic, received_ns // 1000000, _need)",
                "p = message.payload",
                "pt = c.get('payload', _NO)",
            ]
        lines = []
        if need.base:
            lines += [
                "c = bases.get(message.sender)",
                "c = base_of(message.sender).copy() if c is None else c.copy()",
            ]
        else:
            lines += ["c = {}"]
        lines += ["p = message.payload"]
        if {"id", "timestamp", "publish_received_at"} & set(need.extra):
            lines += ["received_at = received_ns // 1000000"]
        if "payload" not in need.extra:
            lines += ["pt = _NO"]
        for name in need.extra:
            if name == "payload":  # text when it is UTF-8, else the bytes
                lines += [
                    "try:",
                    "    pt = p.decode() if type(p) is bytes else str(p, 'utf-8')",
                    "except UnicodeDecodeError:",
                    "    pt = bytes(p)",
                    "c['payload'] = pt",
                ]
            elif name == "id":
                lines += ["c['id'] = _new_id(received_at)"]
            elif name == "qos":
                lines += ["c['qos'] = message.qos"]
            elif name == "flags":
                lines += ["c['flags'] = _RETAINED if message.retain else _NOT_RETAINED"]
            elif name in ("timestamp", "publish_received_at"):
                lines += [f"c[{name!r}] = received_at"]
            else:  # pub_props
                lines += [
                    "if message.properties is not _EMPTY:",
                    "    pp = _pub_props(message.properties)",
                    "    if pp:",
                    "        c['pub_props'] = pp",
                ]
        return lines


def _rule(i: int, loaded: LoadedRule, steps: Steps, space: dict[str, Any]) -> list[str]:
    """The lines that run rule `i` of the set on the columns `c`."""
    space[f"_L{i}"], space[f"_M{i}"], space[f"_ID{i}"] = loaded, loaded.metrics, loaded.rule.id
    compiled = loaded.compiled
    one = compiled.one is not None
    space[f"_F{i}"] = compiled.one if one else compiled.function
    lines = [
        f"if origin != _ID{i}:",
        f"    m = _M{i}",
        "    m.matched += 1",
        "    try:",
        f"        o = _F{i}(c)" if one else f"        outs = _F{i}(c)",
        "    except Exception as exc:",
        "        m.failed_exception += 1",
        f"        _rule_failed(_T, _L{i}, exc)",
        "    else:",
        "        if o is None:" if one else "        if not outs:",
        "            m.failed_no_result += 1",
        "        else:",
        "            m.passed += 1",
    ]
    actions: list[str] = []
    for j, (action, plan) in enumerate(steps):
        name = f"{i}_{j}"
        space[f"_A{name}"], space[f"_P{name}"] = action, plan
        if plan is not None and plan.simple is not None:
            # A bare `SELECT *` gives the columns: a key no column has is not there.
            bare = _bare(loaded) and plan.simple[2] not in COLUMNS
            actions += _republish(name, i, plan, space, bare)
        else:
            actions += [f"_act(_T, _L{i}, _A{name}, _P{name}, o, c)"]
    if one:
        lines += ["            " + line for line in actions]
    else:
        lines += ["            for o in outs:"] + ["                " + line for line in actions]
    return lines


def _bare(loaded: LoadedRule) -> bool:
    """Whether the rule is a bare `SELECT *` (its output is the columns)."""
    statement = loaded.compiled.statement
    return (
        isinstance(statement, Select) and len(statement.fields) == 1 and isinstance(statement.fields[0], Star)
    )


def _republish(name: str, i: int, plan: RepublishPlan, space: dict[str, Any], bare: bool) -> list[str]:
    """A republish of the common shape (RepublishPlan.simple) on the output `o`, inline (`bare`: the output
    has no user properties)."""
    assert plan.simple is not None and isinstance(plan.action, Republish)
    topic_key, payload_key, user_key, qos, retain = plan.simple
    space[f"_R{name}"] = plan.routes
    return [
        "try:",
        "    b = _e.broker",
        "    if b is None:",
        "        raise _ActionFailed('the broker is not running')",
        f"    v = o.get({topic_key!r})",
        f"    r = _R{name}.get(v) if type(v) is str else None",
        "    if r is None:",
        f"        r = _route_of(_T, _P{name}, _ID{i}, o, v)",
        f"    d = o.get({payload_key!r})",
        "    if d is pt and type(p) is bytes:",
        "        d = p  # the message's own payload, passed through",
        "    elif type(d) is str:",
        "        d = d.encode()",
        "    elif type(d) is not bytes:",
        "        d = _to_str(d).encode()",
        "    if True:" if bare else f"    if o.get({user_key!r}) is None:",
        "        pp = _EMPTY",
        "        x = None",
        "    else:",
        f"        pp = _properties(_A{name}, o)",
        "        x = pp.message_expiry_interval",
        "        if x is not None:",
        "            x += b.loop.time()",
        "    _e._republishing = r[1]",
        "    try:",
        f"        b.route(_Message(r[0], d, {qos!r}, {retain!r}, pp, x, None))",
        "    finally:",
        "        _e._republishing = None",
        "except _ActionFailed as exc:",
        "    m.actions_failed += 1",
        f"    _action_failed(_T, _L{i}, _A{name}, exc)",
        "except Exception:",
        "    m.actions_failed += 1",
        f"    _action_failed(_T, _L{i}, _A{name}, None)",
        "else:",
        "    m.actions_success += 1",
    ]
