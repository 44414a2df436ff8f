"""Rule SQL text -> syntax tree (:mod:`.syntax`): a recursive-descent parser with precedence climbing.

Grammar (EMQX 5 rule SQL, keywords case-insensitive):

    statement := SELECT fields FROM sources [WHERE expr]
               | FOREACH fields [DO fields] [INCASE expr] FROM sources [WHERE expr]
    fields    := field {"," field};  field := "*" | expr [AS name {"." name}]
    sources   := string {"," string}   (topic filters and $events/..., "double" or 'single' quoted)

Operators, loosest first: OR; AND; NOT; = != <> < > <= >= =~ IN; + -; * / DIV MOD; unary -; postfix
.key .'key' [index]. FOREACH's last field is the collection (the others are selected columns); its element is
named by its alias, or `item`.
"""

from __future__ import annotations

from tether.mqtt.topics import is_valid_topic_filter

from .errors import RuleSyntaxError
from .functions import FUNCTIONS
from .lexer import Token, error, tokenize
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

__all__ = ["parse", "parse_expression"]

_COMPARISONS = frozenset({"=", "!=", "<>", "<", ">", "<=", ">=", "=~"})
#: Nesting deeper than this is refused (a rule is not a program; it also keeps Python's stack safe).
MAX_DEPTH = 64


def parse(text: str) -> Statement:
    """Parse one rule; raises :class:`RuleSyntaxError` with the line and column of the problem."""
    return _Parser(text).statement()


def parse_expression(text: str) -> Expr:
    """Parse a lone expression (tests, templates)."""
    parser = _Parser(text)
    expr = parser.expr()
    parser.expect_end()
    return expr


class _Parser:
    def __init__(self, text: str) -> None:
        if not isinstance(text, str):
            raise RuleSyntaxError("the rule must be a string", 1, 1)
        self.text = text
        self.tokens = tokenize(text)
        self.pos = 0
        self.depth = 0

    # ------------------------------------------------------------------ helpers

    @property
    def tok(self) -> Token:
        return self.tokens[self.pos]

    def advance(self) -> Token:
        token = self.tokens[self.pos]
        if token.kind != "end":
            self.pos += 1
        return token

    def fail(self, message: str, token: Token | None = None) -> RuleSyntaxError:
        token = token or self.tok
        found = "the end of the rule" if token.kind == "end" else repr(self.text[token.offset : token.end])
        return error(self.text, token.offset, f"{message}, found {found}")

    def is_keyword(self, *words: str) -> bool:
        return self.tok.kind == "keyword" and self.tok.value in words

    def is_op(self, *ops: str) -> bool:
        return self.tok.kind == "op" and self.tok.value in ops

    def keyword(self, word: str) -> Token:
        if not self.is_keyword(word):
            raise self.fail(f"expected {word.upper()}")
        return self.advance()

    def op(self, op: str) -> Token:
        if not self.is_op(op):
            raise self.fail(f"expected {op!r}")
        return self.advance()

    def expect_end(self) -> None:
        if self.tok.kind != "end":
            raise self.fail("expected the end of the rule")

    # ------------------------------------------------------------------ statements

    def statement(self) -> Statement:
        if self.is_keyword("select"):
            self.advance()
            fields = self.fields(star=True)
            sources = self.sources()
            where = self.where()
            self.expect_end()
            return Select(tuple(fields), sources, where)
        if self.is_keyword("foreach"):
            self.advance()
            start = self.tok
            selected = self.fields(star=False)
            last = selected[-1]
            assert isinstance(last, Field)
            if last.aliased and len(last.key) != 1:
                raise error(self.text, start.offset, "the FOREACH element's name must be a plain name")
            item = last.key[0] if last.aliased else "item"
            do: list[Field | Star] = []
            if self.is_keyword("do"):
                self.advance()
                do = self.fields(star=True)
            incase = None
            if self.is_keyword("incase"):
                self.advance()
                incase = self.expr()
            sources = self.sources()
            where = self.where()
            self.expect_end()
            columns = tuple(f for f in selected[:-1] if isinstance(f, Field))
            return Foreach(last.expr, item, columns, tuple(do), incase, sources, where)
        raise self.fail("a rule starts with SELECT or FOREACH")

    def fields(self, *, star: bool) -> list[Field | Star]:
        fields: list[Field | Star] = []
        while True:
            if star and self.is_op("*"):
                self.advance()
                fields.append(Star())
            else:
                fields.append(self.field())
            if not self.is_op(","):
                return fields
            self.advance()

    def field(self) -> Field:
        start = self.tok.offset
        expr = self.expr()
        text = self.text[start : self.tokens[self.pos - 1].end]
        if self.is_keyword("as"):
            self.advance()
            key = [self.name()]
            while self.is_op("."):
                self.advance()
                key.append(self.name())
            return Field(expr, tuple(key), text + " as " + ".".join(key), aliased=True)
        return Field(expr, _default_key(expr, text), text)

    def name(self) -> str:
        token = self.tok
        if token.kind in ("ident", "string", "dstring") or token.kind == "keyword":
            self.advance()
            return token.value
        raise self.fail("expected a name")

    def sources(self) -> tuple[str, ...]:
        self.keyword("from")
        sources = []
        while True:
            token = self.tok
            if token.kind not in ("string", "dstring"):
                raise self.fail("expected a quoted topic filter or event")
            self.advance()
            if not is_valid_topic_filter(token.value) or token.value.startswith("$share/"):
                raise error(self.text, token.offset, f"invalid topic filter {token.value!r}")
            sources.append(token.value)
            if not self.is_op(","):
                return tuple(sources)
            self.advance()

    def where(self) -> Expr | None:
        if self.is_keyword("where"):
            self.advance()
            return self.expr()
        return None

    # ------------------------------------------------------------------ expressions

    def expr(self) -> Expr:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise self.fail("expression nested too deeply")
        try:
            return self.disjunction()
        finally:
            self.depth -= 1

    def disjunction(self) -> Expr:
        left = self.conjunction()
        while self.is_keyword("or"):
            self.advance()
            left = Binary("or", left, self.conjunction())
        return left

    def conjunction(self) -> Expr:
        left = self.negation()
        while self.is_keyword("and"):
            self.advance()
            left = Binary("and", left, self.negation())
        return left

    def negation(self) -> Expr:
        if self.is_keyword("not"):
            self.advance()
            self.depth += 1
            if self.depth > MAX_DEPTH:
                raise self.fail("expression nested too deeply")
            try:
                return Unary("not", self.negation())
            finally:
                self.depth -= 1
        return self.comparison()

    def comparison(self) -> Expr:
        left = self.additive()
        if self.is_op(*_COMPARISONS):
            op = self.advance().value
            return Binary("!=" if op == "<>" else op, left, self.additive())
        if self.is_keyword("in") or (self.is_keyword("not") and self._next_is_in()):
            negated = self.advance().value == "not"
            if negated:
                self.advance()
            self.op("(")
            items = [self.expr()]
            while self.is_op(","):
                self.advance()
                items.append(self.expr())
            self.op(")")
            test: Expr = Binary("in", left, Array(tuple(items)))
            return Unary("not", test) if negated else test
        return left

    def _next_is_in(self) -> bool:
        following = self.tokens[self.pos + 1]
        return following.kind == "keyword" and following.value == "in"

    def additive(self) -> Expr:
        left = self.multiplicative()
        while self.is_op("+", "-"):
            op = self.advance().value
            left = Binary(op, left, self.multiplicative())
        return left

    def multiplicative(self) -> Expr:
        left = self.unary()
        while self.is_op("*", "/") or self.is_keyword("div", "mod"):
            op = self.advance().value
            left = Binary(op, left, self.unary())
        return left

    def unary(self) -> Expr:
        if self.is_op("-"):
            self.advance()
            self.depth += 1
            if self.depth > MAX_DEPTH:
                raise self.fail("expression nested too deeply")
            try:
                operand = self.unary()
            finally:
                self.depth -= 1
            if isinstance(operand, Literal) and type(operand.value) in (int, float):
                return Literal(-operand.value)  # type: ignore[operator]
            return Unary("-", operand)
        return self.postfix()

    def postfix(self) -> Expr:
        base = self.primary()
        steps: list[Key | Index] = []
        while True:
            if self.is_op("."):
                self.advance()
                token = self.tok
                if token.kind in ("ident", "keyword", "string", "dstring") or (
                    token.kind == "number" and token.value.isdigit()
                ):
                    self.advance()
                    steps.append(Key(token.value))
                else:
                    raise self.fail("expected a key after '.'")
            elif self.is_op("["):
                self.advance()
                steps.append(Index(self.expr()))
                self.op("]")
            else:
                break
        return Path(base, tuple(steps)) if steps else base

    def primary(self) -> Expr:
        token = self.tok
        if token.kind == "number":
            self.advance()
            text = token.value
            if "." in text or "e" in text or "E" in text:
                return Literal(float(text))
            return Literal(int(text))
        if token.kind in ("string", "dstring"):
            self.advance()
            return Literal(token.value)
        if token.kind == "keyword":
            if token.value in ("true", "false"):
                self.advance()
                return Literal(token.value == "true")
            if token.value == "case":
                return self.case()
            raise self.fail("expected an expression")
        if token.kind == "ident":
            self.advance()
            if self.is_op("("):
                return self.call(token)
            return Var(token.value)
        if self.is_op("("):
            self.advance()
            expr = self.expr()
            self.op(")")
            return expr
        if self.is_op("["):
            self.advance()
            items: list[Expr] = []
            if not self.is_op("]"):
                items.append(self.expr())
                while self.is_op(","):
                    self.advance()
                    items.append(self.expr())
            self.op("]")
            return Array(tuple(items))
        raise self.fail("expected an expression")

    def call(self, name: Token) -> Expr:
        self.op("(")
        args: list[Expr] = []
        if not self.is_op(")"):
            args.append(self.expr())
            while self.is_op(","):
                self.advance()
                args.append(self.expr())
        self.op(")")
        lower = name.value.lower()
        function = FUNCTIONS.get(lower)
        if function is None:
            raise error(self.text, name.offset, f"unknown function {name.value!r}")
        if not function.min_args <= len(args) <= function.max_args:
            expected = (
                str(function.min_args)
                if function.min_args == function.max_args
                else f"{function.min_args} to {function.max_args}"
                if function.max_args < 1000
                else f"at least {function.min_args}"
            )
            raise error(self.text, name.offset, f"{lower}() takes {expected} arguments, {len(args)} given")
        return Call(lower, tuple(args))

    def case(self) -> Expr:
        self.keyword("case")
        subject = None if self.is_keyword("when") else self.expr()
        branches: list[tuple[Expr, Expr]] = []
        while self.is_keyword("when"):
            self.advance()
            when = self.expr()
            self.keyword("then")
            branches.append((when, self.expr()))
        if not branches:
            raise self.fail("expected WHEN")
        otherwise = None
        if self.is_keyword("else"):
            self.advance()
            otherwise = self.expr()
        self.keyword("end")
        return Case(subject, tuple(branches), otherwise)


def _default_key(expr: Expr, text: str) -> tuple[str, ...]:
    """Where a field without an alias goes in the output: `payload.a.b` nests as {"payload": {"a": {"b":
    ...}}}, a column keeps its name, anything else is keyed by its text (EMQX's behaviour)."""
    if isinstance(expr, Var):
        return (expr.name,)
    if isinstance(expr, Path) and isinstance(expr.base, Var) and all(isinstance(s, Key) for s in expr.steps):
        return (expr.base.name, *(s.name for s in expr.steps if isinstance(s, Key)))
    return (text,)
