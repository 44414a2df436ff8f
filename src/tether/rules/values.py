"""What rule SQL's operators mean on values (EMQX 5's semantics, in Python).

Values are None (undefined, or JSON null), bool, int, float, str, bytes (a payload that is not UTF-8), list
and dict. A string is decoded as JSON when a key or an index is read from it (`payload.a.b`). Comparisons of a
number with a numeric string compare numbers; anything compared with undefined is false (except `=`, where
undefined equals only undefined). Arithmetic on what is not a number (or a numeric string) raises
:class:`RuleRuntimeError`, as does a division by zero: the rule fails for that input.
"""

from __future__ import annotations

import math
from typing import Any

import orjson

from tether.mqtt.topics import is_valid_topic_filter, is_valid_topic_name, matches

from .errors import RuleRuntimeError

__all__ = [
    "add",
    "as_number",
    "decode",
    "div",
    "eq",
    "ge",
    "gt",
    "index",
    "is_in",
    "key",
    "le",
    "lt",
    "mod",
    "mul",
    "ne",
    "neg",
    "negate",
    "nested_put",
    "quotient",
    "sub",
    "to_json",
    "to_str",
    "topic_match",
    "truth",
]

_TEXT = (str, bytes)


def decode(value: object) -> Any:
    """A string (or bytes) read as JSON; None if it is not JSON."""
    if type(value) is str or type(value) is bytes:
        try:
            return orjson.loads(value)
        except orjson.JSONDecodeError:
            return None
    return value


def key(value: object, name: str) -> Any:
    if type(value) is dict:
        return value.get(name)
    if type(value) is str or type(value) is bytes:
        decoded = decode(value)
        if type(decoded) is dict:
            return decoded.get(name)
    return None


def index(value: object, i: object) -> Any:
    """`value[i]`: 1-based; -1 is the last element; out of range is undefined."""
    if type(value) is str or type(value) is bytes:
        value = decode(value)
    if type(value) is not list:
        return None
    if type(i) is not int:
        raise RuleRuntimeError(f"an index must be an integer, not {type_name(i)}")
    n = len(value)
    if 1 <= i <= n:
        return value[i - 1]
    if -n <= i <= -1:
        return value[i]
    return None


def truth(value: object) -> bool:
    """WHERE, INCASE, AND, OR and CASE WHEN take only `true` as true."""
    return value is True


def negate(value: object) -> bool | None:
    if value is True:
        return False
    if value is False:
        return True
    if value is None:
        return None
    raise RuleRuntimeError(f"NOT of {type_name(value)}")


def type_name(value: object) -> str:
    if value is None:
        return "undefined"
    return {
        bool: "a boolean",
        int: "a number",
        float: "a number",
        str: "a string",
        bytes: "binary data",
        list: "an array",
        dict: "a map",
    }.get(type(value), type(value).__name__)


def as_number(value: object) -> int | float | None:
    """A number, or a string that reads as one; None otherwise."""
    t = type(value)
    if t is int or t is float:
        return value  # type: ignore[return-value]
    if isinstance(value, str | bytes):
        text = (value.decode("utf-8", "replace") if isinstance(value, bytes) else value).strip()
        try:
            return int(text)
        except ValueError:
            pass
        try:
            number = float(text)
        except ValueError:
            return None
        return number if math.isfinite(number) else None
    return None


def _numbers(op: str, a: object, b: object) -> tuple[int | float, int | float]:
    x = as_number(a)
    y = as_number(b)
    if x is None or y is None:
        raise RuleRuntimeError(f"{type_name(a)} {op} {type_name(b)}: both must be numbers")
    return x, y


def add(a: object, b: object) -> Any:
    ta, tb = type(a), type(b)
    if (ta is int or ta is float) and (tb is int or tb is float):
        return a + b  # type: ignore[operator]
    if ta is str and tb is str:
        return a + b  # type: ignore[operator]
    x, y = _numbers("+", a, b)
    return x + y


def sub(a: object, b: object) -> int | float:
    x, y = _numbers("-", a, b)
    return x - y


def mul(a: object, b: object) -> int | float:
    x, y = _numbers("*", a, b)
    return x * y


def div(a: object, b: object) -> float:
    x, y = _numbers("/", a, b)
    if y == 0:
        raise RuleRuntimeError("division by zero")
    try:
        return x / y
    except OverflowError as exc:
        raise RuleRuntimeError("number too large") from exc


def _integers(op: str, a: object, b: object) -> tuple[int, int]:
    x, y = _numbers(op, a, b)
    if type(x) is not int or type(y) is not int:
        raise RuleRuntimeError(f"{op} takes integers")
    if y == 0:
        raise RuleRuntimeError("division by zero")
    return x, y


def quotient(a: object, b: object) -> int:
    """`div`: integer division truncated toward zero (Erlang's `div`)."""
    x, y = _integers("div", a, b)
    q = abs(x) // abs(y)
    return q if (x >= 0) == (y >= 0) else -q


def mod(a: object, b: object) -> int:
    """`mod`: the remainder with the sign of the dividend (Erlang's `rem`)."""
    x, y = _integers("mod", a, b)
    return x - y * quotient(x, y)


def neg(a: object) -> int | float:
    x = as_number(a)
    if x is None:
        raise RuleRuntimeError(f"-{type_name(a)}: not a number")
    return -x


def _comparable(a: object, b: object) -> tuple[Any, Any] | None:
    """The two sides as values of one kind that Python orders, or None if they do not compare."""
    ta, tb = type(a), type(b)
    if a is None or b is None:
        return None
    a_num = ta is int or ta is float
    b_num = tb is int or tb is float
    if a_num and b_num:
        return a, b
    if ta is tb and ta in _TEXT:
        return a, b
    if a_num and tb in _TEXT:
        y = as_number(b)
        return None if y is None else (a, y)
    if b_num and ta in _TEXT:
        x = as_number(a)
        return None if x is None else (x, b)
    return None


def eq(a: object, b: object) -> bool:
    if a is None or b is None:
        return a is b
    ta, tb = type(a), type(b)
    if ta is tb:
        return a == b
    pair = _comparable(a, b)
    if pair is not None:
        return bool(pair[0] == pair[1])
    if ta is bool and tb is str:
        return ("true" if a else "false") == b
    if tb is bool and ta is str:
        return ("true" if b else "false") == a
    return False


def ne(a: object, b: object) -> bool:
    return not eq(a, b)


def lt(a: object, b: object) -> bool:
    pair = _comparable(a, b)
    return pair is not None and bool(pair[0] < pair[1])


def le(a: object, b: object) -> bool:
    pair = _comparable(a, b)
    return pair is not None and bool(pair[0] <= pair[1])


def gt(a: object, b: object) -> bool:
    pair = _comparable(a, b)
    return pair is not None and bool(pair[0] > pair[1])


def ge(a: object, b: object) -> bool:
    pair = _comparable(a, b)
    return pair is not None and bool(pair[0] >= pair[1])


def is_in(a: object, items: list[Any]) -> bool:
    return any(eq(a, item) for item in items)


def topic_match(topic: object, topic_filter: object) -> bool:
    """`topic =~ 'a/+/c'`: the topic filter matches the topic (spec 4.7)."""
    if type(topic) is not str or type(topic_filter) is not str:
        return False
    if not is_valid_topic_name(topic) or not is_valid_topic_filter(topic_filter):
        return False
    return matches(topic_filter, topic)


def nested_put(output: dict[str, Any], path: tuple[str, ...], value: object) -> None:
    """Put a selected value at its key (nested for `AS a.b` and `payload.a`); undefined is left out. The maps
    on the path are copied, never changed in place: an output shares them with the input's columns (`SELECT
    *`), which other rules see too."""
    if value is None:
        return
    if len(path) == 1:
        output[path[0]] = value
        return
    node = output
    for name in path[:-1]:
        child = node.get(name)
        child = node[name] = dict(child) if type(child) is dict else {}
        node = child
    node[path[-1]] = value


def to_str(value: object) -> str:
    """A value as text (EMQX's `str()`): floats with up to 10 decimals, maps and arrays as JSON."""
    t = type(value)
    if t is str:
        return value  # type: ignore[return-value]
    if value is None:
        return "undefined"
    if t is bool:
        return "true" if value else "false"
    if t is int:
        return str(value)
    if t is float:
        return float_text(value)  # type: ignore[arg-type]
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return to_json(value)


def float_text(value: float, decimals: int = 10) -> str:
    if not math.isfinite(value):
        return repr(value)
    text = f"{value:.{decimals}f}".rstrip("0")
    return text + "0" if text.endswith(".") else text


def _default(value: object) -> object:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    raise TypeError


def to_json(value: object) -> str:
    try:
        return orjson.dumps(value, default=_default, option=orjson.OPT_NON_STR_KEYS).decode()
    except (TypeError, orjson.JSONEncodeError) as exc:
        raise RuleRuntimeError(f"cannot encode {type_name(value)} as JSON: {exc}") from exc
