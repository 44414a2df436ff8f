"""What the storage layer reports to the operator."""

from __future__ import annotations


class StorageUnavailable(RuntimeError):
    """The database cannot be reached, refuses the login or cannot be migrated; the message is one line
    for the operator (the URL is the caller's to add, without its password)."""
