"""Tokens of rule SQL (EMQX 5's rule language): identifiers, numbers, 'strings', "strings" (the topics of
FROM; also plain strings elsewhere), operators and the keywords, which are case-insensitive."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from .errors import RuleSyntaxError

__all__ = ["KEYWORDS", "Token", "tokenize"]

Kind = Literal["ident", "keyword", "number", "string", "dstring", "op", "end"]

KEYWORDS = frozenset(
    {
        "select", "from", "where", "foreach", "do", "incase", "as", "and", "or", "not", "case", "when",
        "then", "else", "end", "div", "mod", "true", "false", "in",
    }
)  # fmt: skip

_OPERATORS = ("=~", "<=", ">=", "<>", "!=", "=", "<", ">", "+", "-", "*", "/", "(", ")", ",", ".", "[", "]")
_NUMBER = re.compile(r"[0-9]+(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?")
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_SPACE = " \t\r\n"


@dataclass(frozen=True, slots=True)
class Token:
    kind: Kind
    value: str  # keywords lower-cased; strings without their quotes, escapes resolved
    offset: int  # where the token starts in the text
    end: int  # where it ends (exclusive)


def position(text: str, offset: int) -> tuple[int, int]:
    """Line and column (1-based) of an offset into the text."""
    line = text.count("\n", 0, offset) + 1
    start = text.rfind("\n", 0, offset) + 1
    return line, offset - start + 1


def error(text: str, offset: int, message: str) -> RuleSyntaxError:
    line, column = position(text, offset)
    return RuleSyntaxError(message, line, column)


def tokenize(text: str) -> list[Token]:
    tokens: list[Token] = []
    i = 0
    n = len(text)
    while i < n:
        ch = text[i]
        if ch in _SPACE:
            i += 1
            continue
        if text.startswith("--", i):  # a comment runs to the end of its line
            newline = text.find("\n", i)
            i = n if newline < 0 else newline + 1
            continue
        if ch in "'\"":
            value, end = _string(text, i)
            tokens.append(Token("string" if ch == "'" else "dstring", value, i, end))
            i = end
            continue
        if "0" <= ch <= "9":
            match = _NUMBER.match(text, i)
            assert match is not None
            if match.end() < n and (text[match.end()].isalnum() or text[match.end()] == "_"):
                raise error(text, i, f"invalid number {text[i : match.end() + 1]!r}")
            tokens.append(Token("number", match.group(), i, match.end()))
            i = match.end()
            continue
        match = _IDENT.match(text, i)
        if match is not None:
            word = match.group()
            lower = word.lower()
            if lower in KEYWORDS:
                tokens.append(Token("keyword", lower, i, match.end()))
            else:
                tokens.append(Token("ident", word, i, match.end()))
            i = match.end()
            continue
        for op in _OPERATORS:
            if text.startswith(op, i):
                tokens.append(Token("op", op, i, i + len(op)))
                i += len(op)
                break
        else:
            raise error(text, i, f"unexpected character {ch!r}")
    tokens.append(Token("end", "", n, n))
    return tokens


def _string(text: str, start: int) -> tuple[str, int]:
    """A quoted string from `start` (its opening quote): a backslash escapes the quote or itself, a doubled
    quote is one quote (SQL); other characters, backslashes before them included, are kept as they are."""
    quote = text[start]
    out: list[str] = []
    i = start + 1
    n = len(text)
    while i < n:
        ch = text[i]
        if ch == "\\" and i + 1 < n and text[i + 1] in (quote, "\\"):
            out.append(text[i + 1])
            i += 2
            continue
        if ch == quote:
            if i + 1 < n and text[i + 1] == quote:
                out.append(quote)
                i += 2
                continue
            return "".join(out), i + 1
        out.append(ch)
        i += 1
    raise error(text, start, "unterminated string")
