"""Rule SQL: what the parser accepts and refuses (with the position), and what compiled rules return."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from tether.rules import RuleRuntimeError, RuleSyntaxError, compile_rule, parse
from tether.rules.syntax import Field, Foreach, Select


def run(sql: str, payload: object = None, **columns: Any) -> list[dict[str, Any]] | None:
    if payload is not None:
        columns["payload"] = payload if isinstance(payload, str | bytes) else orjson.dumps(payload).decode()
    return compile_rule(sql).run(columns)


def one(sql: str, payload: object = None, **columns: Any) -> dict[str, Any]:
    outputs = run(sql, payload, **columns)
    assert outputs is not None and len(outputs) == 1
    return outputs[0]


# ------------------------------------------------------------------------------------------ parsing


def test_select_sources_and_where() -> None:
    statement = parse("select clientid, payload.x AS x from \"t/#\", '$events/client_connected' where x > 1")
    assert isinstance(statement, Select)
    assert statement.sources == ("t/#", "$events/client_connected")
    assert [f.key for f in statement.fields if isinstance(f, Field)] == [("clientid",), ("x",)]


def test_foreach_parts() -> None:
    statement = parse(
        "FOREACH payload.sensors AS s DO s.name AS name INCASE s.v > 1 FROM \"t/#\" WHERE clientid = 'c'"
    )
    assert isinstance(statement, Foreach)
    assert statement.item == "s" and len(statement.do) == 1
    assert statement.incase is not None and statement.where is not None
    assert isinstance(parse('FOREACH payload.arr FROM "t/#"'), Foreach)
    assert parse('FOREACH payload.arr FROM "t/#"').item == "item"  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("sql", "line", "column", "words"),
    [
        ("", 1, 1, "SELECT or FOREACH"),
        ("SELECT", 1, 7, "expected an expression"),
        ("SELECT a FROM t", 1, 15, "quoted topic filter"),
        ("SELECT a FROM 't/#' WHERE", 1, 26, "expected an expression"),
        ("SELECT a\nFROM 't'\nWHERE a >", 3, 10, "expected an expression"),
        ("SELECT a FROM 't/#' extra", 1, 21, "end of the rule"),
        ("SELECT nope(1) FROM 't'", 1, 8, "unknown function 'nope'"),
        ("SELECT abs(1, 2) FROM 't'", 1, 8, "abs() takes 1 arguments, 2 given"),
        ("SELECT 'open FROM 't'", 1, 21, "unterminated string"),
        ("SELECT a FROM 't/#/x'", 1, 15, "invalid topic filter"),
        ("SELECT a ; FROM 't'", 1, 10, "unexpected character ';'"),
        ("SELECT CASE WHEN a THEN 1 FROM 't'", 1, 27, "expected END"),
        ("SELECT 12abc FROM 't'", 1, 8, "invalid number"),
    ],
)
def test_errors_say_where(sql: str, line: int, column: int, words: str) -> None:
    with pytest.raises(RuleSyntaxError) as caught:
        compile_rule(sql)
    assert (caught.value.line, caught.value.column) == (line, column)
    assert words in caught.value.message


def test_too_deep_is_a_syntax_error() -> None:
    with pytest.raises(RuleSyntaxError):
        compile_rule("SELECT " + "(" * 200 + "1" + ")" * 200 + " FROM 't'")
    with pytest.raises(RuleSyntaxError):
        compile_rule("SELECT " + " + ".join(["1"] * 500) + " FROM 't'")


# ------------------------------------------------------------------------------------------ evaluation


def test_payload_paths_indexes_and_quoted_keys() -> None:
    payload = {"a": {"b": 1, "c d": 2}, "arr": [10, 20, 30], "nested": '{"x": 5}'}
    out = one(
        "SELECT payload.a.b AS b, payload.a.'c d' AS cd, payload.arr[1] AS first, payload.arr[-1] AS last, "
        "payload.arr[4] AS none, payload.nested.x AS x FROM 't/#'",
        payload,
    )
    assert out == {"b": 1, "cd": 2, "first": 10, "last": 30, "x": 5}


def test_fields_without_alias_nest_by_their_path() -> None:
    out = one("SELECT payload.a.b, clientid, abs(-2) FROM 't/#'", {"a": {"b": 3}}, clientid="c1")
    assert out == {"payload": {"a": {"b": 3}}, "clientid": "c1", "abs(-2)": 2}


def test_nested_alias() -> None:
    assert one("SELECT payload.t AS msg.temp FROM 't'", {"t": 1}) == {"msg": {"temp": 1}}


def test_a_nested_alias_leaves_the_input_columns_alone() -> None:
    """`SELECT *` shares the columns' maps with the output; a nested alias copies them (other rules see the
    same columns)."""
    flags = {"retain": False, "dup": False}
    columns = {"flags": flags, "topic": "t"}
    outputs = compile_rule('SELECT *, 1 AS flags.x FROM "t"').run(columns)
    assert outputs == [{"flags": {"retain": False, "dup": False, "x": 1}, "topic": "t"}]
    assert columns["flags"] is flags and flags == {"retain": False, "dup": False}


def test_user_property() -> None:
    props = {"User-Property": {"foo": "bar"}}
    assert one("SELECT pub_props.'User-Property'.foo AS f FROM 't'", pub_props=props) == {"f": "bar"}


def test_star_keeps_the_payload_text() -> None:
    out = one("SELECT * FROM 't/#'", '{"a":1}', topic="t/1", qos=1)
    assert out == {"payload": '{"a":1}', "topic": "t/1", "qos": 1}


def test_where_uses_aliases_and_columns() -> None:
    sql = "SELECT payload.temp AS t FROM 't/#' WHERE t > 30 AND clientid = 'c1'"
    assert run(sql, {"temp": 31}, clientid="c1") == [{"t": 31}]
    assert run(sql, {"temp": 30}, clientid="c1") is None
    assert run(sql, {"temp": 31}, clientid="c2") is None
    assert run(sql, "not json", clientid="c1") is None


def test_later_fields_see_earlier_aliases() -> None:
    assert one("SELECT 2 AS a, a * 3 AS b FROM 't'") == {"a": 2, "b": 6}


def test_arithmetic() -> None:
    out = one(
        "SELECT 1 + 2 * 3 AS a, (1 + 2) * 3 AS b, 7 / 2 AS c, 7 div 2 AS d, -7 div 2 AS e, -7 mod 2 AS f, "
        "'ab' + 'cd' AS g, '2' + 3 AS h, -payload.x AS i FROM 't'",
        {"x": 4},
    )
    assert out == {"a": 7, "b": 9, "c": 3.5, "d": 3, "e": -3, "f": -1, "g": "abcd", "h": 5, "i": -4}


@pytest.mark.parametrize("expr", ["1 / 0", "1 div 0", "'a' * 2", "payload.missing + 1", "not 3"])
def test_runtime_errors(expr: str) -> None:
    with pytest.raises(RuleRuntimeError):
        run(f"SELECT {expr} AS v FROM 't'", {})


def test_comparisons() -> None:
    out = one(
        "SELECT 1 = 1.0 AS a, '1' = 1 AS b, 'a' < 'b' AS c, 2 >= '10' AS d, 1 <> 2 AS e, 1 != 1 AS f, "
        "payload.none = 1 AS g, payload.none < 1 AS h, 'x' IN ('y', 'x') AS i, 3 NOT IN (1, 2) AS j, "
        "true = 'true' AS k FROM 't'",
        {},
    )
    assert out == {
        "a": True, "b": True, "c": True, "d": False, "e": True, "f": False, "g": False, "h": False, "i": True,
        "j": True, "k": True,
    }  # fmt: skip


def test_topic_match_and_logic() -> None:
    sql = "SELECT topic FROM '#' WHERE topic =~ 'a/+/c' AND NOT (qos = 0) OR clientid = 'admin'"
    assert run(sql, topic="a/b/c", qos=1) == [{"topic": "a/b/c"}]
    assert run(sql, topic="a/b/c", qos=0) is None
    assert run(sql, topic="x", qos=0, clientid="admin") == [{"topic": "x"}]
    assert run("SELECT 1 AS v FROM '#' WHERE topic =~ '+/x'", topic="$SYS/x") is None


def test_case() -> None:
    sql = (
        "SELECT CASE WHEN payload.t > 30 THEN 'hot' WHEN payload.t < 10 THEN 'cold' ELSE 'ok' END AS s, "
        "CASE payload.code WHEN 1 THEN 'one' WHEN 2 THEN 'two' END AS c FROM 't'"
    )
    assert one(sql, {"t": 31, "code": 2}) == {"s": "hot", "c": "two"}
    assert one(sql, {"t": 5, "code": 3}) == {"s": "cold"}
    assert one(sql, {"t": 20}) == {"s": "ok"}


def test_foreach() -> None:
    payload = {"sensors": [{"name": "a", "v": 1}, {"name": "b", "v": 5}, {"name": "c", "v": 9}]}
    sql = (
        "FOREACH payload.sensors AS s DO s.name AS name, s.v * 10 AS v, clientid INCASE s.v > 2 "
        "FROM 't/#' WHERE length(s) = 3"
    )
    assert run(sql, payload, clientid="c1") == [
        {"name": "b", "v": 50, "clientid": "c1"},
        {"name": "c", "v": 90, "clientid": "c1"},
    ]
    assert run(sql, {"sensors": [{"name": "a", "v": 9}]}, clientid="c1") is None  # WHERE false
    assert run("FOREACH payload.arr FROM 't'", {"arr": [1, 2]}, topic="t") == [
        {"payload": '{"arr":[1,2]}', "topic": "t", "item": 1},
        {"payload": '{"arr":[1,2]}', "topic": "t", "item": 2},
    ]
    assert run("FOREACH payload.arr AS x INCASE x > 5 FROM 't'", {"arr": [1, 2]}) is None
    with pytest.raises(RuleRuntimeError):
        run("FOREACH payload.arr FROM 't'", {"arr": {"not": "a list"}})


def test_foreach_with_selected_columns() -> None:
    sql = "FOREACH clientid AS c, payload.values AS v DO c, v * 2 AS d FROM 't'"
    assert run(sql, {"values": [1, 2]}, clientid="x") == [{"c": "x", "d": 2}, {"c": "x", "d": 4}]


def test_array_literal_and_functions_on_it() -> None:
    assert one("SELECT nth(2, [1, 2, 3]) AS n, length([]) AS z FROM 't'") == {"n": 2, "z": 0}


def test_payload_alias_shadows_the_message_payload() -> None:
    out = one("SELECT payload.inner AS payload FROM 't' WHERE payload.k = 1", {"inner": {"k": 1}})
    assert out == {"payload": {"k": 1}}


def test_binary_payload() -> None:
    assert one("SELECT payload FROM 't'", b"\xff\x00") == {"payload": b"\xff\x00"}
    assert run("SELECT payload.x AS x FROM 't'", b"\xff\x00") == [{}]


def test_comments_and_keywords_in_any_case() -> None:
    sql = "-- a comment\nSeLeCt payload.x As x\nfrom 't' -- trailing\nWhErE x = 1"
    assert run(sql, {"x": 1}) == [{"x": 1}]


def test_compiled_once_to_python() -> None:
    rule = compile_rule("SELECT payload.x AS x FROM 't' WHERE x > 1")
    assert rule.source.startswith("def _rule(c):")
    assert rule.sources == ("t",)
