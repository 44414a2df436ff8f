"""String functions (EMQX's: lower, substr, regex_*, sprintf, split, pad, ...)."""

from __future__ import annotations

import functools
import re

from ..errors import RuleRuntimeError
from ..values import to_str
from .arguments import _bounded, _int, _list, _text
from .registry import _MANY, MAX_SIZE, _register

# ----------------------------------------------------------------------------------------------- strings


@_register("lower", 1)
def _lower(s: object) -> str:
    return _text(s).lower()


@_register("upper", 1)
def _upper(s: object) -> str:
    return _text(s).upper()


@_register("trim", 1)
def _trim(s: object) -> str:
    return _text(s).strip()


@_register("ltrim", 1)
def _ltrim(s: object) -> str:
    return _text(s).lstrip()


@_register("rtrim", 1)
def _rtrim(s: object) -> str:
    return _text(s).rstrip()


@_register("reverse", 1)
def _reverse(s: object) -> str:
    return _text(s)[::-1]


@_register("strlen", 1)
def _strlen(s: object) -> int:
    return len(_text(s))


@_register("substr", 2, 3)
def _substr(s: object, start: object, length: object = None) -> str:
    text = _text(s)
    first = _int(start, "start")
    if first < 0:
        raise RuleRuntimeError("substr: negative start")
    if length is None:
        return text[first:]
    count = _int(length, "length")
    if count < 0:
        raise RuleRuntimeError("substr: negative length")
    return text[first : first + count]


@functools.lru_cache(maxsize=256)
def _regex(pattern: str) -> re.Pattern[str]:
    try:
        return re.compile(pattern)
    except re.error as exc:
        raise RuleRuntimeError(f"invalid regular expression {pattern!r}: {exc}") from exc


@_register("regex_match", 2)
def _regex_match(s: object, pattern: object) -> bool:
    return _regex(_text(pattern)).search(_text(s)) is not None


@_register("regex_replace", 3)
def _regex_replace(s: object, pattern: object, replacement: object) -> str:
    try:
        return _bounded(_regex(_text(pattern)).sub(_text(replacement), _text(s)))
    except (re.error, IndexError) as exc:
        raise RuleRuntimeError(f"regex_replace: {exc}") from exc


@_register("regex_extract", 2)
def _regex_extract(s: object, pattern: object) -> list[str]:
    """The groups of the first match (the whole match if the pattern has no group); [] without a match."""
    match = _regex(_text(pattern)).search(_text(s))
    if match is None:
        return []
    if match.re.groups == 0:
        return [match.group(0)]
    return [group or "" for group in match.groups()]


@_register("ascii", 1)
def _ascii(s: object) -> int:
    text = _text(s)
    if not text:
        raise RuleRuntimeError("ascii of an empty string")
    return ord(text[0])


@_register("find", 2, 3)
def _find(s: object, sub: object, direction: object = "leading") -> str:
    """The rest of `s` from the first (`leading`) or last (`trailing`) `sub`; "" if it is not there."""
    text, part = _text(s), _text(sub)
    where = _text(direction)
    if where not in ("leading", "trailing"):
        raise RuleRuntimeError("find: direction is 'leading' or 'trailing'")
    at = text.find(part) if where == "leading" else text.rfind(part)
    return "" if at < 0 else text[at:]


@_register("tokens", 2, 3)
def _tokens(s: object, separators: object, nocrlf: object = None) -> list[str]:
    seps = set(_text(separators))
    if nocrlf is not None:
        if _text(nocrlf) != "nocrlf":
            raise RuleRuntimeError("tokens: the third argument is 'nocrlf'")
        seps |= {"\r", "\n"}
    out: list[str] = []
    current: list[str] = []
    for ch in _text(s):
        if ch in seps:
            if current:
                out.append("".join(current))
                current = []
        else:
            current.append(ch)
    if current:
        out.append("".join(current))
    return out


@_register("concat", 2, _MANY)
def _concat(*parts: object) -> str:
    return _bounded("".join(_text(p) for p in parts))


_SPRINTF = re.compile(r"~(~|n|s|p|w|\d*[sfegdbx])")


@_register("sprintf", 1, _MANY)
def _sprintf(fmt: object, *args: object) -> str:
    """Erlang's io_lib:format subset: ~s ~p ~w (the value as text), ~n, ~~."""
    remaining = list(args)

    def replace(match: re.Match[str]) -> str:
        directive = match.group(1)
        if directive == "~":
            return "~"
        if directive == "n":
            return "\n"
        if not remaining:
            raise RuleRuntimeError("sprintf: too few arguments")
        return to_str(remaining.pop(0))

    text = _SPRINTF.sub(replace, _text(fmt))
    if remaining:
        raise RuleRuntimeError("sprintf: too many arguments")
    return _bounded(text)


@_register("pad", 2, 4)
def _pad(s: object, length: object, direction: object = "trailing", char: object = " ") -> str:
    text = _text(s)
    size = _int(length, "length")
    if size > MAX_SIZE:
        raise RuleRuntimeError("pad: length too large")
    fill = _text(char)
    if len(fill) != 1:
        raise RuleRuntimeError("pad: the padding is one character")
    missing = size - len(text)
    if missing <= 0:
        return text
    where = _text(direction)
    if where == "trailing":
        return text + fill * missing
    if where == "leading":
        return fill * missing + text
    if where == "both":
        left = missing // 2
        return fill * left + text + fill * (missing - left)
    raise RuleRuntimeError("pad: direction is 'trailing', 'leading' or 'both'")


@_register("replace", 3, 4)
def _replace(s: object, pattern: object, replacement: object, where: object = "all") -> str:
    text, old, new = _text(s), _text(pattern), _text(replacement)
    which = _text(where)
    if not old:
        return text
    if which == "all":
        return _bounded(text.replace(old, new))
    if which == "leading":
        return text.replace(old, new, 1)
    if which == "trailing":
        at = text.rfind(old)
        return text if at < 0 else text[:at] + new + text[at + len(old) :]
    raise RuleRuntimeError("replace: where is 'all', 'leading' or 'trailing'")


@_register("split", 2, 3)
def _split(s: object, separator: object, option: object = None) -> list[str]:
    """Split on every separator, dropping empty parts; `notrim` keeps them; `leading`/`trailing` split once
    at the first/last separator (with `_notrim` to keep empty parts)."""
    text, sep = _text(s), _text(separator)
    if not sep:
        raise RuleRuntimeError("split: empty separator")
    mode = "all" if option is None else _text(option)
    if mode in ("all", "notrim"):
        parts = text.split(sep)
    elif mode in ("leading", "leading_notrim"):
        parts = text.split(sep, 1)
    elif mode in ("trailing", "trailing_notrim"):
        parts = text.rsplit(sep, 1)
    else:
        raise RuleRuntimeError(f"split: unknown option {mode!r}")
    if "notrim" in mode:
        return parts
    return [p for p in parts if p]


_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "b": "\b", "f": "\f", "v": "\v", "0": "\0", "\\": "\\",
            "'": "'", '"': '"', "/": "/"}  # fmt: skip


@_register("unescape", 1)
def _unescape(s: object) -> str:
    text = _text(s)
    out: list[str] = []
    i = 0
    while i < len(text):
        ch = text[i]
        if ch == "\\" and i + 1 < len(text):
            nxt = text[i + 1]
            if nxt in _ESCAPES:
                out.append(_ESCAPES[nxt])
                i += 2
                continue
            if nxt == "u" and re.fullmatch(r"[0-9A-Fa-f]{4}", text[i + 2 : i + 6]):
                out.append(chr(int(text[i + 2 : i + 6], 16)))
                i += 6
                continue
            if nxt == "x" and re.fullmatch(r"[0-9A-Fa-f]{2}", text[i + 2 : i + 4]):
                out.append(chr(int(text[i + 2 : i + 4], 16)))
                i += 4
                continue
            raise RuleRuntimeError(f"unescape: invalid escape \\{nxt}")
        out.append(ch)
        i += 1
    return "".join(out)


@_register("join_to_string", 1, 2)
def _join_to_string(first: object, second: object = None) -> str:
    """`join_to_string(list)` joins with ", "; `join_to_string(sep, list)` with `sep`."""
    sep, items = (", ", first) if second is None else (_text(first), second)
    return _bounded(sep.join(to_str(v) for v in _list(items)))


@_register("join_to_sql_values_string", 1)
def _join_to_sql_values_string(items: object) -> str:
    def quoted(value: object) -> str:
        if type(value) in (int, float):
            return to_str(value)
        return "'" + to_str(value).replace("'", "''") + "'"

    return _bounded(", ".join(quoted(v) for v in _list(items)))
