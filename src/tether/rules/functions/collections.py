"""Map and array functions (map_get, map_put, nth, sublist, ...; arrays count from 1)."""

from __future__ import annotations

from typing import Any

from ..errors import RuleRuntimeError
from ..values import index, key, nested_put
from .arguments import _int, _list, _map, _text
from .registry import _register

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
