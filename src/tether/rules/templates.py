"""`${var}` templates of rule actions (republish's topic, payload, qos, retain, user properties): each
`${path}` is replaced by the selected value at `path` (`${payload.temp}`, `${pub_props.User-Property}`),
text as `str()` makes it, maps and arrays as JSON, undefined as "undefined" (as EMQX renders it).
A template is parsed once, when its rule is saved."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .errors import RuleSyntaxError
from .values import key, to_str

__all__ = ["Template"]

_PLACEHOLDER = re.compile(r"\$\{([^{}]*)\}")


@dataclass(frozen=True, slots=True)
class Template:
    text: str
    parts: tuple[str | tuple[str, ...], ...]  # literal text, or the path of a placeholder
    #: The parts as (literal, key) pairs when every placeholder is one plain key (the common case).
    _simple: tuple[tuple[str, str | None], ...] | None = field(default=None, compare=False, repr=False)

    @classmethod
    def parse(cls, text: str) -> Template:
        parts: list[str | tuple[str, ...]] = []
        at = 0
        for match in _PLACEHOLDER.finditer(text):
            if match.start() > at:
                parts.append(text[at : match.start()])
            name = match.group(1).strip()
            if not name or any(not p for p in name.split(".")):
                line = text.count("\n", 0, match.start()) + 1
                column = match.start() - (text.rfind("\n", 0, match.start()) + 1) + 1
                raise RuleSyntaxError(f"invalid placeholder {match.group()!r}", line, column)
            parts.append(tuple(name.split(".")))
            at = match.end()
        if at < len(text):
            parts.append(text[at:])
        for part in parts:
            if isinstance(part, str) and "${" in part:
                offset = text.find("${")
                line = text.count("\n", 0, offset) + 1
                column = offset - (text.rfind("\n", 0, offset) + 1) + 1
                raise RuleSyntaxError("unterminated placeholder '${'", line, column)
        simple: list[tuple[str, str | None]] | None = []
        for part in parts:
            if isinstance(part, str):
                simple.append((part, None))  # type: ignore[union-attr]
            elif len(part) == 1:
                simple.append(("", part[0]))  # type: ignore[union-attr]
            else:
                simple = None
                break
        return cls(text, tuple(parts), None if simple is None else tuple(simple))

    @property
    def is_constant(self) -> bool:
        return all(isinstance(p, str) for p in self.parts)

    def value(self, data: Mapping[str, Any]) -> Any:
        """A template that is one placeholder gives the value itself (a number stays a number, bytes stay
        bytes); otherwise the rendered text."""
        if len(self.parts) == 1 and isinstance(self.parts[0], tuple):
            return lookup(data, self.parts[0])
        return self.render(data)

    def render(self, data: Mapping[str, Any]) -> str:
        simple = self._simple
        if simple is not None:
            text = ""
            for literal, name in simple:
                if name is None:
                    text += literal
                else:
                    value = data.get(name)
                    text += value if type(value) is str else to_str(value)
            return text
        out: list[str] = []
        for part in self.parts:
            if isinstance(part, str):
                out.append(part)
            else:
                out.append(to_str(lookup(data, part)))
        return "".join(out)


def lookup(data: Mapping[str, Any], path: tuple[str, ...]) -> Any:
    value: Any = data.get(path[0])
    for name in path[1:]:
        value = key(value, name)
    return value
