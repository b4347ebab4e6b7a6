"""Weeks and months of a daily series: sums of their days, the comparison grouped by position."""

from datetime import datetime, timedelta

import pytest

from tracking.reports.intervals import coarser
from tracking.reports.results import Point, Timeseries


def days(first: datetime, values: list[int]) -> list[Point]:
    return [Point(first + timedelta(days=n), value, 10 * value) for n, value in enumerate(values)]


def test_weeks_start_on_monday_and_the_first_may_be_partial():
    series = Timeseries(days(datetime(2026, 6, 5), list(range(1, 11))), previous=days(datetime(2026, 5, 26), [1] * 10))  # Friday
    weeks = coarser(series, "week")
    assert [(p.start, p.visitors, p.pageviews) for p in weeks.points] == [
        (datetime(2026, 6, 5), 1 + 2 + 3, 60), (datetime(2026, 6, 8), sum(range(4, 11)), 10 * sum(range(4, 11))),
    ]
    assert weeks.previous_visitors == [3, 7]


def test_months_and_a_shorter_previous_period():
    series = Timeseries(days(datetime(2026, 1, 30), [1] * 5), previous=days(datetime(2026, 1, 26), [2, 2, 2, 2]))
    months = coarser(series, "month")
    assert [(p.start.date().isoformat(), p.visitors) for p in months.points] == [("2026-01-30", 2), ("2026-02-01", 3)]
    assert months.previous_visitors == [4, 4]
    assert coarser(Timeseries(days(datetime(2026, 1, 1), [1])), "month").previous_visitors is None


def test_only_intervals_of_days():
    with pytest.raises(ValueError):
        coarser(Timeseries([]), "hour")


def test_ratios_of_a_week_are_those_of_its_summed_days():
    monday = datetime(2026, 6, 8)
    series = Timeseries([Point(monday, 2, 6, 3, 1, 90), Point(monday + timedelta(days=1), 1, 1, 1, 1, 0)],
                        previous=[Point(monday, 1, 1, 0, 0, 0), Point(monday, 1, 4, 2, 0, 30)])
    week, = coarser(series, "week").points
    assert (week.visits, week.bounces, week.duration) == (4, 2, 90)
    assert (week.views_per_visit, week.bounce_rate, week.average_duration) == (7 / 4, 50.0, 22.5)
    before, = coarser(series, "week").previous
    assert (before.visits, before.bounce_rate, before.average_duration) == (2, 0.0, 15.0)
    assert Point(monday, 0, 0).bounce_rate is None  # no visits: no rate (a gap in the chart)
