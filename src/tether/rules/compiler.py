"""Rule SQL -> Python, once per rule: the syntax tree becomes the source of one Python function, compiled
with `compile()`, so a message costs the evaluation of straight-line Python (no walk over a tree).

The function takes the input's columns (a dict: the message's or event's fields, never holding None) and
returns the outputs (one per SELECT, zero or more per FOREACH) or None when the rule does not pass (WHERE
false, or a FOREACH with nothing left after INCASE).

Semantics follow EMQX 5: a field may use the aliases of the fields before it and WHERE those of every field
(so when it does, SELECT is evaluated first; when it does not, WHERE first, which saves the work of SELECT on
messages that fail); FOREACH's WHERE sees the whole collection under the element's name, INCASE and DO each
element; without DO each output is the columns with the element.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import orjson

import tether.rules.values as values

from .errors import RuleRuntimeError, RuleSyntaxError
from .functions import FUNCTIONS
from .parser import parse
from .syntax import (
    Array,
    Binary,
    Call,
    Case,
    Expr,
    Field,
    Foreach,
    Index,
    Key,
    Literal,
    Path,
    Select,
    Star,
    Statement,
    Unary,
    Var,
)

__all__ = ["CompiledRule", "compile_rule", "compile_statement"]

#: Deeper expressions are refused: the generated Python must stay within what `compile()` accepts.
MAX_NESTING = 48

Columns = dict[str, Any]
Outputs = list[dict[str, Any]]

_BINARY = {
    "+": "_add", "-": "_sub", "*": "_mul", "/": "_div", "div": "_quot", "mod": "_mod", "=": "_eq",
    "!=": "_ne", "<": "_lt", "<=": "_le", ">": "_gt", ">=": "_ge", "=~": "_tm", "in": "_in",
}  # fmt: skip

#: Comparisons done inline when both sides are numbers (int or float, never bool): Python's own.
_NUMERIC = {"=": "==", "!=": "!=", "<": "<", "<=": "<=", ">": ">", ">=": ">="}

_RUNTIME: dict[str, object] = {
    "_add": values.add, "_sub": values.sub, "_mul": values.mul, "_div": values.div,
    "_quot": values.quotient, "_mod": values.mod, "_eq": values.eq, "_ne": values.ne, "_lt": values.lt,
    "_le": values.le, "_gt": values.gt, "_ge": values.ge, "_tm": values.topic_match, "_in": values.is_in,
    "_not": values.negate, "_neg": values.neg, "_t": values.truth, "_key": values.key,
    "_index": values.index, "_decode": values.decode, "_put": values.nested_put, "_list": list,
    "_RuleRuntimeError": RuleRuntimeError, "_loads": orjson.loads, "_JSONDecodeError": orjson.JSONDecodeError,
}  # fmt: skip


@dataclass(frozen=True, slots=True)
class CompiledRule:
    sql: str
    statement: Statement
    sources: tuple[str, ...]  # FROM: topic filters and $events/...
    source: str  # the generated Python (for reading and debugging)
    function: Callable[[Columns], Outputs | None]
    #: The column names the rule reads (and aliases: a name is read whether it is a column or not).
    reads: frozenset[str] = frozenset()
    #: Whether an output may hold columns the rule does not name (`SELECT *`, FOREACH without DO): what
    #: the actions read of the outputs is then read of the columns too.
    passes_columns: bool = True
    #: For a SELECT: the same rule giving its one output itself (None when it does not pass), and for a
    #: bare `SELECT *` the columns themselves, not a copy (for the engine's fused path, which builds the
    #: columns for each input and never changes an output).
    one: Callable[[Columns], dict[str, Any] | None] | None = None

    def run(self, columns: Columns) -> Outputs | None:
        """The outputs for one input; None if the rule does not pass. Raises RuleRuntimeError."""
        try:
            return self.function(columns)
        except RuleRuntimeError:
            raise
        except (RecursionError, MemoryError) as exc:
            raise RuleRuntimeError(f"evaluation too large: {type(exc).__name__}") from exc
        except Exception as exc:  # a function given what it cannot take (e.g. a type it does not know)
            raise RuleRuntimeError(f"{type(exc).__name__}: {exc}") from exc


def compile_rule(sql: str) -> CompiledRule:
    """Parse and compile; raises RuleSyntaxError (with line and column) if the rule is not valid."""
    return compile_statement(sql, parse(sql))


def compile_statement(sql: str, statement: Statement) -> CompiledRule:
    for expr in _expressions(statement):
        if _depth(expr) > MAX_NESTING:
            raise RuleSyntaxError(f"expression nested more than {MAX_NESTING} levels deep", 1, 1)
    source, function = _build(statement, one=False)
    one = _build(statement, one=True)[1] if isinstance(statement, Select) else None
    reads: set[str] = set()
    for expr in _expressions(statement):
        reads |= _names(expr)
    fields = list(statement.fields) + (list(statement.do) if isinstance(statement, Foreach) else [])
    passes = any(isinstance(f, Star) for f in fields) or (isinstance(statement, Foreach) and not statement.do)
    return CompiledRule(
        sql, statement, statement.sources, source, function, frozenset(reads), passes_columns=passes, one=one
    )


def _build(statement: Statement, *, one: bool) -> tuple[str, Any]:
    """The Python source of the rule and the function compiled from it (`one`: see CompiledRule.one)."""
    generator = _Generator(one=one)
    source = generator.statement(statement)
    namespace: dict[str, object] = dict(_RUNTIME)
    namespace.update(generator.constants)
    try:
        code = compile(source, "<rule>", "exec")
    except (SyntaxError, RecursionError, MemoryError, ValueError) as exc:
        raise RuleSyntaxError(f"rule too complex to compile ({type(exc).__name__})", 1, 1) from exc
    exec(code, namespace)
    return source, namespace["_rule"]


# --------------------------------------------------------------------------------------------- analysis


def _children(expr: Expr) -> Iterator[Expr]:
    if isinstance(expr, Path):
        yield expr.base
        for step in expr.steps:
            if isinstance(step, Index):
                yield step.index
    elif isinstance(expr, Unary):
        yield expr.operand
    elif isinstance(expr, Binary):
        yield expr.left
        yield expr.right
    elif isinstance(expr, (Array, Call)):
        yield from expr.items if isinstance(expr, Array) else expr.args
    elif isinstance(expr, Case):
        if expr.subject is not None:
            yield expr.subject
        for when, then in expr.branches:
            yield when
            yield then
        if expr.otherwise is not None:
            yield expr.otherwise


def _depth(expr: Expr) -> int:
    """How deeply the expression nests (iteratively: the tree may be too deep for recursion)."""
    deepest = 0
    stack = [(expr, 1)]
    while stack:
        node, depth = stack.pop()
        deepest = max(deepest, depth)
        if depth > MAX_NESTING:
            return depth
        stack.extend((child, depth + 1) for child in _children(node))
    return deepest


def _names(expr: Expr | None) -> set[str]:
    """The columns an expression reads."""
    found: set[str] = set()
    stack = [] if expr is None else [expr]
    while stack:
        node = stack.pop()
        if isinstance(node, Var):
            found.add(node.name)
        stack.extend(_children(node))
    return found


def _expressions(statement: Statement) -> Iterator[Expr]:
    fields: list[Field | Star] = list(statement.fields)
    if isinstance(statement, Foreach):
        yield statement.collection
        fields += statement.do
        if statement.incase is not None:
            yield statement.incase
    for field in fields:
        if isinstance(field, Field):
            yield field.expr
    if statement.where is not None:
        yield statement.where


# --------------------------------------------------------------------------------------------- code


class _Generator:
    def __init__(self, *, one: bool = False) -> None:
        self.one = one
        self.constants: dict[str, object] = {}
        self.lines: list[str] = []
        self.lambdas = 0
        self.temps = 0
        # The environment whose `payload` is the message's own, decoded once into `pd`.
        self.decoded_env: set[str] = set()

    def const(self, value: object) -> str:
        name = f"_k{len(self.constants)}"
        self.constants[name] = value
        return name

    def emit(self, line: str, indent: int = 1) -> None:
        self.lines.append("    " * indent + line)

    # ----------------------------------------------------------------- statements

    def statement(self, statement: Statement) -> str:
        self.lines = ["def _rule(c):"]
        uses_payload = any(_reads_payload_path(e) for e in _expressions(statement))
        if uses_payload:  # `_decode` inline (a call less a message)
            self.emit("pd = c.get('payload')")
            self.emit("if type(pd) is str or type(pd) is bytes:")
            self.emit("try:", 2)
            self.emit("pd = _loads(pd)", 3)
            self.emit("except _JSONDecodeError:", 2)
            self.emit("pd = None", 3)
            self.decoded_env.add("c")
        if isinstance(statement, Select):
            self.select(statement)
        else:
            self.foreach(statement)
        return "\n".join(self.lines) + "\n"

    def select(self, statement: Select) -> None:
        aliases = _alias_heads(statement.fields)
        where = statement.where
        if where is not None and not (_names(where) & aliases):
            self.emit(f"if {self.expr(where, 'c')} is not True:")
            self.emit("return None", 2)
            where = None
        if self.one and len(statement.fields) == 1 and isinstance(statement.fields[0], Star):
            self.emit("return c")  # (no alias: WHERE, if any, came first)
            return
        # WHERE sees the columns and the aliases (EMQX: the columns merged with what SELECT chose).
        env = self.fields(statement.fields, "c", "o", 1, merge=where is not None)
        if where is not None:
            self.emit(f"if {self.expr(where, env)} is not True:")
            self.emit("return None", 2)
        self.emit("return o" if self.one else "return [o]")

    def fields(
        self, fields: tuple[Field | Star, ...], env: str, out: str, indent: int, *, merge: bool = False
    ) -> str:
        """Evaluate `fields` in `env` into the dict `out`; later fields see earlier aliases. Returns the
        environment holding the columns and the aliases (`env` itself when nothing needed merging)."""
        starts_with_star = bool(fields) and isinstance(fields[0], Star)
        self.emit(f"{out} = dict({env})" if starts_with_star else f"{out} = {{}}", indent)
        later_names: set[str] = set()
        for field in fields:
            if isinstance(field, Field):
                later_names |= _names(field.expr)
        heads = _alias_heads(fields)
        needs_merge = bool(heads) and (merge or bool(heads & later_names))
        current = env
        if needs_merge:
            current = f"{env}_"
            self.emit(f"{current} = dict({env})", indent)
            if env in self.decoded_env and "payload" not in heads:
                self.decoded_env.add(current)
        for i, field in enumerate(fields):
            if isinstance(field, Star):
                if i:  # a first `*` is the copy `out` starts as
                    self.emit(f"{out}.update({env})", indent)
                continue
            code = self.expr(field.expr, current)
            key = field.key
            if len(key) == 1:
                name = self.const(key[0])
                self.emit(f"v = {code}", indent)
                self.emit("if v is not None:", indent)
                self.emit(f"{out}[{name}] = v", indent + 1)
                if needs_merge and field.aliased:
                    self.emit(f"{current}[{name}] = v", indent + 1)
            else:
                path = self.const(key)
                self.emit(f"v = {code}", indent)
                self.emit(f"_put({out}, {path}, v)", indent)
                if needs_merge and field.aliased:
                    self.emit(f"_put({current}, {path}, v)", indent)
        return current

    def foreach(self, statement: Foreach) -> None:
        item = self.const(statement.item)
        aliases = _alias_heads(statement.fields) | {statement.item}
        env = self.fields(statement.fields, "c", "s", 1, merge=True)
        self.emit(f"m = dict({env})")
        if env in self.decoded_env:
            self.decoded_env.add("m")
        self.emit(f"coll = {self.expr(statement.collection, 'm')}")
        self.emit("if type(coll) is str or type(coll) is bytes:")
        self.emit("coll = _decode(coll)", 2)
        self.emit("if coll is None:")
        self.emit("return None", 2)
        self.emit("if type(coll) is not list:")
        self.emit("raise _RuleRuntimeError('FOREACH takes an array')", 2)
        self.emit(f"m[{item}] = coll")
        if statement.item == "payload" or "payload" in aliases - {statement.item}:
            self.decoded_env.discard("m")
        if statement.where is not None:
            self.emit(f"if not _t({self.expr(statement.where, 'm')}):")
            self.emit("return None", 2)
        self.emit("out = []")
        self.emit("for x in coll:")
        self.emit("e = dict(m)", 2)
        self.emit(f"e[{item}] = x", 2)
        if "m" in self.decoded_env and statement.item != "payload":
            self.decoded_env.add("e")
        if statement.incase is not None:
            self.emit(f"if not _t({self.expr(statement.incase, 'e')}):", 2)
            self.emit("continue", 3)
        if statement.do:
            self.fields(statement.do, "e", "o", 2)
            self.emit("out.append(o)", 2)
        else:
            self.emit("out.append(e)", 2)
        self.emit("return out or None")

    # ----------------------------------------------------------------- expressions

    def expr(self, expr: Expr, env: str) -> str:
        if isinstance(expr, Literal):
            return self.const(expr.value)
        if isinstance(expr, Var):
            return f"{env}.get({self.const(expr.name)})"
        if isinstance(expr, Path):
            if isinstance(expr.base, Var) and expr.base.name == "payload" and env in self.decoded_env:
                code = "pd"
            else:
                code = self.expr(expr.base, env)
            for step in expr.steps:
                if isinstance(step, Key):
                    name = self.const(step.name)
                    if code.isidentifier():  # a map's key looked up here, anything else by `_key`
                        code = f"({code}.get({name}) if type({code}) is dict else _key({code}, {name}))"
                    else:
                        code = f"_key({code}, {name})"
                else:
                    code = f"_index({code}, {self.expr(step.index, env)})"
            return code
        if isinstance(expr, Unary):
            operand = self.expr(expr.operand, env)
            return f"_not({operand})" if expr.op == "not" else f"_neg({operand})"
        if isinstance(expr, Binary):
            left = self.expr(expr.left, env)
            right = self.expr(expr.right, env)
            if expr.op == "and":
                return f"(_t({left}) and _t({right}))"
            if expr.op == "or":
                return f"(_t({left}) or _t({right}))"
            literal = expr.right.value if isinstance(expr.right, Literal) else None
            if expr.op in _NUMERIC and type(literal) in (int, float):
                # Against a number: two numbers compare here, anything else as the values module says.
                self.temps += 1
                v = f"_v{self.temps}"
                return (
                    f"({v} {_NUMERIC[expr.op]} {right} if (type({v} := {left}) is int or type({v}) is float)"
                    f" else {_BINARY[expr.op]}({v}, {right}))"
                )
            return f"{_BINARY[expr.op]}({left}, {right})"
        if isinstance(expr, Array):
            return "[" + ", ".join(self.expr(item, env) for item in expr.items) + "]"
        if isinstance(expr, Call):
            function = self.const(FUNCTIONS[expr.name].call)
            return f"{function}(" + ", ".join(self.expr(arg, env) for arg in expr.args) + ")"
        assert isinstance(expr, Case)
        otherwise = "None" if expr.otherwise is None else self.expr(expr.otherwise, env)
        if expr.subject is None:
            code = otherwise
            for when, then in reversed(expr.branches):
                code = f"({self.expr(then, env)} if _t({self.expr(when, env)}) else {code})"
            return code
        self.lambdas += 1
        subject = f"_s{self.lambdas}"
        code = otherwise
        for when, then in reversed(expr.branches):
            code = f"({self.expr(then, env)} if _eq({subject}, {self.expr(when, env)}) else {code})"
        return f"(lambda {subject}: {code})({self.expr(expr.subject, env)})"


def _alias_heads(fields: tuple[Field | Star, ...] | tuple[Field, ...]) -> set[str]:
    return {f.key[0] for f in fields if isinstance(f, Field) and f.aliased}


def _reads_payload_path(expr: Expr) -> bool:
    stack = [expr]
    while stack:
        node = stack.pop()
        if isinstance(node, Path) and isinstance(node.base, Var) and node.base.name == "payload":
            return True
        stack.extend(_children(node))
    return False
