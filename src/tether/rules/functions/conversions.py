"""Type checks (is_int, ...) and conversions (str, int, float, bool, map, hex)."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from ..errors import RuleRuntimeError
from ..values import as_number, float_text, to_str, type_name
from .arguments import _binary_result, _data, _int, _map, _num, _text
from .numbers import _round
from .registry import FUNCTIONS, Function, _register

# ----------------------------------------------------------------------------------------------- checks


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
