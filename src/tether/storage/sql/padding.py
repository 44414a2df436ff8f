"""Multi-row SQLite statements of a few fixed sizes, NULL-padded.

A bulk write to SQLite sends one INSERT (or UPDATE through a VALUES list) of many rows. Each distinct row
count is a statement the driver prepares once and caches, so the counts are kept to a few sizes: exactly the
rows up to 16, else rounded up to a multiple of 16, above 128 rows to a multiple of 128, up to the writer's
largest statement. The unused rows are NULLs that the statement's ``WHERE column1 IS NOT NULL`` drops. A
padded row costs about what a stored one does, so coarser sizes (16, 128, 512, ...) cost a batch of 130 rows
as much as one of 512 (bench/README.md, REST throughput, third round).
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["padded", "statement_rows"]


def statement_rows(rows: int, largest: int) -> int:
    """The size of the statement that takes the next `rows` rows (all of them, or `largest`)."""
    if rows <= 16:
        return min(rows, largest)
    step = 16 if rows <= 128 else 128
    return min(-(-rows // step) * step, largest)


def padded(params: Sequence[object], width: int, largest: int) -> list[tuple[int, list[object]]]:
    """(rows of the statement, its parameters NULL-padded to them) covering the flat `params`, `width` per
    row, in order."""
    out = []
    rows = len(params) // width
    start = 0
    while start < rows:
        size = statement_rows(rows - start, largest)
        part = list(params[start * width : (start + size) * width])
        part += [None] * (size * width - len(part))
        out.append((size, part))
        start += size
    return out
