"""Series computation from measurement rows: raw values, aggregation, discovery, truncation."""

from __future__ import annotations

from tether.telemetry.models import Aggregation, Measurement, MinMax, SeriesName, SeriesQuery
from tether.telemetry.series import compute_series

T = SeriesName("c8y_Temperature", "T")
H = SeriesName("c8y_Humidity", "H")


def row(time: int, **fragments: object) -> Measurement:
    return Measurement(
        id=time, tenant_id="t1", source_id=1, type="x", time=time, creation_time=0, fragments=fragments
    )


def temp(time: int, value: object, unit: str = "C") -> Measurement:
    return row(time, c8y_Temperature={"T": {"value": value, "unit": unit}})


def test_raw_values_one_pair_per_time_with_min_equal_max() -> None:
    rows = [temp(1000, 20.5), temp(2000, 21), row(3000, c8y_Humidity={"H": {"value": 40, "unit": "%"}})]
    result = compute_series(rows, SeriesQuery(1, 0, 10_000, (T, H)), limit=100)
    assert [(spec.name, spec.unit) for spec in result.specs] == [(T, "C"), (H, "%")]
    assert result.values == [
        (1000, [MinMax(20.5, 20.5), None]),
        (2000, [MinMax(21, 21), None]),
        (3000, [None, MinMax(40, 40)]),
    ]
    assert result.truncated is False


def test_two_measurements_at_one_time_share_the_entry() -> None:
    rows = [temp(1000, 5), row(1000, c8y_Humidity={"H": {"value": 7}}), temp(1000, 3)]
    result = compute_series(rows, SeriesQuery(1, 0, 10_000, (T, H)), limit=100)
    assert result.values == [(1000, [MinMax(3, 5), MinMax(7, 7)])]
    assert result.specs[1].unit is None


def test_aggregation_buckets_by_utc_period() -> None:
    rows = [temp(t, v) for t, v in ((0, 1), (59_999, 9), (60_000, 4), (3_600_000, 2), (3_659_000, -3))]
    minutely = compute_series(rows, SeriesQuery(1, 0, 10**9, (T,), Aggregation.MINUTELY), limit=100)
    assert minutely.values == [
        (0, [MinMax(1, 9)]),
        (60_000, [MinMax(4, 4)]),
        (3_600_000, [MinMax(-3, 2)]),
    ]
    hourly = compute_series(rows, SeriesQuery(1, 0, 10**9, (T,), Aggregation.HOURLY), limit=100)
    assert hourly.values == [(0, [MinMax(1, 9)]), (3_600_000, [MinMax(-3, 2)])]
    daily = compute_series(rows, SeriesQuery(1, 0, 10**9, (T,), Aggregation.DAILY), limit=100)
    assert daily.values == [(0, [MinMax(-3, 9)])]


def test_without_requested_series_every_numeric_series_is_found() -> None:
    rows = [
        row(1, c8y_Temperature={"T": {"value": 1, "unit": "C"}}, note="not a series"),
        row(2, c8y_Humidity={"H": {"value": 2}, "meta": {"unit": "no value"}}),
        row(3, c8y_Text={"S": {"value": "on"}}),  # not numeric: not a series
    ]
    result = compute_series(rows, SeriesQuery(1, 0, 10), limit=100)
    assert [spec.name for spec in result.specs] == [H, T]  # sorted by fragment, then series
    assert result.values == [(1, [None, MinMax(1, 1)]), (2, [MinMax(2, 2), None])]


def test_non_numbers_are_skipped_and_times_without_values_left_out() -> None:
    rows = [temp(1, "hot"), temp(2, True), temp(3, None), temp(4, 1.5)]
    result = compute_series(rows, SeriesQuery(1, 0, 10, (T,)), limit=100)
    assert result.values == [(4, [MinMax(1.5, 1.5)])]


def test_truncation_uses_the_first_rows_only() -> None:
    rows = [temp(t, t) for t in (1, 2, 3, 4)]
    result = compute_series(rows, SeriesQuery(1, 0, 10, (T,)), limit=3)
    assert result.truncated is True
    assert [time for time, _ in result.values] == [1, 2, 3]
    exact = compute_series(rows[:3], SeriesQuery(1, 0, 10, (T,)), limit=3)
    assert exact.truncated is False and len(exact.values) == 3


def test_newest_first_rows_keep_their_order() -> None:
    rows = [temp(3, 3), temp(2, 2), temp(1, 1)]
    result = compute_series(rows, SeriesQuery(1, 0, 10, (T,), newest_first=True), limit=100)
    assert [time for time, _ in result.values] == [3, 2, 1]


def test_a_series_requested_twice_is_listed_once() -> None:
    result = compute_series([temp(1, 1)], SeriesQuery(1, 0, 10, (T, T)), limit=100)
    assert [spec.name for spec in result.specs] == [T]
    assert result.values == [(1, [MinMax(1, 1)])]
