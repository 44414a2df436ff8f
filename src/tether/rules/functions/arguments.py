"""Argument coercions shared by the functions: a wrong type is a RuleRuntimeError naming the argument."""

from __future__ import annotations

from typing import Any

from ..errors import RuleRuntimeError
from ..values import as_number, decode, to_str, type_name
from .registry import MAX_SIZE


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
