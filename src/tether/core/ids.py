"""Ids and integers that arrive as text: the one parser every API and adapter uses (no input gets a 5xx:
docs/security.md, HTTP input limits).

Ids are positive 63-bit integers (what both stores' integer keys hold). A text names an id only when it is
1 to 19 ASCII digits within that range: `str.isdigit` also accepts `³` and `٣`, and `int()` reads those and
any number of digits, which then overflow the database driver or the JSON encoder.
"""

from __future__ import annotations

__all__ = ["MAX_ID", "MAX_INT", "MIN_INT", "parse_id", "parse_int"]

MAX_INT = 2**63 - 1
MIN_INT = -(2**63)
MAX_ID = MAX_INT
_MAX_DIGITS = len(str(MAX_INT))


def parse_id(raw: object) -> int | None:
    """The id `raw` names (a string of ASCII digits, or a JSON integer), or None if it names none."""
    if isinstance(raw, bool):
        return None
    if isinstance(raw, int):
        return raw if 0 <= raw <= MAX_ID else None
    if not isinstance(raw, str) or not 0 < len(raw) <= _MAX_DIGITS or not (raw.isascii() and raw.isdigit()):
        return None
    value = int(raw)
    return value if value <= MAX_ID else None


def parse_int(raw: str) -> int | None:
    """A signed 64-bit integer written in ASCII digits with an optional `-`, or None."""
    digits = raw[1:] if raw.startswith("-") else raw
    if not 0 < len(digits) <= _MAX_DIGITS or not (digits.isascii() and digits.isdigit()):
        return None
    value = int(raw)
    return value if MIN_INT <= value <= MAX_INT else None
