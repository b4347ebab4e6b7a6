"""Weeks and months of a daily series: sums of their days, the comparison grouped by position."""

from datetime import datetime, timedelta

import pytest

from tracking.reports.intervals import coarser
from tracking.reports.results import Point, Timeseries


def days(first: datetime, values: list[int]) -> list[Point]:
    return [Point(first + timedelta(days=n), value, 10 * value) for n, value in enumerate(values)]


def test_weeks_start_on_monday_and_the_first_may_be_partial():
    series = Timeseries(days(datetime(2026, 6, 5), list(range(1, 11))), previous_visitors=[1] * 10)  # Friday
    weeks = coarser(series, "week")
    assert [(p.start, p.visitors, p.pageviews) for p in weeks.points] == [
        (datetime(2026, 6, 5), 1 + 2 + 3, 60), (datetime(2026, 6, 8), sum(range(4, 11)), 10 * sum(range(4, 11))),
    ]
    assert weeks.previous_visitors == [3, 7]


def test_months_and_a_shorter_previous_period():
    series = Timeseries(days(datetime(2026, 1, 30), [1] * 5), previous_visitors=[2, 2, 2, 2])
    months = coarser(series, "month")
    assert [(p.start.date().isoformat(), p.visitors) for p in months.points] == [("2026-01-30", 2), ("2026-02-01", 3)]
    assert months.previous_visitors == [4, 4]
    assert coarser(Timeseries(days(datetime(2026, 1, 1), [1])), "month").previous_visitors is None


def test_only_intervals_of_days():
    with pytest.raises(ValueError):
        coarser(Timeseries([]), "hour")
