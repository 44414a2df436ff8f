"""The catalogue's registry: every function by name with its arity (checked when a rule is parsed)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

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
