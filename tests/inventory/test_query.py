"""Tests for the inventory query-language parser (tether.inventory.query)."""

from __future__ import annotations

import dataclasses
import random
import re
from collections.abc import Iterator
from urllib.parse import parse_qs, urlencode

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tether.core.ids import MAX_INT, MIN_INT
from tether.inventory.query import (
    MAX_DEPTH,
    MAX_ORDER_KEYS,
    And,
    ByGroupId,
    Compare,
    Expr,
    Has,
    Not,
    Or,
    OrderBy,
    Query,
    QueryError,
    Scalar,
    parse_query,
)


def cmp(path: str, op: str, value: Scalar) -> Compare:
    return Compare(tuple(path.split(".")), op, value)  # type: ignore[arg-type]


def leaves(expr: Expr | None) -> Iterator[tuple[str, Scalar]]:
    """(type name, value) of every compared value: `==` alone would equate True, 1 and 1.0."""
    if isinstance(expr, Compare):
        yield type(expr.value).__name__, expr.value
    elif isinstance(expr, And | Or):
        for item in expr.items:
            yield from leaves(item)
    elif isinstance(expr, Not):
        yield from leaves(expr.item)


# --------------------------------------------------------------------------- documented forms


@pytest.mark.parametrize("text", ["", "   ", "\t\n ", "$filter=", "$filter=()", "()"])
def test_empty_query_has_no_filter(text: str) -> None:
    assert parse_query(text) == Query(None, ())


def test_full_form_with_filter_and_orderby() -> None:
    q = parse_query("$filter=(type eq 'c8y_Linux' and has(c8y_IsDevice)) $orderby=name asc")
    assert q == Query(And((cmp("type", "eq", "c8y_Linux"), Has(("c8y_IsDevice",)))), (OrderBy(("name",)),))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "$filter=(has(c8y_IsDevice) and type eq c8y_Linux)+$orderby=name",
            Query(And((Has(("c8y_IsDevice",)), cmp("type", "eq", "c8y_Linux"))), (OrderBy(("name",)),)),
        ),
        ("$filter=(name eq 'a''b')", Query(cmp("name", "eq", "a'b"))),
        ("$filter=()+$orderby=name", Query(None, (OrderBy(("name",)),))),
        (
            "$filter=(bygroupid(42) and owner eq admin)",
            Query(And((ByGroupId("42"), cmp("owner", "eq", "admin")))),
        ),
    ],
)
def test_c8y_api_forms(text: str, expected: Query) -> None:
    assert parse_query(text) == expected


def test_queries_built_by_the_c8y_api_client_survive_url_round_trip() -> None:
    inventory = pytest.importorskip("c8y_api.model.inventory")
    params = inventory.Inventory._collate_filter_params(
        only_devices=True, type="c8y_Linux", order_by="name desc", name="O'Brien*", parent=42, owner="admin"
    )
    text = parse_qs(urlencode(params))["q"][0]  # what the server sees after URL decoding
    assert parse_query(text) == Query(
        And(
            (
                Has(("c8y_IsDevice",)),
                ByGroupId("42"),
                cmp("name", "eq", "O'Brien*"),
                cmp("type", "eq", "c8y_Linux"),
                cmp("owner", "eq", "admin"),
            )
        ),
        (OrderBy(("name",), descending=True),),
    )


def test_bare_filter_without_prefix() -> None:
    q = parse_query("name eq 'x*'")
    assert q == Query(cmp("name", "eq", "x*"))
    assert isinstance(q.filter, Compare) and q.filter.is_wildcard


@pytest.mark.parametrize(
    "text",
    [
        "$orderby=name desc $filter=type eq x",
        "$orderby=name desc+$filter=type eq x",
        "$filter=type eq x $orderby=name desc",
        "type eq x $orderby=name desc",
        "type eq x+$orderby=name desc",
        "$FILTER=type eq x $OrderBy=name DESC",
        "$filter = type eq x $orderby =name desc",
    ],
)
def test_section_order_and_separators(text: str) -> None:
    assert parse_query(text) == Query(cmp("type", "eq", "x"), (OrderBy(("name",), descending=True),))


def test_orderby_list() -> None:
    q = parse_query("$orderby=name asc,creationTime.date DESC, c8y_Hardware.model")
    assert q == Query(
        None,
        (
            OrderBy(("name",)),
            OrderBy(("creationTime", "date"), descending=True),
            OrderBy(("c8y_Hardware", "model")),
        ),
    )


# --------------------------------------------------------------------------- precedence


A, B, C = cmp("a", "eq", 1), cmp("b", "eq", 2), cmp("c", "eq", 3)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a eq 1 or b eq 2 and c eq 3", Or((A, And((B, C))))),
        ("a eq 1 and b eq 2 or c eq 3", Or((And((A, B)), C))),
        ("(a eq 1 or b eq 2) and c eq 3", And((Or((A, B)), C))),
        ("not a eq 1 and b eq 2", And((Not(A), B))),
        ("not (a eq 1 and b eq 2)", Not(And((A, B)))),
        ("not(a eq 1)", Not(A)),
        ("not not a eq 1", Not(Not(A))),
        ("not has(a) or bygroupid(1)", Or((Not(Has(("a",))), ByGroupId("1")))),
        ("a eq 1 and (b eq 2 and c eq 3)", And((A, B, C))),
        ("(a eq 1 or b eq 2) or c eq 3", Or((A, B, C))),
        ("((((a eq 1))))", A),
    ],
)
def test_precedence_grouping_and_flattening(text: str, expected: Expr) -> None:
    assert parse_query(text).filter == expected


def test_keywords_are_case_insensitive_but_paths_and_values_are_not() -> None:
    q = parse_query("NOT Type EQ 'Linux' AND Has(Frag) Or BYGROUPID(7) or x Ne TRUE or y LE Null")
    assert q.filter == Or(
        (
            And((Not(cmp("Type", "eq", "Linux")), Has(("Frag",)))),
            ByGroupId("7"),
            cmp("x", "ne", True),
            cmp("y", "le", None),
        )
    )


@pytest.mark.parametrize("op", ["eq", "ne", "gt", "ge", "lt", "le"])
def test_all_operators(op: str) -> None:
    assert parse_query(f"c8y_Hardware.model {op} 5").filter == cmp("c8y_Hardware.model", op, 5)


# --------------------------------------------------------------------------- values and paths


@pytest.mark.parametrize(
    ("literal", "expected"),
    [
        ("1", 1),
        ("-17", -17),
        ("007", 7),
        ("2.5", 2.5),
        ("-2.5e3", -2500.0),
        ("1E-2", 0.01),
        ("1e+3", 1000.0),
        ("3.", 3.0),
        (".5", 0.5),
        ("true", True),
        ("FALSE", False),
        ("null", None),
        ("'O''Brien'", "O'Brien"),
        ("''", ""),
        ("'123'", "123"),
        ("'true'", "true"),
        ("'a b (c) and d'", "a b (c) and d"),
        ('"say ""hi"" it\'s"', 'say "hi" it\'s'),
        ("c8y_Linux", "c8y_Linux"),
        ("admin", "admin"),
        ("x*", "x*"),
        ("*foo*", "*foo*"),
        ("2024-01-01T10:00:00Z", "2024-01-01T10:00:00Z"),
        ("a/b.c:d-e_f@g$h", "a/b.c:d-e_f@g$h"),
        ("12abc", "12abc"),
        ("1.2.3", "1.2.3"),
    ],
)
def test_values(literal: str, expected: Scalar) -> None:
    q = parse_query(f"v eq {literal}")
    assert isinstance(q.filter, Compare)
    assert q.filter.value == expected
    assert type(q.filter.value) is type(expected)


@pytest.mark.parametrize(
    ("compare", "wildcard"),
    [
        (cmp("n", "eq", "a*"), True),
        (cmp("n", "ne", "*"), True),
        (cmp("n", "gt", "a*"), False),
        (cmp("n", "eq", "abc"), False),
        (cmp("n", "eq", 5), False),
        (cmp("n", "eq", None), False),
    ],
)
def test_is_wildcard(compare: Compare, wildcard: bool) -> None:
    assert compare.is_wildcard is wildcard


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("creationTime.date gt '2024-01-01'", cmp("creationTime.date", "gt", "2024-01-01")),
        ("$x@y-z.a_1 eq 1", Compare(("$x@y-z", "a_1"), "eq", 1)),
        ("has(a.b)", Has(("a", "b"))),
        ("has( c8y_IsDevice )", Has(("c8y_IsDevice",))),
        ("bygroupid(12345)", ByGroupId("12345")),
        ("bygroupid(007)", ByGroupId("007")),
        ("bygroupid('abc def')", ByGroupId("abc def")),
        ("bygroupid(grp-1)", ByGroupId("grp-1")),
        ("has eq 1", cmp("has", "eq", 1)),
    ],
)
def test_paths_and_functions(text: str, expected: Expr) -> None:
    assert parse_query(text).filter == expected


def test_ast_is_frozen_and_hashable() -> None:
    q = parse_query("a eq 1 and has(b) $orderby=c")
    with pytest.raises(dataclasses.FrozenInstanceError):
        q.filter = None  # type: ignore[misc]
    assert hash(q) == hash(parse_query("a eq 1 and has(b) $orderby=c"))


# --------------------------------------------------------------------------- malformed input


MALFORMED = [
    "(",
    ")",
    "a eq 1)",
    "((a eq 1)",
    "a eq",
    "a",
    "eq 1",
    "a foo 1",
    "a = 1",
    "a eq 1 b",
    "a eq 1 b eq 2",
    "a eq 'x",
    'a eq "x',
    "a eq 'x''",
    "a eq 1 and",
    "or a eq 1",
    "not",
    "a eq 1 and ()",
    "has()",
    "has(a",
    "has(a b)",
    "has('a')",
    "bygroupid()",
    "bygroupid('')",
    "bygroupid(1, 2)",
    "a* eq 1",
    "a..b eq 1",
    ".a eq 1",
    "a eq #",
    "a eq 1e999",
    "a eq " + "9" * 5000,
    "$filter=a eq 1 $filter=b eq 2",
    "a eq 1 $filter=b eq 2",
    "$orderby=",
    "$orderby=name,",
    "$orderby=name asc desc",
    "$orderby=x $orderby=y",
    "$orderby=x+",
    "+$orderby=x",
    "a eq 1+",
    "a eq 1++$orderby=x",
    "$filter=a eq b$orderby=x",
    "$filter=((a eq 1)+$orderby=x",
    "(" * (MAX_DEPTH + 1) + "a eq 1" + ")" * (MAX_DEPTH + 1),
    "not " * (MAX_DEPTH + 1) + "a eq 1",
    "not (" * 60 + "a eq 1" + ")" * 60,
    "(" * 100_000,
    "not " * 100_000,
]


@pytest.mark.parametrize("text", MALFORMED, ids=lambda t: t[:40])
def test_malformed_input_raises_query_error(text: str) -> None:
    with pytest.raises(QueryError) as info:
        parse_query(text)
    message = str(info.value)
    assert "position" in message or "end of query" in message
    assert len(message) < 200


def test_query_error_is_a_value_error_naming_the_token() -> None:
    with pytest.raises(ValueError, match=r"'foo' at position 2"):
        parse_query("a foo 1")


def test_nesting_up_to_the_limit_is_accepted() -> None:
    assert parse_query("(" * MAX_DEPTH + "a eq 1" + ")" * MAX_DEPTH).filter == A
    expected: Expr = A
    for _ in range(MAX_DEPTH):
        expected = Not(expected)
    assert parse_query("not " * MAX_DEPTH + "a eq 1").filter == expected


# --------------------------------------------------------------------------- property tests


def outcome(text: str) -> str:
    """Parse, asserting that the only possible failure is a QueryError with a positional message."""
    try:
        result = parse_query(text)
    except QueryError as e:
        assert "position" in str(e) or "end of query" in str(e)
        return "error"
    assert isinstance(result, Query)
    return "ok"


TOKENS = [*"()+,'\"*.=-", " ", "$filter=", "$orderby=", "and", "or", "not", "eq", "gt", "has", "bygroupid"]
TOKENS += ["asc", "desc", "true", "null", "a", "b.c", "1", "-2.5e3", "'x'", "''", "1e999"]


@settings(deadline=None)
@given(st.text())
def test_arbitrary_text_only_raises_query_error(text: str) -> None:
    assert outcome(text) in ("ok", "error")


@settings(deadline=None)
@given(st.lists(st.sampled_from(TOKENS), max_size=30), st.sampled_from(["", " "]))
def test_token_soup_only_raises_query_error(tokens: list[str], sep: str) -> None:
    assert outcome(sep.join(tokens)) in ("ok", "error")


BARE = re.compile(r"[\w$@.*:/-]+")
NUMBER = re.compile(r"-?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
SEGMENT_ALPHABET = "abcXYZ019_$@-äß"

segments = st.text(SEGMENT_ALPHABET, min_size=1, max_size=6)
paths = st.lists(segments, min_size=1, max_size=3).map(tuple)  # the alphabet can't spell "not"/"asc"/"desc"
scalars = st.one_of(
    st.text(),
    st.text(SEGMENT_ALPHABET + "*:/.", min_size=1),
    st.integers(MIN_INT, MAX_INT),  # beyond 64 bits a number is compared as a float (query.py)
    st.floats(allow_nan=False, allow_infinity=False),
    st.booleans(),
    st.none(),
)
ops = st.sampled_from(["eq", "ne", "gt", "ge", "lt", "le"])
atoms = st.one_of(
    st.builds(Compare, paths, ops, scalars),
    st.builds(Has, paths),
    st.builds(ByGroupId, st.text(min_size=1) | st.text("0123456789", min_size=1)),
)


def flat(cls: type[And] | type[Or], items: list[Expr]) -> Expr:
    return cls(tuple(x for item in items for x in (item.items if isinstance(item, cls) else (item,))))


exprs = st.recursive(
    atoms,
    lambda children: st.one_of(
        st.lists(children, min_size=2, max_size=4).map(lambda xs: flat(And, xs)),
        st.lists(children, min_size=2, max_size=4).map(lambda xs: flat(Or, xs)),
        children.map(Not),
    ),
    max_leaves=12,
)
queries = st.builds(
    Query,
    st.none() | exprs,
    st.lists(st.builds(OrderBy, paths, st.booleans()), max_size=MAX_ORDER_KEYS).map(tuple),
)


class Renderer:
    """Renders an AST to query text, varying keyword case, quoting, spacing and parentheses."""

    def __init__(self, rnd: random.Random) -> None:
        self.rnd = rnd

    def kw(self, word: str) -> str:
        return self.rnd.choice([word, word.upper(), word.title()])

    def string(self, value: str, *, bare_ok: bool) -> str:
        if bare_ok and BARE.fullmatch(value) and self.rnd.random() < 0.7:
            return value
        quote = self.rnd.choice("'\"")
        return quote + value.replace(quote, quote * 2) + quote

    def value(self, value: Scalar) -> str:
        if value is None or isinstance(value, bool):
            return self.kw({None: "null", True: "true", False: "false"}[value])
        if isinstance(value, int | float):
            return repr(value)
        special = NUMBER.fullmatch(value) or value.lower() in ("true", "false", "null")
        return self.string(value, bare_ok=not special)

    def group(self, expr: Expr, needs_parens: bool) -> str:
        text = self.expr(expr)
        return f"({text})" if needs_parens or self.rnd.random() < 0.15 else text

    def expr(self, expr: Expr) -> str:
        if isinstance(expr, Compare):
            return f"{'.'.join(expr.path)} {self.kw(expr.op)} {self.value(expr.value)}"
        if isinstance(expr, Has):
            return f"{self.kw('has')}({'.'.join(expr.path)})"
        if isinstance(expr, ByGroupId):
            gid = expr.group_id  # bare numbers are kept verbatim, but 1e999 would be out of range
            bare_ok = not NUMBER.fullmatch(gid) or (gid.isascii() and gid.isdigit())
            return f"{self.kw('bygroupid')}({self.string(gid, bare_ok=bare_ok)})"
        if isinstance(expr, Not):
            if isinstance(expr.item, And | Or) or self.rnd.random() < 0.5:
                return self.kw("not") + self.rnd.choice([" ", ""]) + f"({self.expr(expr.item)})"
            return f"{self.kw('not')} {self.group(expr.item, False)}"
        sep = self.rnd.choice([" ", "  ", "\n"])
        if isinstance(expr, And):  # items are never And (flattened); Or items need parentheses
            return f"{sep}{self.kw('and')}{sep}".join(self.group(i, isinstance(i, Or)) for i in expr.items)
        return f"{sep}{self.kw('or')}{sep}".join(self.group(i, False) for i in expr.items)

    def query(self, query: Query) -> str:
        parts = []
        if query.filter is not None:
            text = self.expr(query.filter)
            parts.append(self.rnd.choice([text, f"$filter={text}", f"$filter=({text})"]))
        elif query.order_by and self.rnd.random() < 0.5:
            parts.append("$filter=()")
        if query.order_by:
            items = [
                ".".join(o.path) + (f" {self.kw('desc')}" if o.descending else self.rnd.choice(["", " asc"]))
                for o in query.order_by
            ]
            parts.insert(self.rnd.choice([0, len(parts)]), "$orderby=" + ", ".join(items))
        if len(parts) == 2 and not parts[1].startswith("$"):
            parts.reverse()  # a bare filter (no "$filter=") must come first
        return self.rnd.choice([" ", "+"]).join(parts)


@settings(deadline=None)
@given(queries, st.randoms(use_true_random=False))
def test_rendered_ast_parses_back_to_itself(query: Query, rnd: random.Random) -> None:
    text = Renderer(rnd).query(query)
    parsed = parse_query(text)
    assert parsed == query, text
    assert list(leaves(parsed.filter)) == list(leaves(query.filter))


@settings(deadline=None)
@given(queries, st.randoms(use_true_random=False), st.data())
def test_damaged_rendered_queries_only_raise_query_error(
    query: Query, rnd: random.Random, data: st.DataObject
) -> None:
    text = Renderer(rnd).query(query)
    start = data.draw(st.integers(0, len(text)))
    end = data.draw(st.integers(start, len(text)))
    insert = data.draw(st.sampled_from(["", "(", ")", "'", " and", "+", "not "]))
    assert outcome(text[:start] + insert + text[end:]) in ("ok", "error")
