"""The SmartREST CSV codec: examples from Cumulocity's SmartREST 2.0 pages (docs/protocols.md section 3)
and properties (hypothesis)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tether.adapters.smartrest.csv import (
    MalformedCsv,
    encode_row,
    encode_rows,
    parse_rows,
    parse_rows_lenient,
)


@pytest.mark.parametrize(
    ("text", "rows"),
    [
        ("100,,", [["100", "", ""]]),
        ("100", [["100"]]),
        ("200,c8y_Temperature,T,25\r\n211,20\n\n", [["200", "c8y_Temperature", "T", "25"], ["211", "20"]]),
        ("114, c8y_Restart ,c8y_Configuration", [["114", "c8y_Restart", "c8y_Configuration"]]),
        ('400,c8y_E,"Something, quoted"', [["400", "c8y_E", "Something, quoted"]]),
        ('400,c8y_E,"say \\"hi\\""', [["400", "c8y_E", 'say "hi"']]),  # MQTT docs: \"
        ('400,c8y_E,"say ""hi"""', [["400", "c8y_E", 'say "hi"']]),  # SmartREST 1.0 / thin-edge: ""
        ('113,"a=1\nb=2"\n125', [["113", "a=1\nb=2"], ["125"]]),  # raw LF inside quotes
        ('400,c8y_E," padded "', [["400", "c8y_E", " padded "]]),
        ('400,"",x', [["400", "", "x"]]),
    ],
)
def test_examples(text: str, rows: list[list[str]]) -> None:
    assert parse_rows(text) == rows


def test_malformed_rows_do_not_swallow_the_others() -> None:
    parsed = parse_rows_lenient('200,a,b,1\n400,x,"y"z\n200,a,b,2')
    assert [row for row, _ in parsed] == [["200", "a", "b", "1"], ["400", "x", "y"], ["200", "a", "b", "2"]]
    assert [problem is None for _, problem in parsed] == [True, False, True]
    with pytest.raises(MalformedCsv):
        parse_rows('400,"never closed')


def test_downstream_encoding() -> None:
    assert encode_row(["511", "dev", 'echo "hi", there']) == '511,dev,"echo \\"hi\\", there"'
    assert encode_row(["513", "dev", "a=1\nb=2"]) == '513,dev,"a=1\nb=2"'
    assert encode_row(["510", "dev", None, ""]) == "510,dev,,"
    assert encode_rows([["106", "a"], ["124", 5]]) == "106,a\n124,5"


# Values as devices send them; a backslash only escapes a quote, so values whose backslash would precede a
# quote (or end a quoted value) are not representable and left out.
values = st.text(st.characters(blacklist_categories=("Cs",)), max_size=20).filter(lambda v: "\\" not in v)
rows = st.lists(values, min_size=1, max_size=8).map(lambda r: ["1" + r[0].replace(",", ""), *r[1:]])


def _thin_edge(row: list[str]) -> str:
    """How thin-edge.io quotes upstream: "" for a quote, every field with a special character quoted."""
    out = []
    for value in row:
        if value != value.strip() or any(c in value for c in ',"\n\r\t'):
            out.append('"' + value.replace('"', '""') + '"')
        else:
            out.append(value)
    return ",".join(out)


@given(st.lists(rows, min_size=1, max_size=5))
def test_round_trip(table: list[list[str]]) -> None:
    # Rows that would read back as blank lines are not rows. Values with surrounding blanks survive: the
    # encoder quotes them.
    table = [row for row in table if len(row) > 1 or row[0].strip(" \t")]
    encoded = encode_rows(table)
    assert parse_rows(encoded) == table


@given(st.lists(rows, min_size=1, max_size=5))
def test_both_quote_escapes_read_the_same(table: list[list[str]]) -> None:
    table = [row for row in table if len(row) > 1 or row[0].strip(" \t")]
    assert parse_rows("\n".join(_thin_edge(row) for row in table)) == parse_rows(encode_rows(table))


@given(st.text(max_size=200))
def test_any_text_parses_or_reports_a_malformed_row(text: str) -> None:
    for row, problem in parse_rows_lenient(text):
        assert row
        assert problem is None or isinstance(problem, MalformedCsv)


@given(st.lists(st.lists(st.text("abc019 .:_-", max_size=8), min_size=1, max_size=6), min_size=1, max_size=6))
def test_fast_path_agrees_with_the_quoting_parser(table: list[list[str]]) -> None:
    """Text without quotes takes a split-based path; with a quoted field appended it takes the scanner."""
    text = "\n".join(",".join(row) for row in table)
    plain = parse_rows_lenient(text)
    quoted = parse_rows_lenient(text + '\n"x"')
    assert [row for row, _ in quoted][:-1] == [row for row, _ in plain]
