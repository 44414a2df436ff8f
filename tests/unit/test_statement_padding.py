"""The fixed statement sizes of SQLite bulk writes (storage/sql/padding.py)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from tether.storage.sql.padding import padded, statement_rows


def _allowed(size: int, largest: int) -> bool:
    return size <= largest and (size <= 16 or (size % 16 == 0 if size <= 128 else size % 128 == 0))


@given(st.integers(0, 5000), st.integers(1, 8), st.sampled_from([512, 1024, 2048]))
def test_every_row_once_in_order_in_fixed_sizes(rows: int, width: int, largest: int) -> None:
    params = list(range(rows * width))
    batches = padded(params, width, largest)
    unpadded = [value for _, part in batches for value in part if value is not None]
    assert unpadded == params
    for size, part in batches:
        assert _allowed(size, largest)
        assert len(part) == size * width
    # Padding only in the last statement, and less than one step of it.
    assert all(None not in part for _, part in batches[:-1])
    if batches:
        size, part = batches[-1]
        assert part.count(None) // width < (1 if size <= 16 else 16 if size <= 128 else 128)


def test_sizes_at_the_steps() -> None:
    sizes = [statement_rows(n, 2048) for n in (1, 16, 17, 128, 129, 2048, 5000)]
    assert sizes == [1, 16, 32, 128, 256, 2048, 2048]
    assert statement_rows(700, 512) == 512
