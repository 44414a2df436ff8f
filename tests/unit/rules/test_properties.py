"""Properties of the rule language (hypothesis): no text crashes the parser or the compiler with anything but
RuleSyntaxError, and a compiled rule returns what the reference evaluation (a walk over the syntax tree,
tests/unit/rules/reference.py) returns, on generated rules and payloads."""

from __future__ import annotations

import contextlib
from typing import Any

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.unit.rules.reference import evaluate

from tether.rules import RuleRuntimeError, RuleSyntaxError, compile_rule
from tether.rules.compiler import CompiledRule

SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
#: Generating a rule and its inputs costs tens of milliseconds: fewer, richer examples.
EQUIVALENCE = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# ----------------------------------------------------------------------------------------- robustness

_PIECES = [
    "SELECT", "FOREACH", "DO", "INCASE", "FROM", "WHERE", "AS", "AND", "OR", "NOT", "CASE", "WHEN", "THEN",
    "ELSE", "END", "div", "mod", "IN", "true", "*", ",", ".", "(", ")", "[", "]", "+", "-", "/", "=", "!=",
    "<>", "<", "<=", ">", ">=", "=~", "'t/#'", '"$events/client_connected"', "'x'", "payload", "clientid",
    "x", "s", "1", "2.5", "-3", "abs", "nth", "concat", "jq", "'", '"', "\n", "--", "1e999", "0",
    "pub_props", "'User-Property'", "map_get", "item",
]  # fmt: skip


@SETTINGS
@given(st.text(max_size=200))
def test_any_text_parses_or_says_where(text: str) -> None:
    try:
        compile_rule(text)
    except RuleSyntaxError as exc:
        assert exc.line >= 1 and exc.column >= 1


@SETTINGS
@given(st.lists(st.sampled_from(_PIECES), max_size=40))
def test_token_soup_parses_or_says_where(pieces: list[str]) -> None:
    try:
        rule = compile_rule(" ".join(pieces))
    except RuleSyntaxError as exc:
        assert exc.line >= 1 and exc.column >= 1
        return
    with contextlib.suppress(RuleRuntimeError):
        rule.run({"payload": '{"x": [1, 2]}', "clientid": "c", "x": 1})


# ----------------------------------------------------------------------------------------- equivalence

_COLUMNS = ["clientid", "topic", "qos", "x", "y", "s"]
_PATHS = ["payload.a", "payload.b", "payload.n.a", "payload.arr[1]", "payload.arr[-1]", "payload.'k k'"]
_FUNCTIONS_1 = ["abs", "lower", "upper", "str", "is_null", "length", "strlen", "is_num", "first"]
_FUNCTIONS_2 = ["concat", "nth", "coalesce", "contains", "power", "mget"]


def _expressions() -> st.SearchStrategy[str]:
    leaves = st.one_of(
        st.sampled_from(_COLUMNS),
        st.sampled_from(_PATHS),
        st.integers(-5, 40).map(str),
        st.sampled_from(["1.5", "'a'", "'t/1'", "''", "true", "false", "[1, 2]"]),
    )

    def extend(inner: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
        return st.one_of(
            st.tuples(inner, st.sampled_from(["+", "-", "*", "/", "div", "mod"]), inner).map(
                lambda t: f"({t[0]} {t[1]} {t[2]})"
            ),
            st.tuples(inner, st.sampled_from(["=", "!=", "<", "<=", ">", ">=", "=~"]), inner).map(
                lambda t: f"({t[0]} {t[1]} {t[2]})"
            ),
            st.tuples(inner, st.sampled_from(["and", "or"]), inner).map(lambda t: f"({t[0]} {t[1]} {t[2]})"),
            inner.map(lambda e: f"(not {e})"),
            inner.map(lambda e: f"(- {e})"),
            st.tuples(st.sampled_from(_FUNCTIONS_1), inner).map(lambda t: f"{t[0]}({t[1]})"),
            st.tuples(st.sampled_from(_FUNCTIONS_2), inner, inner).map(lambda t: f"{t[0]}({t[1]}, {t[2]})"),
            st.tuples(inner, inner, inner).map(lambda t: f"CASE WHEN {t[0]} THEN {t[1]} ELSE {t[2]} END"),
            st.tuples(inner, inner, inner, inner).map(
                lambda t: f"CASE {t[0]} WHEN {t[1]} THEN {t[2]} WHEN 1 THEN {t[3]} END"
            ),
            st.tuples(inner, inner).map(lambda t: f"({t[0]} IN ({t[1]}, 1, 'a'))"),
        )

    return st.recursive(leaves, extend, max_leaves=8)


_ALIASES = ["x", "t", "payload", "s", "msg.v"]


@st.composite
def _selects(draw: st.DrawFn) -> str:
    fields = []
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.integers(0, 4))
        expr = draw(_expressions())
        if kind == 0:
            fields.append("*")
        elif kind == 1:
            fields.append(expr)
        else:
            fields.append(f"{expr} AS {draw(st.sampled_from(_ALIASES))}")
    where = draw(st.one_of(st.none(), _expressions()))
    return f"SELECT {', '.join(fields)} FROM 't/#'" + ("" if where is None else f" WHERE {where}")


@st.composite
def _foreaches(draw: st.DrawFn) -> str:
    collection = draw(st.sampled_from(["payload.arr", "payload.items", "[1, 'a', 3]", "payload.a"]))
    item = draw(st.sampled_from(["", " AS x", " AS e", " AS payload"]))
    name = item.split()[-1] if item else "item"
    selected = draw(st.sampled_from(["", "clientid AS cid, ", "1 AS y, "]))
    text = f"FOREACH {selected}{collection}{item}"
    if draw(st.booleans()):
        do = [f"{draw(_expressions())} AS {draw(st.sampled_from(_ALIASES))}", f"{name} AS v"]
        text += " DO " + ", ".join(do[: draw(st.integers(1, 2))])
    if draw(st.booleans()):
        text += f" INCASE ({name} = 1 or {draw(_expressions())})"
    text += " FROM 't/#'"
    if draw(st.booleans()):
        text += f" WHERE {draw(_expressions())}"
    return text


_JSON = st.recursive(
    st.one_of(
        st.none(), st.booleans(), st.integers(-10, 50), st.sampled_from([0.5, -2.25]), st.text(max_size=4)
    ),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.dictionaries(st.sampled_from(["a", "b", "n", "k k"]), inner, max_size=3),
    ),
    max_leaves=10,
)


@st.composite
def _inputs(draw: st.DrawFn) -> dict[str, Any]:
    payload = draw(
        st.fixed_dictionaries(
            {},
            optional={
                "a": _JSON,
                "b": _JSON,
                "n": _JSON,
                "arr": st.lists(_JSON, max_size=4),
                "k k": _JSON,
                "items": st.lists(st.integers(0, 3), max_size=4),
            },
        )
    )
    columns: dict[str, Any] = {
        "payload": orjson.dumps(payload).decode() if draw(st.booleans()) else draw(st.text(max_size=5)),
        "topic": draw(st.sampled_from(["t/1", "t/a/b", "$events/x"])),
        "qos": draw(st.integers(0, 2)),
    }
    for name in ("clientid", "x", "y", "s"):
        if draw(st.booleans()):
            columns[name] = draw(
                st.one_of(st.integers(-3, 3), st.text(max_size=3), st.sampled_from(["t/+", "1"]))
            )
    return columns


def _outcome(call: Any) -> tuple[str, Any]:
    try:
        return "ok", call()
    except RuleRuntimeError:
        return "error", None


def _same(rule: CompiledRule, columns: dict[str, Any]) -> None:
    compiled = _outcome(lambda: rule.run(dict(columns)))
    reference = _outcome(lambda: evaluate(rule.statement, dict(columns)))
    assert compiled == reference, rule.source


@EQUIVALENCE
@given(_selects(), st.lists(_inputs(), min_size=1, max_size=3))
def test_select_equals_reference(sql: str, inputs: list[dict[str, Any]]) -> None:
    rule = compile_rule(sql)
    for columns in inputs:
        _same(rule, columns)


@EQUIVALENCE
@given(_foreaches(), st.lists(_inputs(), min_size=1, max_size=3))
def test_foreach_equals_reference(sql: str, inputs: list[dict[str, Any]]) -> None:
    rule = compile_rule(sql)
    for columns in inputs:
        _same(rule, columns)


@SETTINGS
@given(_expressions())
def test_generated_expressions_compile(expr: str) -> None:
    assert compile_rule(f"SELECT {expr} AS v FROM 't'").sources == ("t",)
