"""Translate inventory criteria and the query-language AST (inventory/query.py) into SQL conditions."""

from __future__ import annotations

import operator
from collections.abc import Callable
from typing import Any

from sqlalchemy import ColumnElement, and_, exists, false, not_, or_, select
from sqlalchemy.sql.elements import UnaryExpression

from tether.core.clock import parse_iso
from tether.core.errors import BadRequest
from tether.core.ids import parse_id
from tether.inventory.models import ChildKind, InventoryCriteria
from tether.inventory.query import And, ByGroupId, Compare, Expr, Has, Not, Or, OrderBy, Scalar
from tether.storage.sql.dialect import Dialect
from tether.storage.sql.schema import managed_objects as mo
from tether.storage.sql.schema import mo_references as refs

_COLUMNS = {"id": mo.c.id, "name": mo.c.name, "type": mo.c.type, "owner": mo.c.owner}
_TIME_COLUMNS = {"creationTime": mo.c.creation_time, "lastUpdated": mo.c.last_updated}
_OPS: dict[str, Callable[[Any, Any], ColumnElement[bool]]] = {
    "eq": operator.eq,
    "ne": operator.ne,
    "gt": operator.gt,
    "ge": operator.ge,
    "lt": operator.lt,
    "le": operator.le,
}


def like_pattern(wildcard: str) -> str:
    """`abc*` -> `abc%`, with LIKE's own metacharacters escaped."""
    escaped = wildcard.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return escaped.replace("*", "%")


class InventoryFilter:
    def __init__(self, dialect: Dialect) -> None:
        self._d = dialect

    def conditions(self, criteria: InventoryCriteria) -> list[ColumnElement[bool]]:
        d = self._d
        where: list[ColumnElement[bool]] = []
        if criteria.type is not None:
            where.append(mo.c.type == criteria.type)
        if criteria.owner is not None:
            where.append(mo.c.owner == criteria.owner)
        if criteria.fragment_type is not None:
            where.append(d.json_exists(mo.c.attrs, tuple(criteria.fragment_type.split("."))))
        if criteria.ids is not None:
            where.append(mo.c.id.in_(criteria.ids))
        if criteria.text:
            pattern = "%" + like_pattern(criteria.text) + "%"
            where.append(
                or_(
                    d.ilike(mo.c.name, pattern),
                    d.ilike(mo.c.type, pattern),
                    d.ilike(mo.c.owner, pattern),
                    d.ilike(d.document_text(mo.c.attrs), pattern),
                )
            )
        if criteria.child_device_id is not None:
            where.append(mo.c.id.in_(self._parents_of(criteria.child_device_id, (ChildKind.DEVICE,))))
        if criteria.only_roots:
            where.append(
                not_(
                    exists().where(
                        refs.c.child_id == mo.c.id, refs.c.kind.in_((ChildKind.DEVICE, ChildKind.ASSET))
                    )
                )
            )
        if criteria.query is not None and criteria.query.filter is not None:
            where.append(self.expression(criteria.query.filter))
        return where

    def order(self, order_by: tuple[OrderBy, ...]) -> list[UnaryExpression[Any]]:
        keys: list[UnaryExpression[Any]] = []
        for item in order_by:
            head = item.path[0]
            if len(item.path) == 1 and head in _COLUMNS:
                key: Any = _COLUMNS[head]
            elif head in _TIME_COLUMNS:
                key = _TIME_COLUMNS[head]
            else:
                key = self._d.json_sort_key(mo.c.attrs, item.path)
            keys.append(key.desc() if item.descending else key.asc())
        return keys

    def expression(self, node: Expr) -> ColumnElement[bool]:
        match node:
            case And(items):
                return and_(*(self.expression(i) for i in items))
            case Or(items):
                return or_(*(self.expression(i) for i in items))
            case Not(item):
                return not_(self.expression(item))
            case Has(path):
                if len(path) == 1 and path[0] in _COLUMNS:
                    return _COLUMNS[path[0]].is_not(None)
                return self._d.json_exists(mo.c.attrs, path)
            case ByGroupId(group_id):
                parent = parse_id(group_id)
                if parent is None:
                    return false()  # no object has that id
                return mo.c.id.in_(self._children_of(parent))
            case Compare():
                return self._compare(node)
        raise BadRequest(f"Unsupported query element: {node!r}", resource="inventory")

    def _compare(self, node: Compare) -> ColumnElement[bool]:
        head, value, op = node.path[0], node.value, _OPS[node.op]
        if head in _TIME_COLUMNS and (len(node.path) == 1 or node.path[1:] == ("date",)):
            if not isinstance(value, str):
                raise BadRequest(f"'{head}' must be compared with a date string", resource="inventory")
            return op(_TIME_COLUMNS[head], parse_iso(value, field=head, resource="inventory"))
        if len(node.path) == 1 and head == "id":
            number = parse_id(_as_text(value))
            if number is None:
                return false()  # not an id: no object has it (`ne` included, as before)
            return op(mo.c.id, number)
        if len(node.path) == 1 and head in _COLUMNS:
            return self._compare_text(_COLUMNS[head], node, _as_text(value))
        return self._compare_json(node)

    def _compare_json(self, node: Compare) -> ColumnElement[bool]:
        d, value, path = self._d, node.value, node.path
        if value is None:
            missing = not_(d.json_exists(mo.c.attrs, path))
            return missing if node.op == "eq" else not_(missing)
        if isinstance(value, bool):
            return _OPS[node.op](d.json_bool(mo.c.attrs, path), 1 if value else 0)
        if isinstance(value, int | float):
            # A number matches numbers, and also strings spelling it (devices often send "12").
            as_number = _OPS[node.op](d.json_number(mo.c.attrs, path), value)
            if node.op in ("eq", "ne"):
                return or_(as_number, _OPS[node.op](d.json_text(mo.c.attrs, path), _as_text(value)))
            return as_number
        return self._compare_text(d.json_text(mo.c.attrs, path), node, value)

    def _compare_text(self, column: Any, node: Compare, value: str) -> ColumnElement[bool]:
        if node.is_wildcard:
            matched = self._d.ilike(column, like_pattern(value))
            return matched if node.op == "eq" else not_(matched)
        return _OPS[node.op](column, value)

    @staticmethod
    def _children_of(parent_id: int) -> Any:
        return select(refs.c.child_id).where(
            refs.c.parent_id == parent_id, refs.c.kind.in_((ChildKind.ASSET, ChildKind.DEVICE))
        )

    @staticmethod
    def _parents_of(child_id: int, kinds: tuple[ChildKind, ...]) -> Any:
        return select(refs.c.parent_id).where(refs.c.child_id == child_id, refs.c.kind.in_(kinds))


def _as_text(value: Scalar) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


__all__ = ["InventoryFilter", "like_pattern"]
