"""Parser for the Cumulocity inventory query language (``q`` / ``query`` of GET /inventory/managedObjects).

Pure and I/O-free: :func:`parse_query` turns already URL-decoded text into a :class:`Query` AST.

Grammar (keywords are case-insensitive)::

    query    := <empty> | (section | filter | '(' ')') (['+'] section)*   -- each section at most once
    section  := '$filter=' [filter | '(' ')'] | '$orderby=' order (',' order)*   -- '$filter =' ok too
    order    := path ['asc' | 'desc']
    filter   := and ('or' and)*
    and      := unary ('and' unary)*
    unary    := 'not' unary | primary
    primary  := '(' filter ')' | 'has' '(' path ')' | 'bygroupid' '(' value ')' | path op value
    op       := 'eq' | 'ne' | 'gt' | 'ge' | 'lt' | 'le'
    value    := 'string' | "string" | number | 'true' | 'false' | 'null' | bareword
    path     := ident ('.' ident)*                  -- ident: letters, digits, '_', '-', '$', '@'

Quoted strings escape their quote by doubling it ('O''Brien'). A bare word (letters, digits and
``_ - $ @ . * : /``) is a string unless it is a number (``-1``, ``2.5``, ``1e+3``) or true/false/null.
``*`` in a string value is a wildcard (see :attr:`Compare.is_wildcard`). Sections are separated by
whitespace or a literal ``+`` (as the ``c8y-api`` client sends ``$filter=(...)+$orderby=name``);
``()``, ``$filter=()`` and an empty ``$filter=`` mean "no filter". Nested ``and``/``or`` are flattened.
Every malformed input raises :class:`QueryError`, and so does a query over one of the limits below: each
condition costs SQL to build and compile on the event loop, so a query's size is bounded up front.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Literal, NamedTuple

from tether.core.ids import parse_int

Scalar = str | int | float | bool | None
Op = Literal["eq", "ne", "gt", "ge", "lt", "le"]
MAX_LENGTH = 4096  # characters of the whole query text
MAX_TERMS = 50  # conditions (comparisons, has(), bygroupid()) in $filter
MAX_DEPTH = 32  # nested parentheses and `not`
MAX_ORDER_KEYS = 10  # keys of $orderby


@dataclass(frozen=True, slots=True)
class Compare:
    path: tuple[str, ...]
    op: Op
    value: Scalar

    @property
    def is_wildcard(self) -> bool:
        """True when ``value`` is a string containing ``*`` and ``op`` is eq/ne."""
        return isinstance(self.value, str) and "*" in self.value and self.op in ("eq", "ne")


@dataclass(frozen=True, slots=True)
class Has:
    path: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ByGroupId:
    group_id: str


@dataclass(frozen=True, slots=True)
class And:
    items: tuple[Expr, ...]


@dataclass(frozen=True, slots=True)
class Or:
    items: tuple[Expr, ...]


@dataclass(frozen=True, slots=True)
class Not:
    item: Expr


Expr = Compare | Has | ByGroupId | And | Or | Not


@dataclass(frozen=True, slots=True)
class OrderBy:
    path: tuple[str, ...]
    descending: bool = False


@dataclass(frozen=True, slots=True)
class Query:
    filter: Expr | None
    order_by: tuple[OrderBy, ...] = ()


class QueryError(ValueError):
    """Raised for any malformed query; str(e) is a short human message naming the position/token."""


_OPS: dict[str, Op] = {"eq": "eq", "ne": "ne", "gt": "gt", "ge": "ge", "lt": "lt", "le": "le"}
_CONSTANTS: dict[str, Scalar] = {"true": True, "false": False, "null": None}
_WORD = r"[\w$@.*:/-]"
_TOKEN_RE = re.compile(
    rf"""(?P<ws>\s+)
    | (?P<section>\$(?:filter|orderby)\s*=)
    | (?P<punct>[(),+])
    | (?P<number>-?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?)(?!{_WORD})
    | (?P<word>{_WORD}+)
    | (?P<string>'[^']*(?:''[^']*)*'|"[^"]*(?:""[^"]*)*")
    | (?P<bad>.)""",
    re.VERBOSE | re.IGNORECASE | re.DOTALL,
)
_PATH_RE = re.compile(r"[\w$@-]+(?:\.[\w$@-]+)*")


class _Tok(NamedTuple):
    kind: str  # "section" | "punct" | "number" | "word" | "string" | "end"
    text: str  # raw text (sections normalized to "$filter=" / "$orderby="); decoded content for strings
    pos: int
    value: Scalar = None


def _describe(tok: _Tok) -> str:
    if tok.kind == "end":
        return "end of query"
    return f"{'string ' if tok.kind == 'string' else ''}{tok.text[:30]!r} at position {tok.pos}"


def _tokenize(text: str) -> list[_Tok]:
    toks: list[_Tok] = []
    for m in _TOKEN_RE.finditer(text):  # consecutive matches; "bad" stops the scan
        kind, raw, pos = m.lastgroup or "", m.group(), m.start()
        if kind == "bad":
            what = "unterminated string" if raw in "'\"" else f"unexpected character {raw!r}"
            raise QueryError(f"{what} at position {pos}")
        if kind == "string":
            content = raw[1:-1].replace(raw[0] * 2, raw[0])
            toks.append(_Tok(kind, content, pos, content))
        elif kind == "number":
            # an integer beyond 64 bits is compared as the nearest float (no store binds it); float()
            # overflows to inf for thousands of digits
            whole = None if re.search("[.eE]", raw) else parse_int(raw)
            try:
                value: int | float = float(raw) if whole is None else whole
            except ValueError:
                value = math.inf
            if isinstance(value, float) and not math.isfinite(value):
                raise QueryError(f"number {raw[:20]!r} out of range at position {pos}")
            toks.append(_Tok(kind, raw, pos, value))
        elif kind == "section":
            toks.append(_Tok(kind, "$filter=" if raw[1] in "fF" else "$orderby=", pos))
        elif kind != "ws":
            toks.append(_Tok(kind, raw, pos))
    toks.append(_Tok("end", "", len(text)))
    return toks


class _Parser:
    def __init__(self, text: str) -> None:
        self.toks = _tokenize(text)
        self.i = 0
        self.depth = 0
        self.terms = 0

    def peek(self, ahead: int = 0) -> _Tok:
        return self.toks[min(self.i + ahead, len(self.toks) - 1)]

    def next(self) -> _Tok:
        self.i += 1
        return self.peek(-1)

    def is_kw(self, tok: _Tok, *words: str) -> bool:
        return tok.kind == "word" and tok.text.lower() in words

    def is_punct(self, ahead: int, punct: str) -> bool:
        tok = self.peek(ahead)
        return tok.kind == "punct" and tok.text == punct

    def expect(self, punct: str) -> None:
        if not self.is_punct(0, punct):
            raise QueryError(f"expected {punct!r}, got {_describe(self.peek())}")
        self.next()

    def at_section_end(self, ahead: int = 0) -> bool:
        return self.peek(ahead).kind in ("end", "section") or self.is_punct(ahead, "+")

    def query(self) -> Query:
        filt: Expr | None = None
        order: tuple[OrderBy, ...] = ()
        seen: set[str] = set()
        while self.peek().kind != "end":
            if seen and self.is_punct(0, "+") and self.peek(1).kind == "section":
                self.next()
            tok = self.peek()
            # a bare filter (no "$filter=") is only allowed as the first part
            section = tok.text if tok.kind == "section" else "" if seen else "$filter="
            if not section or section in seen:
                raise QueryError(f"unexpected {_describe(tok)}")
            seen.add(section)
            self.i += tok.kind == "section"
            if section == "$orderby=":
                order = self.order_by()
            elif self.is_punct(0, "(") and self.is_punct(1, ")") and self.at_section_end(2):
                self.i += 2  # "$filter=()": c8y-api sends this when only ordering is requested
            elif tok.kind != "section" or not self.at_section_end():
                filt = self.filter()
            if not self.at_section_end():
                raise QueryError(f"unexpected {_describe(self.peek())}")
        return Query(filt, order)

    def order_by(self) -> tuple[OrderBy, ...]:
        items = []
        while True:
            path = self.path()
            desc = self.is_kw(self.peek(), "desc")
            if desc or self.is_kw(self.peek(), "asc"):
                self.next()
            items.append(OrderBy(path, desc))
            if not self.is_punct(0, ","):
                return tuple(items)
            if len(items) == MAX_ORDER_KEYS:
                raise QueryError(
                    f"$orderby has more than {MAX_ORDER_KEYS} keys at position {self.peek().pos}"
                )
            self.next()

    def filter(self, keyword: str = "or") -> Expr:
        """``or`` of ``and``-terms, or (with keyword="and") ``and`` of unaries; nested ones flattened."""
        cls = Or if keyword == "or" else And
        items = [self.filter("and") if keyword == "or" else self.unary()]
        while self.is_kw(self.peek(), keyword):
            self.next()
            items.append(self.filter("and") if keyword == "or" else self.unary())
        flat = tuple(x for item in items for x in (item.items if isinstance(item, cls) else (item,)))
        return flat[0] if len(flat) == 1 else cls(flat)

    def unary(self) -> Expr:
        tok = self.peek()
        if not (self.is_kw(tok, "not") or self.is_punct(0, "(")):
            return self.primary()
        self.next()
        self.depth += 1  # guards both "not" chains and parentheses against RecursionError
        if self.depth > MAX_DEPTH:
            raise QueryError(f"query nested more than {MAX_DEPTH} levels deep at position {tok.pos}")
        expr = Not(self.unary()) if tok.kind == "word" else self.filter()
        if tok.kind == "punct":
            self.expect(")")
        self.depth -= 1
        return expr

    def primary(self) -> Expr:
        tok = self.peek()
        self.terms += 1
        if self.terms > MAX_TERMS:
            raise QueryError(f"query has more than {MAX_TERMS} conditions at position {tok.pos}")
        if self.is_kw(tok, "has", "bygroupid") and self.is_punct(1, "("):
            self.i += 2
            if tok.text.lower() == "has":
                result: Expr = Has(self.path())
            else:
                arg = self.next()
                if arg.kind not in ("word", "number", "string") or arg.text == "":
                    raise QueryError(f"expected group id, got {_describe(arg)}")
                result = ByGroupId(arg.text)
            self.expect(")")
            return result
        path = self.path()
        op_tok = self.next()
        op = _OPS.get(op_tok.text.lower()) if op_tok.kind == "word" else None
        if op is None:
            raise QueryError(f"expected operator (eq, ne, gt, ge, lt, le), got {_describe(op_tok)}")
        return Compare(path, op, self.value())

    def value(self) -> Scalar:
        tok = self.next()
        if tok.kind in ("string", "number"):
            return tok.value
        if tok.kind == "word":
            return _CONSTANTS.get(tok.text.lower(), tok.text)
        raise QueryError(f"expected a value, got {_describe(tok)}")

    def path(self) -> tuple[str, ...]:
        tok = self.next()
        if tok.kind not in ("word", "number") or not _PATH_RE.fullmatch(tok.text):
            raise QueryError(f"expected a property path, got {_describe(tok)}")
        return tuple(tok.text.split("."))


def parse_query(text: str) -> Query:
    """Parse an inventory query (``$filter=... $orderby=...`` or a bare filter) into a :class:`Query`."""
    if len(text) > MAX_LENGTH:
        raise QueryError(f"query is longer than {MAX_LENGTH} characters at position {MAX_LENGTH}")
    return _Parser(text).query()
