"""Measurement series: the values of `<fragment>.<series>` over time, raw or as {min, max} per bucket.

A series value is `fragments[fragment][series]["value"]`, a number; its unit is the `unit` beside it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from tether.telemetry.models import Measurement, MinMax, SeriesName, SeriesQuery, SeriesResult, SeriesSpec

SERIES_LIMIT = 5000  # measurements read for one series request; more matching ones set `truncated`
MAX_SERIES = 20  # series named in one request (`series=` repeated or comma-separated)


def _entry(fragments: dict[str, Any], name: SeriesName) -> dict[str, Any] | None:
    fragment = fragments.get(name.fragment)
    if not isinstance(fragment, dict):
        return None
    entry = fragment.get(name.series)
    return entry if isinstance(entry, dict) else None


def _number(entry: dict[str, Any] | None) -> float | None:
    value = None if entry is None else entry.get("value")
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return value


def _discover(rows: Sequence[Measurement]) -> list[SeriesName]:
    """Every series with a numeric value in `rows`, sorted by fragment and series name."""
    found: set[SeriesName] = set()
    for row in rows:
        for fragment, content in row.fragments.items():
            if not isinstance(content, dict):
                continue
            for series, entry in content.items():
                if isinstance(entry, dict) and _number(entry) is not None:
                    found.add(SeriesName(fragment, series))
    return sorted(found, key=lambda name: (name.fragment, name.series))


def compute_series(rows: Sequence[Measurement], query: SeriesQuery, limit: int) -> SeriesResult:
    """Values of the requested series (all found when none requested) from `rows`, which are in the
    query's time order; at most `limit` rows are used, more set `truncated`."""
    truncated = len(rows) > limit
    rows = rows[:limit]
    names = list(dict.fromkeys(query.series)) if query.series else _discover(rows)
    units: list[str | None] = [None] * len(names)
    period = query.aggregation.period_ms if query.aggregation is not None else None
    values: dict[int, list[MinMax | None]] = {}
    for row in rows:
        key = row.time if period is None else row.time - row.time % period
        slots: list[MinMax | None] | None = values.get(key)
        for index, name in enumerate(names):
            entry = _entry(row.fragments, name)
            number = _number(entry)
            if number is None:
                continue
            if units[index] is None and entry is not None and isinstance(entry.get("unit"), str):
                units[index] = entry["unit"]
            if slots is None:
                slots = values[key] = [None] * len(names)
            seen = slots[index]
            slots[index] = (
                MinMax(number, number)
                if seen is None
                else MinMax(min(seen.min, number), max(seen.max, number))
            )
    specs = [SeriesSpec(name, unit) for name, unit in zip(names, units, strict=True)]
    return SeriesResult(specs=specs, values=list(values.items()), truncated=truncated)
