"""The function catalogue of rule SQL (EMQX 5's built-in functions: math, bits, type checks and
conversions, strings, maps, arrays, hashes, codecs, time, UUIDs and `jq`).

Each function is plain Python on rule values (:mod:`.values`); its arity is checked when the rule is parsed.
Indexes are 1-based as in EMQX (`nth(1, arr)`), except `substr`, which counts from 0 as EMQX's does.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import functools
import gzip as _gzip
import hashlib
import itertools
import math
import random as _random
import re
import time
import uuid
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import jq as _jq  # type: ignore[import-not-found]
import orjson

from .errors import RuleRuntimeError
from .values import as_number, decode, float_text, index, key, nested_put, to_json, to_str, type_name

__all__ = ["FUNCTIONS", "Function"]

#: Strings and lists a function builds may not exceed this (a rule is not a way to exhaust memory).
MAX_SIZE = 1 << 20
_MANY = 1 << 16


@dataclass(frozen=True, slots=True)
class Function:
    call: Callable[..., Any]
    min_args: int
    max_args: int


FUNCTIONS: dict[str, Function] = {}


_F = TypeVar("_F", bound=Callable[..., Any])


def _register(name: str, min_args: int, max_args: int | None = None) -> Callable[[_F], _F]:
    def decorate(fn: _F) -> _F:
        FUNCTIONS[name] = Function(fn, min_args, min_args if max_args is None else max_args)
        return fn

    return decorate


# ----------------------------------------------------------------------------------------------- helpers


def _num(value: object, what: str = "argument") -> int | float:
    number = as_number(value)
    if number is None:
        raise RuleRuntimeError(f"{what} must be a number, not {type_name(value)}")
    return number


def _int(value: object, what: str = "argument") -> int:
    number = _num(value, what)
    if type(number) is not int:
        raise RuleRuntimeError(f"{what} must be an integer")
    return number


def _text(value: object, what: str = "argument") -> str:
    if type(value) is str:
        return value
    if type(value) is bytes:
        return value.decode("utf-8", "replace")
    if value is None:
        raise RuleRuntimeError(f"{what} must be a string, not undefined")
    return to_str(value)


def _data(value: object) -> bytes:
    if type(value) is bytes:
        return value
    return _text(value).encode()


def _list(value: object, what: str = "argument") -> list[Any]:
    if type(value) is str or type(value) is bytes:
        value = decode(value)
    if type(value) is not list:
        raise RuleRuntimeError(f"{what} must be an array, not {type_name(value)}")
    return value


def _map(value: object, what: str = "argument") -> dict[str, Any]:
    if type(value) is str or type(value) is bytes:
        value = decode(value)
    if type(value) is not dict:
        raise RuleRuntimeError(f"{what} must be a map, not {type_name(value)}")
    return value


def _bounded(text: str) -> str:
    if len(text) > MAX_SIZE:
        raise RuleRuntimeError("result too large")
    return text


def _binary_result(data: bytes) -> str | bytes:
    """Bytes become a string when they are UTF-8 (as a payload does)."""
    try:
        return data.decode()
    except UnicodeDecodeError:
        return data


# ----------------------------------------------------------------------------------------------- math


def _math1(name: str, fn: Callable[[float], float]) -> None:
    def call(x: object) -> float:
        try:
            return fn(_num(x))
        except (ValueError, OverflowError) as exc:
            raise RuleRuntimeError(f"{name}: {exc}") from exc

    FUNCTIONS[name] = Function(call, 1, 1)


for _name, _fn in {
    "acos": math.acos, "acosh": math.acosh, "asin": math.asin, "asinh": math.asinh, "atan": math.atan,
    "atanh": math.atanh, "cos": math.cos, "cosh": math.cosh, "exp": math.exp, "log": math.log,
    "log10": math.log10, "log2": math.log2, "sin": math.sin, "sinh": math.sinh, "sqrt": math.sqrt,
    "tan": math.tan, "tanh": math.tanh,
}.items():  # fmt: skip
    _math1(_name, _fn)


@_register("abs", 1)
def _abs(x: object) -> int | float:
    return abs(_num(x))


@_register("ceil", 1)
def _ceil(x: object) -> int:
    number = _num(x)
    if not math.isfinite(number):
        raise RuleRuntimeError("ceil of an infinite number")
    return math.ceil(number)


@_register("floor", 1)
def _floor(x: object) -> int:
    number = _num(x)
    if not math.isfinite(number):
        raise RuleRuntimeError("floor of an infinite number")
    return math.floor(number)


@_register("round", 1)
def _round(x: object) -> int:
    """Half away from zero (Erlang's round/1)."""
    number = _num(x)
    if not math.isfinite(number):
        raise RuleRuntimeError("round of an infinite number")
    return math.floor(abs(number) + 0.5) * (1 if number >= 0 else -1)


@_register("power", 2)
def _power(x: object, y: object) -> float:
    try:
        return math.pow(_num(x), _num(y))
    except (ValueError, OverflowError) as exc:
        raise RuleRuntimeError(f"power: {exc}") from exc


@_register("fmod", 2)
def _fmod(x: object, y: object) -> float:
    try:
        return math.fmod(_num(x), _num(y))
    except ValueError as exc:
        raise RuleRuntimeError(f"fmod: {exc}") from exc


@_register("random", 0)
def _rand() -> float:
    return _random.random()


# ----------------------------------------------------------------------------------------------- bits


@_register("bitnot", 1)
def _bitnot(x: object) -> int:
    return ~_int(x)


@_register("bitand", 2)
def _bitand(x: object, y: object) -> int:
    return _int(x) & _int(y)


@_register("bitor", 2)
def _bitor(x: object, y: object) -> int:
    return _int(x) | _int(y)


@_register("bitxor", 2)
def _bitxor(x: object, y: object) -> int:
    return _int(x) ^ _int(y)


@_register("bitsl", 2)
def _bitsl(x: object, n: object) -> int:
    shift = _int(n)
    if not 0 <= shift <= 1024:
        raise RuleRuntimeError("bitsl: shift out of range 0..1024")
    return _int(x) << shift


@_register("bitsr", 2)
def _bitsr(x: object, n: object) -> int:
    shift = _int(n)
    if shift < 0:
        raise RuleRuntimeError("bitsr: negative shift")
    return _int(x) >> min(shift, 1 << 16)


@_register("bitsize", 1)
def _bitsize(x: object) -> int:
    return len(_data(x)) * 8


# ----------------------------------------------------------------------------------------------- type checks


def _check(name: str, test: Callable[[object], bool]) -> None:
    FUNCTIONS[name] = Function(test, 1, 1)


_check("is_null", lambda v: v is None)
_check("is_null_var", lambda v: v is None)
_check("is_not_null", lambda v: v is not None)
_check("is_not_null_var", lambda v: v is not None)
_check("is_str", lambda v: type(v) is str or type(v) is bytes)
_check("is_bool", lambda v: type(v) is bool)
_check("is_int", lambda v: type(v) is int)
_check("is_float", lambda v: type(v) is float)
_check("is_num", lambda v: type(v) is int or type(v) is float)
_check("is_map", lambda v: type(v) is dict)
_check("is_array", lambda v: type(v) is list)
_check("is_empty", lambda v: v in ("", b"") or v == [] or v == {})


# ----------------------------------------------------------------------------------------------- conversions


@_register("str", 1)
def _str(x: object) -> str:
    return to_str(x)


@_register("str_utf8", 1)
def _str_utf8(x: object) -> str:
    return to_str(x)


@_register("str_utf16_le", 1)
def _str_utf16_le(x: object) -> bytes:
    return to_str(x).encode("utf-16-le")


@_register("bool", 1)
def _bool(x: object) -> bool:
    if type(x) is bool:
        return x
    if x in (1, "true", b"true"):
        return True
    if x in (0, "false", b"false"):
        return False
    raise RuleRuntimeError(f"bool: cannot convert {type_name(x)}")


@_register("int", 1)
def _to_int(x: object) -> int:
    if type(x) is bool:
        return 1 if x else 0
    number = as_number(x)
    if number is None:
        raise RuleRuntimeError(f"int: cannot convert {type_name(x)}")
    if type(number) is float:
        if not math.isfinite(number):
            raise RuleRuntimeError("int: not a finite number")
        return _round(number)
    return int(number)


@_register("float", 1, 2)
def _to_float(x: object, decimals: object = None) -> float:
    number = as_number(x)
    if number is None:
        raise RuleRuntimeError(f"float: cannot convert {type_name(x)}")
    try:
        result = float(number)
    except OverflowError as exc:
        raise RuleRuntimeError("float: number too large") from exc
    if decimals is not None:
        places = _int(decimals, "decimals")
        if not 0 <= places <= 253:
            raise RuleRuntimeError("float: decimals out of range 0..253")
        result = round(result, places)
    return result


@_register("float2str", 2)
def _float2str(x: object, precision: object) -> str:
    places = _int(precision, "precision")
    if not 0 <= places <= 253:
        raise RuleRuntimeError("float2str: precision out of range 0..253")
    return float_text(float(_num(x)), places)


@_register("map", 1)
def _to_map(x: object) -> dict[str, Any]:
    return _map(x)


@_register("bin2hexstr", 1)
def _bin2hexstr(x: object) -> str:
    return _data(x).hex().upper()


@_register("hexstr2bin", 1)
def _hexstr2bin(x: object) -> str | bytes:
    try:
        return _binary_result(bytes.fromhex(_text(x)))
    except ValueError as exc:
        raise RuleRuntimeError(f"hexstr2bin: {exc}") from exc


# ----------------------------------------------------------------------------------------------- strings


@_register("lower", 1)
def _lower(s: object) -> str:
    return _text(s).lower()


@_register("upper", 1)
def _upper(s: object) -> str:
    return _text(s).upper()


@_register("trim", 1)
def _trim(s: object) -> str:
    return _text(s).strip()


@_register("ltrim", 1)
def _ltrim(s: object) -> str:
    return _text(s).lstrip()


@_register("rtrim", 1)
def _rtrim(s: object) -> str:
    return _text(s).rstrip()


@_register("reverse", 1)
def _reverse(s: object) -> str:
    return _text(s)[::-1]


@_register("strlen", 1)
def _strlen(s: object) -> int:
    return len(_text(s))


@_register("substr", 2, 3)
def _substr(s: object, start: object, length: object = None) -> str:
    text = _text(s)
    first = _int(start, "start")
    if first < 0:
        raise RuleRuntimeError("substr: negative start")
    if length is None:
        return text[first:]
    count = _int(length, "length")
    if count < 0:
        raise RuleRuntimeError("substr: negative length")
    return text[first : first + count]


@functools.lru_cache(maxsize=256)
def _regex(pattern: str) -> re.Pattern[str]:
    try:
        return re.compile(pattern)
    except re.error as exc:
        raise RuleRuntimeError(f"invalid regular expression {pattern!r}: {exc}") from exc


@_register("regex_match", 2)
def _regex_match(s: object, pattern: object) -> bool:
    return _regex(_text(pattern)).search(_text(s)) is not None


@_register("regex_replace", 3)
def _regex_replace(s: object, pattern: object, replacement: object) -> str:
    try:
        return _bounded(_regex(_text(pattern)).sub(_text(replacement), _text(s)))
    except (re.error, IndexError) as exc:
        raise RuleRuntimeError(f"regex_replace: {exc}") from exc


@_register("regex_extract", 2)
def _regex_extract(s: object, pattern: object) -> list[str]:
    """The groups of the first match (the whole match if the pattern has no group); [] without a match."""
    match = _regex(_text(pattern)).search(_text(s))
    if match is None:
        return []
    if match.re.groups == 0:
        return [match.group(0)]
    return [group or "" for group in match.groups()]


@_register("ascii", 1)
def _ascii(s: object) -> int:
    text = _text(s)
    if not text:
        raise RuleRuntimeError("ascii of an empty string")
    return ord(text[0])


@_register("find", 2, 3)
def _find(s: object, sub: object, direction: object = "leading") -> str:
    """The rest of `s` from the first (`leading`) or last (`trailing`) `sub`; "" if it is not there."""
    text, part = _text(s), _text(sub)
    where = _text(direction)
    if where not in ("leading", "trailing"):
        raise RuleRuntimeError("find: direction is 'leading' or 'trailing'")
    at = text.find(part) if where == "leading" else text.rfind(part)
    return "" if at < 0 else text[at:]


@_register("tokens", 2, 3)
def _tokens(s: object, separators: object, nocrlf: object = None) -> list[str]:
    seps = set(_text(separators))
    if nocrlf is not None:
        if _text(nocrlf) != "nocrlf":
            raise RuleRuntimeError("tokens: the third argument is 'nocrlf'")
        seps |= {"\r", "\n"}
    out: list[str] = []
    current: list[str] = []
    for ch in _text(s):
        if ch in seps:
            if current:
                out.append("".join(current))
                current = []
        else:
            current.append(ch)
    if current:
        out.append("".join(current))
    return out


@_register("concat", 2, _MANY)
def _concat(*parts: object) -> str:
    return _bounded("".join(_text(p) for p in parts))


_SPRINTF = re.compile(r"~(~|n|s|p|w|\d*[sfegdbx])")


@_register("sprintf", 1, _MANY)
def _sprintf(fmt: object, *args: object) -> str:
    """Erlang's io_lib:format subset: ~s ~p ~w (the value as text), ~n, ~~."""
    remaining = list(args)

    def replace(match: re.Match[str]) -> str:
        directive = match.group(1)
        if directive == "~":
            return "~"
        if directive == "n":
            return "\n"
        if not remaining:
            raise RuleRuntimeError("sprintf: too few arguments")
        return to_str(remaining.pop(0))

    text = _SPRINTF.sub(replace, _text(fmt))
    if remaining:
        raise RuleRuntimeError("sprintf: too many arguments")
    return _bounded(text)


@_register("pad", 2, 4)
def _pad(s: object, length: object, direction: object = "trailing", char: object = " ") -> str:
    text = _text(s)
    size = _int(length, "length")
    if size > MAX_SIZE:
        raise RuleRuntimeError("pad: length too large")
    fill = _text(char)
    if len(fill) != 1:
        raise RuleRuntimeError("pad: the padding is one character")
    missing = size - len(text)
    if missing <= 0:
        return text
    where = _text(direction)
    if where == "trailing":
        return text + fill * missing
    if where == "leading":
        return fill * missing + text
    if where == "both":
        left = missing // 2
        return fill * left + text + fill * (missing - left)
    raise RuleRuntimeError("pad: direction is 'trailing', 'leading' or 'both'")


@_register("replace", 3, 4)
def _replace(s: object, pattern: object, replacement: object, where: object = "all") -> str:
    text, old, new = _text(s), _text(pattern), _text(replacement)
    which = _text(where)
    if not old:
        return text
    if which == "all":
        return _bounded(text.replace(old, new))
    if which == "leading":
        return text.replace(old, new, 1)
    if which == "trailing":
        at = text.rfind(old)
        return text if at < 0 else text[:at] + new + text[at + len(old) :]
    raise RuleRuntimeError("replace: where is 'all', 'leading' or 'trailing'")


@_register("split", 2, 3)
def _split(s: object, separator: object, option: object = None) -> list[str]:
    """Split on every separator, dropping empty parts; `notrim` keeps them; `leading`/`trailing` split once
    at the first/last separator (with `_notrim` to keep empty parts)."""
    text, sep = _text(s), _text(separator)
    if not sep:
        raise RuleRuntimeError("split: empty separator")
    mode = "all" if option is None else _text(option)
    if mode in ("all", "notrim"):
        parts = text.split(sep)
    elif mode in ("leading", "leading_notrim"):
        parts = text.split(sep, 1)
    elif mode in ("trailing", "trailing_notrim"):
        parts = text.rsplit(sep, 1)
    else:
        raise RuleRuntimeError(f"split: unknown option {mode!r}")
    if "notrim" in mode:
        return parts
    return [p for p in parts if p]


_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "b": "\b", "f": "\f", "v": "\v", "0": "\0", "\\": "\\",
            "'": "'", '"': '"', "/": "/"}  # fmt: skip


@_register("unescape", 1)
def _unescape(s: object) -> str:
    text = _text(s)
    out: list[str] = []
    i = 0
    while i < len(text):
        ch = text[i]
        if ch == "\\" and i + 1 < len(text):
            nxt = text[i + 1]
            if nxt in _ESCAPES:
                out.append(_ESCAPES[nxt])
                i += 2
                continue
            if nxt == "u" and re.fullmatch(r"[0-9A-Fa-f]{4}", text[i + 2 : i + 6]):
                out.append(chr(int(text[i + 2 : i + 6], 16)))
                i += 6
                continue
            if nxt == "x" and re.fullmatch(r"[0-9A-Fa-f]{2}", text[i + 2 : i + 4]):
                out.append(chr(int(text[i + 2 : i + 4], 16)))
                i += 4
                continue
            raise RuleRuntimeError(f"unescape: invalid escape \\{nxt}")
        out.append(ch)
        i += 1
    return "".join(out)


@_register("join_to_string", 1, 2)
def _join_to_string(first: object, second: object = None) -> str:
    """`join_to_string(list)` joins with ", "; `join_to_string(sep, list)` with `sep`."""
    sep, items = (", ", first) if second is None else (_text(first), second)
    return _bounded(sep.join(to_str(v) for v in _list(items)))


@_register("join_to_sql_values_string", 1)
def _join_to_sql_values_string(items: object) -> str:
    def quoted(value: object) -> str:
        if type(value) in (int, float):
            return to_str(value)
        return "'" + to_str(value).replace("'", "''") + "'"

    return _bounded(", ".join(quoted(v) for v in _list(items)))


# ----------------------------------------------------------------------------------------------- maps


def _map_path(name: object) -> list[str]:
    return _text(name, "key").split(".")


@_register("map_get", 2, 3)
def _map_get(name: object, value: object, default: object = None) -> Any:
    """Nested: `map_get('a.b', m)` is m.a.b."""
    node: Any = value
    for part in _map_path(name):
        node = key(node, part)
        if node is None:
            return default
    return node


@_register("mget", 2, 3)
def _mget(name: object, value: object, default: object = None) -> Any:
    found = key(value, _text(name, "key"))
    return default if found is None else found


def _copy(value: object) -> dict[str, Any]:
    if value is None:
        return {}
    return dict(_map(value))


def _deep_copy_path(output: dict[str, Any], path: list[str]) -> None:
    node = output
    for part in path[:-1]:
        child = node.get(part)
        node[part] = dict(child) if type(child) is dict else {}
        node = node[part]


@_register("map_put", 3)
def _map_put(name: object, value: object, target: object) -> dict[str, Any]:
    """A copy of the map with `value` at the nested key `name` (`a.b`)."""
    output = _copy(target)
    path = _map_path(name)
    _deep_copy_path(output, path)
    if value is None:
        return output
    nested_put(output, tuple(path), value)
    return output


@_register("mput", 3)
def _mput(name: object, value: object, target: object) -> dict[str, Any]:
    output = _copy(target)
    output[_text(name, "key")] = value
    return output


@_register("map_keys", 1)
def _map_keys(value: object) -> list[str]:
    return list(_map(value))


@_register("map_values", 1)
def _map_values(value: object) -> list[Any]:
    return list(_map(value).values())


@_register("map_to_entries", 1)
def _map_to_entries(value: object) -> list[dict[str, Any]]:
    return [{"key": k, "value": v} for k, v in _map(value).items()]


@_register("map_size", 1)
def _map_size(value: object) -> int:
    return len(_map(value))


# ----------------------------------------------------------------------------------------------- arrays


@_register("nth", 2)
def _nth(n: object, items: object) -> Any:
    return index(_list(items), _int(n, "n"))


@_register("length", 1)
def _length(value: object) -> int:
    if type(value) is dict:
        return len(value)
    return len(_list(value))


@_register("sublist", 2, 3)
def _sublist(a: object, b: object, c: object = None) -> list[Any]:
    """`sublist(len, list)`: the first `len`; `sublist(start, len, list)` from `start` (1-based)."""
    if c is None:
        count = _int(a, "length")
        if count < 0:
            raise RuleRuntimeError("sublist: negative length")
        return _list(b)[:count]
    start, count, items = _int(a, "start"), _int(b, "length"), _list(c)
    if start < 1 or count < 0:
        raise RuleRuntimeError("sublist: start from 1, length not negative")
    return items[start - 1 : start - 1 + count]


@_register("first", 1)
def _first(items: object) -> Any:
    values = _list(items)
    if not values:
        raise RuleRuntimeError("first of an empty array")
    return values[0]


@_register("last", 1)
def _last(items: object) -> Any:
    values = _list(items)
    if not values:
        raise RuleRuntimeError("last of an empty array")
    return values[-1]


@_register("contains", 2)
def _contains(item: object, items: object) -> bool:
    return item in _list(items)


# ----------------------------------------------------------------------------------------------- hashes


@_register("md5", 1)
def _md5(x: object) -> str:
    return hashlib.md5(_data(x), usedforsecurity=False).hexdigest()


@_register("sha", 1)
def _sha(x: object) -> str:
    return hashlib.sha1(_data(x), usedforsecurity=False).hexdigest()


@_register("sha256", 1)
def _sha256(x: object) -> str:
    return hashlib.sha256(_data(x)).hexdigest()


# ----------------------------------------------------------------------------------------------- codecs


@_register("base64_encode", 1)
def _base64_encode(x: object) -> str:
    return base64.b64encode(_data(x)).decode()


@_register("base64_decode", 1)
def _base64_decode(x: object) -> str | bytes:
    try:
        return _binary_result(base64.b64decode(_data(x), validate=True))
    except binascii.Error as exc:
        raise RuleRuntimeError(f"base64_decode: {exc}") from exc


@_register("json_encode", 1)
def _json_encode(x: object) -> str:
    return to_json(x)


@_register("json_decode", 1)
def _json_decode(x: object) -> Any:
    try:
        return orjson.loads(_data(x))
    except orjson.JSONDecodeError as exc:
        raise RuleRuntimeError(f"json_decode: {exc}") from exc


def _inflate(data: bytes, wbits: int, name: str) -> str | bytes:
    decompressor = zlib.decompressobj(wbits)
    try:
        out = decompressor.decompress(data, MAX_SIZE + 1)
    except zlib.error as exc:
        raise RuleRuntimeError(f"{name}: {exc}") from exc
    if len(out) > MAX_SIZE:
        raise RuleRuntimeError(f"{name}: result too large")
    return _binary_result(out)


@_register("gzip", 1)
def _gzip_(x: object) -> bytes:
    return _gzip.compress(_data(x), mtime=0)


@_register("gunzip", 1)
def _gunzip(x: object) -> str | bytes:
    return _inflate(_data(x), 16 + zlib.MAX_WBITS, "gunzip")


@_register("zip", 1)
def _zip(x: object) -> bytes:
    compressor = zlib.compressobj(wbits=-zlib.MAX_WBITS)
    return compressor.compress(_data(x)) + compressor.flush()


@_register("unzip", 1)
def _unzip(x: object) -> str | bytes:
    return _inflate(_data(x), -zlib.MAX_WBITS, "unzip")


@_register("zip_compress", 1)
def _zip_compress(x: object) -> bytes:
    return zlib.compress(_data(x))


@_register("zip_uncompress", 1)
def _zip_uncompress(x: object) -> str | bytes:
    return _inflate(_data(x), zlib.MAX_WBITS, "zip_uncompress")


# ----------------------------------------------------------------------------------------------- time

_UNITS = {"second": 1, "millisecond": 1_000, "microsecond": 1_000_000, "nanosecond": 1_000_000_000}


def _unit(value: object) -> int:
    name = _text(value, "unit")
    per_second = _UNITS.get(name)
    if per_second is None:
        raise RuleRuntimeError(f"unknown time unit {name!r}: second, millisecond, microsecond, nanosecond")
    return per_second


def _now_ns() -> int:
    return time.time_ns()


@_register("now_timestamp", 0, 1)
def _now_timestamp(unit: object = "second") -> int:
    return _now_ns() * _unit(unit) // 1_000_000_000


def _offset(value: object) -> dt.timezone:
    """`Z`, `local`, `+08:00`, `-0130` or seconds east of UTC."""
    if type(value) is int:
        return dt.timezone(dt.timedelta(seconds=value))
    text = _text(value, "offset")
    if text in ("Z", "z", "utc", "UTC"):
        return dt.UTC
    if text == "local":
        local = dt.datetime.now().astimezone().tzinfo
        assert isinstance(local, dt.timezone)
        return local
    match = re.fullmatch(r"([+-])(\d{2}):?(\d{2})", text)
    if match is None:
        raise RuleRuntimeError(f"invalid time offset {text!r}")
    sign = 1 if match.group(1) == "+" else -1
    minutes = int(match.group(2)) * 60 + int(match.group(3))
    if minutes >= 24 * 60:
        raise RuleRuntimeError(f"invalid time offset {text!r}")
    return dt.timezone(sign * dt.timedelta(minutes=minutes))


def _datetime(ts: int, per_second: int, tz: dt.tzinfo) -> tuple[dt.datetime, int]:
    """The moment of a timestamp in its unit, and the nanoseconds within its second."""
    seconds, fraction = divmod(ts, per_second)
    try:
        moment = dt.datetime.fromtimestamp(seconds, tz)
    except (OverflowError, OSError, ValueError) as exc:
        raise RuleRuntimeError(f"timestamp out of range: {ts}") from exc
    return moment, fraction * (1_000_000_000 // per_second)


def _rfc3339(moment: dt.datetime, nanos: int, per_second: int) -> str:
    text = moment.strftime("%Y-%m-%dT%H:%M:%S")
    if per_second > 1:
        digits = len(str(per_second)) - 1
        text += "." + str(nanos).zfill(9)[:digits]
    offset = moment.strftime("%z")
    return text + offset[:3] + ":" + offset[3:]


@_register("now_rfc3339", 0, 1)
def _now_rfc3339(unit: object = "second") -> str:
    per_second = _unit(unit)
    moment, nanos = _datetime(_now_ns() * per_second // 1_000_000_000, per_second, _offset("local"))
    return _rfc3339(moment, nanos, per_second)


@_register("unix_ts_to_rfc3339", 1, 2)
def _unix_ts_to_rfc3339(ts: object, unit: object = "second") -> str:
    per_second = _unit(unit)
    moment, nanos = _datetime(_int(ts, "timestamp"), per_second, _offset("local"))
    return _rfc3339(moment, nanos, per_second)


@_register("rfc3339_to_unix_ts", 1, 2)
def _rfc3339_to_unix_ts(text: object, unit: object = "second") -> int:
    per_second = _unit(unit)
    value = _text(text)
    try:
        moment = dt.datetime.fromisoformat(value.replace("z", "Z"))
    except ValueError as exc:
        raise RuleRuntimeError(f"not an RFC 3339 time: {value!r}") from exc
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=_offset("local"))
    return _timestamp(moment, per_second)


def _timestamp(moment: dt.datetime, per_second: int) -> int:
    epoch = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
    delta = moment - epoch
    micros = (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds
    return micros * per_second // 1_000_000


_DATE_DIRECTIVE = re.compile(r"%(\d?N|:{0,2}z|[YmdHMSs%])")


@_register("format_date", 3, 4)
def _format_date(unit: object, offset: object, fmt: object, ts: object = None) -> str:
    """`format_date(unit, offset, format[, timestamp])`: %Y %m %d %H %M %S, %N (nanoseconds), %3N (three
    digits), %z (+hhmm), %:z (+hh:mm), %::z (+hh:mm:ss), %s (seconds since the epoch); the timestamp defaults
    to now."""
    per_second = _unit(unit)
    tz = _offset(offset)
    stamp = _now_ns() * per_second // 1_000_000_000 if ts is None else _int(ts, "timestamp")
    moment, nanos = _datetime(stamp, per_second, tz)

    def directive(match: re.Match[str]) -> str:
        d = match.group(1)
        if d.endswith("N"):
            digits = int(d[:-1]) if len(d) > 1 else 9
            return str(nanos).zfill(9)[:digits]
        if d.endswith("z"):
            total = int(moment.utcoffset().total_seconds())  # type: ignore[union-attr]
            sign = "+" if total >= 0 else "-"
            h, rest = divmod(abs(total), 3600)
            m, s = divmod(rest, 60)
            if d == "z":
                return f"{sign}{h:02}{m:02}"
            if d == ":z":
                return f"{sign}{h:02}:{m:02}"
            return f"{sign}{h:02}:{m:02}:{s:02}"
        if d == "s":
            return str(stamp // per_second)
        if d == "%":
            return "%"
        return moment.strftime("%" + d)

    return _bounded(_DATE_DIRECTIVE.sub(directive, _text(fmt, "format")))


_PARSE_FIELDS = {"Y": r"(?P<Y>\d{4})", "m": r"(?P<m>\d{1,2})", "d": r"(?P<d>\d{1,2})",
                 "H": r"(?P<H>\d{1,2})", "M": r"(?P<M>\d{1,2})", "S": r"(?P<S>\d{1,2})",
                 "N": r"(?P<N>\d{1,9})", "z": r"(?P<z>[+-]\d{2}:?\d{2}(?::?\d{2})?|Z)"}  # fmt: skip


@_register("date_to_unix_ts", 3, 4)
def _date_to_unix_ts(unit: object, a: object, b: object, c: object = None) -> int:
    """`date_to_unix_ts(unit, [offset,] format, date)`: the inverse of format_date."""
    per_second = _unit(unit)
    if c is None:
        tz: dt.tzinfo = dt.UTC
        fmt, text = _text(a, "format"), _text(b, "date")
    else:
        tz = _offset(a)
        fmt, text = _text(b, "format"), _text(c, "date")
    pattern: list[str] = []
    i = 0
    while i < len(fmt):
        match = re.match(r"%(\d?N|:{0,2}z|[YmdHMS%])", fmt[i:])
        if match is None:
            pattern.append(re.escape(fmt[i]))
            i += 1
            continue
        d = match.group(1)
        if d == "%":
            pattern.append("%")
        else:
            name = "N" if d.endswith("N") else "z" if d.endswith("z") else d
            if f"(?P<{name}>" in "".join(pattern):
                raise RuleRuntimeError(f"date_to_unix_ts: %{d} twice in the format")
            pattern.append(_PARSE_FIELDS[name])
        i += match.end()
    found = re.fullmatch("".join(pattern), _text(text))
    if found is None:
        raise RuleRuntimeError(f"date {text!r} does not match the format {fmt!r}")
    parts = found.groupdict()
    if parts.get("z"):
        zone = parts["z"]
        tz = dt.UTC if zone == "Z" else _offset(zone[:6] if ":" in zone else zone[:5])
    try:
        moment = dt.datetime(
            int(parts.get("Y") or 1970),
            int(parts.get("m") or 1),
            int(parts.get("d") or 1),
            int(parts.get("H") or 0),
            int(parts.get("M") or 0),
            int(parts.get("S") or 0),
            tzinfo=tz,
        )
    except ValueError as exc:
        raise RuleRuntimeError(f"date_to_unix_ts: {exc}") from exc
    nanos = int((parts.get("N") or "0").ljust(9, "0"))
    return _timestamp(moment, per_second) + nanos * per_second // 1_000_000_000


@_register("timezone_to_offset_seconds", 1)
def _timezone_to_offset_seconds(tz: object) -> int:
    offset = _offset(tz).utcoffset(None)
    return int(offset.total_seconds())


# ----------------------------------------------------------------------------------------------- misc


@_register("uuid_v4", 0)
def _uuid_v4() -> str:
    return str(uuid.uuid4())


@_register("uuid_v4_no_hyphen", 0)
def _uuid_v4_no_hyphen() -> str:
    return uuid.uuid4().hex


@_register("coalesce", 1, _MANY)
def _coalesce(*values: object) -> Any:
    for value in values:
        if value is not None:
            return value
    return None


@functools.lru_cache(maxsize=256)
def _jq_program(program: str) -> Any:
    try:
        return _jq.compile(program)
    except ValueError as exc:
        raise RuleRuntimeError(f"jq: {exc}") from exc


@_register("jq", 2, 3)
def _jq_call(program: object, value: object, _timeout: object = None) -> list[Any]:
    """`jq(program, value)`: every output of the jq program (the `jq` library: jq's own C implementation);
    a string input is read as JSON. EMQX's timeout argument is accepted; programs run to completion."""
    data = decode(value) if type(value) in (str, bytes) else value
    try:
        outputs = iter(_jq_program(_text(program, "program")).input_value(data))
        results = list(itertools.islice(outputs, _MANY + 1))
        if len(results) > _MANY:
            raise RuleRuntimeError(f"jq: more than {_MANY} outputs")
        return results
    except ValueError as exc:
        raise RuleRuntimeError(f"jq: {exc}") from exc
