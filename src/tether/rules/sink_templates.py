"""What a sink action makes of one output of a rule, free of I/O: the webhook's request, the SQL statement
and its parameters, the Redis command, the message to another broker. Parsed once when the action is saved.

SQL: each `${var}` (bare, or alone in quotes as `'${var}'`) becomes a parameter of a prepared statement,
`$1, $2, ...` for PostgreSQL and `%s` for MySQL; the values are never written into the SQL text, so an
output cannot inject SQL. A placeholder inside a longer string literal is refused (write `concat(...)` in the
rule, or bind the whole value)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .errors import RuleSyntaxError
from .templates import Template
from .values import to_json, to_str

__all__ = ["CommandTemplate", "HttpTemplate", "MqttTemplate", "SqlTemplate", "text_value"]

_SQL_TOKENS = re.compile(r"'(?:[^']|'')*'|\$\{[^{}]*\}|[^'$]+|\$|'.*", re.DOTALL)
_QUOTED_PLACEHOLDER = re.compile(r"'(\$\{[^{}']*\})'")


def text_value(value: Any) -> str | bytes:
    """A value where text is wanted: bytes stay bytes, maps and arrays are JSON, undefined is ""."""
    if value is None:
        return ""
    if type(value) is str or type(value) is bytes:
        return value
    return to_str(value)


def _body(template: Template, output: Mapping[str, Any]) -> bytes:
    """An empty template: the whole output as JSON (EMQX's default body and payload)."""
    if not template.parts:
        return to_json(dict(output)).encode()
    value = text_value(template.value(output))
    return value if isinstance(value, bytes) else value.encode()


@dataclass(frozen=True, slots=True)
class SqlTemplate:
    text: str  # the statement with its parameter markers
    params: tuple[Template, ...]

    @classmethod
    def parse(cls, sql: str, style: str) -> SqlTemplate:
        """style "numeric" ($1, PostgreSQL) or "format" (%s, MySQL drivers; a literal % becomes %%)."""
        out: list[str] = []
        params: list[Template] = []
        at = 0
        for match in _SQL_TOKENS.finditer(sql):
            token = match.group()
            quoted = _QUOTED_PLACEHOLDER.fullmatch(token)
            if token.startswith("${") or quoted is not None:
                params.append(Template.parse(quoted.group(1) if quoted is not None else token))
                out.append(f"${len(params)}" if style == "numeric" else "%s")
            elif "${" in token:
                line = sql.count("\n", 0, match.start()) + 1
                column = match.start() - (sql.rfind("\n", 0, match.start()) + 1) + 1
                raise RuleSyntaxError(
                    "a ${var} inside a string literal cannot be a parameter: bind the whole value",
                    line,
                    column,
                )
            else:
                out.append(token.replace("%", "%%") if style == "format" else token)
            at = match.end()
        assert at == len(sql)
        return cls("".join(out), tuple(params))

    def values(self, output: Mapping[str, Any]) -> tuple[Any, ...]:
        """The parameters: values as selected (the driver converts them to the column's type)."""
        return tuple(p.value(output) for p in self.params)


@dataclass(frozen=True, slots=True)
class HttpTemplate:
    method: str
    path: Template
    headers: tuple[tuple[str, Template], ...]
    body: Template
    max_retries: int = 2  # answers 5xx / 429 / timeouts are retried this often, then the output fails
    timeout_ms: int = 15_000

    @classmethod
    def parse(
        cls,
        method: str,
        path: str,
        headers: Mapping[str, str],
        body: str,
        max_retries: int = 2,
        timeout_ms: int = 15_000,
    ) -> HttpTemplate:
        return cls(
            method.upper(),
            Template.parse(path),
            tuple((name, Template.parse(value)) for name, value in headers.items()),
            Template.parse(body),
            max_retries,
            timeout_ms,
        )

    def render(self, output: Mapping[str, Any]) -> tuple[str, list[tuple[str, str]], bytes]:
        """The path, the headers and the body of the request for one output."""
        headers = [(name, template.render(output)) for name, template in self.headers]
        return self.path.render(output), headers, _body(self.body, output)


@dataclass(frozen=True, slots=True)
class CommandTemplate:
    """A Redis command, one template per argument (EMQX's `command_template`)."""

    parts: tuple[Template, ...]

    @classmethod
    def parse(cls, parts: list[str]) -> CommandTemplate:
        return cls(tuple(Template.parse(p) for p in parts))

    def render(self, output: Mapping[str, Any]) -> list[str | bytes]:
        return [text_value(p.value(output)) for p in self.parts]


@dataclass(frozen=True, slots=True)
class MqttTemplate:
    topic: Template
    qos: int
    retain: bool
    payload: Template

    @classmethod
    def parse(cls, remote: Mapping[str, Any]) -> MqttTemplate:
        return cls(
            Template.parse(remote["topic"]),
            remote["qos"],
            remote["retain"],
            Template.parse(remote["payload"]),
        )

    def render(self, output: Mapping[str, Any]) -> tuple[str, bytes]:
        return self.topic.render(output), _body(self.payload, output)
