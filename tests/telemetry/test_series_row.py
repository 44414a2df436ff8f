"""series_row (the SmartREST 200 fast path) builds and refuses exactly what ingest_row does for the same
one-series measurement."""

from __future__ import annotations

from typing import Any

import pytest

from tether.core.clock import MAX_MS, MIN_MS
from tether.core.errors import InvalidInput
from tether.telemetry.measurements import _SEAL, SourceGrant, ingest_row, series_row
from tether.telemetry.models import MAX_TYPE_LENGTH

GRANT = SourceGrant("t1", 7, _SEAL)
NOW = 1_733_350_000_000

CASES: list[tuple[str, str, Any, str | None, int]] = [
    ("c8y_Temperature", "T", 21.5, None, NOW),
    ("c8y_Temperature", "T", 21, "C", NOW),
    ("c8y_Temperature", "T", -0.0, "°C", NOW),  # non-ASCII unit: the general check
    ("Température", "T", 1, None, NOW),
    ("c8y_T", "T", 2**63 - 1, None, MIN_MS),
    ("c8y_T", "T", 2**63, None, MAX_MS),  # beyond 64 bits: the nearest float
    ("c8y_T", "T", 10**400, None, NOW),  # no finite float: refused
    ("c8y_T", "T", float("nan"), None, NOW),
    ("c8y_T", "T", float("inf"), None, NOW),
    ("c8y_T", "T", 1.0, None, MIN_MS - 1),
    ("c8y_T", "T", 1.0, None, MAX_MS + 1),
    ("", "T", 1.0, None, NOW),
    ("x" * MAX_TYPE_LENGTH, "T", 1.0, None, NOW),
    ("x" * (MAX_TYPE_LENGTH + 1), "T", 1.0, None, NOW),
    ("c8y\x00T", "T", 1.0, None, NOW),
    ("c8y_T", "T\x00", 1.0, None, NOW),
    ("c8y_T", "T", 1.0, "C\x00", NOW),
    ("c8y_T", "T\ud800", 1.0, None, NOW),  # a lone surrogate
    ("c8y_T", "T", 1.0, "\udfff", NOW),
]


def _outcome(build: Any) -> Any:
    try:
        return build()
    except InvalidInput as exc:
        return ("refused", exc.message)


@pytest.mark.parametrize(("fragment", "series", "value", "unit", "time"), CASES)
def test_series_row_is_ingest_row_of_one_series(
    fragment: str, series: str, value: Any, unit: str | None, time: int
) -> None:
    inner: dict[str, Any] = {"value": value} if unit is None else {"value": value, "unit": unit}
    expected = _outcome(lambda: ingest_row(GRANT, fragment, time, {fragment: {series: inner}}))
    got = _outcome(lambda: series_row(GRANT, fragment, series, value, unit, time))
    if isinstance(expected, tuple) and expected[0] == "refused":
        assert isinstance(got, tuple) and got[0] == "refused", got
    else:
        assert got == expected
        assert got[3] == expected[3] and list(got[3]) == list(expected[3])  # same document, same key order
