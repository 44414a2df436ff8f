"""Paging as Cumulocity clients ask for it: currentPage from 1, pageSize default 5, max 2000."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T")

DEFAULT_PAGE_SIZE = 5
MAX_PAGE_SIZE = 2000
#: Past any real row count and within what every store binds (a 64-bit OFFSET): a page further on is empty.
MAX_OFFSET = 2**62


@dataclass(frozen=True, slots=True)
class PageRequest:
    current_page: int = 1
    page_size: int = DEFAULT_PAGE_SIZE
    with_total: bool = False

    @property
    def offset(self) -> int:
        return min((self.current_page - 1) * self.page_size, MAX_OFFSET)


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    items: list[T]
    request: PageRequest
    total_elements: int | None = None

    @property
    def total_pages(self) -> int | None:
        if self.total_elements is None:
            return None
        return -(-self.total_elements // self.request.page_size)
