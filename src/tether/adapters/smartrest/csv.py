"""The SmartREST CSV codec: rows of fields, several rows per MQTT message (docs/protocols.md section 3).

Upstream (device -> platform) a publish holds one row per line (LF or CRLF); fields are separated by commas;
a field is quoted with `"` when it holds a comma, a quote, a line break, a tab or leading/trailing blanks.
Inside quotes both escapes of a quote are accepted: `\\"` (the MQTT documentation and real s/ds traffic)
and `""` (SmartREST 1.0, and what thin-edge.io sends). Unquoted fields lose their surrounding blanks
(space, tab). A backslash escapes only a quote; any other backslash is literal.

Downstream (platform -> device) rows are encoded with `\\"` for an embedded quote and raw line breaks
inside quotes, as real s/ds traffic does.
"""

from __future__ import annotations

from collections.abc import Iterable

__all__ = ["MalformedCsv", "encode_row", "encode_rows", "parse_rows", "parse_rows_lenient"]

_NEEDS_QUOTES = frozenset(',"\n\r\t')
_BLANKS = " \t"


class MalformedCsv(ValueError):
    """A row that cannot be split into fields (unterminated quote, text after a closing quote)."""

    def __init__(self, message: str, row: list[str]) -> None:
        super().__init__(message)
        #: The fields read before the problem (the first is the template id, for the s/e line).
        self.row = row


def parse_rows(text: str) -> list[list[str]]:
    """Split a message into rows of fields; blank lines are skipped. Raises MalformedCsv for the first
    row that cannot be read (:func:`parse_rows_lenient` keeps the good rows around a bad one)."""
    rows: list[list[str]] = []
    for row, problem in parse_rows_lenient(text):
        if problem is not None:
            raise problem
        rows.append(row)
    return rows


def parse_rows_lenient(text: str) -> list[tuple[list[str], MalformedCsv | None]]:
    """Every row with its problem (None when it was read cleanly), in order.

    A malformed row ends at the next line break outside quotes as far as it could be read, so that the rows
    after it are still processed (docs/protocols.md section 3: one row per line)."""
    if '"' not in text:
        # The hot path: no quoting anywhere, so lines and fields are plain splits.
        out: list[tuple[list[str], MalformedCsv | None]] = []
        if "\r" in text:  # CRLF or a lone CR ends a row as LF does
            text = text.replace("\r\n", "\n").replace("\r", "\n")
        for line in text.split("\n"):
            if line.strip(_BLANKS):
                out.append(([field.strip(_BLANKS) for field in line.split(",")], None))
        return out
    return _parse_quoted(text)


def _parse_quoted(text: str) -> list[tuple[list[str], MalformedCsv | None]]:
    out: list[tuple[list[str], MalformedCsv | None]] = []
    n = len(text)
    i = 0
    while i < n:
        row: list[str] = []
        problem: MalformedCsv | None = None
        while True:
            # One field starting at i.
            j = i
            while j < n and text[j] in _BLANKS:
                j += 1
            if j < n and text[j] == '"':
                value, i, problem = _quoted(text, j + 1, row)
                row.append(value)
                if problem is None:
                    while i < n and text[i] in _BLANKS:
                        i += 1
                    if i < n and text[i] not in ",\r\n":
                        problem = MalformedCsv(f"text after a closing quote at offset {i}", row)
                if problem is not None:
                    i = _next_line(text, i)
                    break
            else:
                k = j
                while k < n and text[k] not in ",\r\n":
                    k += 1
                row.append(text[i:k].strip(_BLANKS))
                i = k
            if i < n and text[i] == ",":
                i += 1
                continue
            # End of row: CRLF, LF, a lone CR or the end of the text.
            if i < n and text[i] == "\r":
                i += 1
            if i < n and text[i] == "\n":
                i += 1
            break
        if problem is not None or len(row) > 1 or row[0]:
            out.append((row, problem))
    return out


def _quoted(text: str, i: int, row: list[str]) -> tuple[str, int, MalformedCsv | None]:
    """The value of a quoted field whose opening quote ends before `i`; returns it, the offset after the
    closing quote and a problem if the quote is never closed."""
    parts: list[str] = []
    n = len(text)
    start = i
    while True:
        k = text.find('"', i)
        if k < 0:
            parts.append(text[start:])
            return "".join(parts), n, MalformedCsv("unterminated quoted field", row)
        if k > 0 and text[k - 1] == "\\":
            parts.append(text[start : k - 1])  # \" is an escaped quote
            parts.append('"')
            i = start = k + 1
        elif k + 1 < n and text[k + 1] == '"':
            parts.append(text[start:k])  # "" is an escaped quote
            parts.append('"')
            i = start = k + 2
        else:
            parts.append(text[start:k])
            return "".join(parts), k + 1, None


def _next_line(text: str, i: int) -> int:
    k = text.find("\n", i)
    return len(text) if k < 0 else k + 1


def _field(value: str) -> str:
    if not value:
        return ""
    if value[0] in _BLANKS or value[-1] in _BLANKS or not _NEEDS_QUOTES.isdisjoint(value):
        return '"' + value.replace('"', '\\"') + '"'
    return value


def encode_row(fields: Iterable[object]) -> str:
    """One row, downstream style: `\\"` escapes a quote; None and "" are empty fields."""
    return ",".join(_field("" if value is None else str(value)) for value in fields)


def encode_rows(rows: Iterable[Iterable[object]]) -> str:
    return "\n".join(encode_row(row) for row in rows)
