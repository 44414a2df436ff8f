"""A reference evaluation of rule SQL: walks the syntax tree for every input (what the compiler exists not to
do), written from the documented semantics, so the property tests can check the compiled Python against it."""

from __future__ import annotations

from typing import Any

from tether.rules import values
from tether.rules.errors import RuleRuntimeError
from tether.rules.functions import FUNCTIONS
from tether.rules.syntax import (
    Array,
    Binary,
    Call,
    Case,
    Expr,
    Field,
    Key,
    Literal,
    Path,
    Select,
    Star,
    Statement,
    Unary,
    Var,
)

_OPS = {
    "+": values.add, "-": values.sub, "*": values.mul, "/": values.div, "div": values.quotient,
    "mod": values.mod, "=": values.eq, "!=": values.ne, "<": values.lt, "<=": values.le, ">": values.gt,
    ">=": values.ge, "=~": values.topic_match, "in": values.is_in,
}  # fmt: skip


def evaluate(statement: Statement, columns: dict[str, Any]) -> list[dict[str, Any]] | None:
    try:
        return _statement(statement, columns)
    except RuleRuntimeError:
        raise
    except Exception as exc:
        raise RuleRuntimeError(str(exc)) from exc


def _aliases(fields: tuple[Field | Star, ...] | tuple[Field, ...]) -> set[str]:
    return {f.key[0] for f in fields if isinstance(f, Field) and f.aliased}


def _names(expr: Expr | None) -> set[str]:
    if expr is None:
        return set()
    if isinstance(expr, Var):
        return {expr.name}
    if isinstance(expr, Path):
        found = _names(expr.base)
        for step in expr.steps:
            if not isinstance(step, Key):
                found |= _names(step.index)
        return found
    if isinstance(expr, Unary):
        return _names(expr.operand)
    if isinstance(expr, Binary):
        return _names(expr.left) | _names(expr.right)
    if isinstance(expr, Array):
        return set().union(*(_names(e) for e in expr.items))
    if isinstance(expr, Call):
        return set().union(*(_names(e) for e in expr.args))
    if isinstance(expr, Case):
        found = _names(expr.subject) | _names(expr.otherwise)
        for when, then in expr.branches:
            found |= _names(when) | _names(then)
        return found
    return set()


def _select(fields: tuple[Field | Star, ...] | tuple[Field, ...], env: dict[str, Any]) -> dict[str, Any]:
    """Fields in order; an aliased value joins `env` for the fields after it (and for WHERE)."""
    base = dict(env)
    out: dict[str, Any] = {}
    for field in fields:
        if isinstance(field, Star):
            out.update(base)
            continue
        value = _expr(field.expr, env)
        values.nested_put(out, field.key, value)
        if field.aliased:
            values.nested_put(env, field.key, value)
    return out


def _statement(statement: Statement, columns: dict[str, Any]) -> list[dict[str, Any]] | None:
    env = dict(columns)
    if isinstance(statement, Select):
        where = statement.where
        if where is not None and not (_names(where) & _aliases(statement.fields)):
            if _expr(where, env) is not True:
                return None
            where = None
        out = _select(statement.fields, env)
        if where is not None and _expr(where, env) is not True:
            return None
        return [out]
    _select(statement.fields, env)
    collection = _expr(statement.collection, env)
    if isinstance(collection, (str, bytes)):
        collection = values.decode(collection)
    if collection is None:
        return None
    if not isinstance(collection, list):
        raise RuleRuntimeError("FOREACH takes an array")
    env[statement.item] = collection
    if statement.where is not None and _expr(statement.where, env) is not True:
        return None
    outputs = []
    for element in collection:
        each = dict(env)
        each[statement.item] = element
        if statement.incase is not None and _expr(statement.incase, each) is not True:
            continue
        outputs.append(_select(statement.do, dict(each)) if statement.do else each)
    return outputs or None


def _expr(expr: Expr, env: dict[str, Any]) -> Any:
    if isinstance(expr, Literal):
        return expr.value
    if isinstance(expr, Var):
        return env.get(expr.name)
    if isinstance(expr, Path):
        value = _expr(expr.base, env)
        for step in expr.steps:
            value = (
                values.key(value, step.name)
                if isinstance(step, Key)
                else values.index(value, _expr(step.index, env))
            )
        return value
    if isinstance(expr, Unary):
        operand = _expr(expr.operand, env)
        return values.negate(operand) if expr.op == "not" else values.neg(operand)
    if isinstance(expr, Binary):
        if expr.op == "and":
            return _expr(expr.left, env) is True and _expr(expr.right, env) is True
        if expr.op == "or":
            return _expr(expr.left, env) is True or _expr(expr.right, env) is True
        return _OPS[expr.op](_expr(expr.left, env), _expr(expr.right, env))
    if isinstance(expr, Array):
        return [_expr(item, env) for item in expr.items]
    if isinstance(expr, Call):
        return FUNCTIONS[expr.name].call(*(_expr(arg, env) for arg in expr.args))
    assert isinstance(expr, Case)
    subject = None if expr.subject is None else _expr(expr.subject, env)
    for when, then in expr.branches:
        test = _expr(when, env)
        if values.eq(subject, test) if expr.subject is not None else test is True:
            return _expr(then, env)
    return None if expr.otherwise is None else _expr(expr.otherwise, env)
