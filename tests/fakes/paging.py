"""Paging a list in memory the way the SQL stores page a query (LIMIT/OFFSET, optional total)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

from tether.core.paging import Page, PageRequest

T = TypeVar("T")


def page_of(items: Sequence[T], request: PageRequest) -> Page[T]:
    """The slice `request` asks for of `items` (already filtered and ordered)."""
    start = request.offset
    chosen = list(items[start : start + request.page_size])
    return Page(chosen, request, len(items) if request.with_total else None)


def contains(value: str, like: str | None) -> bool:
    """The stores' `like` filter: a case-insensitive substring (ILIKE '%like%')."""
    return not like or like.lower() in value.lower()
