"""Text that becomes a stored or looked-up value: one check used by every API family.

PostgreSQL `text`/`varchar` cannot hold the NUL character and refuses a value longer than its column, where
SQLite accepts both; so the same request must be refused on either backend before it reaches the store.
"""

from __future__ import annotations

from tether.core.errors import InvalidInput

NUL = "\x00"
MAX_KEY_LENGTH = 255  # the width of the name, type and id columns (storage/sql/schema.py)


def checked(value: str, field: str, *, resource: str, max_length: int | None = MAX_KEY_LENGTH) -> str:
    """`value` unchanged, or InvalidInput naming `field` if it holds NUL or is longer than `max_length`."""
    if NUL in value:
        raise InvalidInput(f"'{field}' must not contain the NUL character", resource=resource)
    if max_length is not None and len(value) > max_length:
        raise InvalidInput(f"'{field}' is longer than {max_length} characters", resource=resource)
    return value
