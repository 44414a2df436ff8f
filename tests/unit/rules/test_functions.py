"""The function catalogue, called from rule SQL as a rule would."""

from __future__ import annotations

import base64
import datetime as dt
import gzip
import time
from typing import Any

import pytest

from tether.rules import RuleRuntimeError, compile_rule
from tether.rules.functions import FUNCTIONS


def value(expr: str, **columns: Any) -> Any:
    outputs = compile_rule(f"SELECT {expr} AS v FROM 't'").run(columns)
    assert outputs is not None
    return outputs[0].get("v")


CASES: list[tuple[str, Any]] = [
    # math
    ("abs(-3)", 3),
    ("ceil(1.2)", 2),
    ("floor(-1.2)", -2),
    ("round(2.5)", 3),
    ("round(-2.5)", -3),
    ("power(2, 10)", 1024.0),
    ("sqrt(16)", 4.0),
    ("fmod(7, 3)", 1.0),
    ("log10(1000)", 3.0),
    ("exp(0)", 1.0),
    ("cos(0)", 1.0),
    # bits
    ("bitand(12, 10)", 8),
    ("bitor(12, 10)", 14),
    ("bitxor(12, 10)", 6),
    ("bitnot(0)", -1),
    ("bitsl(1, 4)", 16),
    ("bitsr(16, 4)", 1),
    ("bitsize('ab')", 16),
    # type checks and conversions
    ("is_null(payload.nothing)", True),
    ("is_not_null(1)", True),
    ("is_str('a')", True),
    ("is_num(1.5)", True),
    ("is_int(1.5)", False),
    ("is_bool(false)", True),
    ("is_map(json_decode('{}'))", True),
    ("is_array([1])", True),
    ("str(1.5)", "1.5"),
    ("str(true)", "true"),
    ("str(0.1 + 0.2)", "0.3"),
    ("int('42')", 42),
    ("int(2.6)", 3),
    ("float('1.5')", 1.5),
    ("float(3.14159, 2)", 3.14),
    ("bool('true')", True),
    ("float2str(3.14159, 3)", "3.142"),
    ("map('{\"a\":1}')", {"a": 1}),
    ("bin2hexstr('AB')", "4142"),
    ("hexstr2bin('4142')", "AB"),
    # strings
    ("lower('AbC')", "abc"),
    ("upper('abc')", "ABC"),
    ("trim('  a ')", "a"),
    ("ltrim(' a ')", "a "),
    ("rtrim(' a ')", " a"),
    ("reverse('abc')", "cba"),
    ("strlen('héllo')", 5),
    ("substr('abcdef', 2)", "cdef"),
    ("substr('abcdef', 2, 2)", "cd"),
    ("regex_match('abc123', '[0-9]+')", True),
    ("regex_replace('a1b2', '[0-9]', '#')", "a#b#"),
    ("regex_extract('key=val', '(\\w+)=(\\w+)')", ["key", "val"]),
    ("ascii('a')", 97),
    ("find('eeabcabcee', 'abc')", "abcabcee"),
    ("find('eeabcabcee', 'abc', 'trailing')", "abcee"),
    ("find('abc', 'x')", ""),
    ("tokens('a b,c', ' ,')", ["a", "b", "c"]),
    ("concat('a', 1, true)", "a1true"),
    ("sprintf('~s-~p~n', 'a', 2)", "a-2\n"),
    ("pad('ab', 4)", "ab  "),
    ("pad('ab', 4, 'leading', '0')", "00ab"),
    ("pad('ab', 5, 'both', '*')", "*ab**"),
    ("replace('aXbXc', 'X', '-')", "a-b-c"),
    ("replace('aXbXc', 'X', '-', 'leading')", "a-bXc"),
    ("replace('aXbXc', 'X', '-', 'trailing')", "aXb-c"),
    ("split('a/b//c', '/')", ["a", "b", "c"]),
    ("split('a/b//c', '/', 'notrim')", ["a", "b", "", "c"]),
    ("split('a/b/c', '/', 'leading')", ["a", "b/c"]),
    ("split('a/b/c', '/', 'trailing')", ["a/b", "c"]),
    ("unescape('a\\\\nb')", "a\nb"),
    ("join_to_string('-', [1, 'a'])", "1-a"),
    ("join_to_string([1, 2])", "1, 2"),
    ("join_to_sql_values_string([1, 'it''s'])", "1, 'it''s'"),
    # maps
    ("map_get('a.b', json_decode('{\"a\":{\"b\":7}}'))", 7),
    ("map_get('x', json_decode('{}'), 'dflt')", "dflt"),
    ("mget('a.b', json_decode('{\"a.b\":1}'))", 1),
    ("map_put('a.b', 2, json_decode('{\"a\":{\"c\":1}}'))", {"a": {"c": 1, "b": 2}}),
    ("mput('k', 'v', json_decode('{}'))", {"k": "v"}),
    ('map_keys(json_decode(\'{"a":1,"b":2}\'))', ["a", "b"]),
    ('map_values(json_decode(\'{"a":1,"b":2}\'))', [1, 2]),
    ("map_to_entries(json_decode('{\"a\":1}'))", [{"key": "a", "value": 1}]),
    # arrays
    ("nth(1, [5, 6])", 5),
    ("nth(-1, [5, 6])", 6),
    ("length([1, 2, 3])", 3),
    ("sublist(2, [1, 2, 3])", [1, 2]),
    ("sublist(2, 2, [1, 2, 3])", [2, 3]),
    ("first([1, 2])", 1),
    ("last([1, 2])", 2),
    ("contains(2, [1, 2])", True),
    ("contains(3, [1, 2])", False),
    # hashes
    ("md5('a')", "0cc175b9c0f1b6a831c399e269772661"),
    ("sha('a')", "86f7e437faa5a7fce15d1ddcb9eaeaea377667b8"),
    ("sha256('a')", "ca978112ca1bbdcafac231b39a23dc4da786eff8147c4e72b9807785afee48bb"),
    # codecs
    ("base64_encode('hello')", "aGVsbG8="),
    ("base64_decode('aGVsbG8=')", "hello"),
    ("json_encode(json_decode('{\"a\":[1,2]}'))", '{"a":[1,2]}'),
    ("gunzip(gzip('x'))", "x"),
    ("unzip(zip('x'))", "x"),
    ("zip_uncompress(zip_compress('x'))", "x"),
    # time
    ("unix_ts_to_rfc3339(0, 'millisecond')", None),
    ("rfc3339_to_unix_ts('1970-01-01T00:00:01Z')", 1),
    ("rfc3339_to_unix_ts('2021-05-26T10:40:00.123+08:00', 'millisecond')", 1621996800123),
    ("format_date('second', '+08:00', '%Y-%m-%d %H:%M:%S %:z', 0)", "1970-01-01 08:00:00 +08:00"),
    ("format_date('millisecond', 'Z', '%H:%M:%S.%3N', 1500)", "00:00:01.500"),
    ("date_to_unix_ts('second', '%Y-%m-%d %H:%M:%S', '1970-01-02 00:00:00')", 86400),
    ("date_to_unix_ts('second', '+01:00', '%Y-%m-%d %H:%M:%S', '1970-01-01 01:00:00')", 0),
    ("timezone_to_offset_seconds('+01:30')", 5400),
    ("timezone_to_offset_seconds('Z')", 0),
    # misc
    ("coalesce(payload.none, 2)", 2),
    ("jq('.a + 1', '{\"a\": 1}')", [2]),
    ("jq('.[]', '[1, 2]')", [1, 2]),
]


@pytest.mark.parametrize(("expr", "expected"), CASES, ids=[c[0] for c in CASES])
def test_function(expr: str, expected: Any) -> None:
    result = value(expr)
    if expr.startswith("unix_ts_to_rfc3339"):
        local = dt.datetime.fromtimestamp(0).astimezone().strftime("%z")
        assert (
            result
            == dt.datetime.fromtimestamp(0).strftime("%Y-%m-%dT%H:%M:%S")
            + ".000"
            + local[:3]
            + ":"
            + local[3:]
        )
    else:
        assert result == expected


def test_now() -> None:
    before = int(time.time())
    assert before <= value("now_timestamp()") <= before + 5
    assert abs(value("now_timestamp('millisecond')") - time.time() * 1000) < 5000
    assert value("now_rfc3339()")[:4].isdigit()
    assert len(value("uuid_v4()")) == 36 and len(value("uuid_v4_no_hyphen()")) == 32


def test_binary_results_stay_binary() -> None:
    compressed = value("gzip('hello')")
    assert isinstance(compressed, bytes) and gzip.decompress(compressed) == b"hello"
    assert value("base64_encode(gzip('hello'))") == base64.b64encode(compressed).decode()


@pytest.mark.parametrize(
    "expr",
    [
        "sqrt(-1)", "int('x')", "nth(1, 'no')", "first([])", "base64_decode('###')", "json_decode('{')",
        "pad('a', 99999999)", "bitsl(1, 5000)", "regex_match('a', '(')", "substr('a', -1)",
        "format_date('century', 'Z', '%Y')", "date_to_unix_ts('second', '%Y', 'abc')", "jq('.[', '1')",
        "power(10, 400)", "sprintf('~s')", "unescape('\\\\q')", "lower(payload.none)", "hexstr2bin('x')",
    ],
)  # fmt: skip
def test_function_errors_fail_the_rule(expr: str) -> None:
    with pytest.raises(RuleRuntimeError):
        value(expr)


def test_catalogue_is_complete() -> None:
    reference = {
        "abs",
        "ceil",
        "floor",
        "round",
        "power",
        "sqrt",
        "is_null",
        "is_num",
        "is_str",
        "int",
        "float",
        "str",
        "bool",
        "lower",
        "upper",
        "concat",
        "substr",
        "split",
        "tokens",
        "trim",
        "replace",
        "regex_match",
        "regex_replace",
        "regex_extract",
        "sprintf",
        "strlen",
        "find",
        "pad",
        "unescape",
        "map_get",
        "map_put",
        "mget",
        "mput",
        "map_keys",
        "map_values",
        "nth",
        "first",
        "last",
        "length",
        "contains",
        "sublist",
        "md5",
        "sha",
        "sha256",
        "json_encode",
        "json_decode",
        "base64_encode",
        "base64_decode",
        "bin2hexstr",
        "hexstr2bin",
        "gzip",
        "gunzip",
        "zip",
        "unzip",
        "now_timestamp",
        "date_to_unix_ts",
        "format_date",
        "jq",
        "bitand",
        "bitor",
        "bitxor",
        "bitnot",
        "bitsl",
        "bitsr",
    }
    assert reference <= set(FUNCTIONS)
