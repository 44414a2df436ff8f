"""Math and bit functions."""

from __future__ import annotations

import math
import random as _random
from collections.abc import Callable

from ..errors import RuleRuntimeError
from .arguments import _data, _int, _num
from .registry import FUNCTIONS, Function, _register

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
