"""Reading the fields of an incoming Cumulocity document: mandatory fields, strings, ids, times, enums and
the fragments left once the fields the server reads or owns are taken out. Bad content is InvalidInput (a
422); the values inside fragments are the domain's to check (core/values.py, by the services)."""

from __future__ import annotations

import functools
import re
from collections.abc import Collection, Mapping
from enum import StrEnum
from typing import Any, TypeVar

from tether.core.clock import parse_iso
from tether.core.errors import BadRequest, InvalidInput
from tether.core.ids import parse_id

S = TypeVar("S", bound=StrEnum)
Json = dict[str, Any]


def source_id(document: Mapping[str, Any], *, resource: str) -> int:
    """`{"source": {"id": "123"}}`, the id as a string or a number."""
    source = document.get("source")
    if source is None:
        raise InvalidInput("'source' is mandatory", resource=resource)
    raw = source.get("id") if isinstance(source, dict) else None
    if isinstance(raw, bool) or not isinstance(raw, int | str):
        raise InvalidInput("'source' must be an object with an 'id'", resource=resource)
    value = parse_id(str(raw).strip())
    if value is None:
        raise InvalidInput(f"'source.id' must be a managed object id, got {raw!r}", resource=resource)
    return value


def required_string(
    document: Mapping[str, Any], key: str, *, resource: str, max_length: int | None = None
) -> str:
    value = document.get(key)
    if value is None:
        raise InvalidInput(f"'{key}' is mandatory", resource=resource)
    return string(value, key, resource=resource, max_length=max_length)


def string(value: Any, key: str, *, resource: str, max_length: int | None = None) -> str:
    if not isinstance(value, str):
        raise InvalidInput(f"'{key}' must be a string", resource=resource)
    if "\x00" in value:
        raise InvalidInput(f"'{key}' must not contain NUL characters", resource=resource)
    if max_length is not None and len(value) > max_length:
        raise InvalidInput(f"'{key}' is longer than {max_length} characters", resource=resource)
    return value


def type_name(document: Mapping[str, Any], *, resource: str, max_length: int) -> str:
    value = required_string(document, "type", resource=resource, max_length=max_length)
    if not value.strip():
        raise InvalidInput("'type' must not be empty", resource=resource)
    return value


def time(document: Mapping[str, Any], *, resource: str, key: str = "time") -> int:
    value = required_string(document, key, resource=resource)
    try:
        return parse_iso(value, field=key, resource=resource)
    except BadRequest as exc:  # a date in a body is content, not syntax: 422
        raise InvalidInput(exc.message, resource=resource) from None


#: The date and second of a time as the server renders it (clock.to_iso): `2024-01-01T10:12:24`.
_CANONICAL_SECOND = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d", re.ASCII)


def canonical_time(text: str) -> int | None:
    """The instant of a time written as the server renders it (`2024-01-01T10:12:24.378Z`), or None for any
    other form (read those with :func:`time`). A collection's times share their seconds: each second is
    matched and parsed once, the milliseconds are three ASCII digits."""
    if len(text) != 24 or text[19] != "." or text[23] != "Z":
        return None
    ms = text[20:23]
    if not (ms.isdigit() and ms.isascii()):
        return None
    second = _second_ms(text[:19])
    return None if second is None else second + int(ms)


@functools.lru_cache(maxsize=4096)
def _second_ms(text: str) -> int | None:
    """`2024-01-01T10:12:24` (UTC) in milliseconds; None if it is no date or out of range."""
    if _CANONICAL_SECOND.fullmatch(text) is None:
        return None
    try:
        return parse_iso(text)
    except BadRequest:
        return None


def enum_value(value: Any, enum: type[S], key: str, *, resource: str) -> S:
    """A member of `enum` by its exact name (ACTIVE, not active)."""
    names = [member.value for member in enum]
    if not isinstance(value, str) or value not in names:
        raise InvalidInput(f"'{key}' must be one of {', '.join(names)}, got {value!r}", resource=resource)
    return enum(value)


def fragments(document: Mapping[str, Any], reserved: Collection[str], *, keep_null: bool = False) -> Json:
    """Everything but the reserved top-level fields; a null fragment is dropped unless `keep_null` (an
    update, where null removes the fragment)."""
    return {
        key: value
        for key, value in document.items()
        if key not in reserved and (keep_null or value is not None)
    }
