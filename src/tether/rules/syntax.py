"""The syntax tree of a rule: what the parser builds and the compiler turns into Python, once per rule."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "Array",
    "Binary",
    "Call",
    "Case",
    "Expr",
    "Field",
    "Foreach",
    "Index",
    "Key",
    "Literal",
    "Path",
    "Select",
    "Star",
    "Statement",
    "Unary",
    "Var",
]


@dataclass(frozen=True, slots=True)
class Literal:
    value: str | int | float | bool


@dataclass(frozen=True, slots=True)
class Var:
    """A column: a field of the message or event, an alias of the SELECT, the FOREACH element."""

    name: str


@dataclass(frozen=True, slots=True)
class Key:
    name: str


@dataclass(frozen=True, slots=True)
class Index:
    """`[i]`: 1-based, negative from the end (as EMQX)."""

    index: Expr


@dataclass(frozen=True, slots=True)
class Path:
    """`base.a.'b c'[1]`: a JSON string (the payload) is decoded on the way."""

    base: Expr
    steps: tuple[Key | Index, ...]


@dataclass(frozen=True, slots=True)
class Unary:
    op: str  # "-", "not"
    operand: Expr


@dataclass(frozen=True, slots=True)
class Binary:
    op: str  # + - * / div mod = != < > <= >= =~ and or in
    left: Expr
    right: Expr


@dataclass(frozen=True, slots=True)
class Array:
    items: tuple[Expr, ...]


@dataclass(frozen=True, slots=True)
class Call:
    name: str  # lower case
    args: tuple[Expr, ...]


@dataclass(frozen=True, slots=True)
class Case:
    """`CASE [subject] WHEN w THEN t ... [ELSE e] END`; with a subject, each `w` is compared to it."""

    subject: Expr | None
    branches: tuple[tuple[Expr, Expr], ...]
    otherwise: Expr | None


Expr = Literal | Var | Path | Unary | Binary | Array | Call | Case


@dataclass(frozen=True, slots=True)
class Star:
    """`*` in SELECT (or DO): every column."""


@dataclass(frozen=True, slots=True)
class Field:
    expr: Expr
    key: tuple[str, ...]  # where the value goes in the output: the alias, or the path it was read from
    text: str  # the field as written (for messages)
    aliased: bool = False  # named with AS


@dataclass(frozen=True, slots=True)
class Select:
    fields: tuple[Field | Star, ...]
    sources: tuple[str, ...]  # the topic filters and $events/... of FROM
    where: Expr | None


@dataclass(frozen=True, slots=True)
class Foreach:
    """`FOREACH collection [AS item] [DO fields] [INCASE cond] FROM ... [WHERE cond]`."""

    collection: Expr
    item: str  # the element's name ("item" when not given)
    fields: tuple[Field, ...]  # SELECT-like fields evaluated with the FOREACH columns (aliases for WHERE)
    do: tuple[Field | Star, ...]  # () without DO: each output is the columns and the element
    incase: Expr | None
    sources: tuple[str, ...]
    where: Expr | None


Statement = Select | Foreach
