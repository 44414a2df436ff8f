"""JSON values the stores and the encoder accept: ONE check for every entry path (docs/security.md,
Poison input).

Every fragment (measurements, events, alarms, managed objects, operations) is written with orjson into
SQLite JSON text or PostgreSQL JSONB, and read back and encoded again for every answer. What orjson or the
stores cannot take must be refused before the data joins a write; otherwise one message fails a batch
shared with other devices, or a stored row fails every later listing. The rules:

- integers within signed 64 bits are kept. Beyond: converted to the nearest float when that is finite
  (what orjson's own parser does with integer literals beyond 64 bits, so a REST body and a SmartREST row
  holding the same digits store the same number), else refused. orjson raises on integers beyond 64 bits.
- floats must be finite: orjson writes NaN and Infinity as null (the value would be lost), JSON has no
  literal for them.
- strings and object keys must not hold NUL (PostgreSQL text and JSONB cannot store it) and must be valid
  Unicode (no lone surrogates: orjson cannot encode them as UTF-8); keys are strings.
- objects and arrays nest at most `MAX_DEPTH` levels below the fragment (orjson refuses to encode more
  than 254 levels; the answers wrap a fragment in a few levels of their own: collection, document,
  Bayeux envelope).
- only None, bool, int, float, str, list (tuple) and dict: anything else is refused.

:func:`clean` returns the value, normalised (a new container only where a number was converted), or raises
InvalidInput naming where the problem is. It never raises anything else, for any input.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from tether.core.errors import InvalidInput
from tether.core.ids import MAX_INT, MIN_INT

__all__ = ["MAX_DEPTH", "MAX_INT", "MIN_INT", "clean", "clean_fields", "number"]

#: Levels of objects and arrays below a fragment (the fragment's own value is level 1).
MAX_DEPTH = 64


def number(value: int | float, *, where: str = "value", resource: str = "general") -> int | float:
    """An int within 64 bits or a finite float (a larger int as the nearest float); else InvalidInput."""
    if type(value) is int:
        if MIN_INT <= value <= MAX_INT:
            return value
        try:
            converted = float(value)
        except OverflowError:
            converted = math.inf
        if math.isfinite(converted):
            return converted
        raise InvalidInput(f"{where}: the integer is too large for a number", resource=resource)
    if isinstance(value, bool):
        return value
    if isinstance(value, int):  # an int subclass (IntEnum): as the plain int
        return number(int(value), where=where, resource=resource)
    if isinstance(value, float):
        if math.isfinite(value):
            return value
        raise InvalidInput(f"{where}: NaN and Infinity are not numbers in JSON", resource=resource)
    raise InvalidInput(f"{where}: not a number", resource=resource)


def clean(value: Any, *, where: str = "value", resource: str = "general") -> Any:
    """`value` as the stores accept it (see the module), or InvalidInput."""
    try:
        return _clean(value, 0)
    except _Refused as exc:
        raise InvalidInput(f"{where}{exc.path}: {exc.reason}", resource=resource) from None


def clean_fields(fields: Mapping[str, Any], *, resource: str = "general") -> dict[str, Any]:
    """A document's fragments: each top-level field checked with :func:`clean` (a field is level 0, its
    value's containers count from 1)."""
    out: dict[str, Any] = {}
    for key, item in fields.items():
        try:
            _check_key(key)
            out[key] = _clean(item, 0)
        except _Refused as exc:
            raise InvalidInput(f"{key}{exc.path}: {exc.reason}", resource=resource) from None
    return out


class _Refused(Exception):
    """Raised inside the walk; `path` grows on the way out (only a refused value pays for it)."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        self.path = ""


def _check_key(key: Any) -> None:
    if type(key) is not str and not isinstance(key, str):
        raise _Refused("object keys must be strings")
    if "\x00" in key:
        raise _Refused("names must not contain NUL characters")
    if not key.isascii():
        _check_unicode(key)


def _check_unicode(text: str) -> None:
    try:
        text.encode()
    except UnicodeEncodeError:
        raise _Refused("strings must be valid Unicode (a lone surrogate)") from None


def _check_number(value: Any) -> int | float:
    try:
        return number(value)
    except InvalidInput as exc:
        raise _Refused(exc.message.removeprefix("value: ")) from None


def _clean(value: Any, depth: int) -> Any:
    kind = type(value)
    if kind is str:
        if "\x00" in value:
            raise _Refused("strings must not contain NUL characters")
        if not value.isascii():
            _check_unicode(value)
        return value
    if kind is float:
        if value - value == 0.0:  # finite (NaN and Infinity give NaN)
            return value
        return _check_number(value)
    if kind is int:
        if MIN_INT <= value <= MAX_INT:
            return value
        return _check_number(value)
    if value is None or kind is bool:
        return value
    if kind is dict or isinstance(value, Mapping):
        depth += 1
        if depth > MAX_DEPTH:
            raise _Refused(f"nested deeper than {MAX_DEPTH} levels")
        out: dict[str, Any] | None = None if kind is dict else {}
        for key, item in value.items():
            try:
                if type(key) is not str or "\x00" in key or not key.isascii():
                    _check_key(key)
                # The usual leaves inline (a call per value was most of the walk): what _clean does.
                leaf = type(item)
                if (leaf is float and item - item == 0.0) or (
                    leaf is str and "\x00" not in item and item.isascii()
                ):
                    cleaned = item
                else:
                    cleaned = _clean(item, depth)
            except _Refused as exc:
                exc.path = f".{key}{exc.path}"
                raise
            if out is None and cleaned is not item:
                out = {}
                for done, old in value.items():  # copy what was already checked, then continue
                    if done == key:
                        break
                    out[done] = old
            if out is not None:
                out[key] = cleaned
        return value if out is None else out
    if kind is list or kind is tuple:
        depth += 1
        if depth > MAX_DEPTH:
            raise _Refused(f"nested deeper than {MAX_DEPTH} levels")
        items: list[Any] | None = None if kind is list else []
        for index, item in enumerate(value):
            try:
                cleaned = _clean(item, depth)
            except _Refused as exc:
                exc.path = f"[{index}]{exc.path}"
                raise
            if items is None and cleaned is not item:
                items = list(value[:index])
            if items is not None:
                items.append(cleaned)
        return value if items is None else items
    if isinstance(value, str):  # a str subclass (StrEnum): as the plain string
        return _clean(str(value), depth)
    if isinstance(value, bool | int | float):
        return _check_number(value)
    raise _Refused(f"{kind.__name__} is not a JSON value")
